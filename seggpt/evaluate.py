"""One-shot / few-shot segmentation mIoU on a folder of (image, mask) pairs per class.

An *episode* is one query pair of a class and ``shots`` other pairs of the same class as prompts. Every pair serves
once as the query; its prompts are the next ``shots`` pairs of the class in sorted order (cyclically), so the
protocol is deterministic. Class IoU is the summed intersection over the summed union of all the class's episodes
(the usual few-shot convention), mIoU the mean over classes.

Two ways in:

* :func:`evaluate_folder` takes any ``segment(query_image, prompts) -> (H, W) bool`` callable (e.g. a wrapper
  around ``SegGPT.segment``) and returns the metrics;
* :class:`FewShotEpisodes` + :class:`FewShotSegEvaluator` follow the engine's evaluator contract
  (``evaluator(model, dataloader, ctx) -> dict``) for ``tools/test.py``: the dataset yields ready-made canvases,
  the evaluator runs ``model.predict`` (prompts batched through the feature ensemble) and scores the painted query.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from seggpt.data import IMAGENET_MEAN, IMAGENET_STD, discover_pairs, load_mask, load_rgb

__all__ = [
    "FewShotEpisodes",
    "FewShotSegEvaluator",
    "IoUAccumulator",
    "episodes",
    "evaluate_folder",
    "mask_from_painting",
]

Pair = tuple[Path, Path]
Segmenter = Callable[[np.ndarray, list[tuple[np.ndarray, np.ndarray]]], np.ndarray]


def episodes(pairs: dict[str, list[Pair]], shots: int = 1) -> list[tuple[str, Pair, list[Pair]]]:
    """``(class, query pair, prompt pairs)`` for every pair of every class (see the module docstring)."""
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    out = []
    for cls, items in sorted(pairs.items()):
        if len(items) < shots + 1:
            raise ValueError(f"class {cls!r} has {len(items)} pairs; {shots}-shot episodes need at least {shots + 1}")
        for i, query in enumerate(items):
            out.append((cls, query, [items[(i + j) % len(items)] for j in range(1, shots + 1)]))
    return out


class IoUAccumulator:
    """Summed intersection and union per class -> per-class IoU and their mean."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self.stats = np.zeros((len(self.classes), 2), dtype=np.float64)  # (intersection, union)

    def add(self, cls: str | int, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
        if pred.shape != gt.shape:
            raise ValueError(f"predicted mask {pred.shape} and ground truth {gt.shape} differ in shape")
        idx = self.classes.index(cls) if isinstance(cls, str) else int(cls)
        self.stats[idx] += ((pred & gt).sum(), (pred | gt).sum())

    def compute(self) -> dict[str, float]:
        inter, union = self.stats[:, 0], self.stats[:, 1]
        iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)  # nothing to find, nothing found: perfect
        out = {"miou": float(iou.mean() * 100)}
        out.update({f"iou/{c}": float(v * 100) for c, v in zip(self.classes, iou)})
        return out


def evaluate_folder(
    segment: Segmenter,
    root: str | os.PathLike | dict[str, list[Pair]],
    shots: int = 1,
    image_dirs: Sequence[str | os.PathLike] = (),
) -> dict[str, float]:
    """mIoU (percent) of ``segment`` over all episodes of a pair folder (or an already discovered pair dict)."""
    pairs = root if isinstance(root, dict) else discover_pairs(root, image_dirs)
    acc = IoUAccumulator(sorted(pairs))
    for cls, (q_img, q_mask), prompts in episodes(pairs, shots):
        query, gt = load_rgb(q_img), load_mask(q_mask)
        pred = segment(query, [(load_rgb(i), load_mask(m)) for i, m in prompts])
        acc.add(cls, pred, gt)
    return acc.compute()


def _resize(array: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((size, size), resample))


