"""Painter's task codecs: every task's label becomes an RGB image the model paints, and back.

Painter answers every task by painting the target half of the canvas, so each task needs a fixed way to turn its
label into a uint8 RGB image (``encode``) and to read a painted image back into a label (``decode``). The colour
schemes follow the official data preparation of baaivision/Painter:

* NYUv2 depth: grey level = depth_mm / 10000 * 255 (0-10 m onto 0-255).
* ADE20K semantic (150 classes) and COCO panoptic semantic (133 classes): a lattice palette, ``steps`` evenly spaced
  levels per channel counting down from 255; label 0 (unlabelled) is black.
* COCO panoptic instances: each instance coloured by where its mass centre falls on an 80x80 grid (R = which of
  4x4 coarse cells, G/B = row/column inside that cell); decoded by thresholding the colour distance to every grid
  colour and suppressing duplicates with matrix NMS.
* COCO keypoints: R = heatmap (max over joints), G/B = the joint's colour on a 5x5 lattice.
* Denoise, derain, low-light enhancement: the target is a plain RGB image.

All images are ``(H, W, 3)`` uint8 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

__all__ = [
    "ADE20K",
    "COCO_PANOPTIC_SEMANTIC",
    "CODECS",
    "DepthCodec",
    "ImageCodec",
    "InstanceCodec",
    "KeypointCodec",
    "PanopticCodec",
    "SemanticCodec",
    "get_codec",
    "instance_palette",
    "keypoint_palette",
    "lattice_palette",
    "matrix_nms",
]


class Codec(Protocol):
    """What every task codec offers."""

    def encode(self, label: Any) -> np.ndarray: ...

    def decode(self, image: np.ndarray) -> Any: ...


def _check_rgb(image: np.ndarray) -> np.ndarray:
    """Validate a painted image: (H, W, 3), uint8 or float in [0, 255]; return it as float32."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise ValueError(f"expected a numeric image, got dtype {image.dtype}")
    return image.astype(np.float32)


def _check_label_map(label: np.ndarray, num_classes: int) -> np.ndarray:
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"expected a (H, W) label map, got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"expected an integer label map, got dtype {label.dtype}")
    if label.size and (label.min() < 0 or label.max() > num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}] (0 = unlabelled), got [{label.min()}, {label.max()}]")
    return label.astype(np.int64)


