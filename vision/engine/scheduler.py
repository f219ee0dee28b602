"""Per-step learning-rate schedules: linear warm-up, then cosine decay (or constant).

The lr is a pure function of the step, so resuming only needs the step count.
"""

from __future__ import annotations

import math

import torch

__all__ = ["SCHEDULES", "LrSchedule"]

SCHEDULES = ("cosine", "constant")


class LrSchedule:
    """Sets every group's lr to ``lr_at(step) * group['lr_scale']`` (the layer-decay factor, 1 if absent)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        type: str = "cosine",
        warmup_steps: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if type not in SCHEDULES:
            raise ValueError(f"scheduler.type must be one of {SCHEDULES}, got {type!r}")
        if total_steps < 1:
            raise ValueError(f"the run has {total_steps} optimizer steps; it needs at least one")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"scheduler warm-up ({warmup_steps} steps) must be in [0, total steps {total_steps})")
        if min_lr < 0:
            raise ValueError(f"scheduler.min_lr must be >= 0, got {min_lr}")
        self.optimizer, self.total_steps, self.type = optimizer, total_steps, type
        self.warmup_steps, self.min_lr = warmup_steps, min_lr

    def lr_at(self, step: int, base_lr: float) -> float:
        """The unscaled lr for optimizer step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return base_lr * (step + 1) / self.warmup_steps
        if self.type == "constant":
            return base_lr
        t = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        return self.min_lr + 0.5 * (base_lr - self.min_lr) * (1.0 + math.cos(math.pi * min(t, 1.0)))

    def apply(self, step: int) -> float:
        """Set the lrs for ``step``; returns the unscaled lr of the first group (for logging)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step, group["base_lr"]) * group.get("lr_scale", 1.0)
        return self.lr_at(step, self.optimizer.param_groups[0]["base_lr"])
