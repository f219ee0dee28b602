"""Torchvision-backed stand-ins for the compiled mmcv ops that mmdet's two-stage detectors need.

mmdet 3.3 needs mmcv < 2.2. Full mmcv 2.1 builds from source only after patching its C++ standard and takes about
15 minutes on two cores; ``mmcv-lite`` installs at once but has no ``mmcv._ext``, so ``import mmcv.ops`` (and with it
``import mmdet.models``) fails. :func:`install` registers a small ``mmcv._ext`` module whose kernels come from
torchvision, so mmcv's own Python wrappers (``nms``, ``batched_nms``, ``RoIAlign`` with its autograd function) run
unchanged on top of it:

* ``nms``: ``torchvision.ops.nms`` (mmcv's ``offset=1`` pixel convention is honoured);
* ``roi_align_forward`` / ``roi_align_backward``: torchvision's RoIAlign kernels (average pooling; mmcv's ``aligned``
  and adaptive ``sampling_ratio=0`` have the same meaning in both).

Any other compiled op (deformable convolution, CARAFE, soft-NMS, ...) raises :class:`MissingMMCVOpError` naming the op
when it is called. With full mmcv installed, :func:`install` does nothing.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

import torch

__all__ = ["COVERED_OPS", "MissingMMCVOpError", "install", "is_active"]

_EXT = "mmcv._ext"
COVERED_OPS = ("nms", "roi_align_forward", "roi_align_backward")


class MissingMMCVOpError(NotImplementedError):
    """A compiled mmcv op that the torchvision compatibility layer does not provide."""


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: int = 0) -> torch.Tensor:
    """Indices of the boxes kept, best first; ``offset=1`` counts ``x2 - x1 + 1`` pixels as mmcv's legacy mode."""
    from torchvision.ops import nms

    if offset not in (0, 1):
        raise ValueError(f"nms offset must be 0 or 1, got {offset}")
    if offset:
        boxes = torch.cat([boxes[:, :2], boxes[:, 2:] + 1], dim=1)  # (N, 4); same IoU as mmcv's +1 widths
    return nms(boxes.float(), scores.float(), float(iou_threshold))


def _check_avg(pool_mode: int) -> None:
    if pool_mode != 1:
        raise MissingMMCVOpError(
            "RoIAlign with pool_mode='max' needs mmcv's compiled ops; the torchvision compatibility layer "
            "(vision.dense.mmcv_compat) provides pool_mode='avg' only. Install full mmcv or use 'avg'."
        )


def _roi_align_forward(
    input: torch.Tensor,
    rois: torch.Tensor,
    output: torch.Tensor,
    argmax_y: torch.Tensor,
    argmax_x: torch.Tensor,
    aligned_height: int,
    aligned_width: int,
    spatial_scale: float,
    sampling_ratio: int,
    pool_mode: int,
    aligned: bool,
) -> None:
    """Fill ``output`` (K, C, h, w) in place, as mmcv's kernel does; ``rois`` is (K, 5) ``(batch, x1, y1, x2, y2)``."""
    _check_avg(pool_mode)
    out = torch.ops.torchvision.roi_align(
        input, rois.to(input.dtype), spatial_scale, aligned_height, aligned_width, sampling_ratio, aligned
    )
    output.copy_(out)


def _roi_align_backward(
    grad_output: torch.Tensor,
    rois: torch.Tensor,
    argmax_y: torch.Tensor,
    argmax_x: torch.Tensor,
    grad_input: torch.Tensor,
    aligned_height: int,
    aligned_width: int,
    spatial_scale: float,
    sampling_ratio: int,
    pool_mode: int,
    aligned: bool,
) -> None:
    """Accumulate the input gradient (B, C, H, W) into ``grad_input`` in place."""
    _check_avg(pool_mode)
    batch, channels, height, width = grad_input.shape
    grad = torch.ops.torchvision._roi_align_backward(
        grad_output,
        rois.to(grad_output.dtype),
        spatial_scale,
        aligned_height,
        aligned_width,
        batch,
        channels,
        height,
        width,
        sampling_ratio,
        aligned,
    )
    grad_input.add_(grad)


_KERNELS = {"nms": _nms, "roi_align_forward": _roi_align_forward, "roi_align_backward": _roi_align_backward}


class _CompatExt(types.ModuleType):
    """Module object standing in for ``mmcv._ext``: covered kernels, and a clear error for any other op."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def missing(*args: Any, **kwargs: Any) -> None:
            raise MissingMMCVOpError(
                f"mmcv op {name!r} needs mmcv's compiled extension (mmcv._ext), which is not installed. "
                f"vision.dense.mmcv_compat provides only {', '.join(COVERED_OPS)} (from torchvision). "
                f"Install full mmcv (pip install mmcv==2.1.0, built from source) or pick a model without this op."
            )

        missing.__name__ = name
        return missing


def is_active() -> bool:
    """True when the torchvision stand-in is serving as ``mmcv._ext``."""
    return isinstance(sys.modules.get(_EXT), _CompatExt)


def install() -> bool:
    """Provide ``mmcv._ext`` from torchvision unless mmcv's compiled ops are installed; returns True if it did.

    Call before the first ``import mmcv.ops`` (``vision.dense.mmdet_registration`` does). Raises ImportError when
    mmcv itself is absent.
    """
    if is_active():
        return True
    import mmcv  # noqa: F401  (the parent package must exist; mmcv-lite is enough)

    if _EXT in sys.modules or importlib.util.find_spec(_EXT) is not None:
        return False  # full mmcv: its own kernels win
    module = _CompatExt(_EXT, __doc__)
    module.__spec__ = importlib.machinery.ModuleSpec(_EXT, loader=None)
    for name, fn in _KERNELS.items():
        setattr(module, name, fn)
    sys.modules[_EXT] = module
    return True
