"""Building the pieces a config names (model, datasets, loaders, criterion, evaluator), with errors naming the key."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from vision.config import ConfigError, instantiate
from vision.data.sampler import EpochSampler, SeededDataset
from vision.engine.dist import DistContext
from vision.engine.evaluation import ClassificationEvaluator

__all__ = ["build", "build_evaluator", "build_loader", "build_model", "seed_everything"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build(spec: Any, key: str, **extra: Any) -> Any:
    """``instantiate(spec)``; any failure is re-raised as a :class:`ConfigError` that starts with ``key``."""
    try:
        return instantiate(spec, **extra)
    except (ConfigError, TypeError, ValueError, FileNotFoundError, KeyError, ImportError) as err:
        raise ConfigError(f"{key}: {err}") from err


def build_loader(
    loader: dict[str, Any], key: str, ctx: DistContext, train: bool, seed: int
) -> tuple[DataLoader, Dataset]:
    """A loader over an :class:`EpochSampler` shard; training data is augmented per ``(seed, epoch, index)``.

    Returns the loader and the dataset whose ``epoch`` the trainer sets (the seeded wrapper, or the plain dataset).
    """
    dataset = build(loader["dataset"], f"{key}.dataset")
    if len(dataset) == 0:
        raise ConfigError(f"{key}.dataset: the dataset is empty")
    if train:
        dataset = SeededDataset(dataset, seed)
    sampler = EpochSampler(len(dataset), ctx.world_size, ctx.rank, shuffle=train, seed=seed)
    drop_last = loader["drop_last"] if loader["drop_last"] is not None else train
    if drop_last and len(sampler) < loader["batch_size"]:
        raise ConfigError(
            f"{key}.batch_size: {loader['batch_size']} is larger than this process's share of the dataset "
            f"({len(sampler)} samples) with drop_last=True, so an epoch would have no batches"
        )
    dl = DataLoader(
        dataset,
        batch_size=loader["batch_size"],
        sampler=sampler,
        num_workers=loader["num_workers"],
        pin_memory=loader["pin_memory"],
        drop_last=drop_last,
        generator=torch.Generator(),  # keeps iterator creation off the global RNG (exact resume)
    )
    return dl, dataset


def build_evaluator(spec: dict[str, Any] | None) -> Any:
    evaluator = ClassificationEvaluator() if spec is None else build(spec, "evaluator")
    if not callable(evaluator):
        raise ConfigError(f"evaluator: built a {type(evaluator).__name__}, which is not callable")
    return evaluator


def build_model(spec: dict[str, Any]) -> nn.Module:
    model = build(spec, "model")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model: built a {type(model).__name__}, not a torch.nn.Module")
    return model
