"""EVA-02 as a ViTDet backbone: windowed attention with a few global blocks, and the simple feature pyramid.

The backbone reuses the core transformer :class:`vision.vit.Block` (separate q/k/v projections with q and v biases,
SwiGLU with the sub-LN ``ffn_ln``: the EVA-02 B/L layout), so parameter names are the official ones and EVA-02
pre-trained weights load after :func:`vision.dense.convert.checkpoint_filter_fn`. Detection-specific parts:

* most blocks attend inside non-overlapping ``window_size`` windows; blocks at ``global_block_indexes`` (the official
  2, 5, 8, 11 for B and 5, 11, 17, 23 for L) attend over the whole map, which is what lets information cross windows;
* two RoPE tables: one for a window, one for the full map, both with positions scaled to the pre-training grid
  (``rope_ref_grid``, 16 for EVA-02's 224 px / patch 14) as the official ``intp_freq`` does; the official code only
  runs at ``img_size`` (mmdet pads every batch to it), other map sizes here stretch onto the same range, as the
  absolute position embedding does;
* the absolute position embedding of the pre-training grid (class-token slot included) is resized bicubically to the
  token grid of each input, and the class token itself is dropped;
* no final norm: the pyramid takes the last block's map (stride 16) and builds strides 4, 8, 16, 32 from it
  (deconvolutions / max-pool), plus stride 64 by max-pooling stride 32 (the official ``LastLevelMaxPool``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from vision.layers import (
    LayerNorm2d,
    PatchEmbed,
    RotaryEmbedding2d,
    init_linear_and_norm,
    resample_abs_pos_embed,
    to_2tuple,
)
from vision.vit import Block

__all__ = [
    "EVA02ViTDet",
    "SimpleFeaturePyramid",
    "ViTDetBlock",
    "default_global_blocks",
    "window_partition",
    "window_unpartition",
]

Rope = tuple[torch.Tensor, torch.Tensor]


def default_global_blocks(depth: int) -> tuple[int, ...]:
    """The official global-attention blocks: the last block of each quarter (B: 2, 5, 8, 11; L: 5, 11, 17, 23)."""
    if depth % 4:
        raise ValueError(f"default global blocks need a depth divisible by 4, got {depth}; pass global_block_indexes")
    step = depth // 4
    return tuple(step * (k + 1) - 1 for k in range(4))


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(B, H, W, C) -> (B * nW, window * window, C)``; zero-pads H and W up to multiples of ``window`` first."""
    B, H, W, C = x.shape
    pad_h, pad_w = -H % window, -W % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window, window, Wp // window, window, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, C), (Hp, Wp)


