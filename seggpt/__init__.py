"""SegGPT: segment anything shown by example, in images and video.

``vision.create_model('seggpt_vit_large_patch16_input896x448', pretrained=PATH)`` builds the model;
:class:`seggpt.inference.SegGPTPredictor` wraps it for images, :mod:`seggpt.video` for clips. See README.md.
"""

from seggpt.models import SegGPT

__all__ = ["SegGPT"]
