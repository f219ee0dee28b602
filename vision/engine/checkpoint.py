"""Training checkpoints: one directory per save, written under a temporary name and renamed when complete.

``step_0001234/`` holds ``model.safetensors`` (and ``ema.safetensors``), ``state.pt`` (optimizer, scaler, step,
metrics: tensors and plain Python values only, so it loads with ``weights_only=True``), one ``rng_<rank>.pt`` per
process and the resolved ``config.py``. ``last`` and ``best`` are symlinks to step directories. A crash mid-save
leaves only a ``.tmp`` directory behind, never a half-written checkpoint under a real name.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vision.checkpoint import atomic_save, save_state_dict

__all__ = ["CheckpointManager", "get_rng_state", "set_rng_state"]

_STEP_DIR = re.compile(r"^step_(\d+)$")


def get_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and CUDA generator states, as tensors and plain values."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].copy()), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy(), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _link(target: Path, link: Path) -> None:
    """Point ``link`` at ``target`` (a sibling) atomically."""
    tmp = link.with_name(f".{link.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


class CheckpointManager:
    """Saves and finds checkpoints in ``root``; keeps the last ``keep_last`` plus the best by a metric."""

    def __init__(self, root: str | os.PathLike, keep_last: int = 2, rank: int = 0) -> None:
        if keep_last < 1:
            raise ValueError(f"checkpoint.keep_last must be >= 1, got {keep_last}")
        self.root, self.keep_last, self.rank = Path(root), keep_last, rank

    def step_dirs(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if _STEP_DIR.match(p.name) and (p / "state.pt").is_file()]
        return sorted(found, key=lambda p: int(_STEP_DIR.match(p.name).group(1)))

    def latest(self) -> Path | None:
        dirs = self.step_dirs()
        return dirs[-1] if dirs else None

    def remove_stale(self) -> None:
        """Delete ``.tmp`` directories a killed run left behind (rank 0, before training starts)."""
        if self.root.is_dir():
            for path in self.root.glob(".step_*.tmp"):
                shutil.rmtree(path, ignore_errors=True)

    def tmp_dir(self, step: int) -> Path:
        return self.root / f".step_{step:07d}.tmp"

    def write_shard(self, step: int, rng: dict[str, Any]) -> None:
        """Every rank writes its RNG state into the pending directory (call before :meth:`commit`)."""
        tmp = self.tmp_dir(step)
        tmp.mkdir(parents=True, exist_ok=True)
        atomic_save(rng, tmp / f"rng_{self.rank}.pt")

    def commit(
        self,
        step: int,
        model: dict[str, torch.Tensor],
        state: dict[str, Any],
        config_text: str,
        ema: dict[str, torch.Tensor] | None = None,
        is_best: bool = False,
    ) -> Path:
        """Rank 0: write the weights and trainer state, rename the directory into place, update links, prune."""
        tmp = self.tmp_dir(step)
        tmp.mkdir(parents=True, exist_ok=True)
        meta = {"format": "shijie-engine", "step": str(step)}
        save_state_dict(model, tmp / "model.safetensors", metadata=meta)
        if ema is not None:
            save_state_dict(ema, tmp / "ema.safetensors", metadata=meta)
        (tmp / "config.py").write_text(config_text)
        atomic_save(state, tmp / "state.pt")  # written last: its presence marks a complete checkpoint
        final = self.root / f"step_{step:07d}"
        if final.exists():  # re-saving a step after a resume: move the old copy aside first
            old = self.root / f".{final.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
        _link(final, self.root / "last")
        if is_best:
            _link(final, self.root / "best")
        self._prune()
        return final

    def _prune(self) -> None:
        best = self.root / "best"
        keep_best = best.resolve() if best.is_symlink() else None
        for path in self.step_dirs()[: -self.keep_last]:
            if path.resolve() != keep_best:
                shutil.rmtree(path)

    @staticmethod
    def load(path: str | os.PathLike, rank: int = 0) -> dict[str, Any]:
        """Read a checkpoint directory: ``{'model', 'ema' (or None), 'state', 'rng' (this rank's, or None)}``."""
        from vision.checkpoint import load_state_dict

        path = Path(path)
        if not (path / "state.pt").is_file():
            raise FileNotFoundError(f"{path} is not a complete training checkpoint (no state.pt)")
        ema_file = path / "ema.safetensors"
        rng_file = path / f"rng_{rank}.pt"
        return {
            "model": load_state_dict(path / "model.safetensors"),
            "ema": load_state_dict(ema_file) if ema_file.is_file() else None,
            "state": torch.load(path / "state.pt", map_location="cpu", weights_only=True),
            "rng": torch.load(rng_file, map_location="cpu", weights_only=True) if rng_file.is_file() else None,
        }
