"""The evaluator contract and the default classification evaluator.

An evaluator is any callable ``evaluator(model, dataloader, ctx) -> dict[str, float]``. The engine calls it with the
model in eval mode under ``torch.no_grad()`` on every rank; ``ctx`` gives the device, autocast, the batches with a
mask of sampler padding, and a cross-rank sum so every rank returns the same global metrics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from vision.data.sampler import EpochSampler
from vision.engine.dist import DistContext

__all__ = ["ClassificationEvaluator", "EvalContext", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) tuple / list / dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@dataclass
class EvalContext:
    """What an evaluator needs to run on this process and agree with the others."""

    dist: DistContext
    amp_dtype: torch.dtype | None = None

    @property
    def device(self) -> torch.device:
        return self.dist.device

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def batches(self, dataloader: DataLoader) -> Iterator[tuple[Any, torch.Tensor]]:
        """``(batch on device, valid)``: ``valid`` (B,) is False for samples the sampler repeated as padding."""
        sampler = dataloader.sampler
        pos = 0
        for batch in dataloader:
            size = len(batch[0]) if isinstance(batch, (list, tuple)) else len(next(iter(batch.values())))
            if isinstance(sampler, EpochSampler):
                valid = sampler.valid_mask(pos, size)
            else:
                valid = torch.ones(size, dtype=torch.bool)
            pos += size
            yield to_device(batch, self.device), valid.to(self.device)

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return self.dist.all_reduce_sum(tensor)


class ClassificationEvaluator:
    """Top-k accuracy in percent (``top1``, ``top5``, ...) for batches of ``(images, labels)`` and logits outputs."""

    def __init__(self, topk: Sequence[int] = (1, 5)) -> None:
        if not topk or any(k < 1 for k in topk):
            raise ValueError(f"evaluator.topk must be positive integers, got {topk}")
        self.topk = tuple(topk)

    def __call__(self, model: nn.Module, dataloader: DataLoader, ctx: EvalContext) -> dict[str, float]:
        counts = torch.zeros(len(self.topk) + 1, dtype=torch.float64, device=ctx.device)  # hits per k, then total
        for (images, labels), valid in ctx.batches(dataloader):
            with ctx.autocast():
                logits = model(images)  # (B, num_classes)
            kmax = min(max(self.topk), logits.shape[-1])
            pred = logits.float().topk(kmax, dim=-1).indices  # (B, kmax)
            hit = pred.eq(labels[:, None]) & valid[:, None]  # (B, kmax)
            for i, k in enumerate(self.topk):
                counts[i] += hit[:, : min(k, kmax)].any(dim=-1).sum()
            counts[-1] += valid.sum()
        ctx.all_reduce_sum(counts)
        total = counts[-1].item()
        if total == 0:
            raise ValueError("the evaluation dataloader yielded no samples")
        return {f"top{k}": 100.0 * counts[i].item() / total for i, k in enumerate(self.topk)}
