"""Configs (paper hyperparameters, engine validation), the CPU MIM smoke run, MIM data and fine-tuning set-up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import vision
from eva.data import MIMDataset
from eva.finetune import build_classifier, check_resolution
from vision.config import load_config
from vision.engine.validate import resolve_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "eva"
V3 = "V3_eva02_mim_bflags_reduced_224.safetensors"

# file -> (student, lr, per-GPU batch, epochs, drop path): the official MIM recipes.
MIM = {
    "eva02_mim_ti_in21k.py": ("eva02_mim_tiny_patch14_224", 3e-3, 100, 240, 0.0),
    "eva02_mim_s_in21k.py": ("eva02_mim_small_patch14_224", 3e-3, 100, 240, 0.0),
    "eva02_mim_b_in21k.py": ("eva02_mim_base_patch14_224", 1.5e-3, 64, 150, 0.0),
    "eva02_mim_l_m38m.py": ("eva02_mim_large_patch14_224", 1.5e-3, 32, 56, 0.1),
    "eva01_mim_g_m30m.py": ("eva_mim_giant_patch14_224", 1e-3, 32, 150, 0.1),
}
# file -> (classifier, resolution, expected top-1, lr, layer decay, epochs)
FINETUNE = {
    "eva02_ti_ft_in1k_336.py": ("eva02_tiny_patch14_336", 336, "80.7", 2e-4, 0.9, 100),
    "eva02_s_ft_in1k_336.py": ("eva02_small_patch14_336", 336, "85.8", 1e-4, 0.8, 100),
    "eva02_b_ft_in21k_in1k_448.py": ("eva02_base_patch14_448", 448, "88.6", 5e-5, 0.8, 15),
    "eva02_l_ft_m38m_in21k_in1k_448.py": ("eva02_large_patch14_448", 448, "90.0", 2e-5, 0.85, 20),
    "eva01_g_ft_in21k_in1k_336.py": ("eva_giant_patch14_336", 336, "89.6", 3e-5, 0.95, 10),
    "eva01_g_ft_in21k_in1k_560.py": ("eva_giant_patch14_560", 560, "89.7", 3e-5, 0.95, 15),
}


def _config(name: str, data_root: Path):
    cfg = load_config(CONFIGS / name)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(key):
            cfg[key]["dataset"]["root"] = str(data_root)
    return cfg


def test_every_config_passes_engine_validation(tmp_path):
    names = sorted(p.name for p in CONFIGS.glob("*.py"))
    assert set(MIM) | set(FINETUNE) | {"mim_smoke_cpu.py", "eval_imagenet.py", "eva01_g_ft_in21k_224.py"} <= set(names)
    for name in names:
        cfg = _config(name, tmp_path)
        resolve_config(cfg, mode="test" if name == "eval_imagenet.py" else "train")
        assert load_config(CONFIGS / name).get("__doc__", None) is None  # docstrings are not config keys
        assert (CONFIGS / name).read_text().startswith('"""'), name


@pytest.mark.parametrize("name", sorted(MIM))
def test_mim_recipes_follow_the_papers(name, tmp_path):
    student, lr, batch, epochs, dpr = MIM[name]
    cfg = _config(name, tmp_path)
    assert cfg.model.student.name == student and cfg.model.student.drop_path_rate == dpr
    assert tuple(cfg.optimizer.betas) == (0.9, 0.98) and cfg.optimizer.eps == 1e-6
    assert cfg.optimizer.lr == lr and cfg.optimizer.weight_decay == 0.05
    assert cfg.train_dataloader.batch_size == batch and cfg.train.max_epochs == epochs
    assert cfg.train_dataloader.dataset.num_masking_patches == 105 and cfg.train.grad_clip == 3.0
    doc = (CONFIGS / name).read_text().split('"""')[1]
    assert float(re.search(r"\blr ([0-9.e-]+),", doc).group(1)) == lr
    assert f"{epochs} epochs" in doc and "(0.9, 0.98)" in doc


@pytest.mark.parametrize("name", sorted(FINETUNE))
def test_finetune_recipes_follow_the_papers(name, tmp_path):
    model, size, top1, lr, lrd, epochs = FINETUNE[name]
    cfg = _config(name, tmp_path)
    assert cfg.model.name == model and cfg.model.type == "eva.finetune.build_classifier"
    assert cfg.train_dataloader.dataset.transform.img_size == size == cfg.val_dataloader.dataset.transform.img_size
    assert cfg.optimizer.lr == lr and cfg.optimizer.layer_decay == lrd and cfg.train.max_epochs == epochs
    assert list(cfg.train["freeze"]) == ["patch_embed"] and cfg.ema.decay == 0.9999
    assert "batch_transform" not in cfg.train or cfg.train.batch_transform is None  # no mixup / cutmix
    assert f"Expected IN-1K top-1: {top1}" in (CONFIGS / name).read_text()


