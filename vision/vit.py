"""One Vision Transformer for EVA-01, EVA-02 (Ti/S/B/L/E) and the EVA-CLIP vision towers.

Every variant is a set of flags on :class:`VisionTransformer`. Parameter names are the official EVA ones, so official
checkpoints load after a light filter (``vision.convert.checkpoint_filter_fn``) and export back unchanged.
Constructor arguments use timm's names (``img_size``, ``embed_dim``, ``global_pool``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from vision.convert import checkpoint_filter_fn, export_state_dict
from vision.layers import (
    DropPath,
    Mlp,
    PatchEmbed,
    RotaryEmbedding2d,
    SwiGLU,
    apply_rope,
    attention,
    get_norm_layer,
    init_linear_and_norm,
    resample_abs_pos_embed,
    to_2tuple,
)

__all__ = ["Attention", "Block", "VisionTransformer"]

Rope = tuple[torch.Tensor, torch.Tensor]


class Attention(nn.Module):
    """Multi-head self-attention with EVA's options.

    ``qkv_fused`` keeps one ``qkv`` projection (one GEMM); otherwise ``q_proj``/``k_proj``/``v_proj``. With
    ``qkv_bias`` the q and v biases are separate parameters and the k bias is fixed at zero, as in BEiT and EVA.
    ``scale_inner`` adds the sub-LN ``inner_attn_ln`` before the output projection (EVA-CLIP B/L towers).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        head_dim: int | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        scale_inner: bool = False,
        norm_layer: type[nn.Module] | partial = nn.LayerNorm,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim or dim // num_heads
        inner_dim = self.head_dim * num_heads
        self.scale = self.head_dim**-0.5
        self.qkv_fused = qkv_fused
        if qkv_fused:
            self.qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        else:
            self.q_proj = nn.Linear(dim, inner_dim, bias=False)
            self.k_proj = nn.Linear(dim, inner_dim, bias=False)
            self.v_proj = nn.Linear(dim, inner_dim, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(inner_dim))
            self.v_bias = nn.Parameter(torch.zeros(inner_dim))
        else:
            self.q_bias = self.v_bias = None
        self.attn_drop = attn_drop
        self.inner_attn_ln = norm_layer(inner_dim) if scale_inner else nn.Identity()
        self.proj = nn.Linear(inner_dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, N, C) -> q, k, v``, each a ``(B, H, N, D)`` view of one ``(B, N, 3, H, D)`` product.

        Unbinding along the ``3`` axis makes the backward stack the three gradients straight into the GEMM's layout
        (no zero-filled slices, no permuted copy)."""
        B, N, _ = x.shape
        if self.qkv_fused:
            bias = None
            if self.q_bias is not None:
                bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
            qkv = F.linear(x, self.qkv.weight, bias)  # (B, N, 3*H*D)
        else:
            qkv = torch.cat(
                [
                    F.linear(x, self.q_proj.weight, self.q_bias),
                    F.linear(x, self.k_proj.weight),
                    F.linear(x, self.v_proj.weight, self.v_bias),
                ],
                dim=-1,
            )
        qkv = qkv.view(B, N, 3, self.num_heads, self.head_dim).unbind(2)  # 3 x (B, N, H, D)
        return tuple(t.transpose(1, 2) for t in qkv)

    def forward(
        self,
        x: torch.Tensor,
        rope: Rope | None = None,
        attn_bias: torch.Tensor | None = None,
        num_queries: int | None = None,
    ) -> torch.Tensor:
        """``(B, N, C) -> (B, N, C)``; with ``num_queries`` only the first tokens attend (to all N) and are returned."""
        B, N, _ = x.shape
        q, k, v = self._qkv(x)  # (B, H, N, D) each
        if rope is not None:  # tables (N, D), or (B, 1, N, D) after patch dropout
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if num_queries is not None:
            q = q[:, :, :num_queries]
        x = attention(q, k, v, attn_bias=attn_bias, dropout_p=self.attn_drop if self.training else 0.0)
        x = x.transpose(1, 2).reshape(B, q.shape[2], -1)  # (B, N or num_queries, H*D)
        x = self.inner_attn_ln(x)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    """Pre-norm (or post-norm) transformer block with optional layer scale ``gamma_1``/``gamma_2``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        head_dim: int | None = None,
        mlp_layer: Literal["gelu", "swiglu"] = "gelu",
        swiglu_packed: bool = True,
        scale_attn_inner: bool = False,
        scale_mlp: bool = False,
        init_values: float | None = None,
        post_norm: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: type[nn.Module] | partial = nn.LayerNorm,
    ) -> None:
        super().__init__()
        self.post_norm = post_norm
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            qkv_fused=qkv_fused,
            head_dim=head_dim,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            scale_inner=scale_attn_inner,
            norm_layer=norm_layer,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        hidden = int(dim * mlp_ratio)
        if mlp_layer == "swiglu":
            self.mlp = SwiGLU(
                dim, hidden, norm_layer=norm_layer, sub_ln=scale_mlp, packed=swiglu_packed, drop=proj_drop
            )
        elif mlp_layer == "gelu":
            self.mlp = Mlp(dim, hidden, norm_layer=norm_layer, sub_ln=scale_mlp, drop=proj_drop)
        else:
            raise ValueError(f"unknown mlp_layer {mlp_layer!r}; choose 'gelu' or 'swiglu'")
        if init_values is not None:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    @staticmethod
    def _scale(x: torch.Tensor, gamma: torch.Tensor | None) -> torch.Tensor:
        return x if gamma is None else gamma * x

    def forward(
        self,
        x: torch.Tensor,
        rope: Rope | None = None,
        attn_bias: torch.Tensor | None = None,
        num_queries: int | None = None,
    ) -> torch.Tensor:
        """With ``num_queries`` only the first tokens are updated and returned (they still attend to every token)."""
        shortcut = x if num_queries is None else x[:, :num_queries]
        if self.post_norm:
            attn = self.norm1(self.attn(x, rope, attn_bias, num_queries))
            x = shortcut + self.drop_path(self._scale(attn, self.gamma_1))
            return x + self.drop_path(self._scale(self.norm2(self.mlp(x)), self.gamma_2))
        # Residuals are added in place into the fresh branch outputs (one temporary fewer per add; autograd-safe).
        x = self.drop_path(self._scale(self.attn(self.norm1(x), rope, attn_bias, num_queries), self.gamma_1))
        x = x.add_(shortcut)
        return self.drop_path(self._scale(self.mlp(self.norm2(x)), self.gamma_2)).add_(x)


