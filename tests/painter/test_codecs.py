"""Round trips and error paths of Painter's seven task codecs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from painter.codecs import (
    ADE20K,
    COCO_PANOPTIC_SEMANTIC,
    CODECS,
    DepthCodec,
    ImageCodec,
    InstanceCodec,
    KeypointCodec,
    PanopticCodec,
    get_codec,
    instance_palette,
    keypoint_palette,
    lattice_palette,
    matrix_nms,
)

RNG = np.random.default_rng(0)


def _noisy(image: np.ndarray, amp: int) -> np.ndarray:
    """The painted image a model would give back: the exact colours plus a little noise."""
    noise = RNG.integers(-amp, amp + 1, size=image.shape)
    return np.clip(image.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def test_seven_tasks_registered():
    assert sorted(CODECS) == sorted(["depth", "semantic", "panoptic", "keypoints", "denoise", "derain", "lowlight"])
    with pytest.raises(KeyError, match="unknown Painter task 'segm'"):
        get_codec("segm")


def test_palettes_are_distinct_and_follow_the_official_lattices():
    for codec, steps in ((ADE20K, 6), (COCO_PANOPTIC_SEMANTIC, 7)):
        pal = codec.palette.astype(int)
        assert len({tuple(c) for c in pal}) == codec.num_classes
        assert tuple(pal[0]) == (255, 255, 255)  # counts down from white
        assert tuple(pal[1]) == (255, 255, 255 - 256 // steps)  # blue varies fastest
        assert (pal > 0).all()  # never black: black means unlabelled
    grid = instance_palette().reshape(-1, 3)
    assert len({tuple(c) for c in grid}) == 80 * 80
    assert len({tuple(c) for c in keypoint_palette(17)}) == 17
    with pytest.raises(ValueError, match="do not fit"):
        lattice_palette(300, 6)


@pytest.mark.parametrize("codec", [ADE20K, COCO_PANOPTIC_SEMANTIC], ids=["ade20k", "coco_panoptic"])
def test_semantic_round_trip_with_noise(codec):
    label = RNG.integers(0, codec.num_classes + 1, size=(40, 50))
    label[:2, :] = np.arange(50) % (codec.num_classes + 1)
    image = codec.encode(label)
    assert image.shape == (40, 50, 3) and image.dtype == np.uint8
    assert (image[label == 0] == 0).all()
    np.testing.assert_array_equal(codec.decode(image), label)
    # half the lattice step of noise never crosses to a neighbouring class
    np.testing.assert_array_equal(codec.decode(_noisy(image, 256 // codec.steps // 6)), label)
    # the official evaluator's view: only class colours on offer
    fg = label > 0
    np.testing.assert_array_equal(codec.decode(image, with_background=False)[fg], label[fg])


def test_semantic_bad_labels():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 150\]"):
        ADE20K.encode(np.full((4, 4), 151))
    with pytest.raises(ValueError, match="integer label map"):
        ADE20K.encode(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W\) label map"):
        ADE20K.encode(np.zeros((4, 4, 3), np.int64))
    with pytest.raises(ValueError, match=r"RGB image of shape \(H, W, 3\)"):
        ADE20K.decode(np.zeros((4, 4), np.uint8))


def test_depth_round_trip_on_nyuv2(data_dir):
    depth_mm = np.array(Image.open(data_dir / "painter/depth/nyud2_depth.png")).astype(np.float64)
    codec = DepthCodec()
    image = codec.encode(depth_mm)
    assert image.shape == (*depth_mm.shape, 3) and (image[..., 0] == image[..., 2]).all()
    metres = codec.decode(image)
    # 8-bit grey quantises 10 m into 255 levels: error at most half a level, 19.6 mm
    assert np.abs(metres - depth_mm / 1000).max() <= 10.0 / 255 / 2 + 1e-6
    assert np.abs(metres - depth_mm / 1000).mean() < 0.012
    with pytest.raises(ValueError, match="non-negative"):
        codec.encode(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="millimetres"):
        codec.encode(np.ones((2, 2, 3)))


@pytest.mark.parametrize("task", ["denoise", "derain", "lowlight"])
def test_low_level_round_trip(task):
    from skimage import data as skdata

    image = skdata.astronaut()[::4, ::4]
    codec = get_codec(task)
    assert isinstance(codec, ImageCodec)
    np.testing.assert_array_equal(codec.decode(codec.encode(image)), image)
    # a painted float image is rounded and clipped into uint8
    painted = image.astype(np.float32) + 0.4
    painted[0, 0] = 300.0
    out = codec.decode(painted)
    assert out.dtype == np.uint8 and out[0, 0, 0] == 255
    np.testing.assert_array_equal(out[1:], image[1:])


def _instance_masks(h: int = 64, w: int = 96) -> np.ndarray:
    masks = np.zeros((3, h, w), bool)
    masks[0, 5:20, 5:30] = True
    masks[1, 30:60, 10:40] = True
    masks[2, 10:50, 60:90] = True
    return masks


def test_instance_round_trip_recovers_each_instance():
    masks = _instance_masks()
    codec = InstanceCodec()
    image = codec.encode(masks)
    assert (image[~masks.any(0)] == 0).all()
    for noisy in (image, _noisy(image, 3)):
        out, scores = codec.decode(noisy)
        assert (np.diff(scores) <= 1e-6).all()  # best first
        top = out[: len(masks)]
        # the exact colours score highest; neighbouring grid colours come back as decayed duplicates
        matched = sorted(int(np.argmax([(t & m).sum() / (t | m).sum() for m in masks])) for t in top)
        assert matched == [0, 1, 2]
        for t in top:
            iou = max((t & m).sum() / (t | m).sum() for m in masks)
            assert iou == 1.0
        assert not out.any(0)[~masks.any(0)].any()  # black background joins nothing


def test_instance_decode_of_black_is_empty_and_bad_input():
    out, scores = InstanceCodec().decode(np.zeros((8, 8, 3), np.uint8))
    assert out.shape == (0, 8, 8) and scores.shape == (0,)
    with pytest.raises(ValueError, match="instance 1 has an empty mask"):
        InstanceCodec().encode(np.stack([np.ones((4, 4), bool), np.zeros((4, 4), bool)]))
    with pytest.raises(ValueError, match=r"\(N, H, W\) instance masks"):
        InstanceCodec().encode(np.ones((4, 4), bool))


def test_matrix_nms_decays_duplicates_but_not_disjoint_masks():
    a = torch.zeros(3, 10, 10, dtype=torch.bool)
    a[0, :5] = True
    a[1, :5] = True  # duplicate of 0
    a[2, 5:] = True  # disjoint
    keep, scores = matrix_nms(a, torch.tensor([0.9, 0.8, 0.7]), sigma=2.0)
    assert keep.tolist() == [0, 2, 1]
    assert scores[0] == pytest.approx(0.9) and scores[1] == pytest.approx(0.7)
    assert scores[2] == pytest.approx(0.8 * np.exp(-2.0))
    keep, _ = matrix_nms(a, torch.tensor([0.9, 0.8, 0.7]), max_num=1)
    assert keep.tolist() == [0]


def test_panoptic_round_trip():
    masks = _instance_masks()
    category = np.full(masks.shape[1:], 100)  # stuff everywhere ...
    category[:, :48][(category[:, :48] == 100)] = 120  # ... two stuff classes
    thing_cats = [1, 18, 18]  # person, two dogs
    for m, c in zip(masks, thing_cats):
        category[m] = c
    codec = PanopticCodec()
    sem, inst = codec.encode((category, masks))
    seg, segments = codec.decode((_noisy(sem, 3), _noisy(inst, 3)))
    things = [s for s in segments if s["isthing"]]
    stuff = [s for s in segments if not s["isthing"]]
    assert sorted(s["category"] for s in things) == sorted(thing_cats)
    assert sorted(s["category"] for s in stuff) == [100, 120]
    for s in things:  # every thing segment is exactly one of the encoded instances
        region = seg == s["id"]
        assert any((region == m).all() for m in masks)
    for s in stuff:
        np.testing.assert_array_equal(seg == s["id"], (category == s["category"]) & ~masks.any(0))


def test_keypoint_round_trip():
    codec = KeypointCodec(sigma=2.0)
    joints = np.zeros((17, 3))
    joints[:, 0] = np.linspace(8, 180, 17).round()
    joints[:, 1] = np.linspace(10, 240, 17).round()
    joints[:, 2] = 1
    joints[5, 2] = 0  # not visible
    joints[6, :2] = joints[7, :2] + [3, 2]  # overlapping heatmaps
    image = codec.encode((joints, (256, 192)))
    assert image.shape == (256, 192, 3)
    out = codec.decode(_noisy(image, 2))
    vis = joints[:, 2] > 0
    np.testing.assert_allclose(out[vis, :2], joints[vis, :2], atol=1)
    assert (out[vis, 2] > 0.95).all()
    assert out[5, 2] < 0.05  # the invisible joint has no peak
    with pytest.raises(ValueError, match=r"joints of shape \(17, 3\)"):
        codec.encode((joints[:3], (256, 192)))


def test_instance_decode_of_a_large_painting_works_on_a_shrunk_copy():
    h, w = 480, 640  # above work_size: candidates and NMS run on a nearest-shrunk copy, masks come back full size
    masks = np.zeros((2, h, w), bool)
    masks[0, 40:200, 40:300] = True
    masks[1, 250:460, 350:620] = True
    codec = InstanceCodec()
    out, scores = codec.decode(_noisy(codec.encode(masks), 3))
    assert out.shape[1:] == (h, w)
    for t in out[:2]:
        assert max((t & m).sum() / (t | m).sum() for m in masks) > 0.98  # only edge pixels may move
