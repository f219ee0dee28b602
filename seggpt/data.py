"""SegGPT training data: in-context pairs with random colouring, mix-context canvases and target-half masking.

SegGPT learns segmentation as *in-context colouring*: the canvas shows a prompt image and its coloured mask above a
query image and its coloured mask, and the model paints the masked target patches. The colours are drawn at random
for every sample (the same mapping for prompt and query), so the model must read the task from the context instead
of memorising a palette. This module builds such samples from

* a folder of (image, mask) pairs per class (:func:`discover_pairs`; the layouts of ``shared/data/seggpt``), as
  *semantic* context: prompt and query are two different images of the same class;
* a COCO instances file (:class:`CocoSource`), as *semantic* context (two images sharing categories, every shared
  category its own random colour) or *instance* context (two augmented views of one image, every instance its own
  random colour).

Each sample is a dict named after the model's ``forward`` arguments: ``imgs`` and ``tgts`` ``(3, 2h, w)``
ImageNet-normalised canvases, ``bool_masked_pos`` ``(L,)``, ``valid`` ``(3, 2h, w)`` and ``seg_type`` ``(1,)``
(0 semantic, 1 instance).

Masking: with probability ``half_mask_prob`` the whole query half is masked (what inference does); otherwise a random
``mask_ratio`` of all target patches. Mix-context: with probability ``mix_prob`` each half of the canvas is a row of
``mix_tiles`` tiles, each tile a different (prompt, query) example of the same context under one colour mapping.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from vision.data.image_loader import CorruptImageError, load_image

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CocoSource",
    "Example",
    "FolderSource",
    "InContextSegDataset",
    "colorize",
    "discover_pairs",
    "load_mask",
    "load_rgb",
    "random_colors",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# ---------------------------------------------------------------------------------------------------------- reading
def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB; unreadable files raise :class:`CorruptImageError` naming the file."""
    return np.asarray(load_image(path, "RGB"))


def load_mask(path: str | os.PathLike, threshold: int = 127) -> np.ndarray:
    """(H, W) bool object mask from a palette PNG (index > 0) or a grey / RGB PNG (grey level > ``threshold``).

    Grey and RGB masks in the wild are anti-aliased (SegGPT's examples have 20-30 grey levels), hence the threshold.
    """
    try:
        with Image.open(Path(path)) as img:
            img.load()
            if img.mode == "P":
                return np.asarray(img) > 0
            if img.mode in ("I;16", "I"):
                return np.asarray(img) > 0
            return np.asarray(img.convert("L")) > threshold
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptImageError(path, f"{type(err).__name__}: {err}") from err


_COCO_MASK = re.compile(r"^(?P<image>.+?)_(?P<cls>[^_]+)_mask$")
_NUMBERED = re.compile(r"^(?P<cls>.+?)_\d+$")


def _class_of(stem: str) -> str:
    match = _NUMBERED.match(stem)
    return match.group("cls") if match else stem


