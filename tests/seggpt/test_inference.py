"""SegGPT.segment: binary and palette (multi-class) prompting, batching through the ensemble, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import vision
from seggpt.inference import decode_painting, encode_target, palette, prepare_prompts, to_label_map


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = vision.create_model("seggpt_vit_test_patch16_input128x64").eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


def pair(h: int = 40, w: int = 56, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : h // 2, w // 3 : w // 2] = 255
    return image, mask


def test_binary_result_is_at_the_query_size(model):
    query = np.random.default_rng(5).integers(0, 256, (37, 81, 3), dtype=np.uint8)
    result = model.segment(query, [pair()])
    assert result.mask.shape == (37, 81) and result.mask.dtype == bool
    assert result.painting.shape == result.overlay.shape == (37, 81, 3)
    assert result.painting.dtype == result.overlay.dtype == np.uint8
    # the overlay leaves background pixels untouched
    assert np.array_equal(result.overlay[~result.mask], query[~result.mask])


def test_prompts_run_as_one_batch_and_ensemble(model):
    calls = []
    handle = model.patch_embed.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    query = pair(seed=9)[0]
    try:
        single = model.segment(query, [pair()])
        calls.clear()
        repeated = model.segment(query, [pair()] * 3)
    finally:
        handle.remove()
    assert calls == [3, 3]  # one forward pass: image and target canvases of all 3 prompts at once
    assert np.array_equal(single.mask, repeated.mask)  # identical prompts average to the single-prompt answer
    assert np.abs(single.painting.astype(int) - repeated.painting.astype(int)).max() <= 1


def test_semantic_mode_returns_class_indices(model):
    image, _ = pair()
    labels = np.zeros(image.shape[:2], np.int64)
    labels[:10, :10], labels[20:, 30:] = 1, 3
    result = model.segment(pair(seed=2)[0], [(image, labels)], mode="semantic")
    assert result.mask.dtype == np.int64 and result.mask.shape == (40, 56)
    assert set(np.unique(result.mask)) <= {0, 1, 2, 3}
    prepared = prepare_prompts([(image, labels)], 64, "semantic")
    assert prepared.classes == [1, 3]


def test_palette_round_trip_survives_noise():
    colours = palette(12)
    assert len({tuple(c) for c in colours}) == 13 and tuple(colours[0]) == (0, 0, 0)
    labels = np.random.default_rng(0).integers(0, 13, (16, 16))
    painted = torch.from_numpy(encode_target(labels, "semantic", 12)).float()
    noisy = (painted + torch.empty_like(painted).uniform_(-25, 25)).clamp(0, 255)
    assert np.array_equal(decode_painting(noisy, "semantic", 12).numpy(), labels)
    with pytest.raises(ValueError, match="palette"):
        palette(500)


def test_binary_masks_in_every_usual_encoding(tmp_path):
    _, grey = pair()
    expected = (grey > 0).astype(np.int64)
    Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    for mask in (grey, grey > 0, (grey > 0).astype(np.uint8), np.stack([grey] * 3, -1), tmp_path / "p.png"):
        assert np.array_equal(to_label_map(mask, "binary"), expected)


@pytest.mark.parametrize(
    ("prompts", "match"),
    [
        ([], "at least one"),
        ([(np.zeros((40, 56, 3), np.uint8), np.zeros((20, 28), np.uint8))], "same size"),
        ([(np.zeros((40, 56, 3), np.uint8), np.zeros((40, 56), np.uint8))], "empty"),
    ],
)
def test_bad_prompts_get_clear_errors(model, prompts, match):
    with pytest.raises(ValueError, match=match):
        model.segment(pair()[0], prompts)


def test_non_image_upload_and_bad_mode(model, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        model.segment(junk, [pair()])
    with pytest.raises(ValueError, match="mode"):
        model.segment(pair()[0], [pair()], mode="panoptic")
    with pytest.raises(ValueError, match="class-index map"):
        model.segment(pair()[0], [(pair()[0], pair()[0])], mode="semantic")


def test_real_pair_end_to_end(model, data_dir):
    folder = data_dir / "seggpt" / "hmbb"
    result = model.segment(folder / "hmbb_2.jpg", [(folder / "hmbb_1.jpg", folder / "hmbb_1_target.png")])
    with Image.open(folder / "hmbb_2.jpg") as im:
        assert result.mask.shape == (im.height, im.width)
