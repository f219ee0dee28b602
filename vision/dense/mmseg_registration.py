"""Registers the EVA-02 segmentation backbone and layer-wise lr decay with mmsegmentation 1.2.

Like :mod:`vision.dense.mmdet_registration`: installs the torchvision-backed mmcv ops when mmcv's compiled ops are
absent, imports mmseg's modules (UperNet, FCN, ``IoUMetric`` for mIoU), and adds ``EVA02SegBackbone`` to ``MODELS``
and ``LayerDecayOptimWrapperConstructor`` to ``OPTIM_WRAPPER_CONSTRUCTORS``. Configs import it via ``custom_imports``.
"""

from __future__ import annotations

from typing import Any

from vision.dense import mmcv_compat
from vision.dense.layer_decay import LayerDecayOptimWrapperConstructor
from vision.dense.segmentation import EVA02SegBackbone

mmcv_compat.install()

from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

__all__ = ["register"]


def _register(registry: Any, name: str, module: type) -> None:
    if registry.get(name) is None:
        registry.register_module(name=name, module=module)
    elif registry.get(name) is not module:
        raise RuntimeError(f"{registry.name} registry already has a different {name!r}: {registry.get(name)}")


def register() -> None:
    """Import mmseg's modules and add ours; safe to call more than once."""
    register_all_modules(init_default_scope=False)
    _register(MODELS, "EVA02SegBackbone", EVA02SegBackbone)
    _register(OPTIM_WRAPPER_CONSTRUCTORS, "LayerDecayOptimWrapperConstructor", LayerDecayOptimWrapperConstructor)


register()
