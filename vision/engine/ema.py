"""Exponential moving average of model weights (kept in float32 on the model's device)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

__all__ = ["ModelEma"]


class ModelEma:
    """``ema = decay * ema + (1 - decay) * weights`` after every optimizer step; buffers are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.9998) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema.decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_state = self.module.state_dict()
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if value.is_floating_point():
                target.lerp_(value.detach().to(target.dtype), 1.0 - self.decay)
            else:
                target.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state_dict)
