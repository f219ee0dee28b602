"""EVA-02-L UperNet on ADE20K.

Settings (official EVA-02/seg ``upernet_eva02_large_24_512_slide_80k``): init ``eva02_L_pt_m38m_p14to16``, 512 x 512
crops, read-out blocks 7/11/15/23, drop path 0.2, UperNet width 1024, AdamW lr 4e-5, wd 0.05, layer decay 0.9,
batch 16, 80k iterations, slide test. Expected ADE20K val mIoU: 59.8 single-scale, 60.4 multi-scale
(``eva02_L_ade_seg_upernet_sz512``); the 640 px variant with a 1536-wide head reaches 60.1 single-scale.
"""

_base_ = ["./_base_/upernet_eva02.py", "./_base_/ade20k_512.py"]

max_iters = 80000
model = dict(
    backbone=dict(embed_dim=1024, depth=24, num_heads=16, out_indices=(7, 11, 15, 23), drop_path_rate=0.2),
    decode_head=dict(in_channels=[1024] * 4, channels=1024),
    auxiliary_head=dict(in_channels=1024),
)
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9), optimizer=dict(lr=4e-5))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
train_dataloader = dict(batch_size=2)
