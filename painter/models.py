"""Painter (Wang et al., "Images Speak in Images", CVPR 2023): the in-context ViT with Painter's training loss.

The network is :class:`vision.incontext.InContextViT`; Painter adds only its loss rule: a sample whose visible
(unmasked) target is almost black (de-normalised sum below 100 per channel) is left out, and the mean has a 1e-2
guard in the denominator. Unlike the official code, ``valid`` is never written to.

Registered: ``painter_vit_large_patch16_input896x448`` (the released model) and ``painter_vit_test_patch16_input128x64``
(width 32, 24 blocks, 2 heads, decoder 8: the golden-fixture size, for tests).
"""

from __future__ import annotations

from typing import Any

import torch

from painter.convert import checkpoint_filter_fn, export_state_dict
from vision.incontext import InContextViT
from vision.pretrained import PretrainedCfg
from vision.registry import register_model, register_pretrained

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Painter"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Painter(InContextViT):
    """Painter's in-context ViT. ``forward(imgs, tgts, bool_masked_pos, valid) -> (loss, pred (B, L, p*p*3), mask)``.

    Inference: :meth:`predict` paints the query half of each canvas.
    """

    checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)
    blank_threshold = 100.0 * 3  # official: sum of the visible de-normalised target below 300 -> sample ignored

    def forward_loss(
        self, pred: torch.Tensor, tgts: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        pixel_mask = self.unpatchify(mask[:, :, None].expand(-1, -1, self.patch_size**2 * 3).to(pred.dtype))
        mean = tgts.new_tensor(IMAGENET_MEAN)[None, :, None, None]
        std = tgts.new_tensor(IMAGENET_STD)[None, :, None, None]
        visible = ((tgts * std + mean) * (1 - pixel_mask)).sum((1, 2, 3))  # (B,)
        keep = (visible >= self.blank_threshold).to(pred.dtype)[:, None, None, None]
        valid = keep if valid is None else valid * keep
        return self.masked_loss(pred, tgts, mask, valid, eps=1e-2)

    def export_state_dict(self, fmt: str = "official") -> dict[str, torch.Tensor]:
        """Weights in the official layout (``tools/convert_checkpoint.py --to official``)."""
        return export_state_dict(self, fmt)

    @torch.no_grad()
    def predict(self, imgs: torch.Tensor, tgts: torch.Tensor) -> torch.Tensor:
        """The painted query halves ``(B, 3, H/2, W)`` (normalised target space) of ``(B, 3, H, W)`` canvases.

        The target's query half is masked, as the official task inference scripts do; only it is decoded.
        """
        hp, wp = self.grid(imgs.shape[2], imgs.shape[3])
        mask = torch.zeros(1, hp * wp, dtype=torch.bool, device=imgs.device)
        mask[:, hp * wp // 2 :] = True
        return self.forward_decoder(self.forward_encoder(imgs, tgts, mask), query_only=True)


def _painter(**kwargs: Any) -> Painter:
    kwargs.pop("pretrained", None)  # weights are loaded by vision.create_model
    return Painter(**kwargs)


@register_model
def painter_vit_large_patch16_input896x448(**kwargs: Any) -> Painter:
    """ViT-L/16 on the 896x448 canvas, decoder width 64 (official ``..._win_dec64_8glb_sl1``)."""
    cfg = dict(img_size=(896, 448), embed_dim=1024, depth=24, num_heads=16, decoder_embed_dim=64, drop_path_rate=0.1)
    return _painter(**{**cfg, **kwargs})


@register_model
def painter_vit_test_patch16_input128x64(**kwargs: Any) -> Painter:
    """Test-sized Painter (the golden fixture's shape): width 32, 24 blocks, 2 heads, decoder 8, 128x64 canvas."""
    cfg = dict(img_size=(128, 64), embed_dim=32, depth=24, num_heads=2, decoder_embed_dim=8, drop_path_rate=0.1)
    return _painter(**{**cfg, **kwargs})


register_pretrained(
    "painter_vit_large_patch16_input896x448.official",
    PretrainedCfg(
        hf_hub_id="BAAI/Painter",
        hf_hub_filename="painter_vit_large.pth",
        input_size=(3, 896, 448),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=0,
        license="mit",
        origin="baaivision/Painter, released weights (trained on the official seven-task mixture)",
    ),
)