def _normalize(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


def mask_from_painting(painted: torch.Tensor, size: tuple[int, int], threshold: float = 127.5) -> np.ndarray:
    """Painted query half ``(3, h, w)`` in normalised target space -> ``(H, W)`` bool at the query's size.

    The prompt masks are painted white on black, so the query's grey level (resized with nearest neighbours, as the
    official ``inference_image`` and :mod:`seggpt.inference` do) above ``threshold`` is the object.
    """
    mean = painted.new_tensor(IMAGENET_MEAN)[:, None, None]
    std = painted.new_tensor(IMAGENET_STD)[:, None, None]
    rgb = ((painted.float() * std + mean) * 255).clamp(0, 255)  # (3, h, w)
    rgb = F.interpolate(rgb[None], size=size, mode="nearest")[0]
    return (rgb.mean(0) > threshold).cpu().numpy()


class FewShotEpisodes(Dataset):
    """Episodes as model inputs: ``imgs`` / ``tgts`` ``(shots, 3, 2w, w)`` canvases (one per prompt, the query
    below each; the query's target half repeats the prompt mask and is masked by the model), ``gt`` the query mask
    at its own size, ``class_index``. Use ``batch_size=1`` (queries differ in size)."""

    def __init__(
        self,
        root: str | os.PathLike | dict[str, list[Pair]],
        shots: int = 1,
        image_size: int = 448,
        image_dirs: Sequence[str | os.PathLike] = (),
    ) -> None:
        pairs = root if isinstance(root, dict) else discover_pairs(root, image_dirs)
        self.classes = sorted(pairs)
        self.items = episodes(pairs, shots)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        cls, (q_img, q_mask), prompts = self.items[index]
        w = self.image_size
        query = _normalize(_resize(load_rgb(q_img), w, Image.BICUBIC))
        imgs, tgts = [], []
        for p_img, p_mask in prompts:
            image, mask = load_rgb(p_img), load_mask(p_mask)
            if not mask.any():
                raise ValueError(f"prompt mask {p_mask} is empty")
            painted = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
            target = _normalize(_resize(painted, w, Image.NEAREST))
            imgs.append(torch.cat([_normalize(_resize(image, w, Image.BICUBIC)), query], dim=1))  # (3, 2w, w)
            tgts.append(torch.cat([target, target], dim=1))
        return {
            "imgs": torch.stack(imgs),
            "tgts": torch.stack(tgts),
            "gt": torch.from_numpy(load_mask(q_mask)),
            "class_index": torch.tensor(self.classes.index(cls)),
        }


class FewShotSegEvaluator:
    """Engine evaluator: class IoU / mIoU (percent) of ``model.predict`` on :class:`FewShotEpisodes` batches.

    ``seg_type`` is passed to the model (SegGPT's released inference uses the instance token); ``threshold`` is
    the grey level separating object from background in the painted query.
    """

    def __init__(self, seg_type: str = "instance", threshold: float = 127.5) -> None:
        self.seg_type = seg_type
        self.threshold = threshold

    def __call__(self, model: nn.Module, dataloader: DataLoader, ctx) -> dict[str, float]:
        dataset = dataloader.dataset
        classes = getattr(dataset, "classes", None) or getattr(getattr(dataset, "dataset", None), "classes", None)
        if classes is None:
            raise ValueError("FewShotSegEvaluator needs a FewShotEpisodes dataset (it names the classes)")
        stats = torch.zeros(len(classes), 2, dtype=torch.float64, device=ctx.device)
        for batch, valid in ctx.batches(dataloader):
            if batch["imgs"].shape[0] != 1:
                raise ValueError("FewShotSegEvaluator needs batch_size=1 (queries differ in size)")
            if not bool(valid[0]):
                continue  # sampler padding
            with ctx.autocast():
                painted = model.predict(batch["imgs"][0], batch["tgts"][0], seg_type=self.seg_type)  # (1, 3, w, w)
            gt = batch["gt"][0].cpu().numpy()
            pred = mask_from_painting(painted[0], gt.shape, self.threshold)
            k = int(batch["class_index"][0])
            stats[k, 0] += float((pred & gt).sum())
            stats[k, 1] += float((pred | gt).sum())
        ctx.all_reduce_sum(stats)
        acc = IoUAccumulator(classes)
        acc.stats = stats.cpu().numpy()
        return acc.compute()
