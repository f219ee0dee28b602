"""Building blocks shared by every model; nothing here imports a model."""

from vision.layers.attention import (
    BACKENDS,
    attention,
    attention_backend,
    get_attention_backend,
    set_attention_backend,
)
from vision.layers.drop import DropPath, drop_path
from vision.layers.mlp import Mlp, SwiGLU
from vision.layers.norm import LayerNorm2d, get_norm_layer
from vision.layers.patch_embed import PatchEmbed, resample_patch_embed, to_2tuple
from vision.layers.pos_embed import resample_abs_pos_embed
from vision.layers.rope import RotaryEmbedding2d, apply_rope
from vision.layers.weight_init import init_linear_and_norm

__all__ = [
    "BACKENDS",
    "DropPath",
    "LayerNorm2d",
    "Mlp",
    "PatchEmbed",
    "RotaryEmbedding2d",
    "SwiGLU",
    "apply_rope",
    "attention",
    "attention_backend",
    "drop_path",
    "get_attention_backend",
    "get_norm_layer",
    "init_linear_and_norm",
    "resample_abs_pos_embed",
    "resample_patch_embed",
    "set_attention_backend",
    "to_2tuple",
]
