"""Config checking before any work starts: unknown keys, unknown types, missing dataset paths, out-of-range values.

:func:`resolve_config` returns the engine's sections with defaults filled in; every error is a
:class:`vision.config.ConfigError` whose message starts with the offending key (``train.max_epochs: ...``).
Top-level names starting with ``_`` are free for helper variables.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vision.config import ConfigError, locate

__all__ = ["resolve_config"]


@dataclass(frozen=True)
class Field:
    default: Any
    check: Callable[[Any], bool]
    expect: str  # what a valid value looks like, for the error message


def _int(lo: int, none: bool = False) -> Field:
    return Field(None if none else lo, lambda v: (none and v is None) or (_is_int(v) and v >= lo), f"an int >= {lo}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _choice(*options: Any, default: Any = None) -> Field:
    return Field(options[0] if default is None else default, lambda v: v in options, f"one of {options}")


BOOL_TRUE = Field(True, lambda v: isinstance(v, bool), "True or False")
BOOL_FALSE = Field(False, lambda v: isinstance(v, bool), "True or False")
STR_LIST = Field((), lambda v: isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v), "a list of str")
OPT_TYPED = Field(None, lambda v: v is None or (isinstance(v, Mapping) and "type" in v), "None or dict(type=...)")

SECTIONS: dict[str, dict[str, Field]] = {
    "train": {
        "max_epochs": _int(1, none=True),
        "max_steps": _int(1, none=True),
        "accum_steps": _int(1),
        "grad_clip": Field(None, lambda v: v is None or (_num(v) and v > 0), "None or a number > 0"),
        "amp": _choice(None, "bf16", "fp16"),
        "grad_checkpointing": BOOL_FALSE,
        "compile": Field(False, lambda v: isinstance(v, (bool, str)), "True/False or a torch.compile backend name"),
        "eval_interval": _int(1),
        "freeze": STR_LIST,
        "batch_transform": OPT_TYPED,
        "device": Field(None, lambda v: v is None or isinstance(v, str), "None or a device string"),
        "threads": _int(1, none=True),
    },
    "optimizer": {
        "type": Field("adamw", lambda v: isinstance(v, str) or callable(v), "'adamw', 'lamb', 'sgd' or a class"),
        "lr": Field(1e-3, lambda v: _num(v) and v > 0, "a number > 0"),
        "weight_decay": Field(0.05, lambda v: _num(v) and v >= 0, "a number >= 0"),
        "layer_decay": Field(None, lambda v: v is None or (_num(v) and 0 < v <= 1), "None or a number in (0, 1]"),
        "no_weight_decay": STR_LIST,
    },
    "scheduler": {
        "type": _choice("cosine", "constant"),
        "warmup_epochs": Field(0, lambda v: _num(v) and v >= 0, "a number >= 0"),
        "warmup_steps": _int(0, none=True),
        "min_lr": Field(0.0, lambda v: _num(v) and v >= 0, "a number >= 0"),
    },
    "ema": {
        "decay": Field(0.9998, lambda v: _num(v) and 0 < v < 1, "a number in (0, 1)"),
        "evaluate": BOOL_TRUE,
    },
    "checkpoint": {
        "interval_epochs": _int(1),
        "interval_steps": _int(1, none=True),
        "keep_last": _int(1),
        "save_best": Field(None, lambda v: v is None or isinstance(v, str), "None or a metric name"),
        "rule": _choice("greater", "less"),
    },
    "log": {"interval": _int(1), "progress_bar": BOOL_TRUE, "tensorboard": BOOL_TRUE, "plot": BOOL_TRUE},
    "dist": {
        "strategy": _choice("ddp", "fsdp"),
        "backend": _choice(None, "gloo", "nccl"),
        "find_unused_parameters": BOOL_FALSE,
        "fsdp_layers": Field(("Block",), STR_LIST.check, STR_LIST.expect),
        "timeout_s": Field(600, lambda v: _num(v) and v > 0, "a number > 0"),
    },
}
LOADER = {
    "batch_size": Field(None, lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "num_workers": _int(0),
    "pin_memory": BOOL_FALSE,
    "drop_last": Field(None, lambda v: v is None or isinstance(v, bool), "None (auto) or True/False"),
    "dataset": Field(None, lambda v: isinstance(v, Mapping) and "type" in v, "dict(type=..., ...)"),
}
TYPED_KEYS = ("model", "criterion", "evaluator")
SCALARS = {
    "seed": _int(0),
    "deterministic": BOOL_FALSE,
    "work_dir": Field(None, lambda v: v is None or isinstance(v, str), "None or a path"),
}
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
TOP_LEVEL = {*SECTIONS, *LOADERS, *TYPED_KEYS, *SCALARS}
PATH_KEYS = ("root", "path", "list_file", "ann_file")
PATH_SUFFIXES = ("_root", "_file", "_dir", "_path")


def _unknown(key: str, valid: Any) -> str:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(valid), n=1)
    return f"{key}: unknown key" + (f"; did you mean {close[0]!r}?" if close else f" (valid: {sorted(valid)})")


def _section(name: str, given: Mapping | None, spec: Mapping[str, Field], extra_ok: bool = False) -> dict[str, Any]:
    given = dict(given or {})
    if not isinstance(given, Mapping):
        raise ConfigError(f"{name}: expected a dict, got {type(given).__name__}")
    out = {}
    for key, value in given.items():
        field = spec.get(key)
        if field is None:
            if not extra_ok:
                raise ConfigError(_unknown(f"{name}.{key}", spec))
            out[key] = value
        elif not field.check(value):
            raise ConfigError(f"{name}.{key}: expected {field.expect}, got {value!r}")
        else:
            out[key] = value
    for key, field in spec.items():
        out.setdefault(key, field.default)
    return out


def _check_typed(node: Any, key: str) -> None:
    """Every ``type=`` must import, its other keys must be arguments it takes, and data paths must exist."""
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_typed(item, f"{key}.{i}")
        return
    if not isinstance(node, Mapping):
        return
    for sub, value in node.items():
        if sub != "type":
            _check_typed(value, f"{key}.{sub}")
        name = str(sub)
        if isinstance(value, str) and (name in PATH_KEYS or name.endswith(PATH_SUFFIXES)) and "dataloader" in key:
            if not Path(value).expanduser().exists():
                raise ConfigError(f"{key}.{sub}: path does not exist: {value}")
    if "type" not in node:
        return
    kind = node["type"]
    try:
        target = locate(kind) if isinstance(kind, str) else kind
    except ConfigError as err:
        raise ConfigError(f"{key}.type: {err}") from None
    if not callable(target):
        raise ConfigError(f"{key}.type: {kind!r} is not callable")
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the build report problems
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for sub in node:
        if sub != "type" and sub not in params:
            raise ConfigError(_unknown(f"{key}.{sub}", [p for p in params if p != "self"]))


def resolve_config(cfg: Mapping[str, Any], mode: str = "train") -> dict[str, Any]:
    """Check ``cfg`` for ``mode`` ('train' or 'test') and return its sections with defaults filled in."""
    for key in cfg:
        if not key.startswith("_") and key not in TOP_LEVEL:
            raise ConfigError(_unknown(key, TOP_LEVEL))
    if "model" not in cfg:
        raise ConfigError("model: missing; the config must say which model to build (dict(type=..., ...))")
    out: dict[str, Any] = {}
    for key, field in SCALARS.items():
        value = cfg.get(key, field.default)
        if not field.check(value):
            raise ConfigError(f"{key}: expected {field.expect}, got {value!r}")
        out[key] = value
    for name, spec in SECTIONS.items():
        if name == "ema" and cfg.get("ema") is None:
            out["ema"] = None
            continue
        out[name] = _section(name, cfg.get(name), spec, extra_ok=name == "optimizer")
    for key in TYPED_KEYS:
        value = cfg.get(key)
        if value is not None and not (isinstance(value, Mapping) and "type" in value):
            raise ConfigError(f"{key}: expected dict(type=..., ...), got {value!r}")
        out[key] = value
    needed = ("train_dataloader",) if mode == "train" else ()
    for key in LOADERS:
        if cfg.get(key) is None:
            if key in needed:
                raise ConfigError(f"{key}: missing; training needs a dataset and a batch size")
            out[key] = None
            continue
        loader = _section(key, cfg[key], LOADER)
        for must in ("batch_size", "dataset"):
            if loader[must] is None:
                raise ConfigError(f"{key}.{must}: missing")
        out[key] = loader
    if mode == "test" and out["test_dataloader"] is None and out["val_dataloader"] is None:
        raise ConfigError("test_dataloader: missing (and no val_dataloader to fall back on)")
    train = out["train"]
    if mode == "train" and (train["max_epochs"] is None) == (train["max_steps"] is None):
        raise ConfigError("train.max_epochs / train.max_steps: set exactly one of them")
    if out["ema"] is not None and out["dist"]["strategy"] == "fsdp":
        raise ConfigError("ema: not supported with dist.strategy='fsdp' (the average would need its own sharding)")
    for key in (*TYPED_KEYS, *LOADERS):
        if out.get(key) is not None:
            _check_typed(
                out[key]["dataset"] if key in LOADERS else out[key], f"{key}.dataset" if key in LOADERS else key
            )
    if out["train"]["batch_transform"] is not None:
        _check_typed(out["train"]["batch_transform"], "train.batch_transform")
    _check_optimizer(out["optimizer"])
    return out


def _check_optimizer(opt: dict[str, Any]) -> None:
    from vision.engine.optim import OPTIMIZERS

    kind = opt["type"]
    if isinstance(kind, str) and kind not in OPTIMIZERS:
        try:
            opt["type"] = locate(kind)
        except ConfigError as err:
            raise ConfigError(
                f"optimizer.type: {kind!r} is neither one of {sorted(OPTIMIZERS)} nor importable ({err})"
            ) from None
    cls = OPTIMIZERS[kind]() if isinstance(kind, str) and kind in OPTIMIZERS else opt["type"]
    params = inspect.signature(cls).parameters
    for key in opt:
        if key not in SECTIONS["optimizer"] and key not in params:
            raise ConfigError(_unknown(f"optimizer.{key}", [*SECTIONS["optimizer"], *params]))
