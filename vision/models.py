"""EVA-01 and EVA-02 backbones under their official/timm names, with their pretrained weights.

Weights are the official ones as re-hosted on the Hugging Face hub by timm (converted on load by
``vision.convert.checkpoint_filter_fn``); a local file always works: ``create_model(name, pretrained='file')``.
Registered models use the fused qkv (one GEMM) / packed ``w12`` SwiGLU layout whatever the checkpoint's layout.
"""

from __future__ import annotations

from typing import Any

from vision.pretrained import PretrainedCfg
from vision.registry import register_model, register_pretrained
from vision.vit import VisionTransformer

__all__: list[str] = []

_EVA02 = dict(patch_size=14, mlp_ratio=4 * 2 / 3, mlp_layer="swiglu", use_rope=True, global_pool="avg")
_EVA02_TI = dict(_EVA02, embed_dim=192, depth=12, num_heads=3)
_EVA02_S = dict(_EVA02, embed_dim=384, depth=12, num_heads=6)
_EVA02_B = dict(_EVA02, embed_dim=768, depth=12, num_heads=12, scale_mlp=True)
_EVA02_L = dict(_EVA02, embed_dim=1024, depth=24, num_heads=16, scale_mlp=True)
_EVA01_G = dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=6144 / 1408, global_pool="avg")
_EVA02_E = dict(
    patch_size=14, embed_dim=1792, depth=64, num_heads=16, mlp_ratio=15360 / 1792, post_norm=True, global_pool="token"
)


def _build(defaults: dict, img_size: int, rope_ref_grid: int = 16, **overrides: Any) -> VisionTransformer:
    """``defaults`` at ``img_size`` with user overrides on top. RoPE positions stay scaled to the 16x16 grid of
    224 px pre-training (the official pt_hw_seq_len) whatever size the user asks for."""
    kwargs = dict(defaults, img_size=img_size)
    if kwargs.get("use_rope"):
        kwargs["rope_ref_grid"] = rope_ref_grid
    kwargs.update(overrides)
    return VisionTransformer(**kwargs)


def _hub(model_tag: str, size: int, num_classes: int, **extra: Any) -> PretrainedCfg:
    return PretrainedCfg(
        hf_hub_id=f"timm/{model_tag}",
        hf_hub_filename="model.safetensors",
        input_size=(3, size, size),
        num_classes=num_classes,
        license="mit",
        origin="https://github.com/baaivision/EVA",
        **extra,
    )


@register_model
def eva02_tiny_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-02 Ti/14 (5.5M), MIM-pretrained on IN-22k at 224."""
    return _build(_EVA02_TI, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva02_tiny_patch14_336(**kwargs: Any) -> VisionTransformer:
    """EVA-02 Ti/14 fine-tuned on IN-1k at 336: 80.7% top-1."""
    return _build(_EVA02_TI, kwargs.pop("img_size", 336), **kwargs)


@register_model
def eva02_small_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-02 S/14 (21.6M), MIM-pretrained on IN-22k at 224."""
    return _build(_EVA02_S, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva02_small_patch14_336(**kwargs: Any) -> VisionTransformer:
    """EVA-02 S/14 fine-tuned on IN-1k at 336: 85.8% top-1."""
    return _build(_EVA02_S, kwargs.pop("img_size", 336), **kwargs)


@register_model
def eva02_base_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-02 B/14 (86M), sub-LN SwiGLU, MIM-pretrained on IN-22k at 224."""
    return _build(_EVA02_B, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva02_base_patch14_448(**kwargs: Any) -> VisionTransformer:
    """EVA-02 B/14 fine-tuned IN-22k -> IN-1k at 448: 88.6% top-1."""
    return _build(_EVA02_B, kwargs.pop("img_size", 448), **kwargs)


@register_model
def eva02_large_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-02 L/14 (304M), MIM-pretrained at 224."""
    return _build(_EVA02_L, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva02_large_patch14_448(**kwargs: Any) -> VisionTransformer:
    """EVA-02 L/14 fine-tuned IN-22k -> IN-1k at 448: 90.0% top-1 (Merged-38M MIM)."""
    return _build(_EVA02_L, kwargs.pop("img_size", 448), **kwargs)


@register_model
def eva02_enormous_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-02 E/14 (4.4B), post-norm GELU backbone of EVA02-CLIP-bigE."""
    return _build(_EVA02_E, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva_giant_patch14_224(**kwargs: Any) -> VisionTransformer:
    """EVA-01 g/14 (1.0B) at 224: GELU MLP, q/v bias, absolute positions."""
    return _build(_EVA01_G, kwargs.pop("img_size", 224), **kwargs)


@register_model
def eva_giant_patch14_336(**kwargs: Any) -> VisionTransformer:
    """EVA-01 g/14 at 336."""
    return _build(_EVA01_G, kwargs.pop("img_size", 336), **kwargs)


@register_model
def eva_giant_patch14_560(**kwargs: Any) -> VisionTransformer:
    """EVA-01 g/14 at 560: 89.7% top-1 on IN-1k."""
    return _build(_EVA01_G, kwargs.pop("img_size", 560), **kwargs)


@register_model
def eva02_test_patch14_56(**kwargs: Any) -> VisionTransformer:
    """A tiny EVA-02 (sub-LN SwiGLU, RoPE) for tests: 2 blocks of width 32 on a 4x4 grid."""
    defaults = dict(_EVA02_B, embed_dim=32, depth=2, num_heads=2)
    return _build(defaults, kwargs.pop("img_size", 56), rope_ref_grid=4, **kwargs)


@register_model
def eva_test_patch14_56(**kwargs: Any) -> VisionTransformer:
    """A tiny EVA-01 (GELU, absolute positions) for tests."""
    return _build(
        dict(_EVA01_G, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.0), kwargs.pop("img_size", 56), **kwargs
    )


for _tag, _size, _classes, _notes in (
    ("eva02_tiny_patch14_224.mim_in22k", 224, 0, "MIM on IN-22k, no head"),
    ("eva02_tiny_patch14_336.mim_in22k_ft_in1k", 336, 1000, "IN-1k top-1 80.7"),
    ("eva02_small_patch14_224.mim_in22k", 224, 0, "MIM on IN-22k, no head"),
    ("eva02_small_patch14_336.mim_in22k_ft_in1k", 336, 1000, "IN-1k top-1 85.8"),
    ("eva02_base_patch14_224.mim_in22k", 224, 0, "MIM on IN-22k, no head"),
    ("eva02_base_patch14_448.mim_in22k_ft_in22k_in1k", 448, 1000, "IN-1k top-1 88.6"),
    ("eva02_large_patch14_224.mim_in22k", 224, 0, "MIM on IN-22k, no head"),
    ("eva02_large_patch14_224.mim_m38m", 224, 0, "MIM on Merged-38M, no head"),
    ("eva02_large_patch14_448.mim_m38m_ft_in22k_in1k", 448, 1000, "IN-1k top-1 90.0"),
    ("eva_giant_patch14_224.clip_ft_in1k", 224, 1000, "IN-1k top-1 88.9"),
    ("eva_giant_patch14_336.clip_ft_in1k", 336, 1000, "IN-1k top-1 89.5"),
    ("eva_giant_patch14_560.m30m_ft_in22k_in1k", 560, 1000, "IN-1k top-1 89.7"),
):
    register_pretrained(_tag, _hub(_tag, _size, _classes, notes=_notes))
