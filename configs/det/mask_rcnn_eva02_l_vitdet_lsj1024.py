"""EVA-02-L Mask R-CNN (ViTDet) on COCO: the L backbone and recipe of the Cascade L config with Mask R-CNN heads.

Settings: 1024 LSJ, window 16, global blocks 5/11/17/23, drop path 0.4, AdamW lr 6e-5, wd 0.1, layer decay 0.8,
batch 144, 60k iterations, init ``eva02_L_pt_m38m_p14to16``. No official EVA-02 Mask R-CNN number exists; expect about
2 AP below the Cascade L baseline (59.2 box / 50.8 mask), an estimate only.
"""

_base_ = [
    "./_base_/mask_rcnn_eva02_vitdet.py",
    "./_base_/coco_instance_lsj_1024.py",
    "./_base_/vitdet_runtime_60k.py",
]

model = dict(
    backbone=dict(embed_dim=1024, depth=24, num_heads=16, global_block_indexes=(5, 11, 17, 23), drop_path_rate=0.4),
    neck=dict(in_channels=1024),
)
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8), optimizer=dict(lr=6e-5))
auto_scale_lr = dict(base_batch_size=144)
