"""Painter's task metrics: depth RMSE / delta1 (NYUv2), mIoU (ADE20K), PSNR / SSIM (denoise, derain, low-light).

They follow the official evaluation scripts: depth errors per image (BTS's ``compute_errors``) averaged over images,
mIoU from a confusion matrix accumulated over the whole set, and PSNR / SSIM (Wang et al., 11x11 Gaussian window,
sigma 1.5, 'valid' filtering) per image, optionally on the Y channel of BT.601 YCbCr as the deraining evaluation does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DepthMeter", "SegmentationMeter", "depth_errors", "psnr", "rgb_to_y", "ssim"]


def _same_shape(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")


def depth_errors(
    pred: np.ndarray, gt: np.ndarray, min_depth: float = 1e-3, max_depth: float = 10.0, eigen_crop: bool = False
) -> dict[str, float]:
    """One image's depth errors in metres over valid ground-truth pixels (``min_depth < gt < max_depth``).

    Predictions are clipped to [min_depth, max_depth]; ``eigen_crop`` keeps rows 45:471, columns 41:601 of a
    480x640 NYUv2 frame (scaled for other sizes). Returns rmse, abs_rel, log10, d1, d2, d3 (d_k: share of pixels
    with max(gt/pred, pred/gt) < 1.25**k).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    _same_shape(pred, gt)
    pred = np.clip(np.nan_to_num(pred, nan=min_depth, posinf=max_depth), min_depth, max_depth)
    valid = (gt > min_depth) & (gt < max_depth)
    if eigen_crop:
        h, w = gt.shape
        crop = np.zeros_like(valid)
        crop[round(45 / 480 * h) : round(471 / 480 * h), round(41 / 640 * w) : round(601 / 640 * w)] = True
        valid &= crop
    if not valid.any():
        raise ValueError("no valid ground-truth depth pixels (all outside (min_depth, max_depth))")
    p, g = pred[valid], gt[valid]
    ratio = np.maximum(g / p, p / g)
    return {
        "rmse": float(np.sqrt(np.mean((g - p) ** 2))),
        "abs_rel": float(np.mean(np.abs(g - p) / g)),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "d1": float(np.mean(ratio < 1.25)),
        "d2": float(np.mean(ratio < 1.25**2)),
        "d3": float(np.mean(ratio < 1.25**3)),
    }


class DepthMeter:
    """Averages ``depth_errors`` over images, as the official NYUv2 evaluation does."""

    def __init__(self, **kwargs: float | bool) -> None:
        self.kwargs = kwargs
        self.rows: list[dict[str, float]] = []

    def update(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        row = depth_errors(pred, gt, **self.kwargs)
        self.rows.append(row)
        return row

    def compute(self) -> dict[str, float]:
        if not self.rows:
            raise ValueError("no images were added to the depth meter")
        return {k: float(np.mean([r[k] for r in self.rows])) for k in self.rows[0]}


class SegmentationMeter:
    """Confusion matrix over a whole set -> mIoU, per-class IoU and pixel accuracy.

    Labels are 0..num_classes-1; ``ignore_index`` pixels in the ground truth are skipped. Classes that never occur
    in either prediction or ground truth are left out of the mean (NaN in ``iou``), as mmseg does.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)  # [gt, pred]

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = np.asarray(pred), np.asarray(gt)
        _same_shape(pred, gt)
        keep = np.ones(gt.shape, bool) if self.ignore_index is None else gt != self.ignore_index
        g, p = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
        bad = (g < 0) | (g >= self.num_classes) | (p < 0) | (p >= self.num_classes)
        if bad.any():
            raise ValueError(f"labels must lie in [0, {self.num_classes - 1}] (or be ignore_index={self.ignore_index})")
        self.confusion += np.bincount(g * self.num_classes + p, minlength=self.num_classes**2).reshape(
            self.num_classes, self.num_classes
        )

    def compute(self) -> dict[str, float | np.ndarray]:
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
        total = self.confusion.sum()
        return {
            "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan"),
            "iou": iou,
            "pixel_acc": float(tp.sum() / total) if total else float("nan"),
        }


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 255] -> (H, W) BT.601 luma with studio offset (MATLAB's ``rgb2ycbcr`` Y, 16-235)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got shape {image.shape}")
    y = 16.0 + image @ np.array([65.481, 128.553, 24.966]) / 255.0
    return np.rint(y)  # MATLAB returns uint8 for uint8 input


def _prepare(pred: np.ndarray, gt: np.ndarray, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    _same_shape(pred, gt)
    if y_channel:
        return rgb_to_y(pred), rgb_to_y(gt)
    return pred, gt


def psnr(pred: np.ndarray, gt: np.ndarray, data_range: float = 255.0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, data_range]; ``inf`` for identical images."""
    pred, gt = _prepare(pred, gt, y_channel)
    mse = np.mean((pred - gt) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]  # (1, 1, k, k)


def ssim(pred: np.ndarray, gt: np.ndarray, data_range: float = 255.0, y_channel: bool = False) -> float:
    """Mean SSIM (11x11 Gaussian window, sigma 1.5, K = 0.01 / 0.03, 'valid' borders); RGB is averaged over channels."""
    pred, gt = _prepare(pred, gt, y_channel)
    if pred.ndim == 2:
        pred, gt = pred[..., None], gt[..., None]
    if min(pred.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {pred.shape[:2]}")
    x = torch.from_numpy(pred).permute(2, 0, 1)[:, None]  # (C, 1, H, W)
    y = torch.from_numpy(gt).permute(2, 0, 1)[:, None]
    win = _gaussian_window()
    mu_x, mu_y = F.conv2d(x, win), F.conv2d(y, win)
    var_x = F.conv2d(x * x, win) - mu_x**2
    var_y = F.conv2d(y * y, win) - mu_y**2
    cov = F.conv2d(x * y, win) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())