def discover_pairs(
    root: str | os.PathLike, image_dirs: Sequence[str | os.PathLike] = ()
) -> dict[str, list[tuple[Path, Path]]]:
    """``{class: [(image, mask), ...]}`` for every pair found under ``root`` (recursively), sorted.

    Three naming conventions are recognised (those of ``shared/data/seggpt``):

    * ``<stem>.<ext>`` with ``<stem>_target.png`` beside it (SegGPT's examples, ``hmbb_1.jpg``);
    * ``<stem>.jpg`` with ``<stem>.png`` beside it (PerSeg, ``cat_00.jpg`` + ``cat_00.png``);
    * ``<image_id>_<class>_mask.png`` whose image ``<image_id>.jpg`` lies beside it or in one of ``image_dirs``
      (masks derived from COCO, ``000000555705_cat_mask.png``).

    The class is ``<class>`` for the third form, else the stem without a trailing ``_<digits>`` (``cat_00 -> cat``).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"pair folder {root} does not exist")
    found: dict[str, list[tuple[Path, Path]]] = {}
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    names = set(files)
    used_masks: set[Path] = set()
    for path in files:
        match = _COCO_MASK.match(path.stem)
        if match and path.suffix.lower() == ".png":
            dirs = [path.parent, *map(Path, image_dirs)]
            candidates = [d / f"{match.group('image')}{ext}" for d in dirs for ext in (".jpg", ".png")]
            image = next((c for c in candidates if c.is_file()), None)
            if image is None:
                raise FileNotFoundError(f"no image for mask {path}; looked for {[str(c) for c in candidates]}")
            found.setdefault(match.group("cls"), []).append((image, path))
            used_masks.add(path)
    for path in files:
        if path in used_masks or path.stem.endswith("_target"):
            continue
        target = path.with_name(f"{path.stem}_target.png")
        plain = path.with_suffix(".png")
        if target in names:
            mask = target
        elif path.suffix.lower() in (".jpg", ".jpeg") and plain in names:
            mask = plain
        else:
            continue
        used_masks.add(mask)
        found.setdefault(_class_of(path.stem), []).append((path, mask))
    if not found:
        raise FileNotFoundError(f"no (image, mask) pairs found under {root}")
    return {k: sorted(v) for k, v in sorted(found.items())}


# ---------------------------------------------------------------------------------------------------------- colours
def random_colors(n: int, rng: np.random.Generator, min_distance: int = 48) -> np.ndarray:
    """``n`` random RGB colours (uint8), none near black (black is background) and pairwise at least
    ``min_distance`` apart in L1 when that is possible (it relaxes the distance after many tries)."""
    colors: list[np.ndarray] = []
    tries = 0
    while len(colors) < n:
        c = rng.integers(0, 256, size=3)
        tries += 1
        far = all(np.abs(c - o).sum() >= min_distance for o in colors) or tries > 200 * n
        if c.sum() >= min_distance and far:
            colors.append(c)
    return np.array(colors, dtype=np.uint8).reshape(n, 3)


def colorize(label: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """(H, W) int labels (0 background, ``k`` -> ``colors[k - 1]``) -> (H, W, 3) uint8."""
    table = np.concatenate([np.zeros((1, 3), np.uint8), colors])
    if label.max(initial=0) > len(colors):
        raise ValueError(f"label {label.max()} has no colour ({len(colors)} colours)")
    return table[label]


# ---------------------------------------------------------------------------------------------------------- sources
@dataclass
class Example:
    """One image with its label map: 0 background, ``1..K`` the context's classes or instances."""

    image: np.ndarray  # (H, W, 3) uint8
    label: np.ndarray  # (H, W) int64


class Source(Protocol):
    seg_type: int

    def draw(self, rng: np.random.Generator, count: int) -> tuple[list[Example], int]:
        """``count`` examples sharing one context, and the number of label ids they use."""
        ...


class FolderSource:
    """Semantic context from ``{class: [(image, mask), ...]}`` or a folder (:func:`discover_pairs`): examples are
    different images of one class. A class with a single pair repeats it (the views differ by augmentation).

    ``max_size`` shrinks larger pairs once (longer side, aspect kept) and keeps them in memory: a training canvas
    is a few hundred pixels wide, while phone photos are thousands, and decoding them dominates a CPU step.
    """

    seg_type = 0

    def __init__(
        self,
        pairs: dict[str, list[tuple[Path, Path]]] | None = None,
        root: str | os.PathLike | None = None,
        image_dirs: Sequence[str | os.PathLike] = (),
        max_size: int | None = None,
    ) -> None:
        if (pairs is None) == (root is None):
            raise ValueError("FolderSource takes either pairs or root")
        pairs = discover_pairs(root, image_dirs) if root is not None else pairs
        if not pairs:
            raise ValueError("FolderSource needs at least one class with an (image, mask) pair")
        self.pairs = pairs
        self.classes = sorted(pairs)
        self.max_size = max_size
        self._cache: dict[tuple[Path, Path], Example] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.pairs.values())

    def _load(self, image_path: Path, mask_path: Path) -> Example:
        key = (image_path, mask_path)
        if key in self._cache:
            return self._cache[key]
        image, mask = load_rgb(image_path), load_mask(mask_path)
        if image.shape[:2] != mask.shape:
            raise ValueError(f"image {image_path} {image.shape[:2]} and mask {mask_path} {mask.shape} differ")
        example = Example(image, mask.astype(np.int64))
        if self.max_size is not None:
            h, w = mask.shape
            scale = self.max_size / max(h, w)
            if scale < 1:
                size = (max(1, round(w * scale)), max(1, round(h * scale)))
                image = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
                mask = np.asarray(Image.fromarray(mask).resize(size, Image.NEAREST))
                example = Example(image, mask.astype(np.int64))
            self._cache[key] = example
        return example

    def draw(self, rng: np.random.Generator, count: int) -> tuple[list[Example], int]:
        items = self.pairs[self.classes[rng.integers(len(self.classes))]]
        picks = rng.permutation(len(items))
        return [self._load(*items[picks[i % len(items)]]) for i in range(count)], 1


