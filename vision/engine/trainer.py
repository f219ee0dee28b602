"""The training loop: one optimizer step per ``accum_steps`` batches, on one process or under torchrun.

Model contract (see README.md): with a ``criterion`` the batch is ``(inputs, targets, ...)`` and the loss is
``criterion(model(inputs), targets)``; without one, ``model(*batch)`` (or ``model(**batch)`` for dict batches) returns
the loss: a scalar tensor, or a dict with ``'loss'`` and other scalars to log.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from vision.config import ConfigError
from vision.engine.build import build, build_evaluator, build_loader, build_model, seed_everything
from vision.engine.checkpoint import CheckpointManager, get_rng_state, set_rng_state
from vision.engine.dist import DistContext, setup_distributed, wrap_model
from vision.engine.ema import ModelEma
from vision.engine.evaluation import EvalContext, to_device
from vision.engine.logger import RunLogger, plot_curves
from vision.engine.optim import build_optimizer, freeze_parameters
from vision.engine.scheduler import LrSchedule
from vision.engine.validate import resolve_config

__all__ = ["NonFiniteLossError", "Trainer"]

AMP_DTYPES = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; raised before the optimizer applies the step."""


def _config_text(cfg: Any) -> str:
    try:
        return cfg.pretty_text
    except Exception:  # callables in a config may not format; the plain dict still documents the run
        return repr(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg)


