"""Shared pieces for the engine tests: a tiny EVA-02 config on digits, and a dataset that can kill its process.

Subprocess runs import this module by name (the tests put its folder on PYTHONPATH).
"""

from __future__ import annotations

import os
import pprint
import signal
from pathlib import Path
from typing import Any

import torch

from vision.data import DigitsDataset

KILL_ENV = "SHIJIE_TEST_KILL_AT_SAMPLE"


class KillableDigits(DigitsDataset):
    """Digits that SIGKILL their own process on the n-th sample read when ``$SHIJIE_TEST_KILL_AT_SAMPLE=n``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads = 0
        self.kill_at = int(os.environ.get(KILL_ENV, "0"))

    def __getitem__(self, index: int):
        self.reads += 1
        if self.kill_at and self.reads >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(index)


def tiny_config(**sections: Any) -> dict[str, Any]:
    """A complete engine config: a 1-block EVA-02 on 8x8 digits, 8 steps.

    ``sections`` update the matching dicts (replace them when they name another ``type``) or set new keys.
    """
    cfg: dict[str, Any] = dict(
        seed=0,
        model=dict(
            type="vision.VisionTransformer",
            img_size=8,
            patch_size=4,
            in_chans=1,
            num_classes=10,
            embed_dim=16,
            depth=1,
            num_heads=2,
            mlp_ratio=4 * 2 / 3,
            mlp_layer="swiglu",
            use_rope=True,
            global_pool="avg",
        ),
        criterion=dict(type="torch.nn.CrossEntropyLoss"),
        train_dataloader=dict(
            batch_size=32,
            dataset=dict(type="engine_helpers.KillableDigits", split="val", img_size=8, augment=True),
        ),
        # 189 held-out digits: odd, so two ranks need one padded sample, which evaluation must not count
        val_dataloader=dict(
            batch_size=50,
            dataset=dict(type="vision.data.DigitsDataset", split="val", img_size=8, val_fraction=0.105),
        ),
        optimizer=dict(type="adamw", lr=1e-2, weight_decay=0.05),
        scheduler=dict(type="cosine", warmup_steps=2, min_lr=1e-5),
        train=dict(max_steps=8, grad_clip=1.0),
        checkpoint=dict(interval_steps=2, keep_last=3, save_best="top1"),
        log=dict(interval=1, progress_bar=False, tensorboard=True, plot=True),
    )
    for key, value in sections.items():
        same_type = isinstance(value, dict) and value.get("type", cfg.get(key, {}).get("type")) == cfg.get(key, {}).get(
            "type"
        )
        if isinstance(value, dict) and isinstance(cfg.get(key), dict) and same_type:
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    """Write ``cfg`` as a Python config file (what tools/train.py reads)."""
    body = "\n".join(f"{key} = {pprint.pformat(value, width=100)}" for key, value in cfg.items())
    path.write_text(f'"""Engine test config."""\n\n{body}\n')
    return path


class NanAtCall(torch.nn.CrossEntropyLoss):
    """Cross-entropy that turns NaN on its ``call``-th use (1-based), to exercise the non-finite-loss stop."""

    def __init__(self, call: int) -> None:
        super().__init__()
        self.call, self.calls = call, 0

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = super().forward(logits, target)
        return loss * float("nan") if self.calls == self.call else loss


class LossReturningModel(torch.nn.Module):
    """A model following the no-criterion contract: ``forward(images, labels)`` returns ``{'loss', 'acc'}``."""

    def __init__(self, as_dict: bool = True) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        self.as_dict = as_dict

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        logits = self.net(images)  # (B, 10)
        if labels is None:
            return logits
        loss = torch.nn.functional.cross_entropy(logits, labels)
        if not self.as_dict:
            return logits  # breaks the contract on purpose
        return {"loss": loss, "acc": (logits.argmax(-1) == labels).float().mean()}


class MeanLogitEvaluator:
    """A plug-in evaluator: the mean logit of the true class over the (unpadded) test set."""

    def __call__(self, model: torch.nn.Module, dataloader, ctx) -> dict[str, float]:
        total = torch.zeros(2, dtype=torch.float64)
        for (images, labels), valid in ctx.batches(dataloader):
            picked = model(images).gather(1, labels[:, None])[:, 0]  # (B,)
            total += torch.stack([picked[valid].sum().double(), valid.sum().double()])
        ctx.all_reduce_sum(total)
        return {"mean_true_logit": (total[0] / total[1]).item(), "count": total[1].item()}
