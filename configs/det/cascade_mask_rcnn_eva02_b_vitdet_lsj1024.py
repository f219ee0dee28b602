"""EVA-02-B Cascade Mask R-CNN (ViTDet) on COCO: the paper's B baseline.

Settings (official EVA-02/det ``eva2_coco_cascade_mask_rcnn_vitdet_b_4attn_1024_lrd0p7``): init from
``eva02_B_pt_in21k_p14to16`` (MIM on IN-21K; the p14to16 conversion is :func:`vision.dense.convert.convert_p14_to_p16`),
1024 x 1024 LSJ (scale 0.1-2.0), window 16 with global attention in blocks 2, 5, 8, 11, drop path 0.1, AdamW lr 5e-5,
weight decay 0.1, layer decay 0.7, batch 128, 60k iterations (1k warm-up, x0.1 at 48k and 54k), fp16.
Expected COCO val2017: 55.5 box AP, 47.1 mask AP (official ``eva02_B_coco_bsl``).

COCO is read from ``data/coco/`` (symlink it there). Train:
``python -m vision.dense.runner train configs/det/cascade_mask_rcnn_eva02_b_vitdet_lsj1024.py
--cfg-options model.backbone.pretrained=/path/to/eva02_B_pt_in21k_p14to16.pt``
"""

_base_ = [
    "./_base_/cascade_mask_rcnn_eva02_vitdet.py",
    "./_base_/coco_instance_lsj_1024.py",
    "./_base_/vitdet_runtime_60k.py",
]
