"""Checkpoint conversion for the EVA package: official MIM checkpoints into the MIM student or into a classifier.

:func:`checkpoint_filter_fn` is used by ``vision.load_checkpoint`` (through ``EvaMIM.checkpoint_filter_fn``) and by
``tools/convert_checkpoint.py``. Key names are already the official ones; the core filter
(``vision.convert.checkpoint_filter_fn``) drops the RoPE buffers, converts fused/split qkv and SwiGLU layouts and
resamples position embeddings and patch kernels.

MIM checkpoint -> classifier (fine-tuning) follows the official EVA recipe: ``mask_token`` and ``lm_head`` are dropped,
the pre-training ``norm`` is dropped when the classifier pools with ``fc_norm`` (mean pooling), and ``fc_norm`` and
``head`` start from the classifier's own fresh initialisation, so a strict load reports nothing missing. timm differs
here: its EVA filter copies the MIM ``norm`` into ``fc_norm``. Pass ``norm_to_fc_norm=True`` to
:func:`mim_to_classifier` for timm's behaviour.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vision.checkpoint import unwrap_state_dict
from vision.convert import checkpoint_filter_fn as core_filter_fn
from vision.convert import strip_prefix

__all__ = ["checkpoint_filter_fn", "is_mim_checkpoint", "mim_to_classifier"]

StateDict = dict[str, torch.Tensor]
_MIM_ONLY = ("mask_token", "lm_head.weight", "lm_head.bias")


def is_mim_checkpoint(state_dict: StateDict) -> bool:
    """True for a MIM pre-training state dict (it carries ``mask_token`` or ``lm_head``)."""
    return any(k in state_dict for k in _MIM_ONLY)


def mim_to_classifier(state_dict: StateDict, model: nn.Module, norm_to_fc_norm: bool = False) -> StateDict:
    """Turn a MIM state dict into one for the classifier ``model`` (see the module docstring)."""
    out = {k: v for k, v in state_dict.items() if k not in _MIM_ONLY}
    own = model.state_dict()
    uses_fc_norm = "fc_norm.weight" in own and "norm.weight" not in own
    if uses_fc_norm:
        norm = {k: out.pop(k) for k in ("norm.weight", "norm.bias") if k in out}
        if norm_to_fc_norm:
            out.update({"fc_" + k: v for k, v in norm.items()})
    for key, value in own.items():
        if key.startswith(("fc_norm.", "head.")) and key not in out:
            out[key] = value.detach().clone()  # fresh: the classifier's own initialisation
    return out


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Official EVA / EVA-02 checkpoint (MIM or fine-tuned, ``{'module': ...}`` or flat) or one saved by our MIM
    training (``student.*`` keys) -> ``model``'s keys."""
    state_dict = strip_prefix(unwrap_state_dict(state_dict))
    if state_dict and all(k.startswith("student.") for k in state_dict):  # a MIMPretrainer training checkpoint
        state_dict = {k.removeprefix("student."): v for k, v in state_dict.items()}
    if is_mim_checkpoint(state_dict) and not hasattr(model, "lm_head"):
        state_dict = mim_to_classifier(state_dict, model)
    return core_filter_fn(state_dict, model)
