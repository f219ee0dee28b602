"""Config errors are caught before any work starts and name the offending key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from engine_helpers import tiny_config, write_config

from vision.config import ConfigError
from vision.engine.validate import resolve_config


def _with(path: str, value, cfg: dict | None = None) -> dict:
    cfg = copy.deepcopy(cfg or tiny_config())
    *parents, leaf = path.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return cfg


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("optimiser", {}, r"^optimiser: unknown key; did you mean 'optimizer'\?"),
        ("train.max_step", 3, r"^train\.max_step: unknown key; did you mean 'max_steps'\?"),
        ("model.type", "vision.VisionTransformr", r"^model\.type: .*did you mean VisionTransformer"),
        ("model.type", "nowhere.Model", r"^model\.type: cannot import"),
        ("val_dataloader.dataset.img_sise", 8, r"^val_dataloader\.dataset\.img_sise: unknown key; did you mean"),
        ("optimizer.betaz", (0.9, 0.99), r"^optimizer\.betaz: unknown key; did you mean 'betas'"),
        ("optimizer.type", "adamx", r"^optimizer\.type: 'adamx' is neither"),
        ("optimizer.lr", 0, r"^optimizer\.lr: expected a number > 0, got 0"),
        ("optimizer.layer_decay", 1.5, r"^optimizer\.layer_decay: expected None or a number in \(0, 1\]"),
        ("train.accum_steps", 0, r"^train\.accum_steps: expected an int >= 1, got 0"),
        ("train.amp", "fp8", r"^train\.amp: expected one of \(None, 'bf16', 'fp16'\)"),
        ("train.max_epochs", 2, r"^train\.max_epochs / train\.max_steps: set exactly one"),
        ("ema", {"decay": 1.5}, r"^ema\.decay: expected a number in \(0, 1\), got 1\.5"),
        ("checkpoint.keep_last", 0, r"^checkpoint\.keep_last: expected an int >= 1"),
        ("dist.strategy", "zero", r"^dist\.strategy: expected one of \('ddp', 'fsdp'\)"),
        ("train_dataloader.batch_size", -2, r"^train_dataloader\.batch_size: expected an int >= 1"),
        ("train_dataloader", None, r"^train_dataloader: missing"),
    ],
)
def test_bad_config_names_the_key(path, value, message):
    with pytest.raises(ConfigError, match=message):
        resolve_config(_with(path, value))


def test_missing_dataset_path_is_named(tmp_path):
    missing = tmp_path / "no_such_folder"
    cfg = _with("val_dataloader.dataset", {"type": "vision.data.ImageFolderDataset", "root": str(missing)})
    with pytest.raises(ConfigError, match=r"^val_dataloader\.dataset\.root: path does not exist: .*no_such_folder"):
        resolve_config(cfg)


def test_defaults_filled_and_helper_variables_allowed():
    spec = resolve_config({**tiny_config(), "_img_size": 8})
    assert spec["train"]["accum_steps"] == 1 and spec["dist"]["strategy"] == "ddp" and spec["ema"] is None
    assert spec["train_dataloader"]["num_workers"] == 0


def test_test_mode_needs_no_training_sections():
    cfg = {k: v for k, v in tiny_config().items() if k not in ("train_dataloader", "train", "optimizer")}
    assert resolve_config(cfg, mode="test")["val_dataloader"]["batch_size"] == 50
    with pytest.raises(ConfigError, match="^test_dataloader: missing"):
        resolve_config({"model": cfg["model"]}, mode="test")


def test_train_tool_reports_error_before_any_work(tmp_path, capsys):
    from tools.train import main

    cfg = write_config(tmp_path / "bad.py", _with("train.grad_clipp", 1.0))
    work_dir = tmp_path / "work"
    assert main([str(cfg), "--work-dir", str(work_dir)]) == 2
    assert "error: train.grad_clipp: unknown key; did you mean 'grad_clip'?" in capsys.readouterr().err
    assert not work_dir.exists()
    good = write_config(tmp_path / "good.py", tiny_config())
    assert main([str(good), "--work-dir", str(work_dir), "--cfg-options", "optimizer.lr=-1"]) == 2
    assert "error: optimizer.lr: expected a number > 0, got -1" in capsys.readouterr().err
    assert not work_dir.exists()


def test_build_errors_are_named():
    from vision.engine import Trainer

    cfg = _with("model.embed_dim", 15)  # not divisible by num_heads=2: the ViT refuses it at build time
    with pytest.raises(ConfigError, match=r"^model: "):
        Trainer(cfg, work_dir="unused")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"train": {"freeze": ["patch_embd"]}}, r"^train\.freeze: no parameter name starts with 'patch_embd'"),
        (
            {
                "model": {"type": "torch.nn.Linear", "in_features": 64, "out_features": 10},
                "optimizer": {"layer_decay": 0.5},
            },
            r"^optimizer\.layer_decay needs model\.layer_id",
        ),
    ],
)
def test_model_dependent_errors_name_the_key(section, message):
    from vision.engine import Trainer

    cfg = tiny_config()
    for key, value in section.items():
        cfg[key] = {**cfg[key], **value} if key != "model" else value
    with pytest.raises(ConfigError, match=message):
        Trainer(cfg, work_dir="unused")


def test_deterministic_flag():
    from vision.engine import Trainer

    before = torch.are_deterministic_algorithms_enabled()
    try:
        Trainer({**tiny_config(), "deterministic": True}, work_dir="unused")
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_threads_setting():
    from vision.engine import Trainer

    before = torch.get_num_threads()
    try:
        Trainer(tiny_config(train=dict(max_steps=8, threads=1)), work_dir="unused")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match=r"^train\.threads: expected an int >= 1, got 0"):
        resolve_config(tiny_config(train=dict(threads=0)))


def test_imagenet_base_builds_a_loader(tmp_path):
    """configs/_base_/datasets/imagenet.py with its roots pointed at a small real folder yields EVA-sized batches."""
    import numpy as np
    from PIL import Image

    from vision.config import load_config
    from vision.engine.build import build_loader
    from vision.engine.dist import DistContext

    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / split / cls / "0.png")
    base = Path(__file__).resolve().parents[3] / "configs" / "_base_" / "datasets" / "imagenet.py"
    cfg_file = tmp_path / "cfg.py"
    cfg_file.write_text(f"_base_ = [{str(base)!r}]\nmodel = dict(type='torch.nn.Identity')\n")
    options = []
    for split in ("train", "val"):
        key = f"{split}_dataloader"
        options += [f"{key}.dataset.root={tmp_path / split}", f"{key}.num_workers=0", f"{key}.batch_size=2"]
    spec = resolve_config(load_config(cfg_file, options), mode="test")
    for key, train in (("train_dataloader", True), ("val_dataloader", False)):
        loader, _ = build_loader(spec[key], key, DistContext(), train=train, seed=0)
        images, labels = next(iter(loader))
        assert images.shape == (2, 3, 224, 224) and sorted(labels.tolist()) == [0, 1]