class CocoSource:
    """COCO instances as SegGPT context (``pycocotools`` is imported on construction).

    ``mode='semantic'``: examples are images sharing at least one category with the first; every shared category
    is one label id. ``mode='instance'``: all examples are the same image (views differ by augmentation); every
    non-crowd instance is one label id, in the same order in every view.
    """

    def __init__(self, ann_file: str | os.PathLike, image_dir: str | os.PathLike, mode: str = "semantic") -> None:
        if mode not in ("semantic", "instance"):
            raise ValueError(f"mode must be 'semantic' or 'instance', got {mode!r}")
        from pycocotools.coco import COCO

        self.coco = COCO(str(ann_file))
        self.image_dir = Path(image_dir)
        self.mode = mode
        self.seg_type = 0 if mode == "semantic" else 1
        self.image_ids = sorted(
            i for i in self.coco.getImgIds() if any(not a["iscrowd"] for a in self.coco.imgToAnns[i])
        )
        if not self.image_ids:
            raise ValueError(f"{ann_file} has no image with a non-crowd annotation")

    def __len__(self) -> int:
        return len(self.image_ids)

    def _load(self, image_id: int) -> tuple[np.ndarray, list[dict]]:
        info = self.coco.imgs[image_id]
        anns = [a for a in self.coco.imgToAnns[image_id] if not a["iscrowd"]]
        return load_rgb(self.image_dir / info["file_name"]), anns

    def draw(self, rng: np.random.Generator, count: int) -> tuple[list[Example], int]:
        first = self.image_ids[rng.integers(len(self.image_ids))]
        image, anns = self._load(first)
        if self.mode == "instance":
            label = np.zeros(image.shape[:2], np.int64)
            for k, ann in enumerate(anns, start=1):
                label[self.coco.annToMask(ann) > 0] = k
            return [Example(image, label) for _ in range(count)], len(anns)
        cats = sorted({a["category_id"] for a in anns})
        cat = cats[rng.integers(len(cats))]
        others = [i for i in self.coco.getImgIds(catIds=[cat]) if i != first and i in set(self.image_ids)]
        chosen = [first] + [others[j] for j in rng.permutation(len(others))[: count - 1]] if others else [first]
        chosen = [chosen[i % len(chosen)] for i in range(count)]
        loaded = [(image, anns)] + [self._load(i) for i in chosen[1:]]
        shared = sorted(set.intersection(*({a["category_id"] for a in a_list} for _, a_list in loaded)))
        ids = {c: k for k, c in enumerate(shared, start=1)}
        examples = []
        for img, a_list in loaded:
            label = np.zeros(img.shape[:2], np.int64)
            for ann in a_list:
                if ann["category_id"] in ids:
                    label[self.coco.annToMask(ann) > 0] = ids[ann["category_id"]]
            examples.append(Example(img, label))
        return examples, len(shared)


