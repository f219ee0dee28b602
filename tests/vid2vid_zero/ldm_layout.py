"""Write diffusers Stable Diffusion v1 components as one original (CompVis / LDM layout) checkpoint, for testing the
single-file loading path: diffusers reads that layout but ships no writer. Covers the SD v1 block structure only."""

from __future__ import annotations

import re

import torch

_UNET_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_ATTENTION = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def _rename(name: str, pairs) -> str:
    for new, old in pairs:
        name = name.replace(new, old)
    return name


def _unet_key(key: str, layers: int, up_attention: set[int]) -> str:
    prefix, _, param = key.rpartition(".")
    for new, old in _UNET_FIXED.items():
        if prefix == new:
            return f"{old}.{param}"
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        block = (layers + 1) * i + j + 1
        return (
            f"input_blocks.{block}.0.{_rename(rest, _UNET_RESNET)}"
            if kind == "resnets"
            else (f"input_blocks.{block}.1.{rest}")
        )
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(layers + 1) * (int(m[1]) + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"middle_block.{2 * int(m[1])}.{_rename(m[2], _UNET_RESNET)}"
    if m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        block = (layers + 1) * i + j
        return (
            f"output_blocks.{block}.0.{_rename(rest, _UNET_RESNET)}"
            if kind == "resnets"
            else (f"output_blocks.{block}.1.{rest}")
        )
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        i = int(m[1])
        return f"output_blocks.{(layers + 1) * i + layers}.{2 if i in up_attention else 1}.conv.{m[2]}"
    raise KeyError(f"no LDM name for UNet key {key}")


def _vae_key(key: str, num_blocks: int) -> str:
    key = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    key = re.sub(r"down_blocks\.(\d+)\.resnets\.", r"down.\1.block.", key)
    key = re.sub(r"down_blocks\.(\d+)\.downsamplers\.0\.", r"down.\1.downsample.", key)
    key = re.sub(r"up_blocks\.(\d+)\.", lambda m: f"up.{num_blocks - 1 - int(m[1])}.", key)
    key = re.sub(r"mid_block\.resnets\.(\d)", lambda m: f"mid.block_{int(m[1]) + 1}", key)
    key = key.replace(".resnets.", ".block.").replace(".upsamplers.0.", ".upsample.")
    if "mid_block.attentions.0." in key:
        key = _rename(key.replace("mid_block.attentions.0.", "mid.attn_1."), _VAE_ATTENTION)
    return key


def ldm_checkpoint(unet, vae, text_encoder) -> dict[str, torch.Tensor]:
    """One state dict in the original Stable Diffusion v1 layout (``model.diffusion_model.``, ``first_stage_model.``,
    ``cond_stage_model.transformer.``); VAE attention projections become 1x1 convolutions as there."""
    layers = unet.config.layers_per_block
    up_attention = {i for i, block in enumerate(unet.up_blocks) if getattr(block, "attentions", None)}
    out = {f"model.diffusion_model.{_unet_key(k, layers, up_attention)}": v for k, v in unet.state_dict().items()}
    num_blocks = len(vae.config.block_out_channels)
    for key, value in vae.state_dict().items():
        name = _vae_key(key, num_blocks)
        if ".mid.attn_1." in name and name.endswith("weight") and value.ndim == 2:
            value = value[:, :, None, None]
        out[f"first_stage_model.{name}"] = value
    for key, value in text_encoder.state_dict().items():  # transformers >= 5.6 dropped the text_model wrapper
        out[f"cond_stage_model.transformer.{key if key.startswith('text_model.') else 'text_model.' + key}"] = value
    return {k: v.contiguous() for k, v in out.items()}
