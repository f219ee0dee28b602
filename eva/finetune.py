"""Image-classification fine-tuning of EVA / EVA-02: the classifier a config builds, at any resolution.

The rest of the official recipe is configuration of the engine (``vision.engine``), spelled out in
``configs/eva/*_ft_*.py``: layer-wise lr decay (``optimizer.layer_decay``), EMA with EMA evaluation (``ema``), label
smoothing (``criterion``), drop path (``model.drop_path_rate``), RandAugment without mixup/cutmix, and the frozen patch
embedding (``train.freeze=['patch_embed']``; the official fine-tuning models detach the patch embedding by default).

Resolution changes (e.g. MIM at 224 -> fine-tuning at 448): the absolute position embedding is resampled bicubically
from the checkpoint's grid to the new one (``vision.convert``), and RoPE needs no weights: the registered EVA-02
classifiers scale their rotary positions onto the 16x16 pre-training grid (official ``pt_seq_len=16``), so a 32x32
grid at 448 covers the same position range the MIM model saw.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn as nn

from eva.convert import checkpoint_filter_fn
from vision import create_model, load_checkpoint

__all__ = ["build_classifier", "check_resolution"]

# Official EVA fine-tuning scales the fresh head's initial weights and bias by this (``--init_scale``).
HEAD_INIT_SCALE = 1e-3


def check_resolution(img_size: int, patch_size: int) -> None:
    """Fine-tuning resolutions must tile into whole patches."""
    if img_size <= 0 or img_size % patch_size:
        raise ValueError(
            f"fine-tuning resolution {img_size} is not divisible by the patch size {patch_size}; "
            f"use a multiple such as {max(patch_size, round(img_size / patch_size) * patch_size)}"
        )


def build_classifier(
    name: str,
    checkpoint: str | os.PathLike | None = None,
    img_size: int | None = None,
    num_classes: int = 1000,
    drop_path_rate: float = 0.1,
    head_init_scale: float = HEAD_INIT_SCALE,
    **kwargs: Any,
) -> nn.Module:
    """A registered classifier at ``img_size``, initialised from a MIM, intermediate or fine-tuned checkpoint.

    A MIM checkpoint leaves ``fc_norm`` and ``head`` at their fresh initialisation (see :mod:`eva.convert`); the head
    is scaled by ``head_init_scale`` as the official recipe does. The checkpoint's position embedding is resampled to
    the new grid. A head of another size (e.g. IN-21K -> IN-1K) is re-initialised too.
    """
    probe = create_model(name, num_classes=0, depth=1) if img_size is not None else None
    if probe is not None:
        check_resolution(img_size, probe.patch_embed.patch_size[0])
        kwargs["img_size"] = img_size
    model = create_model(name, num_classes=num_classes, drop_path_rate=drop_path_rate, **kwargs)
    fresh_head = True
    if checkpoint is not None:

        def keep_fresh_head(state_dict: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
            nonlocal fresh_head
            out = checkpoint_filter_fn(state_dict, target)
            own = target.state_dict()
            mismatched = [k for k in ("head.weight", "head.bias") if k in out and out[k].shape != own[k].shape]
            carried = "head.weight" in state_dict and not mismatched
            fresh_head = not carried
            for key in mismatched:
                out[key] = own[key]
            return out

        load_checkpoint(model, checkpoint, filter_fn=keep_fresh_head)
    if fresh_head and isinstance(model.head, nn.Linear):
        with torch.no_grad():
            model.head.weight.mul_(head_init_scale)
            model.head.bias.mul_(head_init_scale)
    return model
