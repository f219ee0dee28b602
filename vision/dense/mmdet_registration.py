"""Registers the EVA-02 ViTDet pieces with mmdet 3.3 so its configs can name them.

Importing this module (configs do it through ``custom_imports``; :func:`register` does it explicitly) first installs
the torchvision-backed mmcv ops when mmcv's compiled ops are absent (:mod:`vision.dense.mmcv_compat`), then imports
mmdet's modules and adds:

* ``EVA02ViTDet`` (backbone) and ``SimpleFeaturePyramid`` (neck) to ``MODELS``, and ``LN2d`` (channel LayerNorm,
  for the ViTDet box and mask heads' ``norm_cfg``);
* ``LayerDecayOptimWrapperConstructor`` (:mod:`vision.dense.layer_decay`): the official layer-wise lr decay;
* ``ShijieCocoMetric``: COCO bbox / segm AP through :mod:`vision.dense.coco_eval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vision.dense import mmcv_compat
from vision.dense.layer_decay import LayerDecayOptimWrapperConstructor
from vision.dense.registry import register_once
from vision.dense.vitdet import EVA02ViTDet, SimpleFeaturePyramid
from vision.layers import LayerNorm2d

mmcv_compat.install()

from mmdet.registry import METRICS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.evaluator import BaseMetric  # noqa: E402

__all__ = ["ShijieCocoMetric", "register"]


class ShijieCocoMetric(BaseMetric):
    """COCO AP of mmdet predictions (boxes and masks already rescaled to the original image)."""

    default_prefix = "coco"

    def __init__(self, ann_file: str, metric: Sequence[str] = ("bbox", "segm"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ann_file = ann_file
        self.iou_types = tuple([metric] if isinstance(metric, str) else metric)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample["pred_instances"]
            masks = pred["masks"] if "segm" in self.iou_types else None
            self.results.append((sample["img_id"], pred["bboxes"], pred["scores"], pred["labels"], masks))

    def compute_metrics(self, results: list) -> dict[str, float]:
        from vision.dense.coco_eval import evaluate, instances_to_coco, load_coco

        coco = load_coco(self.ann_file)
        names = {c["name"]: c["id"] for c in coco.dataset["categories"]}
        cat_ids = [names[n] for n in self.dataset_meta["classes"]]
        records = []
        for img_id, boxes, scores, labels, masks in results:
            records += instances_to_coco(img_id, boxes, scores, labels, cat_ids, masks)
        return evaluate(self.ann_file, records, self.iou_types)


def register() -> None:
    """Import mmdet's modules and add ours; safe to call more than once."""
    register_all_modules(init_default_scope=False)
    register_once(MODELS, "EVA02ViTDet", EVA02ViTDet)
    register_once(MODELS, "SimpleFeaturePyramid", SimpleFeaturePyramid)
    register_once(MODELS, "LN2d", LayerNorm2d)
    register_once(OPTIM_WRAPPER_CONSTRUCTORS, "LayerDecayOptimWrapperConstructor", LayerDecayOptimWrapperConstructor)
    register_once(METRICS, "ShijieCocoMetric", ShijieCocoMetric)


register()
