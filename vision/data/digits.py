"""scikit-learn's bundled handwritten digits (1,797 real 8x8 scans), upsampled: a dataset that needs no download."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

__all__ = ["DigitsDataset"]

SPLITS = ("train", "val", "all")


class DigitsDataset(Dataset):
    """Digits 0-9 as ``(in_chans, img_size, img_size)`` tensors normalised to [-1, 1], with integer labels.

    ``split`` picks a stratified, seeded hold-out: ``val_fraction`` of every class goes to ``'val'``, the rest to
    ``'train'``. ``augment`` adds small random rotations, shifts and zooms (training only).
    """

    def __init__(
        self,
        split: str = "train",
        img_size: int = 32,
        in_chans: int = 1,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        augment: bool = False,
    ) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if img_size < 8:
            raise ValueError(f"img_size must be >= 8 (the scans are 8x8), got {img_size}")
        if in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 1 or 3, got {in_chans}")
        digits = load_digits()
        index = torch.arange(len(digits.target)).numpy()
        if split != "all":
            train_idx, val_idx = train_test_split(
                index, test_size=val_fraction, stratify=digits.target, random_state=split_seed
            )
            index = train_idx if split == "train" else val_idx
        images = torch.from_numpy(digits.images[index]).float().div(16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
        images = F.interpolate(images, size=(img_size, img_size), mode="bilinear", align_corners=False)
        self.images = images.expand(-1, in_chans, -1, -1).sub(0.5).div(0.5).contiguous()  # (N, C, S, S)
        self.targets = torch.from_numpy(digits.target[index]).long()
        self.transform = None
        if augment:
            import torchvision.transforms.v2 as T

            self.transform = T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), fill=-1.0)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img = self.images[index]
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.targets[index])
