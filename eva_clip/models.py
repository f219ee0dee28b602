"""EVA-CLIP: the core's :class:`vision.VisionTransformer` as image tower, a CLIP text tower, and a learned logit scale.

State-dict keys are the official EVA-CLIP ones (``visual.*``, ``text.*``, ``logit_scale``), so an official ``.pt``
loads with the RoPE buffers as the only difference (recomputed, not stored). Every official model is registered; the
8B and 18B ones are built on the meta device to inspect them without allocating memory::

    with torch.device("meta"):
        model = vision.create_model("eva_clip_18b_patch14_224")
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from eva_clip.convert import checkpoint_filter_fn, export_state_dict
from eva_clip.text import TextTransformer
from vision import PretrainedCfg, VisionTransformer, register_model, register_pretrained

__all__ = ["EVACLIP", "MODEL_CFGS", "OFFICIAL_NAMES", "build_eva_clip"]

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class EVACLIP(nn.Module):
    """Image and text towers projected into one embedding space.

    ``vision_cfg`` holds :class:`vision.VisionTransformer` arguments (the projection is the tower's ``head``, so
    ``num_classes`` is ``embed_dim`` and pooling is the class token); ``text_cfg`` holds
    :class:`eva_clip.text.TextTransformer` arguments. ``forward`` returns L2-normalised image and text features and
    ``exp(logit_scale)``, as the official model does.
    """

    checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

    def __init__(
        self,
        embed_dim: int,
        vision_cfg: dict[str, Any],
        text_cfg: dict[str, Any],
        init_logit_scale: float = math.log(1 / 0.07),
        mean: tuple[float, float, float] = OPENAI_CLIP_MEAN,
        std: tuple[float, float, float] = OPENAI_CLIP_STD,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.visual = VisionTransformer(**{**vision_cfg, "num_classes": embed_dim, "global_pool": "token"})
        self.text = TextTransformer(embed_dim=embed_dim, **text_cfg)
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))  # () as in the official checkpoints
        self.image_size = tuple(self.visual.patch_embed.img_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.context_length = self.text.context_length

    def export_state_dict(self, fmt: str = "official") -> dict[str, torch.Tensor]:
        """Weights as an official EVA-CLIP ``.pt`` dict (``'official'``) or open_clip's layout (``'open_clip'``)."""
        return export_state_dict(self, fmt)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)
        self.text.set_grad_checkpointing(enable)

    def no_weight_decay(self) -> set[str]:
        return (
            {f"visual.{n}" for n in self.visual.no_weight_decay()}
            | {f"text.{n}" for n in self.text.no_weight_decay()}
            | {"logit_scale"}
        )

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised pixels -> ``(B, embed_dim)``."""
        x = self.visual(image)
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """``(B, L)`` token ids -> ``(B, embed_dim)``."""
        x = self.text(text)
        return F.normalize(x, dim=-1) if normalize else x

    def forward(
        self, image: torch.Tensor | None = None, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
        image_features = self.encode_image(image, normalize=True) if image is not None else None
        text_features = self.encode_text(text, normalize=True) if text is not None else None
        return image_features, text_features, self.logit_scale.exp()


# ---------------------------------------------------------------------------------------------------------------------
# registered models: official configs (EVA-CLIP rei/model_configs and EVA-CLIP-18B), translated to the core's flags

# EVA-02 towers (B, L): SwiGLU split into w1/w2/w3 with sub-LN, inner_attn_ln, RoPE on the 16x16 pre-training grid.
# The official checkpoints store q/k/v and w1/w2 apart; the filter packs each group into one parameter (``qkv``, one
# GEMM, faster on CPU; ``w12``) and the official export splits them again.
_EVA02_FLAGS = dict(
    mlp_ratio=2.6667,
    qkv_fused=True,
    mlp_layer="swiglu",
    swiglu_packed=True,
    scale_attn_inner=True,
    scale_mlp=True,
    use_rope=True,
    rope_ref_grid=16,
)
# EVA02-E (bigE) tower: EVA-01 style (fused qkv, GELU) with post-norm.
_BIGE = dict(
    img_size=224, patch_size=14, embed_dim=1792, depth=64, num_heads=16, mlp_ratio=15360 / 1792, post_norm=True
)
_TEXT_B = dict(width=512, heads=8, layers=12)
_TEXT_L = dict(width=768, heads=12, layers=12)
_TEXT_H = dict(width=1024, heads=16, layers=24)
_TEXT_BIGG = dict(width=1280, heads=20, layers=32)

# name -> (embed_dim, vision_cfg, text_cfg)
MODEL_CFGS: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {
    "eva01_clip_giant_patch14_224": (
        1024,
        dict(img_size=224, patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.3637),
        _TEXT_L,
    ),
    "eva01_clip_giant_patch14_plus_224": (
        1024,
        dict(img_size=224, patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.3637),
        _TEXT_H,
    ),
    "eva02_clip_base_patch16_224": (
        512,
        dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12, **_EVA02_FLAGS),
        _TEXT_B,
    ),
    "eva02_clip_large_patch14_224": (
        768,
        dict(img_size=224, patch_size=14, embed_dim=1024, depth=24, num_heads=16, **_EVA02_FLAGS),
        _TEXT_L,
    ),
    "eva02_clip_large_patch14_336": (
        768,
        dict(img_size=336, patch_size=14, embed_dim=1024, depth=24, num_heads=16, **_EVA02_FLAGS),
        _TEXT_L,
    ),
    "eva02_clip_enormous_patch14_224": (
        1024,
        _BIGE,
        _TEXT_H,
    ),
    "eva02_clip_enormous_patch14_plus_224": (
        1024,
        _BIGE,
        _TEXT_BIGG,
    ),
    # EVA-CLIP-8B / 18B: RMSNorm, post-norm, no q/v bias; MLP 5x wide, which gives the published tower sizes
    # (EVA-8B 7.5B, EVA-18B 17.5B parameters; EVA-CLIP-18B model card).
    "eva_clip_8b_patch14_224": (
        1280,
        dict(
            img_size=224, patch_size=14, embed_dim=4096, depth=32, num_heads=32, mlp_ratio=5.0,
            qkv_bias=False, post_norm=True, norm_layer="rmsnorm",
        ),
        _TEXT_BIGG,
    ),
    "eva_clip_18b_patch14_224": (
        1536,
        dict(
            img_size=224, patch_size=14, embed_dim=5120, depth=48, num_heads=40, mlp_ratio=5.0,
            qkv_bias=False, post_norm=True, norm_layer="rmsnorm",
        ),
        _TEXT_BIGG,
    ),
}  # fmt: skip

# Official model names (EVA-CLIP configs, open_clip names where open_clip has the model) -> registered names.
OFFICIAL_NAMES: dict[str, str] = {
    "EVA01-CLIP-g-14": "eva01_clip_giant_patch14_224",
    "EVA01-CLIP-g-14-plus": "eva01_clip_giant_patch14_plus_224",
    "EVA02-CLIP-B-16": "eva02_clip_base_patch16_224",
    "EVA02-CLIP-L-14": "eva02_clip_large_patch14_224",
    "EVA02-CLIP-L-14-336": "eva02_clip_large_patch14_336",
    "EVA02-CLIP-bigE-14": "eva02_clip_enormous_patch14_224",
    "EVA02-CLIP-bigE-14-plus": "eva02_clip_enormous_patch14_plus_224",
    "EVA-CLIP-8B": "eva_clip_8b_patch14_224",
    "EVA-CLIP-18B": "eva_clip_18b_patch14_224",
    "EVA01-g-14": "eva01_clip_giant_patch14_224",
    "EVA01-g-14-plus": "eva01_clip_giant_patch14_plus_224",
    "EVA02-B-16": "eva02_clip_base_patch16_224",
    "EVA02-L-14": "eva02_clip_large_patch14_224",
    "EVA02-L-14-336": "eva02_clip_large_patch14_336",
    "EVA02-E-14": "eva02_clip_enormous_patch14_224",
    "EVA02-E-14-plus": "eva02_clip_enormous_patch14_plus_224",
}


def build_eva_clip(name: str, cls: type[EVACLIP] = EVACLIP, cls_kwargs: dict[str, Any] | None = None, **kwargs: Any):
    """Build the registered config ``name`` as ``cls``. ``embed_dim``, ``vision_cfg``/``text_cfg`` dicts,
    ``init_logit_scale``/``mean``/``std`` and timm-named vision arguments (``img_size``, ``drop_path_rate``,
    ``patch_drop_rate``, ...) override the config."""
    if name not in MODEL_CFGS:
        raise KeyError(f"unknown EVA-CLIP model {name!r}; choose one of {', '.join(MODEL_CFGS)}")
    embed_dim, vision_cfg, text_cfg = MODEL_CFGS[name]
    embed_dim = kwargs.pop("embed_dim", embed_dim)
    vision_cfg = {**vision_cfg, **kwargs.pop("vision_cfg", {})}
    text_cfg = {**text_cfg, **kwargs.pop("text_cfg", {})}
    clip_kwargs = {k: kwargs.pop(k) for k in ("init_logit_scale", "mean", "std") if k in kwargs}
    vision_cfg.update(kwargs)
    return cls(embed_dim, vision_cfg, text_cfg, **clip_kwargs, **(cls_kwargs or {}))


def _register(name: str) -> None:
    def builder(pretrained: bool = False, **kwargs: Any) -> EVACLIP:
        # ``pretrained`` is resolved and loaded by vision.create_model.
        return build_eva_clip(name, **kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"EVA-CLIP {next(k for k, v in OFFICIAL_NAMES.items() if v == name)} (registered as {name})."
    register_model(builder)


for _name in MODEL_CFGS:
    _register(_name)

# Official weights (EVA-CLIP model card). Files are large; they load from a local path, $SHIJIE_WEIGHTS or the hub.
_HUB = "QuanSun/EVA-CLIP"
_WEIGHTS = {
    "eva01_clip_giant_patch14_224.laion400m_s11b": (_HUB, "EVA01_CLIP_g_14_psz14_s11B.pt", 224, 1024),
    "eva01_clip_giant_patch14_plus_224.merged2b_s11b": (_HUB, "EVA01_CLIP_g_14_plus_psz14_s11B.pt", 224, 1024),
    "eva02_clip_base_patch16_224.merged2b_s8b": (_HUB, "EVA02_CLIP_B_psz16_s8B.pt", 224, 512),
    "eva02_clip_large_patch14_224.merged2b_s4b": (_HUB, "EVA02_CLIP_L_psz14_s4B.pt", 224, 768),
    "eva02_clip_large_patch14_336.merged2b_s6b": (_HUB, "EVA02_CLIP_L_336_psz14_s6B.pt", 336, 768),
    "eva02_clip_enormous_patch14_224.laion2b_s4b": (_HUB, "EVA02_CLIP_E_psz14_s4B.pt", 224, 1024),
    "eva02_clip_enormous_patch14_plus_224.laion2b_s9b": (_HUB, "EVA02_CLIP_E_psz14_plus_s9B.pt", 224, 1024),
    "eva_clip_8b_patch14_224.merged2b_s9b": ("BAAI/EVA-CLIP-8B", "EVA_CLIP_8B_psz14_s9B.pt", 224, 1280),
    "eva_clip_18b_patch14_224.merged2b_s6b": ("BAAI/EVA-CLIP-18B", "EVA_CLIP_18B_psz14_s6B.fp16.pt", 224, 1536),
}
for _tag, (_hub, _file, _size, _dim) in _WEIGHTS.items():
    register_pretrained(
        _tag,
        PretrainedCfg(
            hf_hub_id=_hub,
            hf_hub_filename=_file,
            input_size=(3, _size, _size),
            mean=OPENAI_CLIP_MEAN,
            std=OPENAI_CLIP_STD,
            num_classes=_dim,
            license="mit" if _hub == _HUB else "apache-2.0",
            origin="https://github.com/baaivision/EVA/tree/master/EVA-CLIP",
        ),
    )
