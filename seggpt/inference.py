"""Segment an image from examples: ``SegGPT.segment(image, prompts=[(prompt_image, prompt_mask), ...])``.

Each prompt pair becomes one canvas (prompt above, query below, ``W x W`` halves of the model's ``(2W, W)`` canvas);
all canvases run as one batch through SegGPT's feature ensemble, so several prompts cost one forward pass, and
:func:`prepare_prompts` lets many queries (e.g. video frames) reuse the same prepared prompts.

Modes:

* ``binary``: a prompt mask is any object mask (bool, 0/1, 0/255 grey or RGB, palette PNG); it is painted white on
  black as in the official examples, and the painted query is thresholded at mid-grey. Type token: instance.
* ``semantic``: a prompt mask is a class-index map (0 = background, 1..K = classes). Each class gets a fixed,
  well-separated colour (:func:`palette`), so several classes are prompted at once, and every painted query pixel
  goes to the nearest palette colour. The official repository has no multi-class mode; this is ours. Type token:
  semantic.

Images are resized as the official ``inference_image`` (bicubic for images, nearest for masks) and the prediction
is resized back to the query's size with nearest neighbours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from vision.data.image_loader import read_rgb

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MODES",
    "PreparedPrompts",
    "SegmentResult",
    "decode_painting",
    "encode_target",
    "finish",
    "load_image",
    "load_prompt_pair",
    "make_result",
    "num_classes_of",
    "overlay",
    "paint_query",
    "palette",
    "prepare_prompts",
    "prepare_query",
    "segment",
    "target_from_labels",
    "to_label_map",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
MODES = ("binary", "semantic")
ImageLike = str | os.PathLike | Image.Image | np.ndarray
BINARY_COLOUR = (255, 0, 0)  # overlay colour of binary masks


@dataclass
class PreparedPrompts:
    """Prompt canvases' top halves, ready for any query: ``images``/``targets`` ``(N, 3, W, W)`` normalised."""

    images: torch.Tensor
    targets: torch.Tensor
    mode: str
    classes: list[int]


@dataclass
class SegmentResult:
    """``mask``: ``(H, W)`` bool (binary) or int64 class indices (semantic) at the query's size; ``painting``: the
    model's raw RGB prediction ``(H, W, 3)`` uint8; ``overlay``: the mask blended onto the query, uint8."""

    mask: np.ndarray
    painting: np.ndarray
    overlay: np.ndarray


