"""EVA-02-L Cascade Mask R-CNN (ViTDet) on COCO.

Settings (official EVA-02/det ``eva2_coco_cascade_mask_rcnn_vitdet_l_4attn_1024_lrd0p8``): init from
``eva02_L_pt_m38m_p14to16`` (MIM on Merged-38M), 1024 x 1024 LSJ (scale 0.1-2.0), window 16 with global attention in
blocks 5, 11, 17, 23, drop path 0.4, AdamW lr 6e-5, weight decay 0.1, layer decay 0.8, batch 144, 60k iterations
(1k warm-up, x0.1 at 48k and 54k), fp16. Expected COCO val2017: 59.2 box AP, 50.8 mask AP (``eva02_L_coco_bsl``).

The paper's headline EVA-02-L numbers, 64.1 box AP / 55.4 mask AP, are the system-level setting: Objects365
intermediate fine-tuning (400k iterations at 1536 px), then COCO at 1536 x 1536 LSJ with window 32 and 8 global
blocks, batch 64, 40k iterations, soft-NMS (linear, IoU 0.6) at test; box and mask AP come from two checkpoints of
one run. Reproducing it needs Objects365 and is out of scope for this config.

COCO is read from ``data/coco/`` (symlink it there). Train:
``python -m vision.dense.runner train configs/det/cascade_mask_rcnn_eva02_l_vitdet_lsj1024.py
--cfg-options model.backbone.pretrained=/path/to/eva02_L_pt_m38m_p14to16.pt``
"""

_base_ = [
    "./_base_/cascade_mask_rcnn_eva02_vitdet.py",
    "./_base_/coco_instance_lsj_1024.py",
    "./_base_/vitdet_runtime_60k.py",
]

model = dict(
    backbone=dict(embed_dim=1024, depth=24, num_heads=16, global_block_indexes=(5, 11, 17, 23), drop_path_rate=0.4),
    neck=dict(in_channels=1024),
)
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8), optimizer=dict(lr=6e-5))
auto_scale_lr = dict(base_batch_size=144)
