"""The weight init every EVA-family model uses for its plain layers."""

from __future__ import annotations

import torch.nn as nn

__all__ = ["init_linear_and_norm"]


def init_linear_and_norm(module: nn.Module) -> None:
    """Truncated normal (std 0.02) Linear weights with zero biases; norms at weight 1, bias 0. Use with ``apply``."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.RMSNorm)) and module.weight is not None:
        nn.init.ones_(module.weight)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
