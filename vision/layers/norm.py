"""Normalisation layers by name, so configs and flags can choose them."""

from __future__ import annotations

from functools import partial

import torch.nn as nn

__all__ = ["get_norm_layer"]

_NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": nn.RMSNorm}


def get_norm_layer(name: str, eps: float = 1e-6) -> type[nn.Module] | partial:
    """``layernorm`` (EVA, EVA-02) or ``rmsnorm`` (EVA-8B/18B towers), bound to ``eps``."""
    try:
        return partial(_NORMS[name.lower()], eps=eps)
    except KeyError:
        raise ValueError(f"unknown norm layer {name!r}; choose one of {', '.join(_NORMS)}") from None
