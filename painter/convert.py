"""Official Painter checkpoints -> :class:`painter.models.Painter` (same names; canvas and wrong-model checks).

``checkpoint_filter_fn`` is what ``vision.load_checkpoint`` and ``tools/convert_checkpoint.py`` call. Painter's
parameter names are the official ones, so the only work is unwrapping, resampling the relative-position tables for a
model built at another canvas size, and refusing a SegGPT checkpoint with a message that says so.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vision.incontext import adapt_state_dict

__all__ = ["checkpoint_filter_fn", "export_state_dict"]

StateDict = dict[str, torch.Tensor]

_SEGGPT_KEYS = ("type_token_cls", "type_token_ins", "model.embeddings.type_token_semantic")


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Official Painter weights in, weights that ``model`` loads strictly out; SegGPT weights raise ``ValueError``."""
    if any(k.removeprefix("module.") in _SEGGPT_KEYS for k in state_dict):
        raise ValueError(
            "this is a SegGPT checkpoint (it has type tokens), not a Painter one; load it with "
            "vision.create_model('seggpt_vit_large_patch16_input896x448', pretrained=PATH)"
        )
    return adapt_state_dict(state_dict, model)


def export_state_dict(model: nn.Module, fmt: str = "official") -> StateDict:
    """The official Painter layout (our names are the official names), detached on the CPU."""
    if fmt != "official":
        raise ValueError(f"Painter exports only the 'official' layout, not {fmt!r}")
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}
