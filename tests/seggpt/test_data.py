"""SegGPT's in-context training data: pair discovery, random colouring, mix-context and masking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seggpt.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CocoSource,
    FolderSource,
    InContextSegDataset,
    discover_pairs,
    load_mask,
    random_colors,
)
from tests.training import fixed_batch_losses
from vision.data.image_loader import CorruptImageError
from vision.data.sampler import SeededDataset


def _to_uint8(canvas: torch.Tensor) -> np.ndarray:
    """(3, H, W) normalised -> (H, W, 3) uint8, undoing the dataset's normalisation."""
    x = canvas.numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def _colors(image: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(c) for c in image.reshape(-1, 3)}


@pytest.fixture()
def toy_pairs(tmp_path: Path) -> dict[str, list[tuple[Path, Path]]]:
    """Two classes x three pairs; each image is one flat colour (so tiles are recognisable), masks are boxes."""
    rng = np.random.default_rng(0)
    for cls in ("ball", "box"):
        for i in range(3):
            image = np.full((40, 48, 3), rng.integers(0, 256, size=3), np.uint8)
            Image.fromarray(image).save(tmp_path / f"{cls}_{i:02d}.jpg", quality=100)
            mask = np.zeros((40, 48), np.uint8)
            mask[5 + i : 30, 10 : 40 - i] = 255
            Image.fromarray(mask).save(tmp_path / f"{cls}_{i:02d}.png")
    return discover_pairs(tmp_path)


def test_discover_pairs_on_the_shared_layouts(data_dir):
    pairs = discover_pairs(data_dir / "seggpt", image_dirs=[data_dir / "coco/val2017"])
    assert sorted(pairs) == ["cat", "colorful_sneaker", "duck_toy", "hmbb"]
    assert len(pairs["cat"]) == 6  # 3 PerSeg + 3 COCO-derived
    assert [m.name for _, m in pairs["hmbb"]] == ["hmbb_1_target.png", "hmbb_2_target.png", "hmbb_3_target.png"]
    for image, mask in pairs["cat"]:
        assert image.is_file() and mask.is_file()
    with pytest.raises(FileNotFoundError, match="no image for mask .*_cat_mask.png"):
        discover_pairs(data_dir / "seggpt/coco_cat")


