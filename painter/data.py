"""Painter training data: two (image, painted target) pairs of one task per canvas, with block-wise masking.

Pairs are records ``{"image_path", "target_path", "type"}`` as in the official JSON lists (``type`` names the task,
e.g. ``nyuv2_image2depth``, ``ade20k_image2semantic``, ``coco_image2panoptic_inst``, ``coco_image2pose``,
``sidd_image2denoise``, ``derain_image2derain``, ``lol_image2enhance``). Targets are stored painted (colour PNGs)
except NYUv2 depth, whose 16-bit millimetre PNGs are painted on load with :class:`painter.codecs.DepthCodec`.

A sample stacks two pairs of the same type (prompt above query), random-resized-crops each (bicubic for images and
depth, nearest for colour-coded targets; no crop jitter for instance and pose targets, whose colours encode
position), masks target patches block-wise (BEiT-style blocks; 784 of 1568 patches at 896x448) or, with probability
``half_mask_ratio``, exactly the query half, and sets ``valid`` to the official per-task loss weights (black pixels of
depth / semantic targets are ignored; pose foreground weighs 10; a near-empty instance or pose target is dropped).
Task mixing uses per-sample weights for a ``WeightedRandomSampler`` (:func:`sample_weights`).
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from painter.codecs import DepthCodec
from vision.data.image_loader import CorruptImageError, load_image
from vision.data.masking import BlockMaskGenerator

__all__ = [
    "OFFICIAL_TASK_WEIGHTS",
    "PainterPairDataset",
    "discover_painter_pairs",
    "load_pair_json",
    "sample_weights",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# The official mixture (train_painter_vit_large.sh order, pairdataset.py weights): share of samples per task.
OFFICIAL_TASK_WEIGHTS = {
    "nyuv2_image2depth": 0.1,
    "ade20k_image2semantic": 0.2,
    "coco_image2panoptic_inst": 0.15,
    "coco_image2panoptic_sem_seg": 0.25,
    "coco_image2pose": 0.2,
    "sidd_image2denoise": 0.15,
    "derain_image2derain": 0.05,
    "lol_image2enhance": 0.05,
}
_NEAREST_TARGET = ("semantic", "panoptic", "inst", "pose")  # colour-coded targets: never blend colours
_NO_JITTER = ("inst", "pose")  # colours encode position: the official pipeline does not crop these


def load_pair_json(path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[dict[str, str]]:
    """Read an official pair list; paths become absolute under ``root`` (default: the JSON's folder)."""
    path = Path(path)
    records = json.loads(path.read_text())
    base = Path(root) if root is not None else path.parent
    out = []
    for i, rec in enumerate(records):
        missing = {"image_path", "target_path", "type"} - set(rec)
        if missing:
            raise ValueError(f"{path} record {i} lacks {sorted(missing)}")
        out.append({**rec, "image_path": str(base / rec["image_path"]), "target_path": str(base / rec["target_path"])})
    return out


def discover_painter_pairs(root: str | os.PathLike) -> list[dict[str, str]]:
    """Pairs in the ``shared/data/painter`` layout: ``depth/*_rgb.png`` + ``*_depth.png`` (NYUv2, mm),
    ``denoise/*_noisy.png`` + ``*_gt.png`` (SIDD), ``derain/*_rain.png`` + ``*_clean.png``,
    ``lowlight/*_low.png`` + ``*_high.png`` (LOL)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Painter data folder {root} does not exist")
    rules = [
        ("depth", "_rgb", "_depth", "nyuv2_image2depth"),
        ("denoise", "_noisy", "_gt", "sidd_image2denoise"),
        ("derain", "_rain", "_clean", "derain_image2derain"),
        ("lowlight", "_low", "_high", "lol_image2enhance"),
    ]
    pairs = []
    for folder, src, dst, kind in rules:
        for image in sorted((root / folder).glob(f"*{src}.png")):
            target = image.with_name(image.name.replace(f"{src}.png", f"{dst}.png"))
            if target.is_file():
                pairs.append({"image_path": str(image), "target_path": str(target), "type": kind})
    if not pairs:
        raise FileNotFoundError(f"no Painter pairs found under {root}")
    return pairs


def sample_weights(pairs: Sequence[dict], task_weights: dict[str, float]) -> list[float]:
    """Per-sample weights giving each task its share of ``task_weights`` whatever its size (official sampler)."""
    counts: dict[str, int] = {}
    for p in pairs:
        counts[p["type"]] = counts.get(p["type"], 0) + 1
    unknown = set(counts) - set(task_weights)
    if unknown:
        raise ValueError(f"no task weight for {sorted(unknown)}; weights are given for {sorted(task_weights)}")
    return [task_weights[p["type"]] / counts[p["type"]] for p in pairs]


def _load_target(path: str, kind: str) -> np.ndarray:
    if "depth" in kind:
        try:
            with Image.open(path) as img:
                depth_mm = np.asarray(img).astype(np.float64)
        except OSError as err:
            raise CorruptImageError(path, str(err)) from err
        return DepthCodec().encode(depth_mm)
    return np.asarray(load_image(path, "RGB"))


def _crop_pair(
    image: np.ndarray,
    target: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    kind: str,
    scale: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Same random resized crop + flip for image and target; nearest resampling for colour-coded targets."""
    if image.shape[:2] != target.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and target {target.shape[:2]} of a {kind} pair differ in size")
    h, w = image.shape[:2]
    out_h, out_w = size
    box = (0, 0, w, h)
    jitter = not any(t in kind for t in _NO_JITTER)
    if jitter:
        area = h * w * rng.uniform(*scale)
        aspect = out_w / out_h * math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        ch, cw = min(h, round(math.sqrt(area / aspect))), min(w, round(math.sqrt(area * aspect)))
        top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        box = (left, top, left + cw, top + ch)
    tgt_filter = Image.NEAREST if any(t in kind for t in _NEAREST_TARGET) else Image.BICUBIC
    img = np.asarray(Image.fromarray(image).resize((out_w, out_h), Image.BICUBIC, box=box))
    tgt = np.asarray(Image.fromarray(target).resize((out_w, out_h), tgt_filter, box=box))
    if jitter and rng.random() < 0.5:
        img, tgt = img[:, ::-1], tgt[:, ::-1]
    return img, tgt


def _normalize(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


class PainterPairDataset(Dataset):
    """Painter canvases ``(3, 2h, w)`` from pair records (see the module docstring).

    ``pairs``: records, or a folder in the shared layout, or official JSON list files (read relative to
    ``data_root`` when given). With ``task_weights`` every item draws its task by weight and then a random pair of
    that task (the official weighted sampler, with replacement) and ``length`` sets the epoch length; without,
    item ``i`` is pair ``i``. ``max_size`` shrinks larger pairs once (longer side; nearest for colour-coded
    targets) and keeps them in memory, for small datasets read over and over (smoke runs, demos).
    Returns ``{"imgs", "tgts", "bool_masked_pos" (L,), "valid" (3, 2h, w)}``, the arguments of ``Painter.forward``.
    Randomness comes from the global numpy state (wrap in :class:`vision.data.sampler.SeededDataset`).
    """

    def __init__(
        self,
        pairs: Sequence[dict[str, str]] | str | os.PathLike | Sequence[str],
        image_size: int | tuple[int, int] = 448,
        patch_size: int = 16,
        num_mask_patches: int | None = None,
        max_mask_patches_per_block: int | None = None,
        min_mask_patches_per_block: int = 16,
        half_mask_ratio: float = 0.1,
        scale: tuple[float, float] = (0.3, 1.0),
        task_weights: dict[str, float] | None = None,
        data_root: str | os.PathLike | None = None,
        length: int | None = None,
        max_size: int | None = None,
    ) -> None:
        if isinstance(pairs, (str, os.PathLike)):
            pairs = [pairs]
        if pairs and all(isinstance(p, (str, os.PathLike)) for p in pairs):
            pairs = [
                rec
                for src in pairs
                for rec in (discover_painter_pairs(src) if Path(src).is_dir() else load_pair_json(src, data_root))
            ]
        if not pairs:
            raise ValueError("PainterPairDataset needs at least one pair")
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if h % patch_size or w % patch_size:
            raise ValueError(f"image_size {(h, w)} must be a multiple of patch_size {patch_size}")
        self.pairs = list(pairs)
        self.size = (h, w)
        self.patch_size = patch_size
        self.grid = (2 * h // patch_size, w // patch_size)
        n = self.grid[0] * self.grid[1]
        self.num_mask_patches = n // 2 if num_mask_patches is None else num_mask_patches
        max_block = (
            max(1, self.num_mask_patches // 2) if max_mask_patches_per_block is None else max_mask_patches_per_block
        )
        # Small canvases (tests, smoke runs) have fewer patches than the official minimum block: shrink the minimum.
        self.block_masks = BlockMaskGenerator(
            self.grid,
            self.num_mask_patches,
            min_num_patches=min(min_mask_patches_per_block, max_block),
            max_num_patches=max_block,
        )
        self.half_mask_ratio = half_mask_ratio
        self.scale = scale
        self.by_type: dict[str, list[int]] = {}
        for i, p in enumerate(self.pairs):
            self.by_type.setdefault(p["type"], []).append(i)
        self.weights = None if task_weights is None else np.asarray(sample_weights(self.pairs, task_weights))
        if length is not None and self.weights is None:
            raise ValueError("length needs task_weights (items are drawn by weight); without, an epoch is every pair")
        self.length = len(self.pairs) if length is None else length
        self.max_size = max_size
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.length

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index in self._cache:
            return self._cache[index]
        rec = self.pairs[index]
        image = np.asarray(load_image(rec["image_path"], "RGB"))
        target = _load_target(rec["target_path"], rec["type"])
        if self.max_size is not None:
            h, w = image.shape[:2]
            scale = self.max_size / max(h, w)
            if scale < 1 and target.shape[:2] == (h, w):
                size = (max(1, round(w * scale)), max(1, round(h * scale)))
                coded = any(t in rec["type"] for t in _NEAREST_TARGET)
                image = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
                target = np.asarray(Image.fromarray(target).resize(size, Image.NEAREST if coded else Image.BICUBIC))
            self._cache[index] = (image, target)
        return image, target

    def _view(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        image, target = self._load(index)
        return _crop_pair(image, target, self.size, rng, self.pairs[index]["type"], self.scale)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        if self.weights is not None:
            index = int(rng.choice(len(self.pairs), p=self.weights / self.weights.sum()))
        kind = self.pairs[index]["type"]
        partner = self.by_type[kind][rng.integers(len(self.by_type[kind]))]
        (img_q, tgt_q), (img_p, tgt_p) = self._view(index, rng), self._view(partner, rng)
        imgs = _normalize(np.concatenate([img_p, img_q], axis=0))  # (3, 2h, w): prompt above query
        tgt_uint8 = np.concatenate([tgt_p, tgt_q], axis=0)
        tgts = _normalize(tgt_uint8)
        valid = torch.ones_like(tgts)
        black = torch.from_numpy(tgt_uint8.transpose(2, 0, 1) == 0)  # (3, 2h, w) per channel, as the official test
        if "depth" in kind or "semantic" in kind:
            valid[black] = 0
        elif "pose" in kind:
            valid[~black] = 10.0
            if (~black).sum() < 300:
                valid.zero_()
        elif "inst" in kind and (~black).sum() < 300:
            valid.zero_()
        if rng.random() < self.half_mask_ratio:
            mask = np.zeros(self.grid, bool)
            mask[self.grid[0] // 2 :] = True
        else:
            mask = self.block_masks(random.Random(int(rng.integers(2**63)))).numpy()
        return {"imgs": imgs, "tgts": tgts, "bool_masked_pos": torch.from_numpy(mask.reshape(-1)), "valid": valid}
