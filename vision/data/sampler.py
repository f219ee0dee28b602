"""Deterministic data order and augmentation, independent of how many processes read the data.

``EpochSampler`` shards a seeded per-epoch permutation across ranks and can start mid-epoch (exact resume).
``SeededDataset`` seeds every sample's augmentation from ``(seed, epoch, index)``, so an image is augmented the same
way whichever rank or worker loads it: a 2-process run sees exactly the batches of a 1-process run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, get_worker_info

__all__ = ["EpochSampler", "SeededDataset"]


class EpochSampler(Sampler[int]):
    """Rank ``rank`` of ``num_replicas`` gets positions ``rank, rank + R, ...`` of the epoch's order.

    The order is padded (wrapping around) to a multiple of ``num_replicas`` so every rank runs the same number of
    batches; :meth:`valid_mask` tells evaluators which local positions are padding.
    """

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0, shuffle: bool = True, seed: int = 0):
        if length <= 0:
            raise ValueError("cannot sample from an empty dataset")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, {num_replicas})")
        self.length, self.num_replicas, self.rank = length, num_replicas, rank
        self.shuffle, self.seed = shuffle, seed
        self.epoch = 0
        self.start = 0  # local positions to skip at the start of the epoch (resume)
        self.num_samples = math.ceil(length / num_replicas)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def _order(self) -> list[int]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.length, generator=gen).tolist()
        else:
            order = list(range(self.length))
        pad = self.num_samples * self.num_replicas - self.length
        order += (order * math.ceil(pad / self.length))[:pad] if pad else []
        return order[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._order()[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start

    def valid_mask(self, start: int, count: int) -> torch.Tensor:
        """Which of local positions ``start .. start+count-1`` are real samples rather than padding."""
        pos = torch.arange(start, start + count) * self.num_replicas + self.rank  # global positions
        return pos < self.length


class SeededDataset(Dataset):
    """Wraps a dataset so the random state seen by ``dataset[i]`` depends only on ``(seed, epoch, i)``."""

    def __init__(self, dataset: Dataset, seed: int = 0) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def __len__(self) -> int:
        return len(self.dataset)

    def _seed(self, index: int) -> None:
        sample_seed = ((self.seed * 1_000_003 + self.epoch) * 1_000_033 + index) % (2**63)
        torch.default_generator.manual_seed(sample_seed)
        random.seed(sample_seed)
        np.random.seed(sample_seed % (2**32))

    def __getitem__(self, index: int) -> Any:
        if get_worker_info() is not None:  # a loader worker's generators serve only the data: no need to restore
            self._seed(index)
            return self.dataset[index]
        saved = torch.get_rng_state(), random.getstate(), np.random.get_state()
        self._seed(index)
        try:
            return self.dataset[index]
        finally:  # in the main process the training loop's own random streams must not move
            torch.set_rng_state(saved[0])
            random.setstate(saved[1])
            np.random.set_state(saved[2])
