"""Reading, checking and writing checkpoints.

* :func:`load_state_dict` reads ``.pt/.pth/.bin/.safetensors`` with ``torch.load(weights_only=True)`` unless the
  caller opts out, and unwraps ``model_ema``/``module``/``model``/``state_dict`` containers.
* :func:`load_checkpoint` runs the model's ``checkpoint_filter_fn`` (renames, layout and size changes), compares keys
  and shapes, and either loads or raises :class:`CheckpointMismatchError` listing every problem.
* :func:`save_state_dict` and :func:`atomic_save` write to a temporary file and rename, so a crash never leaves a
  half-written checkpoint behind.
"""

from __future__ import annotations

import difflib
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

__all__ = [
    "CheckpointMismatchError",
    "LoadReport",
    "atomic_save",
    "load_checkpoint",
    "load_state_dict",
    "save_state_dict",
    "unwrap_state_dict",
]

StateDict = dict[str, torch.Tensor]
FilterFn = Callable[[StateDict, nn.Module], StateDict]
_CONTAINERS = ("model_ema", "state_dict_ema", "module", "model", "state_dict")


def unwrap_state_dict(obj: Any, prefer_ema: bool = True) -> StateDict:
    """Dig the tensor dict out of training checkpoints (``{'model': ..., 'model_ema': ..., 'optimizer': ...}``)."""
    containers = _CONTAINERS if prefer_ema else tuple(c for c in _CONTAINERS if "ema" not in c)
    while isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        key = next((c for c in containers if isinstance(obj.get(c), dict) and obj[c]), None)
        if key is None:
            raise ValueError(
                f"no state dict found in checkpoint; top-level keys are {sorted(obj)[:20]}, expected tensors or one "
                f"of {', '.join(containers)}"
            )
        obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_state_dict(
    path: str | os.PathLike, weights_only: bool = True, prefer_ema: bool = True, map_location: str = "cpu"
) -> StateDict:
    """Read a checkpoint file into a flat ``{name: tensor}`` dict.

    ``weights_only=False`` unpickles arbitrary objects: only for files you trust (e.g. ones this toolkit wrote).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            obj = load_file(str(path), device=map_location)
        except Exception as err:  # safetensors raises its own error types
            raise ValueError(f"{path} is not a readable safetensors file (truncated or corrupt?): {err}") from err
        return obj
    try:
        obj = torch.load(path, map_location=map_location, weights_only=weights_only)
    except pickle.UnpicklingError as err:
        if weights_only:
            raise ValueError(
                f"{path} holds pickled Python objects besides tensors, which weights_only=True refuses to run. "
                f"If you trust this file, load it with weights_only=False. ({err})"
            ) from err
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {err}") from err
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"{path} is not a readable checkpoint (truncated or corrupt?): {err}") from err
    return unwrap_state_dict(obj, prefer_ema=prefer_ema)


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_state_dict(state_dict: StateDict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write tensors as safetensors, atomically (temporary file, fsync, rename)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().clone() for k, v in state_dict.items()}
    _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata))


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temporary file and a rename."""
    _atomic_write(Path(path), lambda tmp: torch.save(obj, tmp))


@dataclass
class LoadReport:
    """What did not line up between a checkpoint and a model."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        if self.ok:
            return "all keys matched"
        lines = []
        for title, keys in (("missing from the checkpoint", self.missing), ("unexpected", self.unexpected)):
            if keys:
                lines.append(f"{len(keys)} {title}: {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}")
        for key, got, want in self.mismatched[:12]:
            lines.append(f"shape mismatch for {key}: checkpoint {list(got)} vs model {list(want)}")
        return "\n".join(lines)


class CheckpointMismatchError(ValueError):
    """A strict load found missing, unexpected or mis-shaped keys; ``report`` has them all."""

    def __init__(self, report: LoadReport, source: str) -> None:
        self.report = report
        hints = []
        for key in report.unexpected[:3]:
            close = difflib.get_close_matches(key, report.missing, n=1, cutoff=0.6)
            if close:
                hints.append(f"checkpoint key {key!r} looks like model key {close[0]!r}")
        msg = f"checkpoint {source} does not fit the model:\n{report}"
        if hints:
            msg += "\nhints: " + "; ".join(hints)
        super().__init__(msg)


def _compare(state_dict: StateDict, model: nn.Module) -> LoadReport:
    expected = model.state_dict()
    report = LoadReport(
        missing=[k for k in expected if k not in state_dict],
        unexpected=[k for k in state_dict if k not in expected],
    )
    for key, value in state_dict.items():
        if key in expected and tuple(value.shape) != tuple(expected[key].shape):
            report.mismatched.append((key, tuple(value.shape), tuple(expected[key].shape)))
    return report


def load_checkpoint(
    model: nn.Module,
    checkpoint: str | os.PathLike | StateDict,
    strict: bool = True,
    filter_fn: FilterFn | None = None,
    prefer_ema: bool = True,
    weights_only: bool = True,
) -> LoadReport:
    """Load a checkpoint file or state dict into ``model`` through its ``checkpoint_filter_fn``.

    ``filter_fn`` defaults to ``model.checkpoint_filter_fn`` (each model package provides one). With ``strict``,
    any missing, unexpected or mis-shaped key raises :class:`CheckpointMismatchError`; otherwise the keys that fit
    are loaded and the report says what did not.
    """
    if isinstance(checkpoint, dict):
        source, state_dict = "state dict", unwrap_state_dict(checkpoint, prefer_ema)
    else:
        source = str(checkpoint)
        state_dict = load_state_dict(checkpoint, weights_only=weights_only, prefer_ema=prefer_ema)
    filter_fn = filter_fn or getattr(model, "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    report = _compare(state_dict, model)
    if strict and not report.ok:
        raise CheckpointMismatchError(report, source)
    bad = {k for k, *_ in report.mismatched}
    model.load_state_dict({k: v for k, v in state_dict.items() if k not in bad}, strict=False)
    return report
