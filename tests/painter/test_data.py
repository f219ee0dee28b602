"""Painter's pair data: discovery, JSON lists, task mixing, block masking and canvas samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from painter.codecs import ADE20K, DepthCodec
from painter.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OFFICIAL_TASK_WEIGHTS,
    PainterPairDataset,
    discover_painter_pairs,
    load_pair_json,
    sample_weights,
)
from tests.training import fixed_batch_losses


def _to_uint8(canvas: torch.Tensor) -> np.ndarray:
    x = canvas.numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def test_discover_shared_layout(data_dir):
    pairs = discover_painter_pairs(data_dir / "painter")
    kinds = [p["type"] for p in pairs]
    assert kinds.count("nyuv2_image2depth") == 1
    assert kinds.count("sidd_image2denoise") == 3
    assert kinds.count("lol_image2enhance") == 1
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_painter_pairs(data_dir / "nope")


def test_load_pair_json(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps([{"image_path": "a.jpg", "target_path": "a.png", "type": "x"}]))
    recs = load_pair_json(tmp_path / "list.json")
    assert recs[0]["image_path"] == str(tmp_path / "a.jpg") and recs[0]["type"] == "x"
    (tmp_path / "bad.json").write_text(json.dumps([{"image_path": "a.jpg"}]))
    with pytest.raises(ValueError, match=r"record 0 lacks \['target_path', 'type'\]"):
        load_pair_json(tmp_path / "bad.json")


def test_sample_weights_give_each_task_its_share():
    pairs = [{"type": "sidd_image2denoise"}] * 7 + [{"type": "lol_image2enhance"}] * 2
    w = np.array(sample_weights(pairs, OFFICIAL_TASK_WEIGHTS))
    assert w[:7].sum() == pytest.approx(OFFICIAL_TASK_WEIGHTS["sidd_image2denoise"])
    assert w[7:].sum() == pytest.approx(OFFICIAL_TASK_WEIGHTS["lol_image2enhance"])
    assert sum(OFFICIAL_TASK_WEIGHTS.values()) == pytest.approx(1.15)  # as the official list (not normalised)
    with pytest.raises(ValueError, match="no task weight for \\['mystery'\\]"):
        sample_weights([{"type": "mystery"}], OFFICIAL_TASK_WEIGHTS)


def test_block_masks_use_the_official_generator_sizes():
    """Painter masks 784 of the 56x28 canvas patches in blocks of 16..392, like the official (BEiT) generator."""
    from vision.data.masking import BlockMaskGenerator

    for seed in range(3):
        mask = BlockMaskGenerator((56, 28), 784, min_num_patches=16, max_num_patches=392, seed=seed)().numpy()
        assert mask.shape == (56, 28) and 0.9 * 784 <= mask.sum() <= 784
        _, blobs = ndimage.label(mask)
        assert blobs < 60  # blocks, not scattered patches


def test_depth_canvas_paints_millimetres_and_ignores_missing_depth(data_dir):
    rec = {
        "image_path": str(data_dir / "painter/depth/nyud2_rgb.png"),
        "target_path": str(data_dir / "painter/depth/nyud2_rawdepth.png"),  # 0 = missing Kinect depth
        "type": "nyuv2_image2depth",
    }
    ds = PainterPairDataset([rec], image_size=64, half_mask_ratio=1.0)
    np.random.seed(0)
    s = ds[0]
    assert s["imgs"].shape == s["tgts"].shape == s["valid"].shape == (3, 128, 64)
    assert s["bool_masked_pos"].tolist() == [False] * 16 + [True] * 16
    tgt = _to_uint8(s["tgts"])
    assert (tgt[..., 0] == tgt[..., 1]).all()  # painted grey
    assert tgt.max() <= DepthCodec().encode(np.array([[9625.0]])).max()  # the raw map's maximum, 9625 mm
    black = (tgt == 0).transpose(2, 0, 1)
    assert black.any() and (s["valid"].numpy()[black] == 0).all() and (s["valid"].numpy()[~black] == 1).all()


def test_semantic_targets_keep_palette_colours(tmp_path):
    rng = np.random.default_rng(0)
    label = np.kron(rng.integers(0, 151, size=(6, 8)), np.ones((10, 10), np.int64))  # 60x80 blocky classes
    Image.fromarray(rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)).save(tmp_path / "img.png")
    Image.fromarray(ADE20K.encode(label)).save(tmp_path / "tgt.png")
    rec = {
        "image_path": str(tmp_path / "img.png"),
        "target_path": str(tmp_path / "tgt.png"),
        "type": "ade20k_image2semantic",
    }
    ds = PainterPairDataset([rec], image_size=64, half_mask_ratio=0.0)
    np.random.seed(1)
    s = ds[0]
    tgt = _to_uint8(s["tgts"]).reshape(-1, 3)
    allowed = {tuple(c) for c in ADE20K.palette} | {(0, 0, 0)}
    assert {tuple(c) for c in tgt} <= allowed  # nearest resampling never blends two class colours
    assert s["bool_masked_pos"].sum() == 16  # half of the 8x4 patches of the 128x64 canvas, block-wise


def test_mismatched_pair_is_a_clear_error(tmp_path):
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((24, 20, 3), np.uint8)).save(tmp_path / "b.png")
    rec = {"image_path": str(tmp_path / "a.png"), "target_path": str(tmp_path / "b.png"), "type": "sidd_image2denoise"}
    with pytest.raises(ValueError, match="differ in size"):
        PainterPairDataset([rec], image_size=16)[0]
    with pytest.raises(ValueError, match="multiple of patch_size"):
        PainterPairDataset([rec], image_size=20)


def test_smoke_config_model_fits_a_fixed_batch(data_dir):
    """Minimal loop on the Painter smoke config's model and data: a fixed batch is learnt (loss falls)."""
    losses = fixed_batch_losses("configs/painter/painter_tiny_smoke.py")
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:3])