def test_cpu_smoke_pretraining_loss_falls_and_checkpoint_loads(data_dir, tmp_path):
    from vision.engine import Trainer
    from vision.engine.checkpoint import CheckpointManager

    cfg = _config("mim_smoke_cpu.py", data_dir / "imagenet" / "images")
    cfg.train.max_steps = 6
    cfg.checkpoint.interval_steps = 6
    Trainer(cfg, work_dir=tmp_path).fit()
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 6 and all(-1.0 <= v <= 1.0 for v in losses)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.05
    # The training checkpoint (student.* keys) loads into the registered student with nothing missing.
    state = CheckpointManager.load(tmp_path / "checkpoints" / "last")["model"]
    student = vision.create_model("eva02_mim_test_patch14_112")
    assert vision.load_checkpoint(student, state).ok


def test_mim_dataset_masks_are_seeded_per_sample(data_dir):
    from vision.data import SeededDataset

    ds = MIMDataset(data_dir / "imagenet" / "images", img_size=112, patch_size=14, min_num_patches=4)
    image, mask = ds[0]
    assert image.shape == (3, 112, 112) and mask.shape == (64,) and mask.dtype == torch.bool
    assert 20 <= int(mask.sum()) <= 26
    seeded = SeededDataset(ds, seed=3)
    a, b = seeded[5], seeded[5]
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])
    with pytest.raises(FileNotFoundError, match="MIM image folder does not exist"):
        MIMDataset(data_dir / "missing")
    with pytest.raises(ValueError, match="image size 100 is not divisible by the patch size 14"):
        MIMDataset(data_dir / "imagenet" / "images", img_size=100)


def _v3_state_dict(fixtures_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with safe_open(str(fixtures_dir / V3), framework="pt") as f:
        keys = json.loads(f.metadata()["manifest"])["state_dict_keys_in_order"]
        return {k: f.get_tensor("state_dict." + k) for k in keys}


def test_mim_224_to_finetune_448_adapts_pos_embed_and_rope(fixtures_dir, tmp_path):
    from vision.checkpoint import save_state_dict

    sd = _v3_state_dict(fixtures_dir)
    ckpt = tmp_path / "mim.safetensors"
    save_state_dict(sd, ckpt)
    # EVA-02 B flags at 448, reduced to the fixture's width and depth.
    model = build_classifier(
        "eva02_base_patch14_448", checkpoint=ckpt, num_classes=10, embed_dim=128, depth=2, num_heads=2
    )
    assert model.patch_embed.grid_size == (32, 32) and model.pos_embed.shape == (1, 1 + 32 * 32, 128)
    assert torch.equal(model.blocks[0].attn.q_bias, sd["blocks.0.attn.q_bias"])
    # RoPE: patch (2r, 2c) of the 32x32 grid sits where patch (r, c) of the 16x16 MIM grid did.
    cos448, _ = model.rope(model.patch_embed.grid_size)
    student = vision.create_model("eva02_mim_base_patch14_224", embed_dim=128, depth=2, num_heads=2)
    cos224, _ = student.rope(student.patch_embed.grid_size)
    rows = torch.arange(16)
    idx448 = 1 + (2 * rows[:, None] * 32 + 2 * rows[None, :]).flatten()
    idx224 = 1 + (rows[:, None] * 16 + rows[None, :]).flatten()
    torch.testing.assert_close(cos448[idx448], cos224[idx224])
    # Fresh head, scaled by the official init_scale; fc_norm at its identity init.
    assert model.head.weight.std() < 1e-4 and torch.equal(model.fc_norm.weight, torch.ones(128))
    with torch.no_grad():
        assert model(torch.randn(1, 3, 448, 448)).shape == (1, 10)


def test_finetune_resolution_must_tile_into_patches():
    check_resolution(448, 14)
    with pytest.raises(ValueError, match="fine-tuning resolution 450 is not divisible by the patch size 14"):
        build_classifier("eva02_base_patch14_448", img_size=450, embed_dim=64, depth=1, num_heads=2)
