"""EVA-02 checkpoints for the detection backbone: the official ``p14to16`` conversion and the load-time filter.

EVA-02 is pre-trained with 14 px patches at 224 px (a 16 x 16 grid). The official detection recipe starts from
``*_p14to16.pt`` files made by ``interpolate_patch_14to16.py``: the 14 x 14 patch kernel is resized bicubically to
16 x 16 (``F.interpolate``, ``align_corners=False``, as the released files were made) and the position embedding is
resized from the 16 x 16 grid to the 14 x 14 grid that 224 px gives at patch 16. :func:`convert_p14_to_p16` does
exactly that, so converting a p14 checkpoint here reproduces the released p14to16 weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vision.layers import resample_abs_pos_embed

__all__ = ["PatchSizeMismatchError", "checkpoint_filter_fn", "convert_p14_to_p16", "main"]

StateDict = dict[str, torch.Tensor]
_PREFIXES = ("module.", "backbone.net.", "backbone.", "net.", "encoder.", "visual.")
# Pre-training / classification parts the detection backbone has no use for.
_DROP = ("cls_token", "mask_token", "norm.", "fc_norm.", "head.", "lm_head.", "rope.", "rope_win.", "rope_glb.")
_DROP_INNER = (".rope.",)  # per-block copies of the RoPE buffers in official checkpoints


class PatchSizeMismatchError(ValueError):
    """A checkpoint's patch kernel does not match the backbone's patch size."""


def _pos_grid(pos_embed: torch.Tensor, num_prefix: int) -> tuple[int, int]:
    n = pos_embed.shape[1] - num_prefix
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"pos_embed holds {n} grid positions, not a square grid")
    return side, side


def convert_p14_to_p16(
    state_dict: StateDict, pretrain_img_size: int = 224, patch_size: int = 16, num_prefix_tokens: int = 1
) -> StateDict:
    """The official ``p14to16`` conversion: bicubic patch-kernel resize and position-embedding resize.

    ``state_dict`` uses EVA-02 key names (``patch_embed.proj.weight``, ``pos_embed``); other keys pass through.
    """
    key = "patch_embed.proj.weight"
    if key not in state_dict:
        raise KeyError(f"no {key!r} in the checkpoint; is this an EVA-02 state dict (keys: {list(state_dict)[:5]})?")
    out = dict(state_dict)
    weight = state_dict[key]
    if tuple(weight.shape[-2:]) != (patch_size, patch_size):
        kernel = F.interpolate(weight.float(), size=(patch_size, patch_size), mode="bicubic", align_corners=False)
        out[key] = kernel.to(weight.dtype)  # (D, C, 16, 16)
    if "pos_embed" in state_dict:
        grid = (pretrain_img_size // patch_size,) * 2
        pos = state_dict["pos_embed"]
        pos = pos if pos.ndim == 3 else pos.unsqueeze(0)  # (1, prefix + h*w, D)
        out["pos_embed"] = resample_abs_pos_embed(
            pos, grid, old_size=_pos_grid(pos, num_prefix_tokens), num_prefix_tokens=num_prefix_tokens
        )
    return out


def checkpoint_filter_fn(state_dict: StateDict, model: nn.Module) -> StateDict:
    """Map an EVA-02 pre-trained (or fine-tuned) state dict onto a dense-prediction backbone.

    Works for :class:`~vision.dense.vitdet.EVA02ViTDet` and :class:`~vision.dense.segmentation.EVA02SegBackbone`:
    strips wrapper prefixes, drops pre-training parts the model lacks (class token for ViTDet, MIM / classification
    heads, RoPE buffers), refuses a patch kernel of another size (convert it first), and resizes a position
    embedding stored for another grid.
    """
    model_keys = set(model.state_dict())
    out: StateDict = {}
    for key, value in state_dict.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key not in model_keys and (key.startswith(_DROP) or any(part in key for part in _DROP_INNER)):
            continue
        out[key] = value
    kernel = out.get("patch_embed.proj.weight")
    want = tuple(model.patch_embed.proj.weight.shape[-2:])
    if kernel is not None and tuple(kernel.shape[-2:]) != want:
        got = tuple(kernel.shape[-2:])
        raise PatchSizeMismatchError(
            f"checkpoint patch kernel is {got[0]}x{got[1]} but the backbone uses {want[0]}x{want[1]} patches; convert "
            f"the checkpoint first with vision.dense.convert.convert_p14_to_p16 (the official p14to16 conversion) or "
            f"load a released *_p14to16 file"
        )
    pos = out.get("pos_embed")
    if pos is not None and getattr(model, "pos_embed", None) is not None:
        pos = pos if pos.ndim == 3 else pos.unsqueeze(0)
        prefix = model.pos_embed.shape[1] - math.prod(_model_pos_grid(model))
        if pos.shape[1] != model.pos_embed.shape[1]:
            pos = resample_abs_pos_embed(
                pos, _model_pos_grid(model), old_size=_pos_grid(pos, prefix), num_prefix_tokens=prefix
            )
        out["pos_embed"] = pos
    return out


def _model_pos_grid(model: nn.Module) -> tuple[int, int]:
    """The grid the model stores position embeddings for (ViTDet: the pre-training grid; others: their own)."""
    return tuple(getattr(model, "pretrain_grid", model.patch_embed.grid_size))


def main(argv: list[str] | None = None) -> None:
    """``python -m vision.dense.convert --input eva02_L_pt_m38m_p14.pt --output eva02_L_pt_m38m_p14to16.safetensors``"""
    import argparse

    from vision.checkpoint import load_state_dict, save_state_dict

    parser = argparse.ArgumentParser(description="EVA-02 patch-14 checkpoint -> patch 16 (official p14to16)")
    parser.add_argument("--input", required=True, help="EVA-02 checkpoint with a 14 x 14 patch kernel")
    parser.add_argument("--output", required=True, help="where to write the converted safetensors file")
    parser.add_argument("--pretrain-img-size", type=int, default=224)
    args = parser.parse_args(argv)
    state_dict = load_state_dict(args.input)
    converted = convert_p14_to_p16(state_dict, pretrain_img_size=args.pretrain_img_size)
    save_state_dict(converted, args.output)
    print(f"wrote {args.output}: patch kernel {tuple(converted['patch_embed.proj.weight'].shape)}")


if __name__ == "__main__":
    main()
