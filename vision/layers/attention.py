"""One attention function for every model in Shijie.

``attention(q, k, v)`` dispatches to one of three backends:

* ``sdpa`` (default): ``torch.nn.functional.scaled_dot_product_attention``; fused kernels where torch has them.
* ``math``: the reference ``softmax(q k^T * scale + bias) v`` written out, the only path that can return the map.
* ``xformers``: ``xformers.ops.memory_efficient_attention``, imported lazily, CUDA only.

The backend is chosen by ``SHIJIE_ATTN_BACKEND``, :func:`set_attention_backend` or the :func:`attention_backend`
context manager, in increasing order of precedence.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

__all__ = ["BACKENDS", "attention", "attention_backend", "get_attention_backend", "set_attention_backend"]

BACKENDS = ("sdpa", "math", "xformers")
_ENV_VAR = "SHIJIE_ATTN_BACKEND"


def _check(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


_backend = _check(os.environ.get(_ENV_VAR, "sdpa"))


def get_attention_backend() -> str:
    """The backend :func:`attention` uses when none is passed."""
    return _backend


def set_attention_backend(name: str) -> None:
    """Set the process-wide attention backend (``sdpa``, ``math`` or ``xformers``)."""
    global _backend
    _backend = _check(name)


@contextmanager
def attention_backend(name: str) -> Iterator[None]:
    """Use ``name`` as the attention backend inside a ``with`` block."""
    global _backend
    previous, _backend = _backend, _check(name)
    try:
        yield
    finally:
        _backend = previous


def _as_additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Boolean masks mean True = attend; turn them into an additive bias."""
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, float("-inf"))


def _math(q, k, v, bias, dropout_p, scale, is_causal):
    # q: (B, H, N, D), k/v: (B, H, M, D); scores in fp32 as the official EVA code does (qk_float).
    attn = (q.float() * scale) @ k.float().transpose(-2, -1)  # (B, H, N, M)
    if is_causal:
        n, m = attn.shape[-2:]
        causal = torch.ones(n, m, dtype=torch.bool, device=attn.device).tril(diagonal=m - n)
        attn = attn.masked_fill(~causal, float("-inf"))
    if bias is not None:
        attn = attn + _as_additive(bias, attn.dtype)
    attn = attn.softmax(dim=-1).to(v.dtype)
    if dropout_p > 0.0:
        attn = F.dropout(attn, p=dropout_p)
    return attn @ v, attn


def _xformers(q, k, v, bias, dropout_p, scale, is_causal):
    try:
        import xformers.ops as xops
    except ImportError as err:  # pragma: no cover - GPU-only extra
        raise RuntimeError("attention backend 'xformers' needs the optional 'xformers' package (GPU only)") from err
    if not q.is_cuda:
        raise RuntimeError("attention backend 'xformers' runs on CUDA tensors only; use 'sdpa' on CPU")
    if is_causal:
        bias = xops.LowerTriangularMask() if bias is None else bias
    elif bias is not None:
        bias = _as_additive(bias, q.dtype).expand(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    # xformers wants (B, N, H, D).
    out = xops.memory_efficient_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias, p=dropout_p, scale=scale
    )
    return out.transpose(1, 2)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    attn_bias: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    is_causal: bool = False,
    backend: str | None = None,
    return_attn: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention over ``(B, H, N, D)`` tensors.

    ``attn_bias`` is an additive float bias or a boolean mask (True = attend) broadcastable to ``(B, H, N, M)``.
    ``return_attn=True`` forces the math backend and also returns the ``(B, H, N, M)`` attention map.
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    name = "math" if return_attn else _check(backend or _backend)
    if name == "math":
        out, attn = _math(q, k, v, attn_bias, dropout_p, scale, is_causal)
        return (out, attn) if return_attn else out
    if name == "xformers":
        return _xformers(q, k, v, attn_bias, dropout_p, scale, is_causal)
    return F.scaled_dot_product_attention(
        q, k, v, attn_mask=attn_bias, dropout_p=dropout_p, scale=scale, is_causal=is_causal
    )
