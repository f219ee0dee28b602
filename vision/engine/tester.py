"""Evaluating a checkpoint with the config's model, test data and evaluator (what ``tools/test.py`` runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from vision.engine.build import build_evaluator, build_loader, build_model
from vision.engine.checkpoint import CheckpointManager
from vision.engine.dist import DistContext, setup_distributed, wrap_model
from vision.engine.evaluation import EvalContext
from vision.engine.trainer import AMP_DTYPES
from vision.engine.validate import resolve_config

__all__ = ["evaluate_checkpoint", "load_weights"]


def load_weights(model: torch.nn.Module, checkpoint: str | os.PathLike, use_ema: bool) -> str:
    """Load an engine checkpoint directory (EMA weights when ``use_ema`` and saved) or any weights file.

    Files go through :func:`vision.load_checkpoint` (the model package's filter, strict key check). Returns what was
    loaded, for the log.
    """
    from vision.checkpoint import load_checkpoint

    path = Path(checkpoint)
    if path.is_dir():
        loaded = CheckpointManager.load(path)
        if use_ema and loaded["ema"] is not None:
            model.load_state_dict(loaded["ema"])
            return f"{path} (EMA weights)"
        model.load_state_dict(loaded["model"])
        return str(path)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint: no such file or directory: {path}")
    load_checkpoint(model, path, strict=True)
    return str(path)


def evaluate_checkpoint(
    cfg: Any, checkpoint: str | os.PathLike | None, amp: str | None = None, ctx: DistContext | None = None
):
    """Build the model, load ``checkpoint`` (None: the config's own weights), evaluate; every rank gets the metrics.

    The loader is ``test_dataloader`` (``val_dataloader`` when absent); the evaluator defaults to top-1/top-5.
    """
    spec = resolve_config(cfg, mode="test")
    if spec["train"]["threads"] is not None:  # the training run's setting, so the numbers match it
        torch.set_num_threads(spec["train"]["threads"])
    dist = spec["dist"]
    ctx = ctx or setup_distributed(spec["train"]["device"], dist["backend"], dist["timeout_s"])
    model = build_model(spec["model"])
    use_ema = spec["ema"] is not None and spec["ema"]["evaluate"]
    source = load_weights(model, checkpoint, use_ema) if checkpoint is not None else "weights from the config"
    model.to(ctx.device).eval()
    if dist["strategy"] == "fsdp":  # sharded evaluation for models too big for one device
        model = wrap_model(model, ctx, "fsdp", fsdp_layers=dist["fsdp_layers"])
    key = "test_dataloader" if spec["test_dataloader"] is not None else "val_dataloader"
    loader, _ = build_loader(spec[key], key, ctx, train=False, seed=spec["seed"])
    evaluator = build_evaluator(spec["evaluator"])
    amp_dtype = AMP_DTYPES[amp if amp is not None else spec["train"]["amp"]]
    with torch.no_grad():
        metrics = evaluator(model, loader, EvalContext(ctx, amp_dtype))
    metrics = {k: float(v) for k, v in metrics.items()}
    if ctx.is_main:
        print(f"evaluated {source} on {len(loader.dataset)} samples ({key})", flush=True)
        print("test: " + "  ".join(f"{k} {v:.2f}" for k, v in metrics.items()), flush=True)
    return metrics
