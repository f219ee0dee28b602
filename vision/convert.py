"""Checkpoint conversion for :class:`vision.VisionTransformer`: official EVA / EVA-CLIP towers, timm and open_clip.

One function, :func:`checkpoint_filter_fn`, serves loading (``vision.load_checkpoint``) and
``tools/convert_checkpoint.py``. Explicit rename tables, then layout changes the target model needs (fused/split
qkv, packed/split SwiGLU), then size changes (position embeddings, patch kernels). :func:`export_state_dict` goes
the other way, to the official EVA layout or timm's.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vision.layers import resample_abs_pos_embed, resample_patch_embed

__all__ = ["checkpoint_filter_fn", "export_state_dict", "strip_prefix"]

StateDict = dict[str, torch.Tensor]

# timm's Eva names -> ours (the official EVA names). Applied to every key, in order.
_TIMM_TO_OURS = (
    ("attn.norm.", "attn.inner_attn_ln."),
    ("mlp.norm.", "mlp.ffn_ln."),
    ("mlp.fc1_g.", "mlp.w1."),
    ("mlp.fc1_x.", "mlp.w2."),
    ("attn.q_proj.bias", "attn.q_bias"),
    ("attn.v_proj.bias", "attn.v_bias"),
)
# For SwiGLU models timm names the packed input and the output projections fc1/fc2.
_TIMM_SWIGLU = (("mlp.fc1.", "mlp.w12."), ("mlp.fc2.", "mlp.w3."))
# Layout groups: (fused name, split names).
_QKV = ("attn.qkv.weight", ("attn.q_proj.weight", "attn.k_proj.weight", "attn.v_proj.weight"))
_SWIGLU = (("mlp.w12.weight", ("mlp.w1.weight", "mlp.w2.weight")), ("mlp.w12.bias", ("mlp.w1.bias", "mlp.w2.bias")))


def strip_prefix(state_dict: StateDict) -> StateDict:
    """Keep the vision tower of CLIP checkpoints (``visual.trunk.`` for open_clip, ``visual.`` for EVA-CLIP) and drop
    the ``module.`` of DDP."""
    if any(k.startswith("module.") for k in state_dict):
        state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    for prefix in ("visual.trunk.", "visual."):
        if any(k.startswith(prefix) for k in state_dict):
            return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return state_dict


def _is_timm(state_dict: StateDict) -> bool:
    return any(
        tag in k for k in state_dict for tag in ("mlp.fc1_g.", "attn.q_proj.bias", "attn.norm.", "mlp.norm.")
    ) or any(k.endswith("attn.k_bias") for k in state_dict)


def _rename(state_dict: StateDict, table) -> StateDict:
    out = {}
    for key, value in state_dict.items():
        for old, new in table:
            key = key.replace(old, new)
        out[key] = value
    return out


def _set_layout(state_dict: StateDict, model_keys: set[str], fused: str, split: tuple[str, ...]) -> StateDict:
    """Concatenate split tensors into the fused one, or chunk the fused one, per block, as the model wants."""
    out = dict(state_dict)
    blocks = {k.split(".")[1] for k in state_dict if k.startswith("blocks.")}
    for b in blocks:
        pre = f"blocks.{b}."
        fused_key, split_keys = pre + fused, [pre + s for s in split]
        if fused_key in model_keys and all(k in out for k in split_keys):
            out[fused_key] = torch.cat([out.pop(k) for k in split_keys], dim=0)
        elif split_keys[0] in model_keys and fused_key in out:
            for key, part in zip(split_keys, out.pop(fused_key).chunk(len(split_keys), dim=0)):
                out[key] = part
    return out


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Map an official EVA-01/EVA-02/EVA-CLIP-tower, timm or open_clip state dict onto ``model``'s keys.

    Drops the RoPE buffers (recomputed, never loaded), timm's zero ``k_bias``, and ``mask_token``/``lm_head`` when the
    model has none; resamples position embeddings and patch kernels when the grid or patch size differs.
    """
    model_sd = model.state_dict()
    model_keys = set(model_sd)
    state_dict = strip_prefix(state_dict)
    if _is_timm(state_dict):
        state_dict = _rename(state_dict, _TIMM_TO_OURS)
    # Official SwiGLU weights never use fc1/fc2, so a SwiGLU model fed fc1/fc2 is reading timm's packed GluMlp.
    if any(k.endswith("mlp.w3.weight") for k in model_keys) and any(k.endswith("mlp.fc2.weight") for k in state_dict):
        state_dict = _rename(state_dict, _TIMM_SWIGLU)
    out = {}
    for key, value in state_dict.items():
        if "rope." in key or key == "rope" or key.endswith("attn.k_bias"):
            continue
        if key.startswith(("mask_token", "lm_head.")) and key not in model_keys:
            continue
        out[key] = value
    out = _set_layout(out, model_keys, *_QKV)
    for fused, split in _SWIGLU:
        out = _set_layout(out, model_keys, fused, split)

    patch = out.get("patch_embed.proj.weight")
    if patch is not None and "patch_embed.proj.weight" in model_sd:
        target = model_sd["patch_embed.proj.weight"].shape[-2:]
        if patch.shape[-2:] != target:
            out["patch_embed.proj.weight"] = resample_patch_embed(patch, tuple(target))
    pos = out.get("pos_embed")
    if pos is not None and "pos_embed" in model_sd and pos.shape != model_sd["pos_embed"].shape:
        prefix = getattr(model, "num_prefix_tokens", 1)
        out["pos_embed"] = resample_abs_pos_embed(pos, model.patch_embed.grid_size, num_prefix_tokens=prefix)
    return out


def export_state_dict(model: nn.Module, fmt: str = "official") -> StateDict:
    """``model``'s weights in the official EVA layout or timm's.

    Official EVA-02 checkpoints (and timm's Eva) split q/k/v and SwiGLU exactly when the model uses sub-LN (B/L);
    Ti/S and EVA-01 keep them fused. The official format also carries the RoPE tables as buffers (top level and per
    block), so an official model loads the export with ``strict=True``.
    """
    if fmt not in ("official", "timm"):
        raise ValueError(f"unknown export format {fmt!r}; choose 'official' or 'timm'")
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sub_ln = any(k.endswith("mlp.ffn_ln.weight") for k in sd)
    if sub_ln:
        blocks = {k.split(".")[1] for k in sd if k.startswith("blocks.")}
        split_names = (*_QKV[1], *(s for _, group in _SWIGLU for s in group))
        wanted = {f"blocks.{b}.{name}" for b in blocks for name in split_names}
        sd = _set_layout(sd, wanted, *_QKV)
        for fused, split in _SWIGLU:
            sd = _set_layout(sd, wanted, fused, split)
    if fmt == "timm":
        # timm keeps q_bias/v_bias as such beside a fused qkv, and names them q_proj.bias/v_proj.bias when split.
        table = [(ours, theirs) for theirs, ours in _TIMM_TO_OURS if sub_ln or "bias" not in ours]
        if any(".mlp.w3." in k for k in sd):
            table += [(ours, theirs) for theirs, ours in _TIMM_SWIGLU]
        return _rename(sd, table)
    rope = getattr(model, "rope", None)
    if rope is not None:
        prefix = model.num_prefix_tokens
        tables = {"freqs_cos": rope.cos[prefix:], "freqs_sin": rope.sin[prefix:]}
        for name, table in tables.items():
            sd[f"rope.{name}"] = table.clone()
            for i in range(len(model.blocks)):
                sd[f"blocks.{i}.attn.rope.{name}"] = table.clone()
    return sd
