"""Painter: one in-context ViT for depth, segmentation, panoptic, keypoints and low-level restoration.

``vision.create_model('painter_vit_large_patch16_input896x448', pretrained=PATH)`` builds the model; see README.md.
"""

from painter.models import Painter

__all__ = ["Painter"]