def test_discover_pairs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_pairs(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no \\(image, mask\\) pairs"):
        discover_pairs(tmp_path)


def test_load_mask_binarises_palette_and_antialiased_masks(data_dir, tmp_path):
    palette = load_mask(data_dir / "seggpt/perseg/cat_00.png")
    assert palette.dtype == bool and 0 < palette.mean() < 1
    rgb = load_mask(data_dir / "seggpt/hmbb/hmbb_1_target.png")
    raw = np.asarray(Image.open(data_dir / "seggpt/hmbb/hmbb_1_target.png").convert("L"))
    np.testing.assert_array_equal(rgb, raw > 127)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(CorruptImageError, match="notes.png"):
        load_mask(bad)


def test_random_colors_are_distinct_and_not_black():
    colors = random_colors(12, np.random.default_rng(1)).astype(int)
    assert colors.shape == (12, 3)
    assert (colors.sum(1) >= 48).all()
    d = np.abs(colors[:, None] - colors[None]).sum(-1) + np.eye(12, dtype=int) * 999
    assert d.min() >= 48


def test_random_colouring_is_shared_by_prompt_and_query_and_changes_per_sample(toy_pairs):
    ds = InContextSegDataset([FolderSource(pairs=toy_pairs)], image_size=32, patch_size=16, half_mask_prob=1.0)
    seen = set()
    for i in range(6):
        np.random.seed(i)
        sample = ds[i]
        assert sample["imgs"].shape == sample["tgts"].shape == (3, 64, 32)
        tgt = _to_uint8(sample["tgts"])
        prompt, query = _colors(tgt[:32]), _colors(tgt[32:])
        assert (0, 0, 0) in prompt | query
        fg = (prompt | query) - {(0, 0, 0)}
        assert len(fg) == 1  # one class, one colour, the same in both halves
        seen |= fg
        assert sample["seg_type"].item() == 0
    assert len(seen) >= 5  # a new colour for (almost) every sample


def test_masking_modes(toy_pairs):
    half = InContextSegDataset([FolderSource(pairs=toy_pairs)], image_size=32, half_mask_prob=1.0)[0]["bool_masked_pos"]
    assert half.shape == (8,) and half.tolist() == [False] * 4 + [True] * 4  # the query half, row-major
    ds = InContextSegDataset([FolderSource(pairs=toy_pairs)], image_size=64, half_mask_prob=0.0, mask_ratio=0.25)
    masks = torch.stack([ds.patch_mask(np.random.default_rng(i)) for i in range(4)])
    assert (masks.sum(1) == 8).all()  # 25 % of 32 patches
    assert not (masks == masks[0]).all()  # random positions


def test_mix_context_tiles_several_pairs_per_half(toy_pairs):
    ds = InContextSegDataset(
        [FolderSource(pairs=toy_pairs)], image_size=32, mix_prob=1.0, mix_tiles=2, scale=(0.99, 1.0), flip=False
    )
    np.random.seed(3)
    img = _to_uint8(ds[0]["imgs"])
    # each toy image is one flat colour: the four tiles show four different images of one class
    tiles = [img[:32, :16], img[:32, 16:], img[32:, :16], img[32:, 16:]]
    means = [tuple(t.reshape(-1, 3).mean(0).round()) for t in tiles]
    assert len(set(means)) >= 3  # three images per class: prompt tiles and query tiles reuse at most one
    tgt = _to_uint8(ds[0]["tgts"])
    assert len(_colors(tgt) - {(0, 0, 0)}) == 1


def test_coco_instance_and_semantic_context(data_dir):
    ann = data_dir / "coco/annotations/instances_val2017.json"
    inst = CocoSource(ann, data_dir / "coco/val2017", mode="instance")
    ds = InContextSegDataset([inst], image_size=64, scale=(0.99, 1.0), half_mask_prob=1.0)
    np.random.seed(0)
    sample = ds[0]
    assert sample["seg_type"].item() == 1
    tgt = _to_uint8(sample["tgts"])
    colours = _colors(tgt) - {(0, 0, 0)}
    assert len(colours) >= 2  # several instances, one colour each
    sem = CocoSource(ann, data_dir / "coco/val2017", mode="semantic")
    examples, num_ids = sem.draw(np.random.default_rng(0), 2)
    assert num_ids >= 1 and all(e.label.max() <= num_ids for e in examples)
    assert all(e.label.max() > 0 for e in examples)  # the shared category appears in both
    with pytest.raises(ValueError, match="mode must be"):
        CocoSource(ann, data_dir / "coco/val2017", mode="panoptic")


def test_seeded_samples_are_reproducible(toy_pairs):
    ds = SeededDataset(InContextSegDataset([FolderSource(pairs=toy_pairs)], image_size=32), seed=7)
    a, b = ds[2], ds[2]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(ds[3]["tgts"], a["tgts"])


def test_bad_configuration_and_data(toy_pairs, tmp_path):
    src = FolderSource(pairs=toy_pairs)
    with pytest.raises(ValueError, match="multiple of patch_size 16"):
        InContextSegDataset([src], image_size=40)
    with pytest.raises(ValueError, match="one non-negative weight per source"):
        InContextSegDataset([src], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="mix_tiles=3"):
        InContextSegDataset([src], image_size=32, mix_tiles=3)
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "odd_00.jpg")
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(tmp_path / "odd_00.png")
    bad = FolderSource(pairs={"odd": [(tmp_path / "odd_00.jpg", tmp_path / "odd_00.png")]})
    with pytest.raises(ValueError, match="differ"):
        bad.draw(np.random.default_rng(0), 2)


def _first_and_last(losses: list[float], n: int) -> tuple[float, float]:
    return float(np.mean(losses[:n])), float(np.mean(losses[-n:]))


def test_smoke_config_model_fits_a_fixed_batch(data_dir):
    """Minimal loop on the smoke config's model and data: a fixed batch of canvases is learnt (loss falls)."""
    losses = fixed_batch_losses("configs/seggpt/seggpt_tiny_smoke.py")
    first, last = _first_and_last(losses, 3)
    assert last < 0.75 * first


@pytest.mark.slow
def test_smoke_config_trains_through_the_engine(data_dir, tmp_path):
    """The real thing: tools/train.py's Trainer on the smoke config; the logged loss falls over 120 steps."""
    import json

    from vision.config import load_config
    from vision.engine import Trainer

    Trainer(load_config("configs/seggpt/seggpt_tiny_smoke.py"), work_dir=tmp_path).fit()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if r.get("kind") == "train"]
    first, last = _first_and_last(losses, 3)
    assert last < 0.8 * first
