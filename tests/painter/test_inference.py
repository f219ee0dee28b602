"""Painter inference: every task runs end to end on a tiny random Painter and decodes at the query's size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import vision
from painter.inference import TASKS, paint, run_task


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return vision.create_model("painter_vit_test_patch16_input128x64").eval()


@pytest.fixture(scope="module")
def nyu(data_dir):
    rgb = np.array(Image.open(data_dir / "painter/depth/nyud2_rgb.png").convert("RGB"))[::8, ::8]
    depth = np.array(Image.open(data_dir / "painter/depth/nyud2_depth.png")).astype(np.float64)[::8, ::8]
    return np.ascontiguousarray(rgb), np.ascontiguousarray(depth)


def test_paint_is_deterministic_and_sized_like_the_query(model, nyu):
    rgb, depth = nyu
    query = np.ascontiguousarray(rgb[:40, :45])
    a = paint(model, query, rgb, rgb)
    assert a.shape == (40, 45, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, paint(model, query, rgb, rgb))
    with pytest.raises(ValueError, match="must be the same size"):
        paint(model, query, rgb, rgb[:30])
    with pytest.raises(ValueError, match="not a readable image"):
        paint(model, "/nonexistent.png", rgb, rgb)


def test_every_task_decodes(model, nyu):
    rgb, depth = nyu
    h, w = rgb.shape[:2]
    labels = np.zeros((h, w), np.int64)
    labels[10:30, 20:50] = 7
    masks = np.zeros((2, h, w), bool)
    masks[0, 5:25, 5:25] = True
    masks[1, 30:50, 35:65] = True
    category = np.where(masks[0], 1, np.where(masks[1], 18, 100))
    joints = np.stack([np.linspace(10, w - 10, 17), np.full(17, h / 2), np.ones(17)], axis=1)
    prompts = {
        "depth": depth,
        "semantic": labels,
        "panoptic": (category, masks),
        "keypoints": (joints, (h, w)),
        "denoise": rgb,
        "derain": rgb,
        "lowlight": rgb,
    }
    assert set(prompts) == set(TASKS)
    for task, label in prompts.items():
        result = run_task(model, task, rgb, rgb, label)
        if task == "depth":
            assert result.output.shape == (h, w) and 0 <= result.output.min() and result.output.max() <= 10
        elif task == "semantic":
            assert result.output.shape == (h, w) and result.output.max() <= 150
        elif task == "panoptic":
            seg, segments = result.output
            assert seg.shape == (h, w) and all(s["id"] in np.unique(seg) for s in segments)
        elif task == "keypoints":
            assert result.output.shape == (17, 3)
        else:
            assert result.output.shape == (h, w, 3)
    with pytest.raises(KeyError, match="unknown Painter task"):
        run_task(model, "edges", rgb, rgb, rgb)
