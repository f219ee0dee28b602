"""The in-context ViT shared by Painter and SegGPT.

A task is shown as a two-image canvas: a prompt pair above, the query below, ``(2W, W)`` pixels (896x448 for the
released models). Two token streams see that canvas through one patch embedding: the *image* stream (prompt image
over query image) and the *target* stream (prompt target over the still-unknown query target, whose patches are
replaced by a learned mask token). Each stream gets its own segment token and the absolute position embedding of the
224-pixel pre-training grid resized to the canvas. Blocks ``0..merge_index`` run both streams stacked on the batch;
after block ``merge_index`` (2) they are averaged into one. Every block uses global attention with the decomposed
relative position bias (the official ``window_block_indexes`` is a tuple of lists, so its window setting never takes
effect; we match the outputs, not the intent). The normalised features after blocks 5/11/17/23 are concatenated and
decoded to pixels: linear to ``p*p*d`` per patch, pixel shuffle, 3x3 conv, LayerNorm, GELU, 1x1 conv to RGB. Training
regresses the masked target patches with smooth-L1 (beta 0.01).

Parameter names are the official ones (``mask_token``, ``segment_token_x``/``_y``, ``pos_embed``,
``patch_embed.proj``, ``blocks.i.attn.rel_pos_h``, ``decoder_embed``, ``decoder_pred.0/1/3``...), so official
checkpoints load without renaming. Token tensors are kept in the official ``(B, Hp, Wp, C)`` layout, so forward hooks
on ``blocks[i]`` see what the official hooks see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from vision.layers import (
    DropPath,
    LayerNorm2d,
    Mlp,
    PatchEmbed,
    attention,
    init_linear_and_norm,
    resample_abs_pos_embed,
    to_2tuple,
)
from vision.layers.rel_pos import decomposed_rel_pos_bias, resize_rel_pos

__all__ = [
    "AttnMix",
    "LossOnly",
    "InContextBlock",
    "InContextViT",
    "RelPosAttention",
    "Workspace",
    "adapt_state_dict",
    "canvas_grid",
]

# ``mix(attn_out)`` rewrites a block's attention output before the residual add (SegGPT's feature ensemble).
AttnMix = Callable[[torch.Tensor], torch.Tensor]


def canvas_grid(height: int, width: int, patch_size: int) -> tuple[int, int]:
    """The ``(Hp, Wp)`` token grid of a ``(2W, W)`` canvas; raises a clear error for any other shape."""
    if height != 2 * width or width % patch_size or width <= 0:
        raise ValueError(
            f"the in-context canvas must be (2W, W) pixels with W a multiple of {patch_size} "
            f"(prompt above query, e.g. 896x448); got {height}x{width}"
        )
    return height // patch_size, width // patch_size


class Workspace:
    """Scratch memory reused across the blocks of one inference pass, one flat buffer per dtype and device.

    Large fresh allocations are page-faulted in on every call; reusing one buffer for the per-block attention bias
    (157 MB per canvas at 896x448 in fp32) removes that cost. Only for passes without autograd.
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def take(self, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """An uninitialised contiguous tensor of ``shape`` with ``like``'s dtype and device."""
        key = (like.dtype, like.device)
        need = math.prod(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < need:
            buf = self._buffers[key] = like.new_empty(need)
        return buf[:need].view(shape)


class RelPosAttention(nn.Module):
    """Global multi-head attention on a ``(B, H, W, C)`` grid with the decomposed relative position bias.

    The bias goes into :func:`vision.layers.attention.attention` as ``attn_bias``, so the default backend is SDPA.
    ``input_size`` sizes the tables (``2 * side - 1`` rows); other grids resample them on the fly.
    """

    def __init__(
        self, dim: int, num_heads: int, input_size: tuple[int, int], qkv_bias: bool = True, attn_drop: float = 0.0
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = head_dim**-0.5
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, head_dim))

    def forward(self, x: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
        """``workspace``: scratch memory shared by the blocks of one no-grad forward, reused for the bias."""
        return self.proj(self.attend(self.qkv(x), workspace))

    def attend(self, qkv: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
        """Attention from projected ``(B, H, W, 3C)`` q/k/v to ``(B, H, W, C)``, before the output projection."""
        b, h, w, c3 = qkv.shape
        qkv = qkv.reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # (3, B, nH, N, hd)
        q, k, v = qkv.unbind(0)
        out = None if workspace is None else workspace.take(q, (b, self.num_heads, h * w, h * w))
        bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w), out=out)  # (B, nH, N, N)
        drop = self.attn_drop if self.training else 0.0
        x = attention(q, k, v, attn_bias=bias, dropout_p=drop, scale=self.scale)  # (B, nH, N, hd)
        return x.transpose(1, 2).reshape(b, h, w, c3 // 3)


class InContextBlock(nn.Module):
    """Pre-norm transformer block on ``(B, H, W, C)`` tokens: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        input_size: tuple[int, int],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = RelPosAttention(dim, num_heads, input_size, qkv_bias=qkv_bias)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, mix: AttnMix | None = None, workspace: Workspace | None = None) -> torch.Tensor:
        a = self.attn(self.norm1(x), workspace)
        if mix is not None:
            a = mix(a)
        x = x + self.drop_path(a)
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward_shared_query(
        self, prompt: torch.Tensor, query: torch.Tensor, workspace: Workspace | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The block on ``S`` streams of ``N`` canvases whose query halves are equal and averaged (the ensemble).

        ``prompt``: ``(S*N, Hp/2, Wp, C)`` top halves, stream-major; ``query``: ``(S, Hp/2, Wp, C)``, one bottom half
        per stream. Equals :meth:`forward` on the full canvases with the query half of the attention output averaged
        over each stream's ``N`` canvases, but every per-token layer runs on the query half once, not ``N`` times.
        (The output projection is affine, so averaging before it is the same as after.)
        """
        s, half = query.shape[0], query.shape[1]
        n = prompt.shape[0] // s
        qkv_p, qkv_q = self.attn.qkv(self.norm1(prompt)), self.attn.qkv(self.norm1(query))
        qkv = torch.cat([qkv_p, qkv_q.repeat_interleave(n, dim=0)], dim=1)  # (S*N, Hp, Wp, 3C)
        a_p, a_q = self.attn.attend(qkv, workspace).split(half, dim=1)
        a_q = a_q.reshape(s, n, *a_q.shape[1:]).mean(dim=1)  # (S, Hp/2, Wp, C)
        prompt = prompt + self.drop_path(self.attn.proj(a_p))
        query = query + self.drop_path(self.attn.proj(a_q))
        prompt = prompt + self.drop_path(self.mlp(self.norm2(prompt)))
        return prompt, query + self.drop_path(self.mlp(self.norm2(query)))


class InContextViT(nn.Module):
    """Painter's in-context ViT: encoder, pixel decoder and masked smooth-L1 loss (see the module docstring).

    Inputs are ImageNet-normalised ``(B, 3, 2W, W)`` canvases: ``imgs`` (prompt image over query image) and
    ``tgts`` (prompt target over query target; the query half may hold anything where it is masked).
    ``bool_masked_pos`` marks target patches replaced by the mask token: ``(B, L)``, ``(B, Hp, Wp)``, or a single
    row ``(1, L)`` broadcast over the batch (SegGPT's inference layout). ``L = Hp * Wp``, row-major.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = (896, 448),
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 1024,
        depth: int = 24,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
        pretrain_img_size: int = 224,
        merge_index: int = 2,
        out_indices: Sequence[int] = (5, 11, 17, 23),
        decoder_embed_dim: int = 64,
        loss_beta: float = 0.01,
    ) -> None:
        super().__init__()
        img_size = to_2tuple(img_size)
        grid = canvas_grid(*img_size, patch_size)
        out_indices = tuple(out_indices)
        if not out_indices or max(out_indices) >= depth or not 0 <= merge_index < min(out_indices):
            raise ValueError(
                f"need 0 <= merge_index < min(out_indices) and max(out_indices) < depth; "
                f"got merge_index={merge_index}, out_indices={out_indices}, depth={depth}"
            )
        self.img_size = img_size
        self.patch_size = patch_size
        self.embed_dim = self.num_features = embed_dim
        self.merge_index = merge_index
        self.out_indices = out_indices
        self.decoder_embed_dim = decoder_embed_dim
        self.loss_beta = loss_beta
        self.grad_checkpointing = False

        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, embed_dim))
        self.segment_token_x = nn.Parameter(torch.zeros(1, 1, 1, embed_dim))
        self.segment_token_y = nn.Parameter(torch.zeros(1, 1, 1, embed_dim))
        pretrain_grid = pretrain_img_size // patch_size
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + pretrain_grid * pretrain_grid, embed_dim))
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)

        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            InContextBlock(embed_dim, num_heads, grid, mlp_ratio, qkv_bias, dpr[i], norm_eps) for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

        self.decoder_embed = nn.Linear(embed_dim * len(out_indices), patch_size**2 * decoder_embed_dim)
        self.decoder_pred = nn.Sequential(
            nn.Conv2d(decoder_embed_dim, decoder_embed_dim, kernel_size=3, padding=1),
            LayerNorm2d(decoder_embed_dim, eps=1e-6),
            nn.GELU(),
            nn.Conv2d(decoder_embed_dim, 3, kernel_size=1),
        )
        self.init_weights()

    # ------------------------------------------------------------------ set-up
    def init_weights(self) -> None:
        """The official init: tokens N(0, .02), pos_embed and Linear weights trunc-normal .02, zero biases."""
        for token in (self.mask_token, self.segment_token_x, self.segment_token_y):
            nn.init.normal_(token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.apply(init_linear_and_norm)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in the backward pass to save memory when training."""
        self.grad_checkpointing = enable

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "mask_token", "segment_token_x", "segment_token_y"}

    def layer_id(self, name: str) -> int:
        """Depth of a parameter for layer-wise lr decay: 0 embeddings/tokens, ``i + 1`` for ``blocks.i``, else last."""
        if name.startswith("blocks."):
            return int(name.split(".")[1]) + 1
        if name.startswith(("patch_embed", "pos_embed")) or name.endswith("_token") or "_token_" in name:
            return 0
        return len(self.blocks) + 1

    # ------------------------------------------------------------------ layout helpers
    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Token grid of a canvas; raises unless it is ``(2W, W)`` with ``W`` a multiple of the patch size."""
        return canvas_grid(height, width, self.patch_size)

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W) -> (B, L, p*p*3)``, patches row-major, pixels ``(row, col, channel)`` inside a patch."""
        p = self.patch_size
        b, c, _, _ = imgs.shape
        hp, wp = self.grid(imgs.shape[2], imgs.shape[3])
        x = imgs.reshape(b, c, hp, p, wp, p).permute(0, 2, 4, 3, 5, 1)  # (B, Hp, Wp, p, p, C)
        return x.reshape(b, hp * wp, p * p * c)

    def unpatchify(self, x: torch.Tensor, channels: int = 3) -> torch.Tensor:
        """Inverse of :meth:`patchify` for a ``(2w, w)`` patch grid: ``(B, L, p*p*C) -> (B, C, H, W)``."""
        p = self.patch_size
        b, n, _ = x.shape
        wp = math.isqrt(n // 2)
        if 2 * wp * wp != n:
            raise ValueError(f"{n} patches do not form a (2w, w) canvas grid")
        x = x.reshape(b, 2 * wp, wp, p, p, channels).permute(0, 5, 1, 3, 2, 4)  # (B, C, Hp, p, Wp, p)
        return x.reshape(b, channels, 2 * wp * p, wp * p)

    def _mask_weights(self, bool_masked_pos: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
        """``(B|1, L)`` or ``(B|1, Hp, Wp)`` mask -> ``(B|1, Hp, Wp, 1)`` float weights of the mask token."""
        if bool_masked_pos.ndim < 2 or bool_masked_pos[0].numel() != hp * wp:
            raise ValueError(
                f"bool_masked_pos must be (B, {hp * wp}) or (B, {hp}, {wp}) for this {hp}x{wp} token grid; "
                f"got {tuple(bool_masked_pos.shape)}"
            )
        return bool_masked_pos.reshape(-1, hp, wp, 1)

    def _abs_pos(self, hp: int, wp: int) -> torch.Tensor:
        pos = resample_abs_pos_embed(self.pos_embed, (hp, wp), num_prefix_tokens=1)  # (1, 1 + Hp*Wp, C)
        return pos[:, 1:].reshape(1, hp, wp, -1)

    # ------------------------------------------------------------------ forward
    def embed(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor,
        extra_embed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Both token streams stacked on the batch: ``(2B, Hp, Wp, C)``, image stream first.

        ``extra_embed`` (broadcastable to ``(B, 1, 1, C)``) is added to both streams (SegGPT's type tokens).
        """
        if imgs.shape != tgts.shape:
            raise ValueError(f"imgs {tuple(imgs.shape)} and tgts {tuple(tgts.shape)} must have the same shape")
        hp, wp = self.grid(imgs.shape[2], imgs.shape[3])
        x = self.patch_embed(imgs)[0].reshape(imgs.shape[0], hp, wp, -1)  # (B, Hp, Wp, C)
        y = self.patch_embed(tgts)[0].reshape(tgts.shape[0], hp, wp, -1)
        w = self._mask_weights(bool_masked_pos, hp, wp).type_as(y)
        y = y * (1 - w) + self.mask_token * w
        x = x + self.segment_token_x
        y = y + self.segment_token_y
        pos = self._abs_pos(hp, wp)
        x = x + pos
        y = y + pos
        if extra_embed is not None:
            x = x + extra_embed
            y = y + extra_embed
        return torch.cat((x, y), dim=0)

    def forward_encoder(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor,
        extra_embed: torch.Tensor | None = None,
        attn_mix: Callable[[int], AttnMix | None] | None = None,
    ) -> list[torch.Tensor]:
        """Normalised ``(B, Hp, Wp, C)`` features after each block of ``out_indices``.

        ``attn_mix(block_index)`` may return a function applied to that block's attention output (SegGPT's
        feature ensemble); blocks up to ``merge_index`` see both streams stacked on the batch.
        """
        x = self.embed(imgs, tgts, bool_masked_pos, extra_embed)  # (2B, Hp, Wp, C)
        # Without autograd every block can fill the same attention-bias memory (no backward keeps it).
        workspace = None if torch.is_grad_enabled() else Workspace()
        feats = []
        for idx, blk in enumerate(self.blocks):
            mix = attn_mix(idx) if attn_mix is not None else None
            if workspace is None and self.grad_checkpointing:
                x = checkpoint(blk, x, mix, use_reentrant=False)
            else:
                x = blk(x, mix, workspace)
            if idx == self.merge_index:
                half = x.shape[0] // 2
                x = (x[:half] + x[half:]) * 0.5  # (B, Hp, Wp, C)
            if idx in self.out_indices:
                feats.append(self.norm(x))
        return feats

    @torch.no_grad()
    def forward_encoder_shared_query(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor,
        extra_embed: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Feature-ensemble inference for ``N`` prompts of one query: ``(1, Hp, Wp, C)`` features, prompt 0's top.

        The result equals :meth:`forward_encoder` with the query half of every block's attention output averaged
        over the prompts (SegGPT's ensemble from block 0) for the first canvas, provided every canvas has the same
        query image, the mask covers the target's query half and ``extra_embed`` is the same for all. The query half
        is then the same in every canvas, so it is computed once instead of ``N`` times. Blocks run through
        :meth:`InContextBlock.forward_shared_query`, so forward hooks on ``blocks[i]`` do not fire here.
        """
        x = self.embed(imgs, tgts, bool_masked_pos, extra_embed)  # (2N, Hp, Wp, C)
        n, half = imgs.shape[0], x.shape[1] // 2
        prompt, query = x[:, :half], x[::n, half:]  # (2N, Hp/2, Wp, C), (2, Hp/2, Wp, C)
        workspace = Workspace()
        feats = []
        for idx, blk in enumerate(self.blocks):
            prompt, query = blk.forward_shared_query(prompt, query, workspace)
            if idx == self.merge_index:
                prompt = (prompt[:n] + prompt[n:]) * 0.5
                query = (query[:1] + query[1:]) * 0.5
            if idx in self.out_indices:
                feats.append(self.norm(torch.cat([prompt[:1], query], dim=1)))
        return feats

    def forward_decoder(self, feats: Sequence[torch.Tensor], query_only: bool = False) -> torch.Tensor:
        """Pixels ``(B, 3, H, W)`` from the tapped features; ``query_only`` decodes just the bottom half.

        With ``query_only`` the decoder runs on the query rows plus one patch row above (the 3x3 conv's context),
        which gives exactly the bottom half of the full output at half the cost.
        """
        x = torch.cat(list(feats), dim=-1)  # (B, Hp, Wp, n*C)
        hp = x.shape[1]
        if query_only:
            x = x[:, hp // 2 - 1 :]
        p, d = self.patch_size, self.decoder_embed_dim
        b, h, w, _ = x.shape
        x = self.decoder_embed(x).reshape(b, h, w, p, p, d)
        x = x.permute(0, 5, 1, 3, 2, 4).reshape(b, d, h * p, w * p)  # pixel shuffle -> (B, d, H, W)
        x = self.decoder_pred(x)  # (B, 3, H, W)
        return x[:, :, p:] if query_only else x

    def forward_loss(
        self, pred: torch.Tensor, tgts: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Smooth-L1 (``loss_beta``) averaged over masked pixels, weighted by ``valid``; ``mask`` is ``(B|1, L)``."""
        return self.masked_loss(pred, tgts, mask, valid, eps=0.0)

    def masked_loss(
        self, pred: torch.Tensor, tgts: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor | None, eps: float
    ) -> torch.Tensor:
        """``sum(smooth_l1 * w) / (sum(w) + eps)`` with ``w`` = masked pixels times ``valid`` (the official rule)."""
        weight = self.unpatchify(mask[:, :, None].expand(-1, -1, self.patch_size**2 * 3).to(pred.dtype))
        weight = weight.expand_as(pred) if valid is None else weight * valid  # (B, 3, H, W), a (1, L) mask broadcast
        loss = F.smooth_l1_loss(pred, tgts, reduction="none", beta=self.loss_beta)
        return (loss * weight).sum() / (weight.sum() + eps)

    def _forward_train(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor | None,
        valid: torch.Tensor | None,
        **encoder_kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if bool_masked_pos is None:
            hp, wp = self.grid(imgs.shape[2], imgs.shape[3])
            bool_masked_pos = torch.zeros(imgs.shape[0], hp * wp, dtype=torch.bool, device=imgs.device)
        mask = bool_masked_pos.flatten(1).bool()  # (B|1, L)
        feats = self.forward_encoder(imgs, tgts, mask, **encoder_kwargs)
        pred = self.forward_decoder(feats)  # (B, 3, H, W)
        loss = self.forward_loss(pred, tgts, mask, valid)
        return loss, self.patchify(pred), mask

    def forward(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loss, pred (B, L, p*p*3), mask (B|1, L))`` as the official ``forward``; no mask = nothing masked."""
        return self._forward_train(imgs, tgts, bool_masked_pos, valid)


def adapt_state_dict(state_dict: dict[str, torch.Tensor], model: InContextViT) -> dict[str, torch.Tensor]:
    """Fit official-named weights to ``model``: drop a DDP ``module.`` prefix and resample the relative position
    tables linearly when the model was built for another canvas (the 224-grid ``pos_embed`` is resized at run time).
    """
    out = {k.removeprefix("module."): v for k, v in state_dict.items()}
    target = model.state_dict()
    for key, value in out.items():
        if key.endswith(("attn.rel_pos_h", "attn.rel_pos_w")) and key in target:
            length = target[key].shape[0]
            if value.ndim == 2 and value.shape[0] != length:
                out[key] = resize_rel_pos(value.float(), length).to(value.dtype)
    return out


class LossOnly(nn.Module):
    """The engine's training contract for an in-context model: ``forward(**batch) -> {"loss": loss}``.

    Painter's and SegGPT's ``forward`` return the official ``(loss, pred, mask)``; the trainer wants the loss alone.
    Layer ids and no-decay names pass through (with the ``model.`` prefix) so layer-wise lr decay works unchanged,
    and ``predict`` passes through so a trained wrapper evaluates like the bare model.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, **batch: torch.Tensor) -> dict[str, torch.Tensor]:
        loss, _, _ = self.model(**batch)
        return {"loss": loss}

    def layer_id(self, name: str) -> int:
        return self.model.layer_id(name.removeprefix("model."))

    def no_weight_decay(self) -> set[str]:
        return {f"model.{n}" for n in self.model.no_weight_decay()}

    def predict(self, *args, **kwargs) -> torch.Tensor:
        return self.model.predict(*args, **kwargs)