def load_image(image: ImageLike, what: str = "image") -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from a path, PIL image or array (grey arrays are repeated to 3 channels)."""
    if isinstance(image, (str, os.PathLike, Image.Image)):
        return np.asarray(read_rgb(image, what))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) == 0:
        raise ValueError(f"{what} must be an (H, W, 3) RGB image, got an array of shape {array.shape}")
    if array.dtype != np.uint8:
        if array.dtype.kind == "f" and array.max(initial=0) <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array[..., :3])


def to_label_map(mask: ImageLike, mode: str, what: str = "mask") -> np.ndarray:
    """``(H, W)`` int64 labels: binary -> 0/1, semantic -> the class indices as given."""
    if isinstance(mask, (str, os.PathLike)):
        try:
            with Image.open(mask) as im:
                mask = im.copy()
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"{what} {os.fspath(mask)!r} is not a readable image file: {err}") from err
    if isinstance(mask, Image.Image):
        mask = mask if mask.mode in ("P", "L", "1", "I", "I;16") else mask.convert("RGB")
    array = np.asarray(mask)
    if array.ndim == 3:
        if mode == "semantic":
            raise ValueError(
                f"semantic {what} must be a class-index map (H, W) with 0 = background, got a colour image "
                f"{array.shape}"
            )
        array = array[..., :3].max(axis=-1)
    if array.ndim != 2:
        raise ValueError(f"{what} must be an (H, W) map, got an array of shape {array.shape}")
    if mode == "binary":
        fg = array > 0 if array.dtype == bool or array.max(initial=0) <= 1 else array > 127
        return fg.astype(np.int64)
    if array.dtype.kind not in "biu" or array.min(initial=0) < 0:
        raise ValueError(f"semantic {what} must hold non-negative integer class indices, got dtype {array.dtype}")
    return array.astype(np.int64)


@lru_cache(maxsize=1)
def _lattice_palette() -> np.ndarray:
    """Black, then colours of the 5-level RGB lattice in farthest-point order (each far from all before it)."""
    levels = (0, 64, 128, 192, 255)
    pool = np.array(list(product(levels, repeat=3)), dtype=np.float64)  # (125, 3), black first
    chosen = [0]
    dist = np.linalg.norm(pool - pool[0], axis=1)
    for _ in range(len(pool) - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(pool - pool[nxt], axis=1))
    return pool[chosen].astype(np.uint8)


def palette(num_classes: int) -> np.ndarray:
    """``(num_classes + 1, 3)`` uint8 colours; row 0 (background) is black."""
    table = _lattice_palette()
    if num_classes >= len(table):
        raise ValueError(f"the colour palette holds {len(table) - 1} classes; got class index {num_classes}")
    return table[: num_classes + 1]


def encode_target(labels: np.ndarray, mode: str, num_classes: int = 1) -> np.ndarray:
    """Label map -> the RGB target SegGPT paints: white on black (binary) or palette colours (semantic)."""
    if mode == "binary":
        return np.where(labels[..., None] > 0, 255, 0).astype(np.uint8).repeat(3, axis=-1)
    return palette(num_classes)[labels]


def decode_painting(painting: torch.Tensor, mode: str, num_classes: int = 1) -> torch.Tensor:
    """``(..., 3)`` RGB in 0..255 -> labels: grey level above 127.5 (binary) or nearest palette colour."""
    if mode == "binary":
        return (painting.mean(-1) > 127.5).long()
    colours = torch.as_tensor(palette(num_classes), dtype=painting.dtype, device=painting.device)  # (K+1, 3)
    dist = (painting[..., None, :] - colours).square().sum(-1)  # (..., K+1)
    return dist.argmin(-1)


def overlay(image: np.ndarray, labels: np.ndarray, colours: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend ``colours[label]`` onto ``image`` where ``label > 0``; uint8 ``(H, W, 3)``."""
    paint = colours[labels].astype(np.float32)
    blended = image.astype(np.float32) * (1 - alpha) + paint * alpha
    return np.where(labels[..., None] > 0, blended, image).round().astype(np.uint8)


def _resize(array: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((size, size), resample))


def _normalise(rgb: np.ndarray) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` -> ImageNet-normalised float32 ``(..., 3, H, W)``."""
    x = (rgb / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.moveaxis(x, -1, -3)).float()


def load_prompt_pair(image: ImageLike, mask: ImageLike, mode: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` uint8 image and ``(H, W)`` labels of one prompt; errors start with ``name`` (e.g. ``prompt 2``)."""
    image, labels = load_image(image, f"{name} image"), to_label_map(mask, mode, f"{name} mask")
    if image.shape[:2] != labels.shape:
        raise ValueError(
            f"{name}: the image is {image.shape[1]}x{image.shape[0]} but its mask is "
            f"{labels.shape[1]}x{labels.shape[0]} (width x height); they must be the same size"
        )
    if not labels.any():
        raise ValueError(f"{name}: the mask is empty (no foreground pixels); nothing to segment")
    return image, labels


def prepare_prompts(prompts: Sequence[tuple[ImageLike, ImageLike]], size: int, mode: str = "binary") -> PreparedPrompts:
    """Check, encode and resize prompt pairs once, for any number of queries."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not prompts:
        raise ValueError("give at least one (prompt_image, prompt_mask) pair")
    pairs = []
    for i, pair in enumerate(prompts):
        if len(pair) != 2:
            raise ValueError(f"prompt {i} must be an (image, mask) pair")
        pairs.append(load_prompt_pair(*pair, mode, f"prompt {i}"))
    classes = sorted({int(c) for _, labels in pairs for c in np.unique(labels) if c > 0})
    num_classes = max(classes) if mode == "semantic" else 1
    images = np.stack([_resize(img, size, Image.Resampling.BICUBIC) for img, _ in pairs])
    targets = np.stack(
        [_resize(encode_target(lab, mode, num_classes), size, Image.Resampling.NEAREST) for _, lab in pairs]
    )
    return PreparedPrompts(_normalise(images), _normalise(targets), mode, classes)


