"""EVA-CLIP training pieces for ``tools/train.py`` (the engine's contract: ``model(*batch)`` returns the loss).

* :func:`build_train_model` -> :class:`ContrastiveEVACLIP`: the same module and keys as :class:`EVACLIP`, whose
  ``forward(images, texts)`` returns ``{'loss', 'logit_scale'}``. FLIP patch dropout is the core ViT's
  ``patch_drop_rate`` (the RoPE tables follow the kept patches); gradient checkpointing and bf16 come from the engine.
* :func:`init_towers` starts the image tower from an EVA / EVA-02 MIM or classification checkpoint and the text
  tower from an OpenAI-style CLIP or EVA-CLIP checkpoint.
* :class:`TowerOptimizer` (``optimizer.type``) gives each tower its own lr, weight decay and layer decay.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from typing import Any

import torch

import vision
from eva_clip.loss import ClipLoss
from eva_clip.models import EVACLIP, build_eva_clip

__all__ = ["ContrastiveEVACLIP", "TowerOptimizer", "build_train_model", "init_towers"]

MAX_LOGIT_SCALE = math.log(100.0)


class ContrastiveEVACLIP(EVACLIP):
    """:class:`EVACLIP` whose forward is the contrastive loss (the logit scale is clamped at 100, as in CLIP)."""

    def __init__(self, *args: Any, local_loss: bool = True, gather_with_grad: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss_fn = ClipLoss(local_loss=local_loss, gather_with_grad=gather_with_grad)

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> dict[str, torch.Tensor]:  # type: ignore[override]
        with torch.no_grad():
            self.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        image_features, text_features, scale = super().forward(images, texts)
        loss = self.loss_fn(image_features, text_features, scale)
        return {"loss": loss, "logit_scale": scale.detach()}


def build_train_model(
    name: str,
    init_visual: str | os.PathLike | None = None,
    init_text: str | os.PathLike | None = None,
    local_loss: bool = True,
    gather_with_grad: bool = True,
    **overrides: Any,
) -> ContrastiveEVACLIP:
    """A registered EVA-CLIP architecture as a training module (``overrides`` as for ``vision.create_model``,
    e.g. ``vision_cfg=dict(patch_drop_rate=0.5)`` for FLIP), optionally initialised from tower checkpoints."""
    model = build_eva_clip(
        name, ContrastiveEVACLIP, dict(local_loss=local_loss, gather_with_grad=gather_with_grad), **overrides
    )
    if init_visual is not None or init_text is not None:
        init_towers(model, init_visual, init_text)
    return model


_OPENAI_TEXT = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.", "text_projection")


def init_towers(
    model: EVACLIP, visual: str | os.PathLike | None = None, text: str | os.PathLike | None = None
) -> dict[str, vision.LoadReport]:
    """Load the image tower from an EVA checkpoint (MIM heads and mask token dropped, sizes resampled) and/or the
    text tower from an OpenAI CLIP (top-level ``transformer.*``) or EVA-CLIP / open_clip (``text.*``) checkpoint.

    The projections may not fit (other embedding size): those keys are reported and left at their init.
    """
    from vision.checkpoint import load_state_dict

    reports = {}
    if visual is not None:
        reports["visual"] = vision.load_checkpoint(model.visual, visual, strict=False)
        loaded = len(model.visual.state_dict()) - len(reports["visual"].missing)
        if loaded <= 2:
            raise ValueError(f"{visual}: no image-tower weights matched ({reports['visual']})")
    if text is not None:
        sd = load_state_dict(text)
        if any(k.startswith("text.") for k in sd):
            sd = {k.removeprefix("text."): v for k, v in sd.items() if k.startswith("text.")}
        else:
            sd = {k: v for k, v in sd.items() if k.startswith(_OPENAI_TEXT)}
        if not sd:
            raise ValueError(f"{text}: no text-tower keys (expected 'text.*' or OpenAI CLIP 'transformer.*' names)")
        reports["text"] = vision.load_checkpoint(model.text, sd, strict=False, filter_fn=lambda s, m: s)
    return reports


_BLOCK_PATTERNS = {"visual": r"visual\.blocks\.(\d+)\.", "text": r"text\.transformer\.resblocks\.(\d+)\."}


def _block_ids(pattern: str, names: Iterable[str]) -> list[int]:
    return [int(m.group(1)) for n in names if (m := re.match(pattern, n))]


def _tower_and_layer(name: str, depths: dict[str, int]) -> tuple[str, int]:
    """``('visual' | 'text' | 'other', layer id)``: 0 embeddings, i + 1 for block i, depth + 1 for the rest."""
    if name.startswith("visual."):
        match = re.match(_BLOCK_PATTERNS["visual"], name)
        if match:
            return "visual", int(match.group(1)) + 1
        embed = name.startswith(("visual.patch_embed", "visual.cls_token", "visual.pos_embed", "visual.mask_token"))
        return "visual", 0 if embed else depths["visual"] + 1
    if name.startswith("text."):
        match = re.match(_BLOCK_PATTERNS["text"], name)
        if match:
            return "text", int(match.group(1)) + 1
        embed = name.startswith(("text.token_embedding", "text.positional_embedding"))
        return "text", 0 if embed else depths["text"] + 1
    return "other", 0


def TowerOptimizer(  # noqa: N802 (used as ``optimizer.type`` in configs, like an optimizer class)
    params: Iterable[dict[str, Any]],
    lr: float,
    base: str = "adamw",
    visual: dict[str, float] | None = None,
    text: dict[str, float] | None = None,
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """An AdamW or LAMB (``base``) whose groups give each tower its own ``lr``, ``weight_decay`` and
    ``layer_decay`` (``visual=dict(...)``, ``text=dict(...)``; unset keys use the optimizer's).

    Takes the engine's parameter groups (with ``param_names``; no-decay parameters already have weight decay 0) and
    regroups them by (tower, layer, decays). ``lr_scale`` carries tower lr / base lr times the layer factor, so the
    engine's schedule keeps the ratios.
    """
    from vision.engine.optim import OPTIMIZERS

    settings = {"visual": dict(visual or {}), "text": dict(text or {}), "other": {}}
    for tower, cfg in settings.items():
        unknown = set(cfg) - {"lr", "weight_decay", "layer_decay"}
        if unknown:
            raise ValueError(f"optimizer.{tower}: unknown keys {sorted(unknown)}; use lr, weight_decay, layer_decay")
    groups = list(params)
    names = [n for g in groups for n in g["param_names"]]
    depths = {tower: 1 + max(_block_ids(pattern, names), default=-1) for tower, pattern in _BLOCK_PATTERNS.items()}
    default_wd = max((g["weight_decay"] for g in groups), default=0.0)
    regrouped: dict[tuple[str, int, bool], dict[str, Any]] = {}
    for group in groups:
        decays = group["weight_decay"] > 0
        for param, name in zip(group["params"], group["param_names"]):
            tower, layer = _tower_and_layer(name, depths)
            cfg = settings[tower]
            num_layers = depths.get(tower, 0) + 2
            layer_scale = cfg["layer_decay"] ** (num_layers - 1 - layer) if cfg.get("layer_decay") else 1.0
            scale = cfg.get("lr", lr) / lr * layer_scale
            entry = regrouped.setdefault(
                (tower, layer, decays),
                {
                    "params": [],
                    "param_names": [],
                    "weight_decay": cfg.get("weight_decay", default_wd) if decays else 0.0,
                    "lr_scale": scale,
                    "lr": lr * scale,
                },
            )
            entry["params"].append(param)
            entry["param_names"].append(name)
    if base not in ("adamw", "lamb"):
        raise ValueError(f"optimizer.base must be 'adamw' or 'lamb', got {base!r}")
    return OPTIMIZERS[base]()([regrouped[k] for k in sorted(regrouped)], lr=lr, **kwargs)
