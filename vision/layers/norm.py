"""Normalisation layers by name, so configs and flags can choose them."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["LayerNorm2d", "get_norm_layer"]

_NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": nn.RMSNorm}


def get_norm_layer(name: str, eps: float = 1e-6) -> type[nn.Module] | partial:
    """``layernorm`` (EVA, EVA-02) or ``rmsnorm`` (EVA-8B/18B towers), bound to ``eps``."""
    try:
        return partial(_NORMS[name.lower()], eps=eps)
    except KeyError:
        raise ValueError(f"unknown norm layer {name!r}; choose one of {', '.join(_NORMS)}") from None


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map (ViTDet's pyramid, Painter's decoder)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)  # (B, H, W, C)
        return x.permute(0, 3, 1, 2)
