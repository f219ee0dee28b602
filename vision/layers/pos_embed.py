"""Absolute position embeddings: resampling to any token grid."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["resample_abs_pos_embed"]


def resample_abs_pos_embed(
    posemb: torch.Tensor,
    new_size: tuple[int, int],
    old_size: tuple[int, int] | None = None,
    num_prefix_tokens: int = 1,
    interpolation: str = "bicubic",
    antialias: bool = False,
) -> torch.Tensor:
    """Resize ``(1, prefix + H*W, D)`` position embeddings to the ``new_size`` grid; prefix tokens pass through.

    Defaults match the official EVA / Painter code (bicubic, ``align_corners=False``, no antialias). ``old_size``
    defaults to a square grid.
    """
    num_pos = posemb.shape[1] - num_prefix_tokens
    if old_size is None:
        side = int(math.isqrt(num_pos))
        if side * side != num_pos:
            raise ValueError(f"cannot infer a square grid from {num_pos} position tokens; pass old_size")
        old_size = (side, side)
    if old_size[0] * old_size[1] != num_pos:
        raise ValueError(f"old grid {old_size} does not hold {num_pos} position tokens")
    if tuple(new_size) == tuple(old_size):
        return posemb
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    dtype = grid.dtype
    grid = grid.reshape(1, *old_size, -1).permute(0, 3, 1, 2).float()  # (1, D, h, w)
    grid = F.interpolate(grid, size=tuple(new_size), mode=interpolation, align_corners=False, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_size[0] * new_size[1], -1).to(dtype)
    return torch.cat([prefix, grid], dim=1)
