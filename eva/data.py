"""MIM pre-training data: unlabeled images with a block-wise patch mask per sample.

Each sample is ``(image, mask)``: the image after the EVA pre-training augmentation (random resized crop with scale
``(0.2, 1)``, horizontal flip, CLIP normalisation; no colour jitter, as in the EVA-02 recipes) and a ``(N,)`` bool
mask from :class:`vision.data.masking.BlockMaskGenerator`. The engine calls ``MIMPretrainer(image, mask)`` on the batch.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from eva.evaluate import CLIP_MEAN, CLIP_STD
from vision.data.datasets import IMG_EXTENSIONS
from vision.data.image_loader import load_image
from vision.data.masking import BlockMaskGenerator

__all__ = ["MIMDataset", "build_mim_transform"]


def build_mim_transform(
    img_size: int,
    scale: tuple[float, float] = (0.2, 1.0),
    mean: Sequence[float] = CLIP_MEAN,
    std: Sequence[float] = CLIP_STD,
):
    """Random resized crop (bicubic, ratio 3/4..4/3), flip, normalise."""
    from torchvision import transforms as T

    return T.Compose(
        [
            T.RandomResizedCrop(img_size, scale=scale, interpolation=T.InterpolationMode.BICUBIC),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )


class MIMDataset(Dataset):
    """Every image under ``root`` (searched recursively; labels, if any, are ignored) with a fresh patch mask.

    ``num_masking_patches`` defaults to 40% of the grid (the official recipes use 105 of 16x16); ``min_num_patches`` is
    the official 16 unless the target is smaller.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        img_size: int = 224,
        patch_size: int = 14,
        num_masking_patches: int | None = None,
        min_num_patches: int = 16,
        scale: tuple[float, float] = (0.2, 1.0),
    ) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"MIM image folder does not exist: {root}")
        self.files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS)
        if not self.files:
            raise ValueError(f"no images with extensions {IMG_EXTENSIONS} under {root}")
        if img_size % patch_size:
            raise ValueError(f"image size {img_size} is not divisible by the patch size {patch_size}")
        grid = img_size // patch_size
        num_masked = num_masking_patches or round(grid * grid * 0.4)
        self.masks = BlockMaskGenerator(grid, num_masked, min_num_patches=min(min_num_patches, num_masked))
        self.transform = build_mim_transform(img_size, scale)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.transform(load_image(self.files[index]))  # (3, H, W)
        return image, self.masks(random).flatten()  # (N,) bool
