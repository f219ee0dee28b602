"""COCO box and mask AP with pycocotools, for any detector's outputs.

:func:`instances_to_coco` turns one image's predictions (xyxy boxes, scores, contiguous labels, optional binary masks)
into COCO result records; :func:`evaluate` runs ``COCOeval`` and returns the twelve standard numbers per IoU type.
Crowd ground truth is ignored by COCOeval (a detection on it is neither a hit nor a false positive), images without
annotations count only through their false positives, and empty predicted masks encode to zero-area RLE (misses).

Command line::

    python -m vision.dense.coco_eval --ann annotations/instances_val2017.json --results results.json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["METRIC_NAMES", "evaluate", "instances_to_coco", "load_coco"]

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
IOU_TYPES = ("bbox", "segm")


def load_coco(ann: str | Path | dict):
    """A quiet ``pycocotools.coco.COCO`` from a path or a parsed annotation dict (copied: COCOeval edits it)."""
    from pycocotools.coco import COCO

    if isinstance(ann, (str, Path)):
        path = Path(ann)
        if not path.is_file():
            raise FileNotFoundError(f"COCO annotation file not found: {path}")
        ann = json.loads(path.read_text())
    else:
        ann = copy.deepcopy(ann)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = ann
        coco.createIndex()
    return coco


def instances_to_coco(
    image_id: int,
    boxes: torch.Tensor | np.ndarray,
    scores: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    category_ids: Sequence[int],
    masks: torch.Tensor | np.ndarray | None = None,
) -> list[dict]:
    """COCO result records for one image.

    ``boxes`` (N, 4) are xyxy pixels, ``labels`` index ``category_ids``, ``masks`` (N, H, W) are binary.
    """
    from pycocotools import mask as mask_util

    boxes, scores, labels = (np.asarray(torch.as_tensor(t).detach().cpu()) for t in (boxes, scores, labels))
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) xyxy, got shape {boxes.shape}")
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"got {len(boxes)} boxes, {len(scores)} scores and {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(category_ids)):
        raise ValueError(
            f"labels must index the {len(category_ids)} categories, got range {labels.min()}..{labels.max()}"
        )
    rles = None
    if masks is not None:
        masks = np.asarray(torch.as_tensor(masks).detach().cpu()).astype(np.uint8)
        if masks.ndim != 3 or len(masks) != len(boxes):
            raise ValueError(f"masks must be (N, H, W) with N = {len(boxes)}, got shape {masks.shape}")
        rles = mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0)))  # one RLE per instance
    records = []
    for i, (box, score, label) in enumerate(zip(boxes, scores, labels)):
        x1, y1, x2, y2 = (float(v) for v in box)
        record = {
            "image_id": int(image_id),
            "category_id": int(category_ids[int(label)]),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": float(score),
        }
        if rles is not None:
            rle = rles[i]
            record["segmentation"] = {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
        records.append(record)
    return records


def evaluate(ann: str | Path | dict, results: Sequence[dict], iou_types: Sequence[str] = IOU_TYPES) -> dict[str, float]:
    """COCO AP/AR for ``results`` against ground truth ``ann``; keys like ``bbox_AP``, ``segm_AP50``.

    With no results at all every number is 0. Results for images absent from the ground truth raise ValueError.
    """
    from pycocotools.cocoeval import COCOeval

    unknown = set(iou_types) - set(IOU_TYPES)
    if unknown:
        raise ValueError(f"unknown IoU types {sorted(unknown)}; choose from {IOU_TYPES}")
    gt = load_coco(ann)
    missing = {r["image_id"] for r in results} - set(gt.getImgIds())
    if missing:
        raise ValueError(f"results name image ids absent from the ground truth: {sorted(missing)[:10]}")
    if "segm" in iou_types and any("segmentation" not in r for r in results):
        raise ValueError(
            "segm evaluation needs a 'segmentation' in every result; pass masks or use iou_types=('bbox',)"
        )
    metrics: dict[str, float] = {}
    for iou_type in iou_types:
        if not results:
            metrics.update({f"{iou_type}_{name}": 0.0 for name in METRIC_NAMES})
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            dt = gt.loadRes([dict(r) for r in results])  # loadRes adds fields in place: keep the caller's intact
            coco_eval = COCOeval(gt, dt, iou_type)
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        # COCOeval reports -1 where no ground truth exists (e.g. no small objects); keep it visible as -1.
        metrics.update({f"{iou_type}_{name}": float(v) for name, v in zip(METRIC_NAMES, coco_eval.stats)})
    return metrics


def format_table(metrics: dict[str, float]) -> str:
    """One row per IoU type, AP numbers in percent."""
    types = [t for t in IOU_TYPES if f"{t}_AP" in metrics]
    head = "type  " + " ".join(f"{n:>6}" for n in METRIC_NAMES[:6])
    rows = [f"{t:<5} " + " ".join(f"{100 * metrics[f'{t}_{n}']:6.1f}" for n in METRIC_NAMES[:6]) for t in types]
    return "\n".join([head, *rows])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="COCO bbox / segm AP of a results json (pycocotools)")
    parser.add_argument("--ann", required=True, help="ground-truth instances json")
    parser.add_argument("--results", required=True, help="COCO results json (list of detections)")
    parser.add_argument("--iou-types", nargs="+", default=list(IOU_TYPES), choices=IOU_TYPES)
    args = parser.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    print(format_table(evaluate(args.ann, results, args.iou_types)))


if __name__ == "__main__":
    main()
