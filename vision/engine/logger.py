"""Run logging on rank 0: a tqdm progress bar, ``log.jsonl``, TensorBoard scalars and a curves PNG at the end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["RunLogger", "plot_curves", "read_log"]


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Records of ``log.jsonl``; when a resumed run re-logs a step, the later record wins."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            latest[(rec["kind"], rec["step"])] = rec
    return sorted(latest.values(), key=lambda r: (r["step"], r["kind"]))


def plot_curves(log_file: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Training loss (raw and smoothed), learning rate and evaluation metrics against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_file)
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    metrics = sorted({k for r in evals for k in r if k not in ("kind", "step", "epoch", "time")})
    fig, axes = plt.subplots(1, 3 if metrics else 2, figsize=(15 if metrics else 10, 4))
    steps = [r["step"] for r in train]
    losses = [r["loss"] for r in train]
    axes[0].plot(steps, losses, alpha=0.35, label="loss")
    if losses:
        smooth, avg = [], losses[0]
        for v in losses:
            avg = 0.9 * avg + 0.1 * v
            smooth.append(avg)
        axes[0].plot(steps, smooth, label="smoothed")
    axes[0].set(xlabel="step", ylabel="train loss", title="training loss")
    axes[0].legend()
    axes[1].plot(steps, [r["lr"] for r in train])
    axes[1].set(xlabel="step", ylabel="lr", title="learning rate")
    if metrics:
        for name in metrics:
            axes[2].plot([r["step"] for r in evals], [r.get(name) for r in evals], marker="o", label=name)
        axes[2].set(xlabel="step", title="evaluation")
        axes[2].legend()
    fig.tight_layout()
    out_file = Path(out_file)
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file


class RunLogger:
    """Fans one record out to the progress bar, the JSON-lines file and TensorBoard; silent off rank 0.

    A fresh run starts a new ``log.jsonl``; a resumed one (``append``) continues it.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike,
        enabled: bool,
        total_steps: int,
        start_step: int = 0,
        interval: int = 10,
        progress_bar: bool = True,
        tensorboard: bool = True,
        append: bool = False,
    ) -> None:
        self.enabled, self.interval = enabled, interval
        self.work_dir = Path(work_dir)
        self.log_file = self.work_dir / "log.jsonl"
        self.bar = self.tb = self.fh = None
        if not enabled:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.log_file, "a" if append else "w")  # noqa: SIM115 - kept open for the whole run
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.work_dir / "tb"), purge_step=start_step + 1)
        if progress_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True, mininterval=1.0)
        self.start = time.time()

    def _write(self, record: dict[str, Any]) -> None:
        self.fh.write(json.dumps(record) + "\n")
        self.fh.flush()

    def train(self, step: int, epoch: int, loss: float, lr: float, img_per_s: float, extra: dict[str, float]) -> None:
        """One optimizer step (``step`` counts from 1)."""
        if not self.enabled:
            return
        record = {"kind": "train", "step": step, "epoch": epoch, "loss": loss, "lr": lr, "img_per_s": img_per_s}
        record.update(extra)
        self._write(record)
        if self.tb is not None and step % self.interval == 0:
            for key in ("loss", "lr", "img_per_s", *extra):
                self.tb.add_scalar(f"train/{key}", record[key], step)
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            if step % self.interval == 0 or step == self.bar.total:
                self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", img_s=f"{img_per_s:.0f}", refresh=False)
        elif step % self.interval == 0:
            print(f"step {step} epoch {epoch} loss {loss:.4f} lr {lr:.3e} {img_per_s:.0f} img/s", flush=True)

    def eval(self, step: int, epoch: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._write({"kind": "eval", "step": step, "epoch": epoch, **metrics})
        if self.tb is not None:
            for key, value in metrics.items():
                self.tb.add_scalar(f"val/{key}", value, step)
        self.message(f"eval @ step {step} (epoch {epoch}): " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def message(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()
        self.fh.close()
        self.enabled = False
