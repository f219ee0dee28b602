"""Layer-wise lr decay as an mmengine optimizer-wrapper constructor, for detectors and segmentors alike.

The official EVA-02 rule (``get_vit_lr_decay_rate``): a parameter's lr is ``base_lr * rate ** (L + 1 - id)`` with
id 0 for the embeddings, i + 1 for block i and L + 1 for everything else (heads, necks, pyramids); L is the depth.
The backbone supplies the ids through ``layer_id(name)``. Registered by ``mmdet_registration`` / ``mmseg_registration``.
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor

__all__ = ["LayerDecayOptimWrapperConstructor"]


class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``paramwise_cfg=dict(layer_decay_rate=0.7)``; the model's ``backbone`` needs ``blocks`` and ``layer_id()``.

    By default every parameter keeps the base weight decay, as in the official EVA-02 detection configs
    (``weight_decay_norm=None``, no overrides). ``skip_decay_1d=True`` exempts biases, norm weights and the
    position embedding / class token, as the official EVA-02 segmentation (BEiT) constructor does.
    """

    def add_params(self, params: list[dict], module: nn.Module, prefix: str = "", is_dcn_module: Any = None) -> None:
        rate = float(self.paramwise_cfg.get("layer_decay_rate", 1.0))
        skip_1d = bool(self.paramwise_cfg.get("skip_decay_1d", False))
        backbone = module.backbone
        if not hasattr(backbone, "layer_id"):
            raise TypeError(f"layer decay needs a backbone with layer_id(); {type(backbone).__name__} has none")
        num_layers = len(backbone.blocks)
        groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer = backbone.layer_id(name[9:]) if name.startswith("backbone.") else num_layers + 1
            exempt = skip_1d and (param.ndim == 1 or name.endswith((".bias", "pos_embed", "cls_token")))
            groups.setdefault((layer, exempt), []).append(param)
        for (layer, exempt), group in sorted(groups.items()):
            scale = rate ** (num_layers + 1 - layer)
            params.append(
                {"params": group, "lr": self.base_lr * scale, "weight_decay": 0.0 if exempt else self.base_wd}
            )
