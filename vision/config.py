"""Python configs (mmengine ``Config``: ``_base_`` inheritance, ``--cfg-options a.b=c`` overrides) and
``instantiate()``, which builds objects from ``type=`` entries.

``type`` is a callable or a dotted import path (``'torch.optim.AdamW'``, ``'vision.create_model'``).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ConfigError", "instantiate", "load_config", "locate", "parse_cfg_options"]


class ConfigError(ValueError):
    """A config that cannot be used as written; the message names the key."""


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


def parse_cfg_options(options: Sequence[str] | None) -> dict[str, Any]:
    """``['optim.lr=1e-3', 'model.depth=2', 'data.sizes=[1,2]']`` -> ``{'optim.lr': 0.001, ...}``."""
    parsed: dict[str, Any] = {}
    for option in options or ():
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(f"--cfg-options entries look like key.path=value, got {option!r}")
        parsed[key.strip()] = _literal(value.strip())
    return parsed


def _check_override_paths(cfg: Mapping, options: Mapping[str, Any]) -> None:
    """An override must name an existing key, except a new leaf under an existing dict (mmengine allows that)."""
    for dotted in options:
        node: Any = cfg
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            is_leaf = depth == len(parts) - 1
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif is_leaf and isinstance(node, Mapping):
                break
            else:
                keys = list(node) if isinstance(node, Mapping) else []
                close = difflib.get_close_matches(part, keys, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ConfigError(
                    f"--cfg-options {dotted!r}: no key {part!r} at {'.'.join(parts[:depth]) or 'top'}{hint}"
                )


def load_config(path: str | os.PathLike, cfg_options: Sequence[str] | Mapping[str, Any] | None = None):
    """Load a Python config file with its ``_base_`` files, then apply overrides (``key.path=value``)."""
    from mmengine.config import Config

    if not os.path.isfile(path):
        raise FileNotFoundError(f"config file not found: {path}")
    cfg = Config.fromfile(str(path))
    options = dict(cfg_options) if isinstance(cfg_options, Mapping) else parse_cfg_options(cfg_options)
    if options:
        _check_override_paths(cfg.to_dict(), options)
        cfg.merge_from_dict(options)
    return cfg


def locate(path: str) -> Any:
    """Import ``'package.module.attr'`` (attributes may nest: ``'torch.optim.AdamW'``)."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is not None and not module_name.startswith(err.name):
                raise
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            members = [m for m in dir(obj) if not m.startswith("_")]
            close = difflib.get_close_matches(parts[-1], members, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"cannot find {path!r}: {module_name} has no {'.'.join(parts[split:])!r}{hint}") from None
        return obj
    raise ConfigError(f"cannot import {path!r}: no module {parts[0]!r}")


def instantiate(cfg: Any, **extra: Any) -> Any:
    """Build ``cfg`` recursively: every mapping with a ``type`` key becomes ``type(**other keys)``.

    Lists and plain mappings are walked; ``extra`` keyword arguments go to the top-level call only. Unknown
    argument names are reported with the accepted ones.
    """
    if isinstance(cfg, Mapping):
        if "type" not in cfg:
            return {k: instantiate(v) for k, v in cfg.items()}
        kind = cfg["type"]
        target = locate(kind) if isinstance(kind, str) else kind
        if not callable(target):
            raise ConfigError(f"type {kind!r} is not callable")
        kwargs = {k: instantiate(v) for k, v in cfg.items() if k != "type"}
        kwargs.update(extra)
        try:
            return target(**kwargs)
        except TypeError as err:
            name = getattr(target, "__qualname__", repr(target))
            raise ConfigError(f"cannot build {name} from config keys {sorted(kwargs)}: {err}") from err
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(instantiate(v) for v in cfg)
    return cfg
