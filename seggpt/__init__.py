"""SegGPT: segment anything shown by example, in images and video.

``vision.create_model('seggpt_vit_large_patch16_input896x448', pretrained=PATH)`` builds the model;
``model.segment(image, prompts=[(prompt_image, prompt_mask)])`` segments an image (:mod:`seggpt.inference`) and
:mod:`seggpt.video` propagates a first-frame mask through a clip. See README.md.
"""

from seggpt.models import SegGPT

__all__ = ["SegGPT"]
