"""EVA-02 as a semantic-segmentation backbone for UperNet (the official EVA-02 ADE20K setting).

The official seg backbone is the plain EVA-02 ViT (global attention everywhere, class token kept, RoPE on the patch
tokens) read out after four blocks (B: 3, 5, 7, 11; L: 7, 11, 15, 23). BEiT-style heads turn the four stride-16 maps
into strides 4, 8, 16, 32: two 2x deconvolutions with BatchNorm + GELU between, one deconvolution, identity, and a
2x2 max-pool. Everything else is :class:`vision.vit.VisionTransformer`, so the parameter names are the official ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn as nn

from vision.vit import VisionTransformer

__all__ = ["EVA02SegBackbone"]


class EVA02SegBackbone(VisionTransformer):
    """``(B, 3, H, W) -> 4 maps (B, embed_dim, H / s, W / s)`` for s = 4, 8, 16, 32, from blocks ``out_indices``.

    Defaults are EVA-02-B at 512 px. ``pretrained`` names an EVA-02 ``*_p14to16`` checkpoint loaded by
    :meth:`init_weights`; the position embedding is resized to the 512 px grid on load.
    """

    def __init__(
        self,
        img_size: int = 512,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4 * 2 / 3,
        out_indices: Sequence[int] = (3, 5, 7, 11),
        drop_path_rate: float = 0.1,
        rope_ref_grid: int = 16,
        use_act_checkpoint: bool = False,
        pretrained: str | None = None,
    ) -> None:
        super().__init__(
            img_size=img_size,
            patch_size=patch_size,
            num_classes=0,
            global_pool="",
            embed_dim=embed_dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            qkv_fused=False,
            mlp_layer="swiglu",
            swiglu_packed=False,
            scale_mlp=True,
            use_rope=True,
            rope_ref_grid=rope_ref_grid,
            drop_path_rate=drop_path_rate,
        )
        if len(set(out_indices)) != 4 or list(out_indices) != sorted(out_indices) or not 0 <= out_indices[0]:
            raise ValueError(f"out_indices must be 4 increasing block indices, got {list(out_indices)}")
        if out_indices[-1] >= depth:
            raise ValueError(f"out_indices {list(out_indices)} out of range for depth {depth}")
        self.out_indices = tuple(out_indices)
        self.pretrained = pretrained
        self.norm = nn.Identity()  # the read-out maps are taken before any final norm, as officially
        self.set_grad_checkpointing(use_act_checkpoint)
        dim = embed_dim
        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2),
            nn.BatchNorm2d(dim),
            nn.GELU(),
            nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2),
        )
        self.fpn2 = nn.ConvTranspose2d(dim, dim, kernel_size=2, stride=2)
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)

    def init_weights(self) -> None:
        """EVA's init, then ``pretrained`` if set (the core calls this while building; mmengine again after)."""
        super().init_weights()
        if getattr(self, "pretrained", None):
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, checkpoint: str | Path | dict[str, torch.Tensor]) -> None:
        """Load EVA-02 weights strictly; only the new pyramid layers may be missing from the checkpoint."""
        from vision.checkpoint import CheckpointMismatchError, load_checkpoint
        from vision.dense.convert import checkpoint_filter_fn

        report = load_checkpoint(self, checkpoint, strict=False, filter_fn=checkpoint_filter_fn)
        missing = [k for k in report.missing if not k.startswith("fpn")]
        if missing or report.unexpected or report.mismatched:
            report.missing = missing
            raise CheckpointMismatchError(report, str(checkpoint) if not isinstance(checkpoint, dict) else "state dict")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self.forward_intermediates(x, indices=list(self.out_indices), intermediates_only=True)
        return tuple(fpn(m) for fpn, m in zip((self.fpn1, self.fpn2, self.fpn3, self.fpn4), maps))
