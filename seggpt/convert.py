"""SegGPT checkpoints: the official release and transformers' ``SegGptForImageSegmentation``, in and out.

:func:`checkpoint_filter_fn` (used by ``vision.load_checkpoint`` and ``tools/convert_checkpoint.py``) accepts both
layouts: official names pass through (they are ours), transformers names go through :data:`HF_TO_OURS`. A Painter
checkpoint (no type tokens) is refused with a message that says so. :func:`export_state_dict` writes either layout;
:func:`transformers_config` gives the ``SegGptConfig`` arguments of a model, so weights can round-trip.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from vision.incontext import adapt_state_dict

__all__ = ["HF_TO_OURS", "checkpoint_filter_fn", "export_state_dict", "from_transformers", "transformers_config"]

StateDict = dict[str, torch.Tensor]

# transformers -> official/ours; substring replacements applied in order to every key.
HF_TO_OURS: tuple[tuple[str, str], ...] = (
    ("model.embeddings.mask_token", "mask_token"),
    ("model.embeddings.segment_token_input", "segment_token_x"),
    ("model.embeddings.segment_token_prompt", "segment_token_y"),
    ("model.embeddings.type_token_semantic", "type_token_cls"),
    ("model.embeddings.type_token_instance", "type_token_ins"),
    ("model.embeddings.position_embeddings", "pos_embed"),
    ("model.embeddings.patch_embeddings.projection.", "patch_embed.proj."),
    ("model.encoder.layernorm.", "norm."),
    ("model.encoder.layers.", "blocks."),
    (".attention.", ".attn."),
    (".layernorm_before.", ".norm1."),
    (".layernorm_after.", ".norm2."),
    (".mlp.lin1.", ".mlp.fc1."),
    (".mlp.lin2.", ".mlp.fc2."),
    ("decoder.decoder_embed.", "decoder_embed."),
    ("decoder.decoder_pred.conv.", "decoder_pred.0."),
    ("decoder.decoder_pred.layernorm.", "decoder_pred.1."),
    ("decoder.decoder_pred.head.", "decoder_pred.3."),
)


def _rename(key: str, table: tuple[tuple[str, str], ...]) -> str:
    for old, new in table:
        key = key.replace(old, new)
    return key


def _is_transformers(state_dict: StateDict) -> bool:
    return any(k.startswith(("model.embeddings.", "model.encoder.")) for k in state_dict)


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Official or transformers SegGPT weights in, weights that ``model`` loads strictly out."""
    if _is_transformers(state_dict):
        state_dict = {_rename(k, HF_TO_OURS): v for k, v in state_dict.items()}
    keys = {k.removeprefix("module.") for k in state_dict}
    if "segment_token_x" in keys and not {"type_token_cls", "type_token_ins"} & keys:
        raise ValueError(
            "this looks like a Painter checkpoint (no type_token_cls/type_token_ins), not a SegGPT one; load it with "
            "vision.create_model('painter_vit_large_patch16_input896x448', pretrained=PATH)"
        )
    return adapt_state_dict(state_dict, model)


def export_state_dict(model: nn.Module, fmt: str = "official") -> StateDict:
    """Weights in the ``official`` layout (our names) or transformers' (``fmt='transformers'``)."""
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if fmt == "official":
        return state_dict
    if fmt != "transformers":
        raise ValueError(f"unknown export format {fmt!r}; choose 'official' or 'transformers'")
    return {_to_transformers(k): v for k, v in state_dict.items()}


_TOKENS_TO_HF = {ours: theirs for theirs, ours in HF_TO_OURS[:6]}
_PREFIXES_TO_HF = (
    ("norm.", "model.encoder.layernorm."),
    ("blocks.", "model.encoder.layers."),
    ("patch_embed.proj.", "model.embeddings.patch_embeddings.projection."),
    ("decoder_embed.", "decoder.decoder_embed."),
    ("decoder_pred.0.", "decoder.decoder_pred.conv."),
    ("decoder_pred.1.", "decoder.decoder_pred.layernorm."),
    ("decoder_pred.3.", "decoder.decoder_pred.head."),
)
_BLOCK_PARTS_TO_HF = (
    (".attn.", ".attention."),
    (".norm1.", ".layernorm_before."),
    (".norm2.", ".layernorm_after."),
    (".mlp.fc1.", ".mlp.lin1."),
    (".mlp.fc2.", ".mlp.lin2."),
)


def _to_transformers(key: str) -> str:
    if key in _TOKENS_TO_HF:
        return _TOKENS_TO_HF[key]
    for ours, theirs in _PREFIXES_TO_HF:
        if key.startswith(ours):
            key = theirs + key[len(ours) :]
            break
    if key.startswith("model.encoder.layers."):
        key = _rename(key, _BLOCK_PARTS_TO_HF)
    return key


def transformers_config(model: nn.Module) -> dict[str, Any]:
    """``SegGptConfig`` keyword arguments describing ``model`` (a :class:`seggpt.models.SegGPT`)."""
    block = model.blocks[0]
    return dict(
        hidden_size=model.embed_dim,
        num_hidden_layers=len(model.blocks),
        num_attention_heads=block.attn.num_heads,
        layer_norm_eps=model.norm.eps,
        image_size=list(model.img_size),
        patch_size=model.patch_size,
        qkv_bias=block.attn.qkv.bias is not None,
        mlp_dim=block.mlp.fc1.out_features,
        pretrain_image_size=model.patch_size * round((model.pos_embed.shape[1] - 1) ** 0.5),
        decoder_hidden_size=model.decoder_embed_dim,
        use_relative_position_embeddings=True,
        merge_index=model.merge_index,
        intermediate_hidden_state_indices=list(model.out_indices),
    )


def from_transformers(hf_model: nn.Module, model: nn.Module) -> nn.Module:
    """Load a transformers ``SegGptForImageSegmentation``'s weights into ``model`` (strict) and return it."""
    from vision.checkpoint import load_checkpoint

    load_checkpoint(model, hf_model.state_dict(), filter_fn=checkpoint_filter_fn)
    return model
