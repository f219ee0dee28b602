"""Image to patch tokens, and resampling of the patch kernel between patch sizes (e.g. 14 <-> 16)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PatchEmbed", "resample_patch_embed", "to_2tuple"]


def to_2tuple(x: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(x, int):
        return (x, x)
    if len(x) != 2:
        raise ValueError(f"expected an int or a pair, got {x!r}")
    return (int(x[0]), int(x[1]))


class PatchEmbed(nn.Module):
    """Conv patchify: ``(B, C, H, W) -> (B, H/p * W/p, D)``; also reports the token grid of each input."""

    def __init__(
        self, img_size: int | tuple[int, int] = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768
    ) -> None:
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        for side, (size, patch) in zip(("height", "width"), zip(self.img_size, self.patch_size)):
            if size % patch:
                raise ValueError(f"image {side} {size} is not divisible by the patch size {patch}")
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)

    def dynamic_grid(self, height: int, width: int) -> tuple[int, int]:
        """The token grid for an input of this size; raises if a side is not a multiple of the patch."""
        ph, pw = self.patch_size
        if height % ph or width % pw:
            raise ValueError(
                f"input size {height}x{width} is not divisible by the patch size {ph}x{pw}; "
                f"resize or pad to a multiple of the patch size"
            )
        return height // ph, width // pw

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if x.ndim != 4:
            raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(x.shape)}")
        grid = self.dynamic_grid(x.shape[-2], x.shape[-1])
        x = self.proj(x)  # (B, D, H/p, W/p)
        return x.flatten(2).transpose(1, 2), grid  # (B, N, D)


def resample_patch_embed(
    weight: torch.Tensor, new_size: tuple[int, int] | int, interpolation: str = "bicubic", antialias: bool = True
) -> torch.Tensor:
    """Resize a patch-embedding kernel ``(D, C, kh, kw)`` to ``new_size`` so it sees the same image content.

    Plain interpolation would change what the kernel computes. Following FlexiViT, we solve for the kernel whose
    response to a resized patch equals the old kernel's response to the original patch: with ``R`` the resize matrix,
    the new kernel is ``pinv(R^T) w``.
    """
    new_size = to_2tuple(new_size)
    old_size = tuple(weight.shape[-2:])
    if old_size == new_size:
        return weight

    def resize(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t[None, None], size=new_size, mode=interpolation, antialias=antialias)[0, 0]

    eye = torch.eye(old_size[0] * old_size[1], dtype=torch.float32)
    basis = eye.reshape(-1, *old_size)  # (kh*kw, kh, kw) one-hot patches
    resize_mat = torch.stack([resize(b).reshape(-1) for b in basis], dim=1)  # (new, old)
    pinv = torch.linalg.pinv(resize_mat.T)  # (new, old)
    flat = weight.float().reshape(*weight.shape[:2], -1)  # (D, C, old)
    out = flat @ pinv.T  # (D, C, new)
    return out.reshape(*weight.shape[:2], *new_size).to(weight.dtype)