class Trainer:
    """Builds everything a config names, checks it first, then :meth:`fit` trains, evaluates and checkpoints.

    ``resume``: ``None`` starts fresh, ``True`` continues from the latest checkpoint in the work dir, a path continues
    from that checkpoint directory. ``amp`` overrides ``train.amp``.
    """

    def __init__(
        self,
        cfg: Any,
        work_dir: str | os.PathLike | None = None,
        resume: bool | str | os.PathLike | None = None,
        amp: str | None = None,
        ctx: DistContext | None = None,
    ) -> None:
        self.cfg = cfg
        spec = resolve_config(cfg, mode="train")
        if amp is not None:
            if amp not in ("bf16", "fp16"):
                raise ConfigError(f"--amp: expected bf16 or fp16, got {amp!r}")
            spec["train"]["amp"] = amp
        self.spec, tr = spec, spec["train"]
        self.work_dir = Path(work_dir or spec["work_dir"] or "work_dirs/default")
        if spec["deterministic"]:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        if tr["threads"] is not None:
            torch.set_num_threads(tr["threads"])
        dist = spec["dist"]
        self.ctx = ctx or setup_distributed(tr["device"], dist["backend"], dist["timeout_s"])
        device = self.ctx.device
        seed_everything(spec["seed"])  # identical initial weights on every rank

        model = build_model(spec["model"])
        if tr["grad_checkpointing"]:
            if not hasattr(model, "set_grad_checkpointing"):
                raise ConfigError(f"train.grad_checkpointing: {type(model).__name__} has no set_grad_checkpointing()")
            model.set_grad_checkpointing(True)
        if tr["freeze"]:
            try:
                freeze_parameters(model, tr["freeze"])
            except ValueError as err:
                raise ConfigError(f"train.{err}") from err
        model.to(device)
        self.ema = ModelEma(model, spec["ema"]["decay"]) if spec["ema"] else None
        self.strategy = dist["strategy"]
        self.model = wrap_model(model, self.ctx, self.strategy, dist["find_unused_parameters"], dist["fsdp_layers"])
        self.module = model  # unwrapped (FSDP shards it in place): names, checkpoints, evaluation
        self.forward_model = self.model
        if tr["compile"]:
            backend = tr["compile"] if isinstance(tr["compile"], str) else "inductor"
            self.forward_model = torch.compile(self.model, backend=backend)
        try:
            self.optimizer = build_optimizer(self.module, **spec["optimizer"])
        except ValueError as err:
            raise ConfigError(str(err) if str(err).startswith("optimizer") else f"optimizer: {err}") from err

        self.criterion = build(spec["criterion"], "criterion") if spec["criterion"] else None
        if isinstance(self.criterion, nn.Module):
            self.criterion.to(device)
        bt = tr["batch_transform"]
        self.batch_transform = build(bt, "train.batch_transform") if bt else None
        self.train_loader, self.train_set = build_loader(
            spec["train_dataloader"], "train_dataloader", self.ctx, train=True, seed=spec["seed"]
        )
        self.val_loader = None
        if spec["val_dataloader"] is not None:
            self.val_loader, _ = build_loader(spec["val_dataloader"], "val_dataloader", self.ctx, False, spec["seed"])
        self.evaluator = build_evaluator(spec["evaluator"]) if self.val_loader is not None else None
        ck = spec["checkpoint"]
        if ck["save_best"] and self.val_loader is None:
            raise ConfigError("checkpoint.save_best: needs a val_dataloader to evaluate on")

        self.accum = tr["accum_steps"]
        self.steps_per_epoch = len(self.train_loader) // self.accum
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"train.accum_steps: {self.accum} exceeds the {len(self.train_loader)} batches of an epoch"
            )
        self.total_steps = tr["max_steps"] or tr["max_epochs"] * self.steps_per_epoch
        self.max_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        sch = spec["scheduler"]
        warmup = sch["warmup_steps"]
        if warmup is None:
            warmup = round(sch["warmup_epochs"] * self.steps_per_epoch)
        try:
            self.schedule = LrSchedule(self.optimizer, self.total_steps, sch["type"], warmup, sch["min_lr"])
        except ValueError as err:
            raise ConfigError(f"scheduler: {err}") from err
        self.amp_dtype = AMP_DTYPES[tr["amp"]]
        self.scaler = torch.amp.GradScaler(device.type) if tr["amp"] == "fp16" else None
        self.ckpt = CheckpointManager(self.work_dir / "checkpoints", ck["keep_last"], self.ctx.rank)
        self.step = 0
        self.best: float | None = None
        self.last_metrics: dict[str, float] = {}
        self._saved_step = -1

        seed_everything(spec["seed"] + self.ctx.rank)  # per-rank streams for dropout and friends
        self.resumed = False
        if self.ctx.is_main:
            self.ckpt.remove_stale()  # a killed run's half-written directory; no rank saves before the first step
        if resume:
            self._resume(resume)

    # ---------------------------------------------------------------- checkpoints
    def _model_state(self, module: nn.Module) -> dict[str, torch.Tensor]:
        if self.strategy == "fsdp" and self.ctx.distributed:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return {k: v.detach().cpu() for k, v in module.state_dict().items()}

    def _optim_state(self) -> dict[str, Any]:
        if self.strategy == "fsdp" and self.ctx.distributed:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

            opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return get_optimizer_state_dict(self.module, self.optimizer, options=opts)
        return self.optimizer.state_dict()

    def save(self, is_best: bool = False) -> None:
        """Checkpoint the current step (collective: every rank calls it); a step already saved is skipped."""
        if self.step == self._saved_step and not is_best:
            return
        self._saved_step = self.step
        self.ckpt.write_shard(self.step, get_rng_state())
        model_sd, optim_sd = self._model_state(self.module), self._optim_state()
        self.ctx.barrier()
        if self.ctx.is_main:
            state = {
                "step": self.step,
                "optimizer": optim_sd,
                "scaler": self.scaler.state_dict() if self.scaler else None,
                "best": self.best,
                "metrics": self.last_metrics,
                "world_size": self.ctx.world_size,
            }
            ema = self.ema.state_dict() if self.ema else None
            self.ckpt.commit(self.step, model_sd, state, _config_text(self.cfg), ema, is_best)
        self.ctx.barrier()

    def _resume(self, resume: bool | str | os.PathLike) -> None:
        path = self.ckpt.latest() if resume is True else Path(resume)
        if path is None:
            raise FileNotFoundError(f"--resume: no checkpoint found under {self.ckpt.root}")
        loaded = CheckpointManager.load(path, self.ctx.rank)
        state = loaded["state"]
        if self.strategy == "fsdp" and self.ctx.distributed:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            opts = StateDictOptions(full_state_dict=True)
            set_model_state_dict(self.module, loaded["model"], options=opts)
            set_optimizer_state_dict(self.module, self.optimizer, state["optimizer"], options=opts)
        else:
            self.module.load_state_dict(loaded["model"])
            fresh = [(g["base_lr"], g["lr_scale"]) for g in self.optimizer.param_groups]
            self.optimizer.load_state_dict(state["optimizer"])
            for group, (base_lr, lr_scale) in zip(self.optimizer.param_groups, fresh, strict=True):
                group["base_lr"], group["lr_scale"] = base_lr, lr_scale  # the config is the truth
        if self.ema is not None:
            if loaded["ema"] is None:
                raise ValueError(f"{path}: the config uses EMA but the checkpoint has no ema.safetensors")
            self.ema.load_state_dict(loaded["ema"])
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.best, self.last_metrics = state["step"], state["best"], state["metrics"]
        self._saved_step = self.step
        if self.step > self.total_steps:
            raise ValueError(f"{path} is at step {self.step}, past this config's {self.total_steps} steps")
        if loaded["rng"] is not None and state["world_size"] == self.ctx.world_size:
            set_rng_state(loaded["rng"])
        elif self.ctx.is_main:
            print(f"resume: random states not restored (saved with {state['world_size']} processes)", flush=True)
        self.resumed = True

    # ---------------------------------------------------------------- steps
    def _forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.criterion is not None:
            if not isinstance(batch, (list, tuple)) or len(batch) < 2:
                raise TypeError("with a criterion, batches must be (inputs, targets, ...)")
            return self.criterion(self.forward_model(batch[0]), batch[1]), {}
        out = self.forward_model(**batch) if isinstance(batch, dict) else self.forward_model(*batch)
        extras: dict[str, torch.Tensor] = {}
        if isinstance(out, dict):
            if "loss" not in out:
                raise TypeError(f"the model's forward returned a dict without 'loss' (keys: {sorted(out)})")
            extras = {k: v.detach().float() for k, v in out.items() if k != "loss" and torch.is_tensor(v)}
            out = out["loss"]
        if not torch.is_tensor(out) or out.ndim != 0:
            raise TypeError(
                "without a criterion the model's forward must return a scalar loss tensor or a dict with 'loss'; "
                f"got {type(out).__name__}{tuple(out.shape) if torch.is_tensor(out) else ''}"
            )
        return out, extras

    def _no_sync(self, last_micro: bool) -> contextlib.AbstractContextManager:
        if last_micro or not self.ctx.distributed:
            return contextlib.nullcontext()
        if self.strategy == "ddp":
            return self.model.no_sync()
        self.module.set_requires_gradient_sync(False)
        return contextlib.nullcontext()

    def train_step(self, batches: list[Any]) -> dict[str, float]:
        """One optimizer step over ``accum_steps`` batches; returns the global mean loss and extras."""
        device = self.ctx.device
        lr = self.schedule.apply(self.step)
        totals: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(batches):
            last = i == len(batches) - 1
            if self.strategy == "fsdp" and self.ctx.distributed and last:
                self.module.set_requires_gradient_sync(True)
            batch = to_device(batch, device)
            if self.batch_transform is not None:
                batch = self.batch_transform(*batch)
            with self._no_sync(last):
                with torch.autocast(device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                    loss, extras = self._forward(batch)
                scaled = loss / len(batches)
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            for key, value in {"loss": loss.detach().float(), **extras}.items():
                totals[key] = totals.get(key, 0.0) + value / len(batches)
        keys = list(totals)
        reduced = torch.stack([totals[k] for k in keys]).to(device)
        self.ctx.all_reduce_sum(reduced)
        values = dict(zip(keys, (reduced / self.ctx.world_size).tolist(), strict=True))
        if not math.isfinite(values["loss"]):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLossError(
                f"loss is {values['loss']} at step {self.step + 1} (epoch {self.step // self.steps_per_epoch}); "
                f"stopped before the optimizer step, nothing was saved. Last checkpoint: {self.ckpt.latest()}. "
                "Try a lower optimizer.lr, train.grad_clip, or bf16 instead of fp16."
            )
        grad_clip = self.spec["train"]["grad_clip"]
        if grad_clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            values["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.module)
        self.step += 1
        values["lr"] = lr
        return values

    # ---------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Run the evaluator on the validation loader (EMA weights when ``ema.evaluate``); all ranks agree."""
        use_ema = self.ema is not None and self.spec["ema"]["evaluate"]
        model = self.ema.module if use_ema else self.module
        was_training = model.training
        model.eval()
        try:
            metrics = self.evaluator(model, self.val_loader, EvalContext(self.ctx, self.amp_dtype))
        finally:
            model.train(was_training)
        return {k: float(v) for k, v in metrics.items()}

    def _improved(self, metrics: dict[str, float]) -> bool:
        name = self.spec["checkpoint"]["save_best"]
        if not name:
            return False
        if name not in metrics:
            raise ConfigError(
                f"checkpoint.save_best: the evaluator returned no {name!r} (it returned {sorted(metrics)})"
            )
        value = metrics[name]
        better = self.best is None or (
            value > self.best if self.spec["checkpoint"]["rule"] == "greater" else value < self.best
        )
        if better:
            self.best = value
        return better

    # ---------------------------------------------------------------- loop
    def fit(self) -> dict[str, float]:
        """Train to ``total_steps``; returns the last evaluation metrics (empty without a val loader)."""
        spec, log_cfg, ck = self.spec, self.spec["log"], self.spec["checkpoint"]
        logger = RunLogger(
            self.work_dir,
            self.ctx.is_main,
            self.total_steps,
            self.step,
            log_cfg["interval"],
            log_cfg["progress_bar"],
            log_cfg["tensorboard"],
            append=self.resumed,
        )
        per_step = spec["train_dataloader"]["batch_size"] * self.accum * self.ctx.world_size
        logger.message(
            f"training {type(self.module).__name__} for {self.total_steps} steps ({self.max_epochs} epochs of "
            f"{self.steps_per_epoch}), {per_step} images/step on {self.ctx.world_size} process(es), "
            f"work dir {self.work_dir}" + (f", resumed at step {self.step}" if self.step else "")
        )
        start = time.time()
        self.module.train()
        try:
            while self.step < self.total_steps:
                epoch, offset = divmod(self.step, self.steps_per_epoch)
                self.train_loader.sampler.set_epoch(epoch, offset * self.accum * self.train_loader.batch_size)
                self.train_set.epoch = epoch
                batches = iter(self.train_loader)
                for _ in range(offset, self.steps_per_epoch):
                    t0 = time.perf_counter()
                    values = self.train_step([next(batches) for _ in range(self.accum)])
                    rate = per_step / (time.perf_counter() - t0)
                    loss, lr = values.pop("loss"), values.pop("lr")
                    logger.train(self.step, epoch, loss, lr, rate, values)
                    if ck["interval_steps"] and self.step % ck["interval_steps"] == 0:
                        self.save()
                    if self.step >= self.total_steps:
                        break
                del batches
                done = self.step >= self.total_steps
                is_best = False
                if self.val_loader is not None and ((epoch + 1) % spec["train"]["eval_interval"] == 0 or done):
                    self.last_metrics = self.evaluate()
                    is_best = self._improved(self.last_metrics)
                    logger.eval(self.step, epoch, self.last_metrics)
                if (epoch + 1) % ck["interval_epochs"] == 0 or done or is_best:
                    self.save(is_best)
        finally:
            logger.close()
        elapsed = time.time() - start
        if self.ctx.is_main:
            if spec["log"]["plot"]:
                plot_curves(logger.log_file, self.work_dir / "curves.png")
            self._summary(elapsed)
        return self.last_metrics

    def _summary(self, elapsed: float) -> None:
        minutes, seconds = divmod(int(round(elapsed)), 60)
        metrics = "  ".join(f"{k} {v:.2f}" for k, v in self.last_metrics.items()) or "no evaluation configured"
        print(f"done: {self.step} steps in {minutes}m{seconds:02d}s; final eval: {metrics}", flush=True)
        print(f"checkpoint: {self.ckpt.root / 'last'}", flush=True)
        if self.spec["log"]["plot"]:
            print(f"curves: {self.work_dir / 'curves.png'}", flush=True)
