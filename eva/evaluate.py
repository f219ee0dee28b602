"""ImageNet-style classification evaluation: top-1/top-5, per-class accuracy, JSON results.

Four benchmark layouts are understood (``benchmark=``):

* ``imagenet``: the 1000-class validation folder (one sub-folder per WordNet id) or a CSV file list;
* ``imagenet-v2``: ImageNet-V2 (sub-folders named by class index ``0`` .. ``999``);
* ``imagenet-a`` / ``imagenet-r``: the 200-class subsets (sub-folders named by WordNet id). A 1000-way classifier is
  scored on them by keeping only the 200 subset logits, as the official EVA evaluation does.

A CSV list (e.g. ``../shared/data/imagenet/labels.csv``) has a header with ``file`` (relative to the CSV's folder)
and ``class_index`` (ImageNet-1k index) columns.

``tools/test.py configs/eva/eval_imagenet.py --checkpoint CKPT --cfg-options ...`` runs :class:`ImageNetEvaluator`
on any registered classifier (see that config's docstring).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from vision.data.imagenet import imagenet_wnids, subset_indices

__all__ = [
    "ImageList",
    "ImageNetEvaluator",
    "ImageNetMetrics",
    "build_eval_transform",
    "write_results",
]

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# OpenAI CLIP statistics: the EVA-02 default (its teachers and towers are CLIP models).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageList(torch.utils.data.Dataset):
    """``(image, ImageNet-1k class index)`` pairs from a class-folder tree or a CSV file list."""

    def __init__(self, root: str | Path, benchmark: str = "imagenet", transform: Callable | None = None) -> None:
        self.root = Path(root)
        self.transform = transform
        if self.root.is_file():
            self.samples = self._from_csv(self.root)
        elif self.root.is_dir():
            self.samples = self._from_folders(self.root, benchmark)
        else:
            raise FileNotFoundError(f"evaluation data {self.root} is neither a folder nor a CSV file list")
        if not self.samples:
            raise ValueError(f"no images found under {self.root}")

    @staticmethod
    def _from_csv(path: Path) -> list[tuple[Path, int]]:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = {"file", "class_index"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path} lacks the column(s) {sorted(missing)}; it needs 'file' and 'class_index'")
            return [(path.parent / row["file"], int(row["class_index"])) for row in reader]

    @staticmethod
    def _from_folders(root: Path, benchmark: str) -> list[tuple[Path, int]]:
        position = {w: i for i, w in enumerate(imagenet_wnids())}
        samples = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if benchmark == "imagenet-v2":
                if not folder.name.isdigit() or int(folder.name) >= 1000:
                    raise ValueError(f"ImageNet-V2 folders are class indices 0..999, found {folder.name!r}")
                label = int(folder.name)
            else:
                if folder.name not in position:
                    raise ValueError(f"folder {folder.name!r} under {root} is not an ImageNet-1k WordNet id")
                label = position[folder.name]
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            samples.extend((p, label) for p in files)
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        with Image.open(path) as im:
            image = im.convert("RGB")
        return (self.transform(image) if self.transform else image), label


def build_eval_transform(
    img_size: int, crop_pct: float = 1.0, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD
) -> Callable:
    """Resize the short side to ``img_size / crop_pct`` (bicubic), centre-crop ``img_size``, normalise."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.Resize(int(img_size / crop_pct), interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(img_size),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


