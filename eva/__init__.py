"""EVA and EVA-02: masked image modelling with a CLIP teacher, ImageNet fine-tuning and evaluation.

Importing ``eva`` stays light; the registered models live in ``eva.models`` (loaded by ``vision.create_model``).
"""
