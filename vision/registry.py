"""Model registry: ``@register_model`` functions, ``create_model('arch.tag')``, ``list_models('eva02*')``.

Model packages (eva, eva_clip, painter, seggpt) register through the ``shijie.models`` entry-point group; they are
imported the first time a name is not found or a list is asked for, so ``import vision`` stays light.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch.nn as nn

from vision.pretrained import PretrainedCfg, resolve_pretrained_file

__all__ = ["create_model", "get_pretrained_cfg", "list_models", "list_pretrained", "register_model"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_PRETRAINED: dict[str, PretrainedCfg] = {}
_DEFAULT_TAG: dict[str, str] = {}
_plugins_loaded = False


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model builder under its function name."""
    name = fn.__name__
    if name in _MODELS and _MODELS[name] is not fn:
        raise ValueError(f"model {name!r} is registered twice ({_MODELS[name].__module__} and {fn.__module__})")
    _MODELS[name] = fn
    return fn


def register_pretrained(name_tag: str, cfg: PretrainedCfg, default: bool = False) -> None:
    """Register weights as ``arch.tag``; the first tag of an architecture (or ``default=True``) is its default."""
    arch, _, tag = name_tag.partition(".")
    if not tag:
        raise ValueError(f"pretrained names look like 'arch.tag', got {name_tag!r}")
    _PRETRAINED[name_tag] = cfg
    if default or arch not in _DEFAULT_TAG:
        _DEFAULT_TAG[arch] = tag


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group="shijie.models"):
        try:
            ep.load()
        except ModuleNotFoundError as err:
            # A package named in the entry point but absent from this install: nothing to register.
            if err.name is None or not ep.value.startswith(err.name):
                raise


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered architectures matching a glob pattern (or ``arch.tag`` names with ``pretrained=True``)."""
    _load_plugins()
    names = _PRETRAINED if pretrained else _MODELS
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def list_pretrained(pattern: str = "*") -> list[str]:
    return list_models(pattern, pretrained=True)


def _unknown(name: str, pool: list[str], what: str) -> KeyError:
    close = difflib.get_close_matches(name, pool, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see vision.list_models()"
    return KeyError(f"unknown {what} {name!r}{hint}")


def _full_tag(name: str) -> str | None:
    """``arch.tag`` for a name, filling in the architecture's default tag; None if it has no weights."""
    _load_plugins()
    arch, _, tag = name.partition(".")
    tag = tag or _DEFAULT_TAG.get(arch)
    if tag is None:
        return None
    key = f"{arch}.{tag}"
    if key not in _PRETRAINED:
        raise _unknown(key, list(_PRETRAINED), "pretrained weights")
    return key


def get_pretrained_cfg(name: str) -> PretrainedCfg | None:
    """The pretrained config of ``arch.tag``, or the default tag of ``arch``; None if it has none."""
    key = _full_tag(name)
    return _PRETRAINED[key] if key else None


def create_model(name: str, pretrained: bool | str | Path | None = None, strict: bool = True, **overrides: Any):
    """Build a registered model.

    ``name`` is ``arch`` or ``arch.tag``. ``pretrained`` is ``None``/``False`` (random init), ``True`` (the tag's
    weights: local file, ``$SHIJIE_WEIGHTS``, or the hub when online) or a path to a checkpoint file. Overrides use
    timm's argument names (``img_size``, ``num_classes``, ``drop_path_rate``, ...).
    """
    arch = name.partition(".")[0]
    if arch not in _MODELS:
        _load_plugins()
    if arch not in _MODELS:
        raise _unknown(arch, list(_MODELS), "model")
    tag = _full_tag(name) if (pretrained is True or "." in name) else None
    cfg = _PRETRAINED[tag] if tag else None
    model = _MODELS[arch](**overrides)
    model.pretrained_cfg = cfg
    if pretrained:
        from vision.checkpoint import load_checkpoint

        if pretrained is True:
            if cfg is None:
                raise ValueError(f"{arch!r} has no registered pretrained weights; pass a checkpoint path instead")
            path = resolve_pretrained_file(tag, cfg)
        else:
            path = Path(pretrained)
        load_checkpoint(model, path, strict=strict)
    return model