def prepare_query(image: ImageLike, size: int) -> torch.Tensor:
    """A query image as the model sees it: resized (bicubic) to ``size`` and normalised, ``(3, size, size)``."""
    return _normalise(_resize(load_image(image, "query image"), size, Image.Resampling.BICUBIC))


@torch.no_grad()
def paint_query(
    model: nn.Module, query: torch.Tensor, prompts: PreparedPrompts, seg_type: str | None = None
) -> torch.Tensor:
    """The model's painting of a prepared ``query`` (:func:`prepare_query`): ``(W, W, 3)`` in 0..255, float."""
    param = next(model.parameters())
    q = query[None].expand(len(prompts.images), -1, -1, -1)
    imgs = torch.cat([prompts.images, q], dim=2).to(param.device, param.dtype)  # (N, 3, 2W, W)
    tgts = torch.cat([prompts.targets, prompts.targets], dim=2).to(param.device, param.dtype)
    seg_type = seg_type or ("semantic" if prompts.mode == "semantic" else "instance")
    out = model.predict(imgs, tgts, seg_type=seg_type)[0].float()  # (3, W, W), normalised target space
    mean = out.new_tensor(IMAGENET_MEAN)[:, None, None]
    std = out.new_tensor(IMAGENET_STD)[:, None, None]
    return ((out * std + mean) * 255).clamp(0, 255).permute(1, 2, 0)  # (W, W, 3)


def num_classes_of(prompts: PreparedPrompts) -> int:
    """How many palette colours the decoder must tell apart (1 for binary prompts)."""
    return max(prompts.classes) if prompts.mode == "semantic" else 1


def target_from_labels(labels: torch.Tensor, prompts: PreparedPrompts) -> torch.Tensor:
    """Predicted labels ``(W, W)`` at model size -> a normalised prompt target ``(3, W, W)`` (video feedback)."""
    rgb = encode_target(labels.cpu().numpy(), prompts.mode, num_classes_of(prompts))
    return _normalise(rgb)


def segment(
    model: nn.Module,
    image: ImageLike,
    prompts: Sequence[tuple[ImageLike, ImageLike]] | PreparedPrompts,
    mode: str = "binary",
    seg_type: str | None = None,
    alpha: float = 0.5,
) -> SegmentResult:
    """Segment ``image`` like the prompt pairs show (see the module docstring); masks come back at its size."""
    query = load_image(image, "query image")
    size = model.img_size[1]
    if not isinstance(prompts, PreparedPrompts):
        prompts = prepare_prompts(prompts, size, mode)
    elif prompts.mode != mode:
        raise ValueError(f"prompts were prepared for mode {prompts.mode!r}, not {mode!r}")
    painting = paint_query(model, prepare_query(query, size), prompts, seg_type)  # (W, W, 3)
    return finish(query, painting, prompts, alpha)


def finish(query: np.ndarray, painting: torch.Tensor, prompts: PreparedPrompts, alpha: float = 0.5) -> SegmentResult:
    """Decode a model-size painting and bring mask, painting and overlay to the query's size (nearest)."""
    num_classes = num_classes_of(prompts)
    labels = decode_painting(painting, prompts.mode, num_classes)  # (W, W)
    h, w = query.shape[:2]
    labels = F.interpolate(labels[None, None].float(), size=(h, w), mode="nearest")[0, 0].long().cpu().numpy()
    painted = F.interpolate(painting.permute(2, 0, 1)[None], size=(h, w), mode="nearest")[0].permute(1, 2, 0)
    return make_result(query, labels, painted.round().byte().cpu().numpy(), prompts, alpha)


def make_result(
    query: np.ndarray, labels: np.ndarray, painting: np.ndarray, prompts: PreparedPrompts, alpha: float = 0.5
) -> SegmentResult:
    """Package query-size ``labels`` and ``painting`` with the overlay, in the prompts' mode."""
    binary = prompts.mode == "binary"
    colours = np.array([(0, 0, 0), BINARY_COLOUR], np.uint8) if binary else palette(num_classes_of(prompts))
    mask = labels.astype(bool) if binary else labels
    return SegmentResult(mask, painting, overlay(query, labels, colours, alpha))
