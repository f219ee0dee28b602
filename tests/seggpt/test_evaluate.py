"""Few-shot mIoU: the episode protocol, the metric, and an end-to-end run of a tiny random SegGPT on shared data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import vision
from seggpt.data import discover_pairs, load_mask, load_rgb
from seggpt.evaluate import (
    FewShotEpisodes,
    FewShotSegEvaluator,
    IoUAccumulator,
    episodes,
    evaluate_folder,
    mask_from_painting,
)
from vision.engine.dist import DistContext
from vision.engine.evaluation import EvalContext


@pytest.fixture(scope="module")
def pairs(data_dir):
    found = discover_pairs(data_dir / "seggpt", image_dirs=[data_dir / "coco/val2017"])
    return {k: v[:3] for k, v in found.items()}  # 4 classes x 3 pairs keeps the model run short


def test_episodes_use_every_pair_once_as_query(pairs):
    one = episodes(pairs, shots=1)
    assert len(one) == 12
    for cls, query, prompts in episodes(pairs, shots=2):
        assert len(prompts) == 2 and query not in prompts
        assert all(p in pairs[cls] for p in prompts)
    with pytest.raises(ValueError, match="3-shot episodes need at least 4"):
        episodes(pairs, shots=3)
    with pytest.raises(ValueError, match="shots must be at least 1"):
        episodes(pairs, shots=0)


def test_iou_accumulator_sums_over_episodes():
    acc = IoUAccumulator(["a", "b"])
    gt = np.zeros((4, 4), bool)
    gt[:2] = True  # 8 pixels
    acc.add("a", gt, gt)
    pred = np.zeros((4, 4), bool)
    pred[:1] = True  # 4 of 8
    acc.add("b", pred, gt)
    acc.add("b", gt, gt)
    out = acc.compute()
    assert out["iou/a"] == 100.0
    assert out["iou/b"] == pytest.approx(100 * (4 + 8) / (8 + 8))
    assert out["miou"] == pytest.approx((100 + out["iou/b"]) / 2)
    with pytest.raises(ValueError, match="differ in shape"):
        acc.add("a", gt[:2], gt)


def test_evaluate_folder_bounds_with_oracle_and_empty_segmenters(pairs):
    """The metric's two ends on real data: perfect masks score 100, empty masks 0."""
    small = {"cat": pairs["cat"], "hmbb": pairs["hmbb"]}  # small images: fast to read
    truth = {}
    for items in small.values():
        for image, mask in items:
            truth[load_rgb(image).tobytes()] = load_mask(mask)

    def oracle(query, prompts):
        assert len(prompts) == 1
        return truth[query.tobytes()]

    assert evaluate_folder(oracle, small)["miou"] == pytest.approx(100.0)
    empty = evaluate_folder(lambda q, p: np.zeros(q.shape[:2], bool), small)
    assert empty == {"miou": 0.0, "iou/cat": 0.0, "iou/hmbb": 0.0}


def test_mask_from_painting_thresholds_grey_at_query_size():
    white = torch.ones(3, 4, 4)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    painted = ((white * 0).sub(mean[:, None, None]) / std[:, None, None]).clone()  # black
    painted[:, :2] = ((1 - mean) / std)[:, None, None]  # top half white
    mask = mask_from_painting(painted, (8, 6))
    assert mask.shape == (8, 6) and mask[:3].all() and not mask[5:].any()


def test_tiny_random_seggpt_end_to_end(pairs):
    """The engine evaluator runs a random test-size SegGPT on shared folders: the pipeline, not the accuracy."""
    torch.manual_seed(0)
    model = vision.create_model("seggpt_vit_test_patch16_input128x64").eval()
    ctx = EvalContext(DistContext())
    for shots, classes in ((1, ("cat", "hmbb")), (2, ("hmbb",))):
        ds = FewShotEpisodes({c: pairs[c] for c in classes}, shots=shots, image_size=64)
        sample = ds[0]
        assert sample["imgs"].shape == sample["tgts"].shape == (shots, 3, 128, 64)
        with torch.no_grad():
            out = FewShotSegEvaluator()(model, DataLoader(ds, batch_size=1), ctx)
        assert set(out) == {"miou", *(f"iou/{c}" for c in classes)}
        assert all(0.0 <= v <= 100.0 for v in out.values())
    # the first two COCO cats share a size, so a batch of two collates and reaches the evaluator's check
    two = DataLoader(FewShotEpisodes({"cat": pairs["cat"]}, image_size=64), batch_size=2)
    with pytest.raises(ValueError, match="batch_size=1"):
        FewShotSegEvaluator()(model, two, ctx)
