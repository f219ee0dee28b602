"""Decomposed relative position bias (MViTv2 / ViTDet), as an additive attention bias.

The in-context ViT of Painter and SegGPT adds, for a query at grid cell ``(i, j)`` and a key at ``(k, l)``, the bias
``q . Rh[i - k] + q . Rw[j - l]`` to its attention logits, with one learned table per axis. Instead of patching the
logits of a hand-written attention, :func:`decomposed_rel_pos_bias` builds that bias once so it can be handed to
:func:`vision.layers.attention.attention` (SDPA's ``attn_mask``), keeping the fused kernels.

Tables are resampled linearly (``align_corners=False``, as the official ``get_rel_pos``) when the token grid differs
from the one they were trained on, so any canvas size works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["decomposed_rel_pos_bias", "rel_pos_lookup", "resize_rel_pos"]


def resize_rel_pos(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly resample a ``(L, C)`` table to ``(length, C)``; returned unchanged when ``L == length``."""
    if rel_pos.shape[0] == length:
        return rel_pos
    table = rel_pos.t().unsqueeze(0)  # (1, C, L)
    table = F.interpolate(table, size=length, mode="linear", align_corners=False)
    return table[0].t()  # (length, C)


def rel_pos_lookup(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """The ``(q_size, k_size, C)`` embeddings of every query/key offset along one axis.

    The table is resized to ``2 * max(q_size, k_size) - 1`` entries; when the two sizes differ, the shorter axis's
    coordinates are stretched onto the longer one, as in ViTDet.
    """
    table = resize_rel_pos(rel_pos, 2 * max(q_size, k_size) - 1)
    q_scale, k_scale = max(k_size / q_size, 1.0), max(q_size / k_size, 1.0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * q_scale  # (q, 1)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * k_scale  # (1, k)
    offsets = (q_coords - k_coords + (k_size - 1) * k_scale).long()  # (q, k) indices into the table
    return table[offsets]


def decomposed_rel_pos_bias(
    q: torch.Tensor,
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
    q_size: tuple[int, int],
    k_size: tuple[int, int],
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Additive attention bias ``(B, H, Nq, Nk)`` from unscaled queries ``q`` of shape ``(B, H, Nq, C)``.

    ``q_size``/``k_size`` are the ``(height, width)`` token grids of queries and keys (``Nq = qh * qw``). ``out``, a
    contiguous ``(B, H, Nq, Nk)`` buffer, is filled instead of allocating: at 896x448 the bias is 157 MB per image
    and head group, and a fresh buffer of that size costs more in page faults than filling it.
    """
    (qh, qw), (kh, kw) = q_size, k_size
    b, heads, n, c = q.shape
    if n != qh * qw:
        raise ValueError(f"queries hold {n} tokens but the grid {qh}x{qw} has {qh * qw}")
    rh = rel_pos_lookup(qh, kh, rel_pos_h).to(q.dtype)  # (qh, kh, C)
    rw = rel_pos_lookup(qw, kw, rel_pos_w).to(q.dtype)  # (qw, kw, C)
    r_q = q.reshape(b, heads, qh, qw, c)
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh)  # (B, H, qh, qw, kh)
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw)  # (B, H, qh, qw, kw)
    if out is None:
        bias = rel_h[..., :, None] + rel_w[..., None, :]  # (B, H, qh, qw, kh, kw)
        return bias.reshape(b, heads, n, kh * kw)
    if out.shape != (b, heads, n, kh * kw) or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous {(b, heads, n, kh * kw)} tensor, got {tuple(out.shape)}")
    torch.add(rel_h[..., :, None], rel_w[..., None, :], out=out.view(b, heads, qh, qw, kh, kw))
    return out
