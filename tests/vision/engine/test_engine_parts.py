"""Optimizer groups, lr schedule, EMA, checkpoint directories, distributed sampler padding."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import vision
from vision.engine.checkpoint import CheckpointManager, get_rng_state, set_rng_state
from vision.engine.ema import ModelEma
from vision.engine.optim import build_optimizer, freeze_parameters, param_groups
from vision.engine.scheduler import LrSchedule


def _vit() -> vision.VisionTransformer:
    return vision.VisionTransformer(
        img_size=8, patch_size=4, in_chans=1, num_classes=3, embed_dim=16, depth=3, num_heads=2
    )


def test_weight_decay_rules():
    model = _vit()
    groups = param_groups(model, weight_decay=0.1, no_weight_decay=["head.weight"])
    decay = {n for g in groups if g["weight_decay"] > 0 for n in g["param_names"]}
    no_decay = {n for g in groups if g["weight_decay"] == 0 for n in g["param_names"]}
    named = dict(model.named_parameters())
    assert decay | no_decay == set(named) and not decay & no_decay
    assert all(named[n].ndim >= 2 for n in decay)
    assert {"cls_token", "pos_embed", "head.weight", "blocks.0.norm1.weight", "head.bias"} <= no_decay
    assert "blocks.0.attn.qkv.weight" in decay


def test_layer_decay_follows_layer_id():
    model = _vit()
    opt = build_optimizer(model, "adamw", lr=1.0, weight_decay=0.05, layer_decay=0.5)
    num_layers = model.layer_id("head.weight") + 1  # depth + 2
    for group in opt.param_groups:
        for name in group["param_names"]:
            assert group["lr_scale"] == pytest.approx(0.5 ** (num_layers - 1 - model.layer_id(name)))
            assert group["lr"] == pytest.approx(group["lr_scale"])
    scales = {g["lr_scale"] for g in opt.param_groups}
    assert max(scales) == 1.0 and min(scales) == pytest.approx(0.5 ** (num_layers - 1))


def test_layer_decay_needs_layer_id():
    with pytest.raises(ValueError, match="layer_decay needs model.layer_id"):
        build_optimizer(torch.nn.Linear(2, 2), layer_decay=0.7)


def test_optimizer_kinds_and_bad_arguments():
    model = _vit()
    assert type(build_optimizer(model, "lamb", lr=1e-3)).__name__ == "Lamb"
    assert isinstance(build_optimizer(model, "sgd", lr=0.1, momentum=0.9), torch.optim.SGD)
    assert isinstance(build_optimizer(model, torch.optim.Adam, lr=1e-3), torch.optim.Adam)
    with pytest.raises(ValueError, match=r"optimizer.momentum: not an argument of AdamW"):
        build_optimizer(model, "adamw", momentum=0.9)


def test_freeze_removes_parameters_from_the_optimizer():
    model = _vit()
    freeze_parameters(model, ["patch_embed"])
    names = {n for g in build_optimizer(model).param_groups for n in g["param_names"]}
    assert not any(n.startswith("patch_embed.") for n in names) and "head.weight" in names
    with pytest.raises(ValueError, match="freeze: no parameter name starts with 'patch_embd'"):
        freeze_parameters(model, ["patch_embd"])


def test_warmup_then_cosine():
    opt = build_optimizer(torch.nn.Linear(2, 2), lr=1.0, weight_decay=0.0)
    sched = LrSchedule(opt, total_steps=110, warmup_steps=10, min_lr=0.01)
    lrs = [sched.apply(s) for s in range(110)]
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[60] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert sched.lr_at(110, 1.0) == pytest.approx(0.01)
    assert LrSchedule(opt, 10, "constant", 2).lr_at(7, 1.0) == 1.0
    with pytest.raises(ValueError, match="warm-up"):
        LrSchedule(opt, total_steps=5, warmup_steps=5)


def test_ema_average():
    model = torch.nn.Linear(2, 1)
    ema = ModelEma(model, decay=0.75)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(4.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, start + 1.0)
    assert not ema.module.weight.requires_grad
    with pytest.raises(ValueError, match="ema.decay"):
        ModelEma(model, decay=1.0)


def _commit(mgr: CheckpointManager, step: int, best: bool = False):
    mgr.write_shard(step, get_rng_state())
    return mgr.commit(step, {"w": torch.full((2,), float(step))}, {"step": step}, "x = 1\n", is_best=best)


def test_checkpoint_keeps_last_k_and_best(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    for step in (1, 2, 3, 4):
        _commit(mgr, step, best=step == 2)
    assert [p.name for p in mgr.step_dirs()] == ["step_0000002", "step_0000003", "step_0000004"]
    assert (tmp_path / "best").resolve().name == "step_0000002"
    assert (tmp_path / "last").resolve().name == "step_0000004"
    loaded = CheckpointManager.load(tmp_path / "last")
    assert loaded["state"]["step"] == 4 and torch.equal(loaded["model"]["w"], torch.full((2,), 4.0))


def test_a_failed_save_leaves_the_previous_checkpoint_alone(tmp_path):
    mgr = CheckpointManager(tmp_path, keep_last=2)
    _commit(mgr, 1)
    mgr.write_shard(2, get_rng_state())
    with pytest.raises((TypeError, AttributeError)):  # an unpicklable object fails the save midway
        mgr.commit(2, {"w": torch.zeros(2)}, {"step": 2, "bad": lambda: None}, "")
    assert mgr.latest().name == "step_0000001" and (tmp_path / "last").resolve().name == "step_0000001"
    assert not (tmp_path / "step_0000002").exists()
    mgr.remove_stale()
    assert not list(tmp_path.glob(".step_*"))


def test_incomplete_checkpoint_is_refused(tmp_path):
    (tmp_path / "step_0000003").mkdir()
    assert CheckpointManager(tmp_path).latest() is None
    with pytest.raises(FileNotFoundError, match="not a complete training checkpoint"):
        CheckpointManager.load(tmp_path / "step_0000003")


def test_rng_state_round_trip():
    state = get_rng_state()
    first = (torch.rand(3), torch.randint(0, 10**6, (1,)).item())
    set_rng_state(state)
    assert torch.equal(torch.rand(3), first[0]) and torch.randint(0, 10**6, (1,)).item() == first[1]


def test_adamw_runs_fused_unless_told_otherwise_and_steps_like_the_loop():
    torch.manual_seed(0)
    model = _vit()
    fused = build_optimizer(model, "adamw", lr=1e-2, weight_decay=0.05)
    assert all(group["fused"] for group in fused.param_groups)
    loop_model = copy.deepcopy(model)
    loop = build_optimizer(loop_model, "adamw", lr=1e-2, weight_decay=0.05, foreach=False)
    assert not any(group["fused"] for group in loop.param_groups)
    x = torch.randn(2, model.patch_embed.proj.in_channels, *model.patch_embed.img_size)
    for m, opt in ((model, fused), (loop_model, loop)):
        for _ in range(3):
            m(x).square().mean().backward()
            opt.step()
            opt.zero_grad()
    for (name, p), q in zip(model.named_parameters(), loop_model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
