"""The training loop in-process: non-finite loss stop, accumulation, AMP, EMA, the model and evaluator contracts."""

from __future__ import annotations

import math

import pytest
import torch
from engine_helpers import tiny_config, write_config

from vision.checkpoint import load_state_dict
from vision.config import ConfigError
from vision.engine import NonFiniteLossError, Trainer, evaluate_checkpoint
from vision.engine.checkpoint import CheckpointManager
from vision.engine.logger import read_log


def _fit(tmp_path, name: str, **sections) -> Trainer:
    trainer = Trainer(tiny_config(**sections), work_dir=tmp_path / name)
    trainer.fit()
    return trainer


def _no_files(**sections):
    """No TensorBoard or plot; a warm-up of one step so that short runs stay valid."""
    return {"log": dict(tensorboard=False, plot=False), "scheduler": dict(warmup_steps=1), **sections}


def test_nan_loss_stops_naming_the_step_and_keeps_checkpoints_intact(tmp_path):
    trainer = Trainer(
        tiny_config(**_no_files(criterion=dict(type="engine_helpers.NanAtCall", call=5))), work_dir=tmp_path / "nan"
    )
    before = {k: v.clone() for k, v in trainer.module.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 5 \(epoch 0\).*nothing was saved") as err:
        trainer.fit()
    assert "step_0000004" in str(err.value)  # points at the last good checkpoint
    root = tmp_path / "nan" / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["last", "step_0000002", "step_0000004"]
    saved = CheckpointManager.load(root / "last")
    assert saved["state"]["step"] == 4
    assert all(torch.isfinite(v).all() for v in saved["model"].values())
    # the failed step was not applied: the live weights are still step 4's
    for key, value in trainer.module.state_dict().items():
        assert torch.equal(value, saved["model"][key]), key
    assert any(not torch.equal(before[k], saved["model"][k]) for k in before)


def test_train_tool_exit_code_on_nan(tmp_path, capsys):
    from tools.train import main

    cfg = write_config(tmp_path / "nan.py", tiny_config(criterion=dict(type="engine_helpers.NanAtCall", call=1)))
    assert main([str(cfg), "--work-dir", str(tmp_path / "w")]) == 3
    assert "error: loss is nan at step 1" in capsys.readouterr().err
    assert (
        not list((tmp_path / "w" / "checkpoints").glob("step_*")) if (tmp_path / "w" / "checkpoints").exists() else True
    )


def test_accumulation_matches_a_bigger_batch(tmp_path):
    common = dict(train=dict(max_steps=3), checkpoint=dict(interval_steps=None, save_best=None))
    big = _fit(tmp_path, "big", **_no_files(**common))
    accum = _fit(
        tmp_path,
        "accum",
        **_no_files(
            train=dict(max_steps=3, accum_steps=2),
            train_dataloader=dict(batch_size=16),
            checkpoint=common["checkpoint"],
        ),
    )
    big_log = [r["loss"] for r in read_log(tmp_path / "big" / "log.jsonl") if r["kind"] == "train"]
    acc_log = [r["loss"] for r in read_log(tmp_path / "accum" / "log.jsonl") if r["kind"] == "train"]
    assert acc_log == pytest.approx(big_log, rel=1e-5)
    for key, value in big.module.state_dict().items():
        torch.testing.assert_close(accum.module.state_dict()[key], value, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_runs_in_reduced_precision(tmp_path, amp):
    trainer = Trainer(tiny_config(**_no_files(train=dict(max_steps=2))), work_dir=tmp_path / amp, amp=amp)
    seen = []
    trainer.module.head.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    trainer.fit()
    assert seen[0] == {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    state = CheckpointManager.load(tmp_path / amp / "checkpoints" / "last")["state"]
    assert (state["scaler"] is not None) == (amp == "fp16")
    assert all(math.isfinite(r["loss"]) for r in read_log(tmp_path / amp / "log.jsonl") if r["kind"] == "train")


def test_ema_is_saved_evaluated_and_used_by_test(tmp_path):
    trainer = _fit(tmp_path, "ema", **_no_files(ema=dict(decay=0.5)))
    last = tmp_path / "ema" / "checkpoints" / "last"
    ema = load_state_dict(last / "ema.safetensors")
    live = load_state_dict(last / "model.safetensors")
    assert any(not torch.equal(ema[k], live[k]) for k in ema)
    cfg = tiny_config(ema=dict(decay=0.5))
    assert evaluate_checkpoint(cfg, last) == pytest.approx(trainer.last_metrics, abs=0)


def test_model_returning_its_loss(tmp_path):
    sections = _no_files(
        model=dict(type="engine_helpers.LossReturningModel"),
        criterion=None,
        train=dict(max_steps=3),
        checkpoint=dict(save_best=None),
    )
    trainer = Trainer(tiny_config(**sections), work_dir=tmp_path / "own")
    trainer.val_loader = None  # this model's forward(images) returns logits; the training contract is the point
    trainer.fit()
    train = [r for r in read_log(tmp_path / "own" / "log.jsonl") if r["kind"] == "train"]
    assert len(train) == 3 and all(0.0 <= r["acc"] <= 1.0 for r in train)


def test_model_breaking_the_contract_is_told_why(tmp_path):
    sections = _no_files(model=dict(type="engine_helpers.LossReturningModel", as_dict=False), criterion=None)
    trainer = Trainer(tiny_config(**sections), work_dir=tmp_path / "bad")
    with pytest.raises(
        TypeError, match=r"must return a scalar loss tensor or a dict with 'loss'; got Tensor\(32, 10\)"
    ):
        trainer.fit()


def test_plugged_in_evaluator(tmp_path):
    plugin = dict(type="engine_helpers.MeanLogitEvaluator")
    sections = _no_files(train=dict(max_steps=2), evaluator=plugin, checkpoint=dict(save_best="mean_true_logit"))
    trainer = _fit(tmp_path, "plug", **sections)
    assert set(trainer.last_metrics) == {"mean_true_logit", "count"} and trainer.last_metrics["count"] == 189
    best = tmp_path / "plug" / "checkpoints" / "best"
    assert evaluate_checkpoint(tiny_config(evaluator=plugin), best) == trainer.last_metrics
    with pytest.raises(ConfigError, match=r"^checkpoint\.save_best: the evaluator returned no 'top1'"):
        _fit(tmp_path, "nobest", **_no_files(train=dict(max_steps=2), evaluator=plugin))


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--resume: no checkpoint found under"):
        Trainer(tiny_config(), work_dir=tmp_path / "empty", resume=True)


def _train_losses(tmp_path, name: str, **sections) -> list[float]:
    _fit(tmp_path, name, **_no_files(train=dict(max_steps=2, **sections.pop("train", {})), **sections))
    return [r["loss"] for r in read_log(tmp_path / name / "log.jsonl") if r["kind"] == "train"]


def test_switches_keep_the_numbers(tmp_path):
    """Gradient checkpointing and torch.compile (eager backend) change how, not what, is computed."""
    plain = _train_losses(tmp_path, "plain")
    assert _train_losses(tmp_path, "ckpt", train=dict(grad_checkpointing=True)) == pytest.approx(plain, rel=1e-6)
    assert _train_losses(tmp_path, "compiled", train=dict(compile="eager")) == pytest.approx(plain, rel=1e-5)


def test_mixup_batch_transform(tmp_path):
    mixup = dict(type="timm.data.Mixup", mixup_alpha=0.8, cutmix_alpha=1.0, num_classes=10, label_smoothing=0.1)
    losses = _train_losses(
        tmp_path,
        "mixup",
        train=dict(batch_transform=mixup),
        criterion=dict(type="timm.loss.SoftTargetCrossEntropy"),
    )
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