def lattice_palette(num_colors: int, steps: int) -> np.ndarray:
    """(num_colors, 3) uint8 colours on a ``steps``-per-channel lattice counting down from white.

    Colour ``k`` has digits (r, g, b) of ``k`` in base ``steps`` and channel values ``255 - digit * (256 // steps)``,
    so classes sit as far apart as the lattice allows (the official "mean separation" palettes).
    """
    if steps < 2 or num_colors > steps**3:
        raise ValueError(f"{num_colors} colours do not fit a lattice of {steps} steps per channel")
    sep = 256 // steps
    k = np.arange(num_colors)
    digits = np.stack([k // steps**2, (k % steps**2) // steps, k % steps], axis=1)  # (N, 3)
    return (255 - digits * sep).astype(np.uint8)


def _nearest_color(image: np.ndarray, palette: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Index of the L1-nearest palette colour for every pixel: (H, W, 3) float -> (H, W) int64."""
    flat = image.reshape(-1, 3)
    pal = palette.astype(np.float32)
    out = np.empty(len(flat), dtype=np.int64)
    for start in range(0, len(flat), chunk):
        block = flat[start : start + chunk]  # (n, 3)
        out[start : start + chunk] = np.abs(block[:, None, :] - pal[None]).sum(-1).argmin(1)
    return out.reshape(image.shape[:2])


@dataclass(frozen=True)
class SemanticCodec:
    """Class map <-> lattice-palette colours. Label 0 is unlabelled (black); label ``l`` gets ``palette[l - 1]``."""

    num_classes: int
    steps: int

    @property
    def palette(self) -> np.ndarray:
        return lattice_palette(self.num_classes, self.steps)

    def encode(self, label: np.ndarray) -> np.ndarray:
        label = _check_label_map(label, self.num_classes)
        colors = np.concatenate([np.zeros((1, 3), np.uint8), self.palette])  # row 0 = unlabelled
        return colors[label]

    def decode(self, image: np.ndarray, with_background: bool = True) -> np.ndarray:
        """Nearest palette colour per pixel -> labels in [1, num_classes].

        ``with_background=True`` also offers black, decoded as 0 (the inverse of ``encode``); the official ADE20K
        evaluator offers only the class colours, which is ``with_background=False``.
        """
        image = _check_rgb(image)
        if with_background:
            colors = np.concatenate([np.zeros((1, 3), np.uint8), self.palette])
            return _nearest_color(image, colors)
        return _nearest_color(image, self.palette) + 1


ADE20K = SemanticCodec(num_classes=150, steps=6)
COCO_PANOPTIC_SEMANTIC = SemanticCodec(num_classes=133, steps=7)


@dataclass(frozen=True)
class DepthCodec:
    """Depth in metres <-> grey image with grey = depth_mm / 10000 * 255 (NYUv2 spans 0-10 m)."""

    max_depth_mm: float = 10000.0

    def encode(self, depth_mm: np.ndarray) -> np.ndarray:
        """(H, W) depth in millimetres (NYUv2's 16-bit PNGs) -> (H, W, 3) uint8 grey."""
        depth_mm = np.asarray(depth_mm, dtype=np.float64)
        if depth_mm.ndim != 2:
            raise ValueError(f"expected a (H, W) depth map in millimetres, got shape {depth_mm.shape}")
        if depth_mm.size and depth_mm.min() < 0:
            raise ValueError("depth must be non-negative (millimetres; 0 = missing)")
        grey = np.clip(np.rint(depth_mm / self.max_depth_mm * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)

    def decode(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) painted grey -> (H, W) float32 depth in metres (channel mean, as the official inference)."""
        grey = _check_rgb(image).mean(-1)
        return (grey * (self.max_depth_mm / 255.0) / 1000.0).astype(np.float32)


@dataclass(frozen=True)
class ImageCodec:
    """Low-level tasks (denoise, derain, low-light): the target is the clean RGB image itself."""

    def encode(self, image: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(_check_rgb(image)), 0, 255).astype(np.uint8)

    def decode(self, image: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(_check_rgb(image)), 0, 255).astype(np.uint8)


def instance_palette(cells_r: int = 16, cells_gb: int = 20) -> np.ndarray:
    """(80, 80, 3) uint8 colour of every mass-centre grid cell, indexed [y, x].

    The 80x80 grid is 4x4 coarse blocks of 20x20 cells: R counts the coarse block (step 255 // 16), G the row and
    B the column inside it (step 256 // 20 + 1), all counting down from 255.
    """
    side = int(round(cells_r**0.5))  # 4 coarse blocks per side
    n = side * cells_gb  # 80
    sep_r, sep_gb = 255 // cells_r, 256 // cells_gb + 1
    y, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r = 255 - ((y // cells_gb) * side + x // cells_gb) * sep_r
    g = 255 - (y % cells_gb) * sep_gb
    b = 255 - (x % cells_gb) * sep_gb
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def matrix_nms(
    masks: torch.Tensor, scores: torch.Tensor, sigma: float = 2.0, max_num: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-agnostic matrix NMS (SOLOv2, Gaussian kernel): decay each mask's score by its overlap with better ones.

    masks: (N, H, W) bool; scores: (N,). Returns ``(indices, decayed_scores)`` of at most ``max_num`` masks, best
    first. Nothing is dropped outright: a duplicate keeps ``exp(-sigma * iou**2)`` of its score (compensated by how
    much its suppressor was itself suppressed).
    """
    n = len(scores)
    if n == 0:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0)
    order = scores.argsort(descending=True)
    flat = masks[order].reshape(n, -1).float()  # (N, HW), best first
    area = flat.sum(1)  # (N,)
    inter = flat @ flat.T  # (N, N)
    iou = (inter / (area[:, None] + area[None, :] - inter).clamp(min=1)).triu(diagonal=1)  # iou[i, j], i better
    compensate = iou.max(0).values  # (N,) each mask's largest overlap with a better mask
    # decay of j by i: exp(-sigma iou_ij^2) / exp(-sigma compensate_i^2), minimum over better masks i
    decay = (torch.exp(-sigma * iou**2) / torch.exp(-sigma * compensate[:, None] ** 2)).min(0).values  # (N,)
    new_scores = scores[order] * decay
    keep = new_scores.argsort(descending=True)[:max_num]
    return order[keep], new_scores[keep]


@dataclass(frozen=True)
class InstanceCodec:
    """Instance masks <-> colours of their mass-centre cell on the 80x80 grid (class-agnostic).

    Decoding follows the official threshold post-processing: a pixel joins every grid colour whose mean absolute
    channel distance is below ``dist_thr`` (19 in the official evaluation), masks are scored
    ``1 - mean_distance / max(max_mean_distance, 1)``, and matrix NMS (Gaussian, sigma 2) keeps the best ``max_num``.
    One deliberate difference: pixels nearer to black than to any grid colour are background and join no mask (the
    official code lets them form a low-scoring instance of the darkest cell).
    """

    dist_thr: float = 19.0
    max_num: int = 100
    pre_nms_top: int = 2000
    sigma: float = 2.0
    work_size: int = 320
    nms_size: int = 80

    @property
    def palette(self) -> np.ndarray:
        return instance_palette()

    def encode(self, masks: np.ndarray) -> np.ndarray:
        """(N, H, W) bool instance masks -> (H, W, 3) uint8; later masks paint over earlier ones where they overlap."""
        masks = np.asarray(masks)
        if masks.ndim != 3:
            raise ValueError(f"expected (N, H, W) instance masks, got shape {masks.shape}")
        masks = masks.astype(bool)
        n, h, w = masks.shape
        grid = self.palette
        cells = grid.shape[0] - 1  # 79: centre x / w * 79 picks the cell, as the official code
        out = np.zeros((h, w, 3), np.uint8)
        ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
        for i in range(n):
            area = masks[i].sum()
            if area == 0:
                raise ValueError(f"instance {i} has an empty mask")
            cx, cy = (masks[i] * xs).sum() / area, (masks[i] * ys).sum() / area
            out[masks[i]] = grid[int(cy / h * cells), int(cx / w * cells)]
        return out

    def decode(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) painted image -> (masks (K, H, W) bool, scores (K,) float32), best first.

        Candidates are found on the image shrunk (nearest) to at most ``work_size`` pixels on its longer side and
        NMS overlaps on at most ``nms_size``; the kept masks are scaled back (nearest) to the input size. This keeps
        a noisy painting (up to ``pre_nms_top`` candidates) tractable on a CPU.
        """
        image = _check_rgb(image)
        h, w, _ = image.shape
        small = _shrink(image, self.work_size)
        sh, sw, _ = small.shape
        palette = self.palette.reshape(-1, 3).astype(np.float32)  # (P, 3)
        # distances are computed once per distinct colour, not per pixel: painted images repeat colours a lot
        packed = (np.rint(small).astype(np.int64) * np.array([1 << 16, 1 << 8, 1])).sum(-1).reshape(-1)
        uniq, inverse = np.unique(packed, return_inverse=True)
        colors = np.stack([uniq >> 16, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.float32)  # (U, 3)
        pairs_u, pairs_p, dists = [], [], []
        for start in range(0, len(colors), 1024):
            d = np.abs(colors[start : start + 1024, None] - palette[None]).sum(-1) / 3  # (u, P)
            fg = colors[start : start + 1024].sum(1) / 3 >= d.min(1)  # nearer to a grid colour than to black
            u, p = np.nonzero((d < self.dist_thr) & fg[:, None])
            pairs_u.append(u + start)
            pairs_p.append(p)
            dists.append(d[u, p])
        pairs_u, pairs_p, dists = map(np.concatenate, (pairs_u, pairs_p, dists))
        if len(pairs_p) == 0:
            return np.zeros((0, h, w), bool), np.zeros(0, np.float32)
        counts = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
        cand = np.unique(pairs_p)  # grid colours with at least one pixel within the threshold
        col = np.searchsorted(cand, pairs_p)
        # per candidate: pixel count and summed distance -> mean distance ("maskness", lower is better)
        area = np.bincount(col, weights=counts[pairs_u], minlength=len(cand))
        maskness = np.bincount(col, weights=counts[pairs_u] * dists, minlength=len(cand)) / area
        order = np.argsort(maskness, kind="stable")[: self.pre_nms_top]
        member = np.zeros((len(order), len(uniq)), bool)  # which distinct colours belong to each candidate
        rank = np.full(len(cand), -1)
        rank[order] = np.arange(len(order))
        sel = rank[col] >= 0
        member[rank[col[sel]], pairs_u[sel]] = True
        masks = member[:, inverse].reshape(len(order), sh, sw)
        mk = maskness[order]
        scores = 1.0 - mk / max(mk.max(), 1.0)
        step = max(1, int(np.ceil(max(sh, sw) / self.nms_size)))
        keep, new_scores = matrix_nms(
            torch.from_numpy(np.ascontiguousarray(masks[:, ::step, ::step])),
            torch.from_numpy(scores).float(),
            sigma=self.sigma,
            max_num=self.max_num,
        )
        kept = masks[keep.numpy()]
        if (sh, sw) != (h, w):
            rows = np.minimum((np.arange(h) * sh / h).astype(int), sh - 1)
            cols = np.minimum((np.arange(w) * sw / w).astype(int), sw - 1)
            kept = kept[:, rows][:, :, cols]
        return kept, new_scores.numpy().astype(np.float32)


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Nearest-neighbour subsample so the longer side is at most ``max_side`` (colours are never blended)."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    rows = (np.arange(round(h * max_side / max(h, w))) * max(h, w) / max_side).astype(int)
    cols = (np.arange(round(w * max_side / max(h, w))) * max(h, w) / max_side).astype(int)
    return image[rows][:, cols]


@dataclass(frozen=True)
class PanopticCodec:
    """COCO panoptic = two painted images: a semantic one (133-class palette) and an instance one (mass-centre grid).

    ``encode`` takes a (H, W) category map (0 void, 1..133 in panoptic category order) and (N, H, W) thing masks.
    ``decode`` merges them: instances are taken best score first (above ``score_thr``), each labelled by the most
    frequent thing category under it and clipped to pixels not yet claimed; remaining pixels keep their stuff
    category. Output: a (H, W) segment-id map (0 void) and a list of ``{"id", "category", "isthing", "score"}``.
    """

    thing_ids: tuple[int, ...] = tuple(range(1, 81))  # COCO panoptic order: 80 things first, then 53 stuff
    score_thr: float = 0.5
    min_area: int = 1
    semantic: SemanticCodec = COCO_PANOPTIC_SEMANTIC
    instance: InstanceCodec = InstanceCodec()

    def encode(self, label: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        category, masks = label
        return self.semantic.encode(category), self.instance.encode(masks)

    def decode(self, images: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, list[dict]]:
        sem_img, inst_img = images
        category = self.semantic.decode(sem_img)
        masks, scores = self.instance.decode(inst_img)
        if category.shape != masks.shape[1:] and len(masks):
            raise ValueError(f"semantic {category.shape} and instance {masks.shape[1:]} images differ in size")
        is_thing = np.isin(category, self.thing_ids)
        seg = np.zeros(category.shape, np.int64)
        segments: list[dict] = []
        for mask, score in zip(masks, scores):
            if score < self.score_thr:
                break  # scores come sorted, best first
            free = mask & (seg == 0) & is_thing
            if free.sum() < self.min_area:
                continue
            cat = int(np.bincount(category[free]).argmax())
            segments.append({"id": len(segments) + 1, "category": cat, "isthing": True, "score": float(score)})
            seg[free] = len(segments)
        for cat in np.unique(category[(seg == 0) & ~is_thing]):
            if cat == 0:
                continue
            region = (seg == 0) & (category == cat)
            if region.sum() >= self.min_area:
                segments.append({"id": len(segments) + 1, "category": int(cat), "isthing": False, "score": 1.0})
                seg[region] = len(segments)
        return seg, segments


def keypoint_palette(num_joints: int = 17) -> np.ndarray:
    """(num_joints, 2) uint8 G/B colours: a lattice of int(sqrt(K)) + 1 steps per channel, down from 255."""
    steps = int(num_joints**0.5) + 1
    sep = 256 // steps
    k = np.arange(num_joints)
    return (255 - np.stack([k // steps, k % steps], axis=1) * sep).astype(np.uint8)


@dataclass(frozen=True)
class KeypointCodec:
    """Top-down pose: R = joint heatmaps (max over joints) * 255, G/B = the colour of the joint owning the pixel.

    ``encode`` takes (K, 3) joints ``(x, y, visible)`` and an image size and draws a truncated Gaussian (radius
    3 sigma, as mmpose's targets) per visible joint; where joints overlap the strongest heatmap owns the pixel.
    ``decode`` gives each pixel the nearest joint colour (or none, when G/B is nearer to black), reads R as that
    joint's heatmap and returns ``(x, y, score)`` at each joint's maximum (score 0 for an absent joint).
    """

    num_joints: int = 17
    sigma: float = 2.0

    def heatmaps(self, joints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(K, 3) joints -> (K, H, W) float32 truncated Gaussians, peak 1 at each visible joint."""
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape != (self.num_joints, 3):
            raise ValueError(f"expected joints of shape ({self.num_joints}, 3) as (x, y, visible), got {joints.shape}")
        h, w = size
        ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]
        radius = 3 * self.sigma
        out = np.zeros((self.num_joints, h, w), np.float32)
        for k, (x, y, v) in enumerate(joints):
            if v <= 0:
                continue
            d2 = (xs - x) ** 2 + (ys - y) ** 2
            g = np.exp(-d2 / (2 * self.sigma**2))
            g[(np.abs(xs - x) > radius) | (np.abs(ys - y) > radius)] = 0
            out[k] = g
        return out

    def encode(self, label: tuple[np.ndarray, tuple[int, int]]) -> np.ndarray:
        joints, size = label
        heat = self.heatmaps(joints, size)  # (K, H, W)
        owner = heat.argmax(0)  # (H, W)
        peak = heat.max(0)
        out = np.zeros((*size, 3), np.uint8)
        out[..., 0] = np.rint(peak * 255).astype(np.uint8)
        gb = keypoint_palette(self.num_joints)[owner]  # (H, W, 2)
        out[..., 1:][peak > 0] = gb[peak > 0]
        return out

    def decode(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) painted image -> (K, 3) float32 ``(x, y, score)``; score = heatmap peak in [0, 1]."""
        image = _check_rgb(image)
        colors = np.concatenate([np.zeros((1, 2), np.uint8), keypoint_palette(self.num_joints)]).astype(np.float32)
        gb = image[..., 1:]
        owner = np.abs(gb[..., None, :] - colors).sum(-1).argmin(-1) - 1  # (H, W), -1 = no joint
        heat = image[..., 0] / 255.0
        out = np.zeros((self.num_joints, 3), np.float32)
        for k in range(self.num_joints):
            hk = np.where(owner == k, heat, 0.0)
            idx = int(hk.argmax())
            y, x = divmod(idx, hk.shape[1])
            out[k] = (x, y, hk.flat[idx])
        return out


CODECS: dict[str, Codec] = {
    "depth": DepthCodec(),
    "semantic": ADE20K,
    "panoptic": PanopticCodec(),
    "keypoints": KeypointCodec(),
    "denoise": ImageCodec(),
    "derain": ImageCodec(),
    "lowlight": ImageCodec(),
}


def get_codec(task: str) -> Codec:
    """The codec of one of Painter's seven tasks (see ``CODECS``)."""
    if task not in CODECS:
        raise KeyError(f"unknown Painter task {task!r}; choose one of {sorted(CODECS)}")
    return CODECS[task]
