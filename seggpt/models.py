"""SegGPT (Wang et al., "Segmenting Everything In Context", ICCV 2023) on the shared in-context ViT.

SegGPT is :class:`vision.incontext.InContextViT` plus two things:

* **type tokens**: ``type_token_cls`` (semantic: one colour per class) or ``type_token_ins`` (instance: one colour
  per object) is added to both token streams;
* **feature ensemble** for several prompts of one query: the canvases of all prompts run as one batch, and inside
  every block from ``feature_ensemble`` on, the query half (bottom rows) of the attention output is replaced by its
  mean over the prompts; per stream up to the merge block, over the whole batch after it (the official rule). So
  the prompts are batched, never run once per prompt.

transformers' ``SegGptForImageSegmentation`` averages across *both* streams in the merge block itself (its
``ensemble_cond`` switches one block early). That changes multi-prompt outputs; we follow the official code, which
keeps the streams apart up to and including the merge block. Single-prompt outputs agree.

Registered: ``seggpt_vit_large_patch16_input896x448`` and ``seggpt_vit_test_patch16_input128x64`` (the golden
fixture's shape: width 32, 24 blocks, 2 heads, decoder 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn as nn

from seggpt.convert import checkpoint_filter_fn, export_state_dict
from seggpt.inference import ImageLike, PreparedPrompts, SegmentResult, segment
from vision.incontext import AttnMix, InContextViT
from vision.pretrained import PretrainedCfg
from vision.registry import register_model, register_pretrained

__all__ = ["SEG_TYPES", "SegGPT", "average_query_half"]

SEG_TYPES = ("semantic", "instance")  # index = the official seg_type value


def average_query_half(a: torch.Tensor, streams: int) -> torch.Tensor:
    """Replace the bottom half of ``a`` (``(S*N, Hp, Wp, C)``, ``S`` streams of ``N`` prompts) by its mean over
    the ``N`` prompts of each stream."""
    prompt, query = a.split(a.shape[1] // 2, dim=1)
    q = query.reshape(streams, query.shape[0] // streams, -1)  # (S, N, Hp/2*Wp*C)
    q = q.mean(dim=1, keepdim=True).expand_as(q).reshape(query.shape)
    return torch.cat([prompt, q], dim=1)


class SegGPT(InContextViT):
    """SegGPT's in-context ViT (see the module docstring).

    ``forward(imgs, tgts, bool_masked_pos, valid, seg_type, feature_ensemble) -> (loss, pred (B, L, p*p*3), mask)``
    as the official model: ``seg_type`` is ``'semantic'``/``'instance'`` or a ``(B, 1)`` tensor of 0 (semantic) /
    1 (instance); ``feature_ensemble`` is the first block that averages the query half over the batch (``-1``: off;
    the official inference passes 0 when it has more than one prompt). The loss is the masked mean, no epsilon.
    """

    checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.type_token_cls = nn.Parameter(torch.zeros(1, 1, 1, self.embed_dim))
        self.type_token_ins = nn.Parameter(torch.zeros(1, 1, 1, self.embed_dim))
        nn.init.normal_(self.type_token_cls, std=0.02)
        nn.init.normal_(self.type_token_ins, std=0.02)

    def no_weight_decay(self) -> set[str]:
        return super().no_weight_decay() | {"type_token_cls", "type_token_ins"}

    def export_state_dict(self, fmt: str = "official") -> dict[str, torch.Tensor]:
        """Weights in the ``official`` or ``transformers`` layout (``tools/convert_checkpoint.py --to ...``)."""
        return export_state_dict(self, fmt)

    def type_embed(self, seg_type: str | torch.Tensor | None, batch: int) -> torch.Tensor:
        """``(B, 1, 1, C)`` type embedding; ``None`` means instance (the official and transformers default)."""
        if seg_type is None or isinstance(seg_type, str):
            name = seg_type or "instance"
            if name not in SEG_TYPES:
                raise ValueError(f"seg_type must be one of {SEG_TYPES}, got {name!r}")
            token = self.type_token_cls if name == "semantic" else self.type_token_ins
            return token.expand(batch, -1, -1, -1)
        kind = seg_type.reshape(-1, 1, 1, 1).to(self.type_token_cls.device)
        if kind.shape[0] not in (1, batch):
            raise ValueError(f"seg_type has {kind.shape[0]} entries for a batch of {batch}")
        zero = torch.zeros_like(self.type_token_cls)
        # Official: 0 -> semantic token, 1 -> instance token, anything else -> no type embedding.
        emb = torch.where(kind == 1, self.type_token_ins, torch.where(kind == 0, self.type_token_cls, zero))
        return emb.expand(batch, -1, -1, -1)

    def _ensemble(self, start: int, block: int) -> AttnMix | None:
        if start < 0 or block < start:
            return None
        return partial(average_query_half, streams=2 if block <= self.merge_index else 1)

    def forward_encoder(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor,
        seg_type: str | torch.Tensor | None = None,
        feature_ensemble: int = -1,
    ) -> list[torch.Tensor]:
        """Normalised ``(B, Hp, Wp, C)`` features after blocks ``out_indices`` (official ``forward_encoder``)."""
        extra = self.type_embed(seg_type, imgs.shape[0]).to(imgs.dtype)
        return super().forward_encoder(
            imgs, tgts, bool_masked_pos, extra_embed=extra, attn_mix=partial(self._ensemble, feature_ensemble)
        )

    def forward(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        bool_masked_pos: torch.Tensor | None = None,
        valid: torch.Tensor | None = None,
        seg_type: str | torch.Tensor | None = None,
        feature_ensemble: int = -1,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._forward_train(
            imgs, tgts, bool_masked_pos, valid, seg_type=seg_type, feature_ensemble=feature_ensemble
        )

    @torch.no_grad()
    def predict(
        self,
        imgs: torch.Tensor,
        tgts: torch.Tensor,
        seg_type: str | torch.Tensor | None = None,
        feature_ensemble: bool | None = None,
    ) -> torch.Tensor:
        """The query half ``(1 or B, 3, H/2, W)`` (normalised target space) for canvases of one query.

        The query target half is masked. With ``feature_ensemble`` (default: when ``B > 1``) the prompts of the
        batch are averaged and one prediction comes back, as the official ``run_one_image`` (which keeps ``y[0]``);
        when all canvases hold the same query, its half is computed once for all prompts.
        """
        hp, wp = self.grid(imgs.shape[2], imgs.shape[3])
        mask = torch.zeros(1, hp * wp, dtype=torch.bool, device=imgs.device)
        mask[:, hp * wp // 2 :] = True
        ensemble = imgs.shape[0] > 1 if feature_ensemble is None else feature_ensemble
        half = imgs.shape[2] // 2
        one_query = torch.equal(imgs[:, :, half:], imgs[:1, :, half:].expand(imgs.shape[0], -1, -1, -1))
        extra = self.type_embed(seg_type, imgs.shape[0]).to(imgs.dtype)
        if ensemble and one_query and bool((extra == extra[:1]).all()):
            # Same query in every canvas: compute its half once (equal to the batched ensemble, N times cheaper).
            feats = self.forward_encoder_shared_query(imgs, tgts, mask, extra)
        else:
            feats = self.forward_encoder(imgs, tgts, mask, seg_type, 0 if ensemble else -1)
            feats = [f[:1] for f in feats] if ensemble else feats  # the ensemble makes every query half alike
        return self.forward_decoder(feats, query_only=True)

    def segment(
        self,
        image: ImageLike,
        prompts: Sequence[tuple[ImageLike, ImageLike]] | PreparedPrompts,
        mode: str = "binary",
        seg_type: str | None = None,
        alpha: float = 0.5,
    ) -> SegmentResult:
        """Segment ``image`` as the ``(prompt_image, prompt_mask)`` pairs show: ``mode='binary'`` (object masks) or
        ``'semantic'`` (class-index maps, prompted through a colour palette). See :func:`seggpt.inference.segment`.
        """
        return segment(self, image, prompts, mode=mode, seg_type=seg_type, alpha=alpha)


def _seggpt(**kwargs: Any) -> SegGPT:
    kwargs.pop("pretrained", None)  # weights are loaded by vision.create_model
    return SegGPT(**kwargs)


@register_model
def seggpt_vit_large_patch16_input896x448(**kwargs: Any) -> SegGPT:
    """ViT-L/16 on the 896x448 canvas, decoder width 64 (the released SegGPT)."""
    cfg = dict(img_size=(896, 448), embed_dim=1024, depth=24, num_heads=16, decoder_embed_dim=64, drop_path_rate=0.1)
    return _seggpt(**{**cfg, **kwargs})


@register_model
def seggpt_vit_test_patch16_input128x64(**kwargs: Any) -> SegGPT:
    """Test-sized SegGPT (the golden fixture's shape): width 32, 24 blocks, 2 heads, decoder 8, 128x64 canvas."""
    cfg = dict(img_size=(128, 64), embed_dim=32, depth=24, num_heads=2, decoder_embed_dim=8, drop_path_rate=0.1)
    return _seggpt(**{**cfg, **kwargs})


_IMAGENET = dict(input_size=(3, 896, 448), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), num_classes=0)
register_pretrained(
    "seggpt_vit_large_patch16_input896x448.official",
    PretrainedCfg(
        hf_hub_id="BAAI/SegGPT",
        hf_hub_filename="seggpt_vit_large.pth",
        license="mit",
        origin="baaivision/Painter (SegGPT), released weights",
        **_IMAGENET,
    ),
)
register_pretrained(
    "seggpt_vit_large_patch16_input896x448.hf",
    PretrainedCfg(
        hf_hub_id="BAAI/seggpt-vit-large",
        hf_hub_filename="model.safetensors",
        license="apache-2.0",
        origin="the same weights in transformers' SegGptForImageSegmentation layout",
        **_IMAGENET,
    ),
)
