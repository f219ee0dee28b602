"""Registers the EVA-02 segmentation backbone and layer-wise lr decay with mmsegmentation 1.2.

Like :mod:`vision.dense.mmdet_registration`: installs the torchvision-backed mmcv ops when mmcv's compiled ops are
absent, imports mmseg's modules (UperNet, FCN, ``IoUMetric`` for mIoU), and adds ``EVA02SegBackbone`` to ``MODELS``
and ``LayerDecayOptimWrapperConstructor`` to ``OPTIM_WRAPPER_CONSTRUCTORS``. Configs import it via ``custom_imports``.
"""

from __future__ import annotations

from vision.dense import mmcv_compat
from vision.dense.layer_decay import LayerDecayOptimWrapperConstructor
from vision.dense.registry import register_once
from vision.dense.segmentation import EVA02SegBackbone

mmcv_compat.install()

from mmseg.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

__all__ = ["register"]


def register() -> None:
    """Import mmseg's modules and add ours; safe to call more than once."""
    register_all_modules(init_default_scope=False)
    register_once(MODELS, "EVA02SegBackbone", EVA02SegBackbone)
    register_once(OPTIM_WRAPPER_CONSTRUCTORS, "LayerDecayOptimWrapperConstructor", LayerDecayOptimWrapperConstructor)


register()