class VisionTransformer(nn.Module):
    """The Vision Transformer behind every EVA model. See the module docstring; flags map to the papers:

    * EVA-01 (ViT-g): ``mlp_layer='gelu'``, fused qkv with q/v bias, absolute positions.
    * EVA-02: ``mlp_layer='swiglu'``, ``use_rope=True`` (+ ``scale_mlp`` sub-LN for B/L).
    * EVA-CLIP towers: ``global_pool='token'``, ``num_classes=embed dim``, ``scale_attn_inner`` for B/L.
    * EVA-02-E / 8B / 18B: ``post_norm``, ``norm_layer='rmsnorm'``.
    * MIM students: ``use_mask_token=True``.
    """

    checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: Literal["token", "avg", ""] = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        mlp_layer: Literal["gelu", "swiglu"] = "gelu",
        swiglu_packed: bool = True,
        scale_attn_inner: bool = False,
        scale_mlp: bool = False,
        use_rope: bool = False,
        rope_ref_grid: int | tuple[int, int] | None = None,
        use_abs_pos: bool = True,
        class_token: bool = True,
        use_mask_token: bool = False,
        init_values: float | None = None,
        post_norm: bool = False,
        norm_layer: str = "layernorm",
        norm_eps: float = 1e-6,
        fc_norm: bool | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        head_dim: int | None = None,
    ) -> None:
        super().__init__()
        if global_pool not in ("token", "avg", ""):
            raise ValueError(f"global_pool must be 'token', 'avg' or '', got {global_pool!r}")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs class_token=True")
        if not 0.0 <= patch_drop_rate < 1.0:
            raise ValueError(f"patch_drop_rate must be in [0, 1), got {patch_drop_rate}")
        norm = get_norm_layer(norm_layer, norm_eps)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.embed_dim = self.num_features = embed_dim
        self.num_prefix_tokens = 1 if class_token else 0
        self.patch_drop_rate = patch_drop_rate
        self.grad_checkpointing = False

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        grid = self.patch_embed.grid_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if use_mask_token else None
        num_pos = self.patch_embed.num_patches + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, embed_dim)) if use_abs_pos else None
        self.pos_drop = nn.Dropout(drop_rate)
        head_dim = head_dim or embed_dim // num_heads
        self.rope = (
            RotaryEmbedding2d(
                head_dim,
                grid=grid,
                ref_grid=to_2tuple(rope_ref_grid) if rope_ref_grid is not None else grid,
                num_prefix_tokens=self.num_prefix_tokens,
            )
            if use_rope
            else None
        )
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]  # linear stochastic-depth ramp
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qkv_fused=qkv_fused,
                head_dim=head_dim,
                mlp_layer=mlp_layer,
                swiglu_packed=swiglu_packed,
                scale_attn_inner=scale_attn_inner,
                scale_mlp=scale_mlp,
                init_values=init_values,
                post_norm=post_norm,
                proj_drop=proj_drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=dpr[i],
                norm_layer=norm,
            )
            for i in range(depth)
        )
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm
        self.norm = nn.Identity() if use_fc_norm else norm(embed_dim)
        self.fc_norm = norm(embed_dim) if use_fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights()

    # ----------------------------------------------------------------------------------------------------------------
    # set-up

    @torch.no_grad()
    def init_weights(self) -> None:
        """EVA's init: truncated normal (std 0.02) everywhere, residual projections scaled by 1/sqrt(2 * layer)."""
        for name in ("cls_token", "mask_token", "pos_embed"):
            param = getattr(self, name)
            if param is not None:
                nn.init.trunc_normal_(param, std=0.02)
        self.apply(init_linear_and_norm)
        for layer, block in enumerate(self.blocks, start=1):
            block.attn.proj.weight.div_(math.sqrt(2.0 * layer))
            out = block.mlp.w3 if isinstance(block.mlp, SwiGLU) else block.mlp.fc2
            out.weight.div_(math.sqrt(2.0 * layer))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in the backward pass instead of keeping its activations."""
        self.grad_checkpointing = enable

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token", "mask_token"}

    def layer_id(self, param_name: str) -> int:
        """Depth of a parameter for layer-wise lr decay: 0 embeddings, i + 1 for ``blocks.i``, depth + 1 the rest."""
        if param_name in ("cls_token", "mask_token", "pos_embed") or param_name.startswith("patch_embed"):
            return 0
        if param_name.startswith("blocks."):
            return int(param_name.split(".")[1]) + 1
        return len(self.blocks) + 1

    def export_state_dict(self, fmt: str = "official") -> dict[str, torch.Tensor]:
        """Weights in the official EVA layout (``'official'``) or timm's (``'timm'``)."""
        return export_state_dict(self, fmt)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            init_linear_and_norm(self.head)

    # ----------------------------------------------------------------------------------------------------------------
    # forward

    def _pos_embed(self, grid: tuple[int, int]) -> torch.Tensor:
        if grid == self.patch_embed.grid_size:
            return self.pos_embed
        return resample_abs_pos_embed(
            self.pos_embed, grid, old_size=self.patch_embed.grid_size, num_prefix_tokens=self.num_prefix_tokens
        )

    def _patch_dropout(self, x: torch.Tensor, rope: Rope | None) -> tuple[torch.Tensor, Rope | None]:
        """FLIP: keep the prefix tokens and a random subset of patches per sample (RoPE tables follow)."""
        B, N, D = x.shape
        p = self.num_prefix_tokens
        num_keep = max(1, int((N - p) * (1.0 - self.patch_drop_rate)))
        keep = torch.randn(B, N - p, device=x.device).topk(num_keep, dim=-1).indices + p  # (B, K)
        keep = torch.cat([torch.arange(p, device=x.device).expand(B, p), keep], dim=1)  # (B, p + K)
        x = x.gather(1, keep.unsqueeze(-1).expand(-1, -1, D))
        if rope is not None:
            rope = tuple(t[keep].unsqueeze(1) for t in rope)  # (B, 1, p + K, head_dim)
        return x, rope

    def _embed(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, Rope | None, tuple]:
        x, grid = self.patch_embed(x)  # (B, N, D)
        if mask is not None:
            if self.mask_token is None:
                raise ValueError("this model has no mask token; build it with use_mask_token=True to pass a mask")
            if mask.shape != x.shape[:2]:
                raise ValueError(
                    f"mask of shape {tuple(mask.shape)} does not match the {x.shape[0]} x {x.shape[1]} patches of "
                    f"the input (grid {grid[0]}x{grid[1]})"
                )
            w = mask.unsqueeze(-1).type_as(x)
            x = x * (1.0 - w) + self.mask_token * w
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        if self.pos_embed is not None:
            x = x + self._pos_embed(grid)
        x = self.pos_drop(x)
        rope = self.rope(grid) if self.rope is not None else None
        if self.training and self.patch_drop_rate > 0.0:
            x, rope = self._patch_dropout(x, rope)
        return x, rope, grid

    def _run_block(self, block: Block, x: torch.Tensor, rope: Rope | None) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, x, rope, use_reentrant=False)
        return block(x, rope)

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C, H, W) -> (B, prefix + N, D)`` tokens after the final norm; ``mask`` (B, N) marks MIM patches."""
        x, rope, _ = self._embed(x, mask)
        for block in self.blocks:
            x = self._run_block(block, x, rope)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.global_pool == "token":
            x = x[:, 0]
        x = self.head_drop(self.fc_norm(x))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_pool != "token":
            return self.forward_head(self.forward_features(x))
        # Class-token pooling reads one token of the last block: update only that one there (its keys and values
        # still come from every token). Saves the last block's projection and MLP for all the other tokens.
        x, rope, _ = self._embed(x, None)
        for block in self.blocks[:-1]:
            x = self._run_block(block, x, rope)
        x = self.blocks[-1](x, rope, num_queries=1)  # (B, 1, D)
        return self.forward_head(self.norm(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | Sequence[int] | None = None,
        norm: bool = False,
        output_fmt: Literal["NCHW", "NLC"] = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Outputs of chosen blocks: ``indices`` is the last n blocks (int) or block indices (negative allowed).

        NCHW maps drop the prefix tokens: ``(B, D, H/p, W/p)``; NLC keeps every token. ``norm`` applies the final
        norm to each. Unless ``intermediates_only``, also returns the final features as ``forward_features`` would.
        """
        depth = len(self.blocks)
        if indices is None:
            indices = [depth - 1]
        elif isinstance(indices, int):
            indices = list(range(depth - indices, depth))
        if not indices or any(not -depth <= i < depth for i in indices):
            raise ValueError(f"block indices {list(indices)} out of range for depth {depth}")
        take = sorted({i % depth for i in indices})
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        B = x.shape[0]
        x, rope, grid = self._embed(x, None)
        outputs = []
        final_norm = self.norm if not isinstance(self.norm, nn.Identity) else self.fc_norm
        for i, block in enumerate(self.blocks[: take[-1] + 1] if intermediates_only else self.blocks):
            x = self._run_block(block, x, rope)
            if i in take:
                y = final_norm(x) if norm else x
                if output_fmt == "NCHW":
                    y = y[:, self.num_prefix_tokens :].reshape(B, *grid, -1).permute(0, 3, 1, 2)
                outputs.append(y)
        if intermediates_only:
            return outputs
        return self.norm(x), outputs
