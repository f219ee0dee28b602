"""ImageNet class lists shared by every evaluator: the 1000 WordNet ids in class order and the class subsets scored
by ImageNet-A and ImageNet-R (200 classes each). The lists ship with timm, a dependency, so there is one source."""

from __future__ import annotations

import pkgutil
from functools import cache

__all__ = ["BENCHMARKS", "imagenet_wnids", "subset_indices"]

BENCHMARKS = ("imagenet", "imagenet-v2", "imagenet-a", "imagenet-r")


def _timm_info(name: str) -> list[str]:
    # The WordNet id lists ship with timm (a dependency); reading them keeps one source for the class order.
    data = pkgutil.get_data("timm.data", f"_info/{name}")
    if data is None:  # pragma: no cover - timm without its data files
        raise FileNotFoundError(f"timm's class list {name} is missing")
    return data.decode("utf-8").split()


@cache
def imagenet_wnids() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids in class-index order."""
    return tuple(_timm_info("imagenet_synsets.txt"))


@cache
def subset_indices(benchmark: str) -> tuple[int, ...] | None:
    """ImageNet-1k class indices a benchmark scores (sorted), or ``None`` when it uses all 1000."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    if benchmark not in ("imagenet-a", "imagenet-r"):
        return None
    position = {w: i for i, w in enumerate(imagenet_wnids())}
    wnids = _timm_info(f"imagenet_{benchmark[-1]}_synsets.txt")
    return tuple(sorted(position[w] for w in wnids))