def window_unpartition(x: torch.Tensor, window: int, padded: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, window * window, C) -> (B, H, W, C)``, padding removed."""
    Hp, Wp = padded
    H, W = size
    B = x.shape[0] // (Hp * Wp // window // window)
    x = x.view(B, Hp // window, Wp // window, window, window, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, Hp, Wp, -1)[:, :H, :W].contiguous()


class ViTDetBlock(Block):
    """The core block on a ``(B, H, W, C)`` map, attending within windows when ``window_size > 0``.

    Same parameters (and names) as :class:`vision.vit.Block`; only the attention call is wrapped: the normed map is
    cut into windows (zero-padded as in the official code), attended with the window RoPE table, and stitched back.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int = 0, **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        if self.post_norm:
            raise ValueError("ViTDet blocks are pre-norm; post_norm is not supported")
        self.window_size = window_size

    def forward(self, x: torch.Tensor, rope: Rope | None = None, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        B, H, W, C = x.shape
        y = self.norm1(x)
        if self.window_size > 0:
            y, padded = window_partition(y, self.window_size)  # (B * nW, ws * ws, C)
            y = self.attn(y, rope)
            y = window_unpartition(y, self.window_size, padded, (H, W))  # (B, H, W, C)
        else:
            y = self.attn(y.reshape(B, H * W, C), rope).view(B, H, W, C)
        x = x + self.drop_path(self._scale(y, self.gamma_1))
        return x + self.drop_path(self._scale(self.mlp(self.norm2(x)), self.gamma_2))


class EVA02ViTDet(nn.Module):
    """EVA-02 ViT for detection: ``(B, 3, H, W) -> ((B, embed_dim, H / p, W / p),)``.

    Defaults are EVA-02-B at 1024 px (patch 16 after the ``p14to16`` conversion, window 16, global blocks
    2/5/8/11). ``global_block_indexes=range(depth)`` gives global attention everywhere (the benchmark's baseline).
    ``pretrained`` names an EVA-02 checkpoint (``*_p14to16.pt`` or one converted with
    :func:`vision.dense.convert.convert_p14_to_p16`) loaded by :meth:`init_weights`.
    """

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4 * 2 / 3,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
        window_size: int = 16,
        global_block_indexes: Sequence[int] | None = None,
        pretrain_img_size: int = 224,
        pretrain_use_cls_token: bool = True,
        rope_ref_grid: int = 16,
        use_abs_pos: bool = True,
        use_act_checkpoint: bool = False,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if pretrain_img_size % patch_size:
            raise ValueError(f"pretrain_img_size {pretrain_img_size} is not a multiple of patch_size {patch_size}")
        global_blocks = default_global_blocks(depth) if global_block_indexes is None else tuple(global_block_indexes)
        if any(not 0 <= i < depth for i in global_blocks):
            raise ValueError(f"global_block_indexes {list(global_blocks)} out of range for depth {depth}")
        self.embed_dim = self.num_features = embed_dim
        self.patch_size = patch_size
        self.global_block_indexes = global_blocks
        self.pretrain_use_cls_token = pretrain_use_cls_token
        self.use_act_checkpoint = use_act_checkpoint
        self.pretrained = pretrained

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.pretrain_grid = (pretrain_img_size // patch_size,) * 2
        if use_abs_pos:
            num_pos = self.pretrain_grid[0] * self.pretrain_grid[1] + int(pretrain_use_cls_token)
            self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, embed_dim))
        else:
            self.pos_embed = None
        head_dim = embed_dim // num_heads
        ref = to_2tuple(rope_ref_grid)
        self.rope_win = (
            RotaryEmbedding2d(head_dim, (window_size, window_size), ref, num_prefix_tokens=0) if window_size else None
        )
        self.rope_glb = RotaryEmbedding2d(head_dim, self.patch_embed.grid_size, ref, num_prefix_tokens=0)

        norm = partial(nn.LayerNorm, eps=norm_eps)
        dpr = [r.item() for r in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList(
            ViTDetBlock(
                embed_dim,
                num_heads,
                window_size=0 if i in global_blocks else window_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qkv_fused=False,
                mlp_layer="swiglu",
                swiglu_packed=False,
                scale_mlp=True,
                drop_path=dpr[i],
                norm_layer=norm,
            )
            for i in range(depth)
        )
        self._reset_parameters()

    @torch.no_grad()
    def _reset_parameters(self) -> None:
        """The official det init: truncated normal (std 0.02) for linears and the position embedding."""
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(init_linear_and_norm)

    def init_weights(self) -> None:
        """Load ``pretrained`` if set (mmengine calls this after building the detector)."""
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, checkpoint: str | Path | dict[str, torch.Tensor]) -> None:
        """Load EVA-02 weights (file or state dict) strictly through the detection ``checkpoint_filter_fn``."""
        from vision.checkpoint import load_checkpoint
        from vision.dense.convert import checkpoint_filter_fn

        load_checkpoint(self, checkpoint, strict=True, filter_fn=checkpoint_filter_fn)

    def layer_id(self, param_name: str) -> int:
        """Depth for layer-wise lr decay (official ``get_vit_lr_decay_rate``): 0 embeddings, i + 1 for block i."""
        if param_name.startswith(("pos_embed", "patch_embed")):
            return 0
        if param_name.startswith("blocks."):
            return int(param_name.split(".")[1]) + 1
        return len(self.blocks) + 1

    def _abs_pos(self, grid: tuple[int, int]) -> torch.Tensor:
        """The position embedding resized to ``grid``: ``(1, H, W, C)``, class-token slot dropped."""
        prefix = int(self.pretrain_use_cls_token)
        pos = resample_abs_pos_embed(self.pos_embed, grid, old_size=self.pretrain_grid, num_prefix_tokens=prefix)
        return pos[:, prefix:].reshape(1, *grid, -1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        tokens, grid = self.patch_embed(x)  # (B, N, C)
        x = tokens.view(tokens.shape[0], *grid, -1)  # (B, H, W, C)
        if self.pos_embed is not None:
            x = x + self._abs_pos(grid)
        rope_glb = self.rope_glb(grid)
        for block in self.blocks:
            rope = (self.rope_win.cos, self.rope_win.sin) if block.window_size else rope_glb
            if self.use_act_checkpoint and torch.is_grad_enabled():
                x = checkpoint(block, x, rope, use_reentrant=False)
            else:
                x = block(x, rope)
        return (x.permute(0, 3, 1, 2).contiguous(),)  # (B, C, H, W)


class SimpleFeaturePyramid(nn.Module):
    """ViTDet's pyramid from one stride-16 map: scales 4, 2, 1, 0.5 give strides 4, 8, 16, 32.

    Each level: resampling (2 deconvs / 1 deconv / identity / 2x2 max-pool), then 1x1 and 3x3 convolutions with
    LayerNorm and no bias. ``top_pool`` appends a stride-64 level by stride-2 subsampling of the coarsest map, as
    the official ``LastLevelMaxPool`` does, for the five-level RPN of Mask / Cascade Mask R-CNN.
    """

    def __init__(
        self,
        in_channels: int = 768,
        out_channels: int = 256,
        scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
        top_pool: bool = True,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        _check_log2(scale_factors)
        self.scale_factors = tuple(scale_factors)
        self.top_pool = top_pool
        norm = partial(LayerNorm2d, eps=norm_eps)
        dim = in_channels
        self.stages = nn.ModuleList()
        for scale in self.scale_factors:
            if scale == 4.0:
                layers = [
                    nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2),
                    norm(dim // 2),
                    nn.GELU(),
                    nn.ConvTranspose2d(dim // 2, dim // 4, kernel_size=2, stride=2),
                ]
                out_dim = dim // 4
            elif scale == 2.0:
                layers, out_dim = [nn.ConvTranspose2d(dim, dim // 2, kernel_size=2, stride=2)], dim // 2
            elif scale == 1.0:
                layers, out_dim = [], dim
            elif scale == 0.5:
                layers, out_dim = [nn.MaxPool2d(kernel_size=2, stride=2)], dim
            else:
                raise ValueError(f"scale factor {scale} is not supported; use 4.0, 2.0, 1.0 or 0.5")
            layers += [
                nn.Conv2d(out_dim, out_channels, kernel_size=1, bias=False),
                norm(out_channels),
                nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
                norm(out_channels),
            ]
            self.stages.append(nn.Sequential(*layers))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # c2_msra_fill, as detectron2's Conv2d
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        x = inputs[-1]  # (B, C, H, W), stride 16
        outs = [stage(x) for stage in self.stages]
        if self.top_pool:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)


def _check_log2(scales: Sequence[float]) -> None:
    for a, b in zip(scales, scales[1:]):
        if not math.isclose(a / b, 2.0):
            raise ValueError(f"scale factors must halve level by level, got {list(scales)}")
