"""EVA-CLIP checkpoints: official ``.pt`` (``visual.*``, ``text.*``, ``logit_scale``) and open_clip's hub format
(``visual.trunk.*`` in timm's Eva names), both ways.

:func:`checkpoint_filter_fn` is what ``vision.load_checkpoint`` and ``tools/convert_checkpoint.py`` call; the vision
tower goes through the core's filter (renames, q/k/v and SwiGLU layout, RoPE buffers dropped, position-embedding
resampling), the text tower needs no renaming in either format.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vision.convert import checkpoint_filter_fn as vision_filter_fn
from vision.convert import export_state_dict as vision_export

__all__ = ["EXPORT_FORMATS", "checkpoint_filter_fn", "export_state_dict"]

StateDict = dict[str, torch.Tensor]
EXPORT_FORMATS = ("official", "open_clip")
_VISUAL_PREFIX = {"official": "visual.", "open_clip": "visual.trunk."}


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Map an official EVA-CLIP or open_clip EVA state dict onto an :class:`eva_clip.models.EVACLIP`'s keys.

    Raises ``ValueError`` when the checkpoint is not a two-tower CLIP checkpoint (for instance an EVA MIM or
    classification checkpoint, which has no ``text.*``); a CLIP checkpoint of another size is caught by the strict
    key and shape comparison of ``vision.load_checkpoint``.
    """
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    missing = [p for p in ("visual.", "text.") if not any(k.startswith(p) for k in state_dict)]
    if missing:
        sample = ", ".join(list(state_dict)[:4])
        raise ValueError(
            f"not an EVA-CLIP checkpoint: no {' or '.join(repr(p + '*') for p in missing)} keys (first keys: "
            f"{sample}). EVA-CLIP checkpoints hold both towers; a vision-only EVA checkpoint loads into the towers "
            "with eva_clip.train.init_towers"
        )
    out = {f"visual.{k}": v for k, v in vision_filter_fn(state_dict, model.visual).items()}
    for key, value in state_dict.items():
        if key.startswith("text.") and not key.endswith("attn_mask"):
            out[key] = value
    if "logit_scale" in state_dict:
        out["logit_scale"] = state_dict["logit_scale"].reshape(model.logit_scale.shape)
    return out


def export_state_dict(model: nn.Module, fmt: str = "official") -> StateDict:
    """``model``'s weights as an official EVA-CLIP ``.pt`` dict or as open_clip's ``EVA02-*`` hub layout."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    visual = vision_export(model.visual, "official" if fmt == "official" else "timm")
    out = {_VISUAL_PREFIX[fmt] + k: v for k, v in visual.items()}
    out.update({f"text.{k}": v.detach().clone() for k, v in model.text.state_dict().items()})
    out["logit_scale"] = model.logit_scale.detach().clone()
    return out
