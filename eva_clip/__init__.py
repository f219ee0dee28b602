"""EVA-CLIP: contrastive image-text models on Shijie's vision core (load, zero-shot, retrieval, training).

Importing this package registers the models (``vision.list_models('eva*clip*')``); the tokenizer, evaluation,
training and demo modules load only when imported.
"""

from eva_clip.models import EVACLIP, MODEL_CFGS, OFFICIAL_NAMES

__all__ = ["EVACLIP", "MODEL_CFGS", "OFFICIAL_NAMES"]
