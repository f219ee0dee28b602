"""EVA-02-B Mask R-CNN (ViTDet) on COCO: a lighter head on the same backbone and recipe as the Cascade config.

Settings follow ``cascade_mask_rcnn_eva02_b_vitdet_lsj1024.py`` (1024 LSJ, window 16, global blocks 2/5/8/11, drop
path 0.1, AdamW lr 5e-5, wd 0.1, layer decay 0.7, batch 128, 60k iterations). EVA-02 reports Cascade Mask R-CNN
only; no official Mask R-CNN number exists. For scale: ViTDet's plain Mask R-CNN is about 2 AP below its Cascade
counterpart, so expect roughly 53-54 box AP / 46 mask AP (an estimate, not a reproduced result).
"""

_base_ = [
    "./_base_/mask_rcnn_eva02_vitdet.py",
    "./_base_/coco_instance_lsj_1024.py",
    "./_base_/vitdet_runtime_60k.py",
]
