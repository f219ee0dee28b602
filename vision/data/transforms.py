"""EVA / CLIP image transforms, built with timm's ``create_transform`` (resize, crop, RandAugment, random erasing).

Mean, std, interpolation and crop fraction come from a registered model's pretrained config when ``model_name`` is
given, so evaluation matches the weights; otherwise from the explicit arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["build_transform"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_transform(
    img_size: int | Sequence[int] = 224,
    is_training: bool = False,
    model_name: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    interpolation: str | None = None,
    crop_pct: float | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    hflip: float = 0.5,
    auto_augment: str | None = None,
    re_prob: float = 0.0,
    color_jitter: float | None = None,
) -> Callable:
    """A PIL-image-to-tensor transform.

    Training: random-resized crop (``scale``), flip, optional ``auto_augment`` (e.g. ``'rand-m9-mstd0.5-inc1'``),
    random erasing with probability ``re_prob``. Evaluation: resize to ``img_size / crop_pct`` then center crop.
    """
    from timm.data import create_transform

    defaults = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "interpolation": "bicubic", "crop_pct": 0.875}
    if model_name is not None:
        from vision.registry import get_pretrained_cfg

        cfg = get_pretrained_cfg(model_name)
        if cfg is None:
            raise ValueError(f"model {model_name!r} has no pretrained config to take mean/std from; pass mean/std")
        defaults.update(mean=cfg.mean, std=cfg.std, interpolation=cfg.interpolation, crop_pct=cfg.crop_pct)
    for name, value in (("re_prob", re_prob), ("hflip", hflip)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    return create_transform(
        img_size,
        is_training=is_training,
        scale=scale,
        hflip=hflip,
        auto_augment=auto_augment,
        re_prob=re_prob,
        color_jitter=color_jitter,
        interpolation=interpolation or defaults["interpolation"],
        mean=tuple(mean or defaults["mean"]),
        std=tuple(std or defaults["std"]),
        crop_pct=crop_pct or defaults["crop_pct"],
    )