# ---------------------------------------------------------------------------------------------------------- dataset
def _random_resized_crop(
    example: Example, size: tuple[int, int], rng: np.random.Generator, scale: tuple[float, float], flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a random area share in ``scale`` (aspect matched to ``size`` within 3/4..4/3), resize to ``size`` (h, w):
    bicubic for the image, nearest for the label; random horizontal flip."""
    h, w = example.label.shape
    out_h, out_w = size
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = out_w / out_h * np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        ch, cw = int(round(np.sqrt(area / aspect))), int(round(np.sqrt(area * aspect)))
        if 0 < ch <= h and 0 < cw <= w:
            break
    else:
        ch, cw = h, w
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    box = (left, top, left + cw, top + ch)
    image = np.asarray(Image.fromarray(example.image).resize((out_w, out_h), Image.BICUBIC, box=box))
    label = np.asarray(Image.fromarray(example.label.astype(np.int32)).resize((out_w, out_h), Image.NEAREST, box=box))
    if flip and rng.random() < 0.5:
        image, label = image[:, ::-1], label[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(label).astype(np.int64)


def _normalize(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) ImageNet-normalised float32."""
    return torch.from_numpy(((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


class InContextSegDataset(Dataset):
    """Random in-context segmentation canvases drawn from weighted sources (see the module docstring).

    ``image_size`` is one half's ``(h, w)``: the canvas is ``(2h, w)`` and must be a multiple of ``patch_size``.
    ``length`` is the nominal epoch length. Randomness comes from the global numpy state, so
    :class:`vision.data.sampler.SeededDataset` makes samples reproducible.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        weights: Sequence[float] | None = None,
        image_size: int | tuple[int, int] = 448,
        patch_size: int = 16,
        length: int = 1000,
        mask_ratio: float = 0.5,
        half_mask_prob: float = 0.5,
        mix_prob: float = 0.0,
        mix_tiles: int = 2,
        scale: tuple[float, float] = (0.3, 1.0),
        flip: bool = True,
    ) -> None:
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if h % patch_size or w % patch_size:
            raise ValueError(f"image_size {(h, w)} must be a multiple of patch_size {patch_size}")
        if mix_tiles < 1 or w % mix_tiles:
            raise ValueError(f"width {w} must split into mix_tiles={mix_tiles} equal tiles")
        if not sources:
            raise ValueError("InContextSegDataset needs at least one source")
        if not 0 <= mask_ratio <= 1 or not 0 <= half_mask_prob <= 1 or not 0 <= mix_prob <= 1:
            raise ValueError("mask_ratio, half_mask_prob and mix_prob must lie in [0, 1]")
        weights = [1.0] * len(sources) if weights is None else list(weights)
        if len(weights) != len(sources) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"need one non-negative weight per source, got {weights} for {len(sources)} sources")
        self.sources = list(sources)
        self.probs = np.asarray(weights, dtype=np.float64) / sum(weights)
        self.size = (h, w)
        self.patch_size = patch_size
        self.length = length
        self.mask_ratio, self.half_mask_prob = mask_ratio, half_mask_prob
        self.mix_prob, self.mix_tiles = mix_prob, mix_tiles
        self.scale, self.flip = scale, flip

    def __len__(self) -> int:
        return self.length

    def patch_mask(self, rng: np.random.Generator) -> torch.Tensor:
        """(L,) bool over the (2h/p, w/p) target grid, row-major: the query half, or a random share of patches."""
        hp, wp = 2 * self.size[0] // self.patch_size, self.size[1] // self.patch_size
        n = hp * wp
        mask = np.zeros(n, bool)
        if rng.random() < self.half_mask_prob:
            mask[n // 2 :] = True
        else:
            mask[rng.permutation(n)[: int(round(self.mask_ratio * n))]] = True
        return torch.from_numpy(mask)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        source = self.sources[rng.choice(len(self.sources), p=self.probs)]
        tiles = self.mix_tiles if rng.random() < self.mix_prob else 1
        h, w = self.size
        examples, num_ids = source.draw(rng, 2 * tiles)  # prompt tiles, then query tiles
        colors = random_colors(max(num_ids, 1), rng)
        halves_img, halves_tgt = [], []
        for half in range(2):
            row_img, row_tgt = [], []
            for t in range(tiles):
                image, label = _random_resized_crop(
                    examples[half * tiles + t], (h, w // tiles), rng, self.scale, self.flip
                )
                row_img.append(image)
                row_tgt.append(colorize(label, colors))
            halves_img.append(np.concatenate(row_img, axis=1))
            halves_tgt.append(np.concatenate(row_tgt, axis=1))
        imgs = _normalize(np.concatenate(halves_img, axis=0))  # (3, 2h, w), prompt above query
        tgts = _normalize(np.concatenate(halves_tgt, axis=0))
        return {
            "imgs": imgs,
            "tgts": tgts,
            "bool_masked_pos": self.patch_mask(rng),
            "valid": torch.ones_like(tgts),
            "seg_type": torch.tensor([float(source.seg_type)]),
        }
