"""Image folder / file list datasets, the robust loader, transforms, digits and the deterministic sampler."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from vision.data import (
    CorruptImageError,
    CorruptImageWarning,
    DigitsDataset,
    EpochSampler,
    FileListDataset,
    ImageFolderDataset,
    SeededDataset,
    build_transform,
)


@pytest.fixture
def folder(tmp_path):
    """Two classes of small real PNGs (random pixels), plus one truncated file in class 'b'."""
    rng = np.random.default_rng(0)
    for cls, n in (("a", 2), ("b", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    good = (tmp_path / "b" / "0.png").read_bytes()
    (tmp_path / "b" / "1.png").write_bytes(good[: len(good) // 2])  # truncated
    return tmp_path


def test_image_folder_labels_and_order(folder):
    ds = ImageFolderDataset(folder, on_error="skip")
    assert ds.classes == ["a", "b"] and len(ds) == 5
    assert [label for _, label in ds.samples] == [0, 0, 1, 1, 1]
    img, label = ds[0]
    assert isinstance(img, Image.Image) and img.size == (10, 12) and img.mode == "RGB" and label == 0


def test_corrupt_image_raises_with_its_path(folder):
    ds = ImageFolderDataset(folder, on_error="raise")
    with pytest.raises(CorruptImageError, match=r"cannot read image .*b/1\.png"):
        ds[3]


def test_corrupt_image_skipped_with_a_warning(folder):
    ds = ImageFolderDataset(folder, on_error="skip")
    with pytest.warns(CorruptImageWarning, match=r"skipping unreadable image .*b/1\.png"):
        img, label = ds[3]
    expected = Image.open(folder / "b" / "2.png").convert("RGB")
    assert label == 1 and np.array_equal(np.asarray(img), np.asarray(expected))  # the next readable sample
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds[3]  # known-bad index: no second warning, no second decode attempt


def test_bad_on_error_and_missing_paths(folder, tmp_path):
    with pytest.raises(ValueError, match="on_error must be one of"):
        ImageFolderDataset(folder, on_error="ignore")
    with pytest.raises(FileNotFoundError, match="image folder root does not exist.*nope"):
        ImageFolderDataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="file list does not exist"):
        FileListDataset(tmp_path / "list.txt")


def test_file_list(folder):
    lst = folder / "list.txt"
    lst.write_text("# path label\na/0.png 4\n\nb/2.png 7\n")
    ds = FileListDataset(lst, transform=lambda im: im.size)
    assert len(ds) == 2 and ds[1] == ((10, 12), 7)
    lst.write_text("a/0.png four\n")
    with pytest.raises(ValueError, match=r"list\.txt:1: expected 'path label'"):
        FileListDataset(lst)


def test_transforms_train_and_eval(folder):
    img = Image.open(folder / "a" / "0.png").convert("RGB")
    assert build_transform(16, is_training=False)(img).shape == (3, 16, 16)
    train = build_transform(16, is_training=True, auto_augment="rand-m9-mstd0.5", re_prob=0.25)
    assert train(img).shape == (3, 16, 16)
    with pytest.raises(ValueError, match="re_prob must be in"):
        build_transform(16, re_prob=2.0)


def test_transform_mean_std_from_the_model_pretrained_config():
    import vision.registry as registry

    name = next(iter(registry.list_pretrained("eva02_base*")))
    cfg = registry.get_pretrained_cfg(name)
    norm = build_transform(16, model_name=name).transforms[-1]
    assert tuple(norm.mean.tolist()) == pytest.approx(cfg.mean) and tuple(norm.std.tolist()) == pytest.approx(cfg.std)


def test_digits_split():
    train, val = DigitsDataset("train", img_size=16), DigitsDataset("val", img_size=16)
    assert len(train) + len(val) == 1797 and len(val) == 360
    assert torch.bincount(val.targets).min() >= 34  # stratified: every class held out
    img, label = train[0]
    assert img.shape == (1, 16, 16) and -1.0 <= img.min() and img.max() <= 1.0 and 0 <= label <= 9
    assert DigitsDataset("val", img_size=8, in_chans=3)[0][0].shape == (3, 8, 8)
    assert not any(torch.equal(val.images[0], t) for t in train.images)  # disjoint splits
    with pytest.raises(ValueError, match="split must be one of"):
        DigitsDataset("test")


def test_sampler_shards_cover_the_epoch_and_mark_padding():
    shards = [list(EpochSampler(10, 3, r, shuffle=True, seed=1)) for r in range(3)]
    assert all(len(s) == 4 for s in shards)
    merged = [shards[r][j] for j in range(4) for r in range(3)]  # global order of the padded epoch
    assert sorted(merged[:10]) == list(range(10)) and merged[10:] == merged[:2]
    assert EpochSampler(10, 3, 1).valid_mask(0, 4).tolist() == [True, True, True, False]
    resumed = EpochSampler(10, 3, 0, seed=1)
    resumed.set_epoch(0, start=2)
    assert list(resumed) == shards[0][2:] and len(resumed) == 2
    other = EpochSampler(10, 3, 0, seed=1)
    other.set_epoch(1)
    assert list(other) != shards[0]


def test_seeded_dataset_augments_by_index_and_restores_global_rng():
    ds = SeededDataset(DigitsDataset("val", img_size=16, augment=True), seed=3)
    torch.manual_seed(0)
    random.seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = ds[5]
    assert torch.equal(torch.rand(1), expected_next)  # the global stream is untouched
    ds[7]
    assert torch.equal(ds[5][0], a[0])  # same sample, same augmentation, whatever came before
    ds.epoch = 1
    assert not torch.equal(ds[5][0], a[0])


def test_worker_processes_augment_exactly_like_the_main_process():
    from torch.utils.data import DataLoader

    ds = SeededDataset(DigitsDataset("val", img_size=8, augment=True), seed=5)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(ds, batch_size=40, sampler=EpochSampler(len(ds), seed=5), num_workers=workers)
        return [images for images, _ in loader]

    for a, b in zip(batches(0), batches(2), strict=True):
        assert torch.equal(a, b)
