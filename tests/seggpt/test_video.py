"""Video object segmentation: PyAV frames, first-frame mask propagation with fed-back context, video writing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vision
from seggpt.video import propagate, read_frames, segment_video


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = vision.create_model("seggpt_vit_test_patch16_input128x64").eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def clip(n: int = 4, h: int = 48, w: int = 40) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    mask = np.zeros((h, w), np.uint8)
    mask[10:30, 8:20] = 255
    return frames, mask


def test_context_frames_are_fed_back_as_prompts(model):
    frames, mask = clip(5)
    batches = []
    handle = model.patch_embed.register_forward_hook(lambda m, a, o: batches.append(a[0].shape[0]))
    try:
        results = list(propagate(model, frames, mask, num_context=2))
    finally:
        handle.remove()
    assert len(results) == 5 and all(r.mask.shape == (48, 40) for r in results)
    assert np.array_equal(results[0].mask, mask > 0)  # the prompt frame keeps its given mask
    assert batches[::2] == [1, 2, 3, 3]  # first frame + up to two previous frames, one batch per frame


def test_without_context_every_frame_is_one_shot_from_the_first(model):
    frames, mask = clip(3)
    results = list(propagate(model, frames[1:], mask, first_frame=frames[0]))
    assert len(results) == 2
    for frame, result in zip(frames[1:], results):
        assert np.array_equal(result.mask, model.segment(frame, [(frames[0], mask)]).mask)


def test_bad_first_mask(model):
    frames, mask = clip(2)
    with pytest.raises(ValueError, match="same size"):
        list(propagate(model, frames, mask[:20]))
    with pytest.raises(ValueError, match="empty"):
        list(propagate(model, frames, np.zeros_like(mask)))


def test_real_clip_round_trip(model, data_dir, tmp_path):
    folder = data_dir / "video" / "seggpt"
    frames = list(read_frames(folder / "video_1.mp4", max_frames=3))
    assert len(frames) == 3 and frames[0].shape == (512, 512, 3) and frames[0].dtype == np.uint8
    out = tmp_path / "overlay.mp4"
    target = folder / "video_1_target.png"
    masks = segment_video(model, folder / "video_1.mp4", target, out, num_context=1, max_frames=3)
    assert len(masks) == 3 and masks[0].shape == (512, 512)
    assert len(list(read_frames(out))) == 3
    with pytest.raises(FileNotFoundError, match="video not found"):
        next(read_frames(tmp_path / "missing.mp4"))


def test_non_video_file_is_named(tmp_path):
    junk = tmp_path / "clip.mp4"
    junk.write_text("not a video")
    with pytest.raises(ValueError, match="not a readable video"):
        next(read_frames(junk))