class ImageNetMetrics:
    """Accumulates logits and labels batch by batch; :meth:`compute` gives top-k and per-class accuracy.

    With a subset benchmark, logits outside the subset are dropped before ranking, so a 1000-way model competes only
    among the subset's classes. Labels stay ImageNet-1k indices throughout.
    """

    def __init__(self, num_classes: int = 1000, benchmark: str = "imagenet", topk: Sequence[int] = (1, 5)) -> None:
        self.num_classes = num_classes
        self.benchmark = benchmark
        subset = subset_indices(benchmark)
        if subset is not None and num_classes != 1000:
            raise ValueError(f"{benchmark} masks the logits of a 1000-class model; this model has {num_classes}")
        self.subset = None if subset is None else torch.tensor(subset)
        self.topk = tuple(topk)
        self.reset()

    def reset(self) -> None:
        self.correct = {k: 0 for k in self.topk}
        self.seen = 0
        self.class_total = torch.zeros(self.num_classes, dtype=torch.long)
        self.class_correct = torch.zeros(self.num_classes, dtype=torch.long)

    def process(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Add one batch: ``logits`` (B, num_classes), ``labels`` (B,) ImageNet-1k indices."""
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"expected logits of shape (B, {self.num_classes}), got {tuple(logits.shape)}")
        logits, labels = logits.detach().float().cpu(), labels.detach().long().cpu()
        if self.subset is not None:
            outside = ~torch.isin(labels, self.subset)
            if outside.any():
                raise ValueError(f"label {int(labels[outside][0])} is not one of the {self.benchmark} classes")
            ranked = self.subset[logits[:, self.subset].argsort(dim=1, descending=True)]  # (B, 200) class ids
        else:
            ranked = logits.argsort(dim=1, descending=True)  # (B, C)
        hits = ranked[:, : max(self.topk)] == labels[:, None]  # (B, kmax)
        for k in self.topk:
            self.correct[k] += int(hits[:, :k].any(dim=1).sum())
        self.seen += len(labels)
        self.class_total += torch.bincount(labels, minlength=self.num_classes)
        self.class_correct += torch.bincount(labels[hits[:, 0]], minlength=self.num_classes)

    def all_reduce(self, reduce_sum: Callable[[torch.Tensor], torch.Tensor]) -> None:
        """Sum the counts of every process; ``reduce_sum`` takes and returns the packed count tensor."""
        k = len(self.topk)
        packed = torch.cat(
            [torch.tensor([*(self.correct[t] for t in self.topk), self.seen]), self.class_total, self.class_correct]
        ).double()
        packed = reduce_sum(packed).cpu().round().long()
        self.correct = {t: int(packed[i]) for i, t in enumerate(self.topk)}
        self.seen = int(packed[k])
        self.class_total, self.class_correct = packed[k + 1 :].split(self.num_classes)

    def compute(self) -> dict:
        """Accuracies in percent; ``per_class`` maps each class index that occurred to its top-1 accuracy."""
        if self.seen == 0:
            raise RuntimeError("no samples were evaluated")
        present = self.class_total.nonzero().flatten()
        per_class = {int(c): 100.0 * int(self.class_correct[c]) / int(self.class_total[c]) for c in present}
        out = {f"top{k}": 100.0 * self.correct[k] / self.seen for k in self.topk}
        out.update(
            num_samples=self.seen,
            mean_per_class=sum(per_class.values()) / len(per_class),
            per_class=per_class,
            benchmark=self.benchmark,
        )
        return out


class ImageNetEvaluator:
    """Evaluator for ``vision.engine`` (``evaluator(model, dataloader, ctx) -> metrics``) and ``tools/test.py``.

    Returns ``top1``, ``top5`` and ``mean_per_class`` (percent), summed over ranks. The full results, per-class
    accuracy included, are kept in :attr:`results` and written as JSON to ``results_file`` when given. A progress
    bar with ETA runs on the main process.
    """

    def __init__(
        self,
        benchmark: str = "imagenet",
        num_classes: int = 1000,
        topk: Sequence[int] = (1, 5),
        results_file: str | None = None,
        progress: bool = True,
    ) -> None:
        self.metrics = ImageNetMetrics(num_classes, benchmark, topk)
        self.results_file = results_file
        self.progress = progress
        self.results: dict = {}

    def __call__(self, model: torch.nn.Module, dataloader: Iterable, ctx: Any) -> dict[str, float]:
        from tqdm import tqdm

        m = self.metrics
        m.reset()
        start = time.perf_counter()
        show = self.progress and ctx.dist.is_main
        bar = tqdm(total=len(dataloader), desc=f"eval {m.benchmark}", unit="batch", disable=not show)
        for (images, labels), valid in ctx.batches(dataloader):
            with ctx.autocast():
                logits = model(images)  # (B, num_classes)
            m.process(logits[valid], labels[valid])
            bar.update(1)
            bar.set_postfix(top1=f"{100.0 * m.correct[m.topk[0]] / max(m.seen, 1):.2f}")
        bar.close()
        m.all_reduce(lambda t: ctx.all_reduce_sum(t.to(ctx.device)))
        self.results = m.compute()
        self.results["seconds"] = time.perf_counter() - start
        if self.results_file and ctx.dist.is_main:
            write_results(self.results, self.results_file)
        return {k: v for k, v in self.results.items() if k.startswith("top") or k == "mean_per_class"}


def write_results(results: dict, path: str | Path) -> None:
    """Write the results as JSON; the file appears whole or not at all (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)
