"""Shijie's shared core: one ViT, its layers, the model registry, checkpoints and configs.

Importing ``vision`` is cheap: heavy pieces (training engine, data pipelines) load only when used.
"""

from vision import models as _models  # noqa: E402,F401  (registers the EVA-01/EVA-02 backbones)
from vision.checkpoint import LoadReport, load_checkpoint
from vision.pretrained import PretrainedCfg
from vision.registry import create_model, list_models, list_pretrained, register_model, register_pretrained
from vision.vit import VisionTransformer

__all__ = [
    "LoadReport",
    "PretrainedCfg",
    "VisionTransformer",
    "create_model",
    "list_models",
    "list_pretrained",
    "load_checkpoint",
    "register_model",
    "register_pretrained",
]
__version__ = "0.1.0"
