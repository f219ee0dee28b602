"""COCO evaluation: ground truth fed back as predictions scores AP 1.0; crowd, empty and bad inputs behave."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("pycocotools", reason="pycocotools (the det extra) is not installed")

from vision.dense.coco_eval import evaluate, format_table, instances_to_coco, load_coco, main  # noqa: E402


@pytest.fixture(scope="module")
def coco_ann(data_dir) -> dict:
    return json.loads((data_dir / "coco" / "annotations" / "instances_val2017.json").read_text())


def _gt_as_results(ann: dict) -> list[dict]:
    """Every non-crowd annotation as a detection with score 1, through ``instances_to_coco`` (boxes and masks)."""
    coco = load_coco(ann)
    cat_ids = sorted(coco.getCatIds())
    results = []
    for img in ann["images"]:
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])) if not a["iscrowd"]]
        if not anns:
            continue
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                              for a in anns])  # fmt: skip
        masks = np.stack([coco.annToMask(a) for a in anns])  # (N, H, W)
        labels = torch.tensor([cat_ids.index(a["category_id"]) for a in anns])
        results += instances_to_coco(img["id"], boxes, torch.ones(len(anns)), labels, cat_ids, masks)
    return results


def test_ground_truth_as_predictions_scores_perfect_ap(coco_ann) -> None:
    assert any(a["iscrowd"] for a in coco_ann["annotations"])  # the crowd region must not count as a miss
    annotated = {a["image_id"] for a in coco_ann["annotations"]}
    assert any(img["id"] not in annotated for img in coco_ann["images"])  # an image without annotations
    metrics = evaluate(coco_ann, _gt_as_results(coco_ann))
    assert metrics["bbox_AP"] == pytest.approx(1.0) and metrics["segm_AP"] == pytest.approx(1.0)
    assert metrics["bbox_AR100"] == pytest.approx(1.0)
    assert "bbox" in format_table(metrics) and "100.0" in format_table(metrics)


def test_false_positives_on_an_image_without_annotations_lower_precision(coco_ann) -> None:
    results = _gt_as_results(coco_ann)
    empty_id = next(
        i["id"] for i in coco_ann["images"] if i["id"] not in {a["image_id"] for a in coco_ann["annotations"]}
    )
    cat_ids = sorted(c["id"] for c in coco_ann["categories"])
    person = cat_ids.index(1)
    results += instances_to_coco(empty_id, torch.tensor([[10.0, 10, 200, 300]]), torch.tensor([1.0]),
                                 torch.tensor([person]), cat_ids, np.ones((1, 427, 640), bool))  # fmt: skip
    metrics = evaluate(coco_ann, results, iou_types=("bbox",))
    assert 0.5 < metrics["bbox_AP"] < 1.0


def test_detection_on_a_crowd_region_is_not_a_false_positive(coco_ann) -> None:
    crowd = next(a for a in coco_ann["annotations"] if a["iscrowd"])
    results = _gt_as_results(coco_ann)
    x, y, w, h = crowd["bbox"]
    cat_ids = sorted(c["id"] for c in coco_ann["categories"])
    results += instances_to_coco(crowd["image_id"], torch.tensor([[x, y, x + w, y + h]]), torch.tensor([0.5]),
                                 torch.tensor([cat_ids.index(crowd["category_id"])]), cat_ids)  # fmt: skip
    assert evaluate(coco_ann, results, iou_types=("bbox",))["bbox_AP"] == pytest.approx(1.0)


def test_empty_masks_encode_and_count_as_misses(coco_ann) -> None:
    results = _gt_as_results(coco_ann)
    for r in results[::2]:  # blank out every other predicted mask
        h, w = r["segmentation"]["size"]
        (r["segmentation"],) = [
            rec["segmentation"]
            for rec in instances_to_coco(r["image_id"], torch.zeros(1, 4), [1.0], [0], [1], np.zeros((1, h, w)))
        ]
    metrics = evaluate(coco_ann, results)
    assert metrics["bbox_AP"] == pytest.approx(1.0) and metrics["segm_AP"] < 0.8


def test_no_results_score_zero_and_bad_inputs_are_named(coco_ann) -> None:
    assert evaluate(coco_ann, [])["segm_AP"] == 0.0
    with pytest.raises(ValueError, match="absent from the ground truth"):
        evaluate(coco_ann, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(ValueError, match="segmentation"):
        evaluate(coco_ann, [{"image_id": 397133, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])
    with pytest.raises(ValueError, match="labels must index"):
        instances_to_coco(1, torch.zeros(1, 4), [1.0], [5], [1, 2])
    with pytest.raises(ValueError, match="masks must be"):
        instances_to_coco(1, torch.zeros(2, 4), [1.0, 1.0], [0, 0], [1], np.zeros((1, 4, 4)))


def test_command_line(coco_ann, tmp_path, capsys) -> None:
    ann, res = tmp_path / "ann.json", tmp_path / "res.json"
    ann.write_text(json.dumps(coco_ann))
    res.write_text(json.dumps(_gt_as_results(coco_ann)))
    main(["--ann", str(ann), "--results", str(res)])
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("bbox") and "100.0" in out
