"""BEiT-style block-wise masking: which patches a MIM student (EVA) or an in-context model (Painter) must predict.

The generator drops rectangular blocks of patches on the grid until about ``num_masking_patches`` are masked (EVA-02:
105 of 16x16 = 40%). Each block has an area drawn from ``[min_num_patches, remaining]`` and a log-uniform aspect ratio;
blocks may overlap, but a block is kept only when it adds between 1 and ``remaining`` new patches, so the count never
exceeds the target (and, as in the official generator, it can end a few patches short).

The draws use Python's ``random`` stream in the official order (area, aspect, top, left), so a generator seeded like
the official one reproduces its masks exactly; that is how the V3 golden fixture is checked.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

__all__ = ["BlockMaskGenerator", "check_mask"]


class BlockMaskGenerator:
    """Block-wise patch masks on an ``input_size`` grid.

    ``min_num_patches`` / ``max_num_patches`` bound one block's area, ``min_aspect`` .. ``max_aspect`` (default
    ``1 / min_aspect``) its height/width ratio. ``seed`` gives a private, reproducible stream; ``None`` draws from a
    fresh unseeded one.
    """

    def __init__(
        self,
        input_size: int | tuple[int, int],
        num_masking_patches: int,
        min_num_patches: int = 16,
        max_num_patches: int | None = None,
        min_aspect: float = 0.3,
        max_aspect: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.height, self.width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        self.num_patches = self.height * self.width
        if not 0 < num_masking_patches <= self.num_patches:
            raise ValueError(
                f"num_masking_patches must be in [1, {self.num_patches}] for a {self.height}x{self.width} grid, "
                f"got {num_masking_patches}"
            )
        self.num_masking_patches = num_masking_patches
        self.min_num_patches = min_num_patches
        self.max_num_patches = num_masking_patches if max_num_patches is None else max_num_patches
        if not 0 < self.min_num_patches <= self.max_num_patches:
            raise ValueError(
                f"need 0 < min_num_patches <= max_num_patches, got {self.min_num_patches} and {self.max_num_patches}"
            )
        max_aspect = max_aspect or 1.0 / min_aspect
        if not 0 < min_aspect <= max_aspect:
            raise ValueError(f"need 0 < min_aspect <= max_aspect, got {min_aspect} and {max_aspect}")
        self.log_aspect_ratio = (math.log(min_aspect), math.log(max_aspect))
        self.rng = random.Random(seed)

    def __repr__(self) -> str:
        return (
            f"BlockMaskGenerator({self.height}x{self.width}, target={self.num_masking_patches}, "
            f"block=[{self.min_num_patches}, {self.max_num_patches}], log_aspect={self.log_aspect_ratio})"
        )

    def _add_block(self, mask: np.ndarray, max_new: int, rng: random.Random) -> int:
        """Try up to 10 blocks; mark the first that adds 1..max_new new patches; return how many it added."""
        for _ in range(10):
            area = rng.uniform(self.min_num_patches, max_new)
            aspect = math.exp(rng.uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w >= self.width or h >= self.height:
                continue
            top = rng.randint(0, self.height - h)
            left = rng.randint(0, self.width - w)
            block = mask[top : top + h, left : left + w]  # view
            new = h * w - int(block.sum())
            if 0 < new <= max_new:
                block[...] = True
                return new
        return 0

    def __call__(self, rng: random.Random | None = None) -> torch.Tensor:
        """One ``(H, W)`` bool mask, True = masked, drawn from ``rng`` (default: the generator's own stream).

        Data loaders pass the ``random`` module, which ``vision.data.SeededDataset`` seeds per sample, so a sample's
        mask is reproducible across epochs, workers and resumes.
        """
        rng = rng or self.rng
        mask = np.zeros((self.height, self.width), dtype=bool)
        count = 0
        while count < self.num_masking_patches:
            added = self._add_block(mask, min(self.num_masking_patches - count, self.max_num_patches), rng)
            if added == 0:
                break
            count += added
        return torch.from_numpy(mask)

    def batch(self, batch_size: int) -> torch.Tensor:
        """``(B, H*W)`` bool masks, one draw per sample (row-major patch order, as the student flattens them)."""
        return torch.stack([self().flatten() for _ in range(batch_size)])


def check_mask(mask: torch.Tensor, batch_size: int, num_patches: int) -> torch.Tensor:
    """Validate a ``(B, N)`` patch mask (``(B, H, W)`` is flattened) and return it as bool."""
    if mask.ndim == 3:
        mask = mask.flatten(1)
    if mask.ndim != 2 or mask.shape[0] != batch_size or mask.shape[1] != num_patches:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)} but the images give {batch_size} samples of {num_patches} patches; "
            f"expected ({batch_size}, {num_patches})"
        )
    return mask.bool()
