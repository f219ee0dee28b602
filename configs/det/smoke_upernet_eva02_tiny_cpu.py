"""A tiny EVA-02 UperNet that trains and evaluates mIoU on a CPU in seconds: a wiring check, not a model.

Same structure as ``upernet_eva02_b_ade20k_512.py`` shrunk to width 32, depth 4, 64 px crops and 2 classes, with
BatchNorm instead of SyncBN (one process). Data: a folder with ``images/*.jpg`` and ``masks/*.png`` (0 background,
1 object), e.g. the three COCO cat images with their masks from ``../shared/data`` (the tests build it).
``python -m vision.dense.runner train configs/det/smoke_upernet_eva02_tiny_cpu.py --data-root DIR``
"""

_base_ = ["./_base_/upernet_eva02.py", "./_base_/ade20k_512.py"]

data_root = "data/cat_seg"
norm_cfg = dict(type="BN", requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    backbone=dict(img_size=64, embed_dim=32, depth=4, num_heads=2, out_indices=(0, 1, 2, 3), drop_path_rate=0.1),
    decode_head=dict(in_channels=[32] * 4, channels=32, num_classes=2, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=32, channels=16, num_classes=2, norm_cfg=norm_cfg),
    test_cfg=dict(mode="slide", crop_size=(64, 64), stride=(48, 48)),
)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="RandomResize", scale=(128, 64), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=(64, 64), cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(128, 64), keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type="BaseSegDataset",
        data_root=data_root,
        metainfo=dict(classes=("background", "object"), palette=[[0, 0, 0], [255, 255, 255]]),
        img_suffix=".jpg",
        seg_map_suffix=".png",
        data_prefix=dict(img_path="images", seg_map_path="masks"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type="BaseSegDataset",
        data_root=data_root,
        metainfo=dict(classes=("background", "object"), palette=[[0, 0, 0], [255, 255, 255]]),
        img_suffix=".jpg",
        seg_map_suffix=".png",
        data_prefix=dict(img_path="images", seg_map_path="masks"),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader

max_iters = 2
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(lr=1e-4))
param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=max_iters, max_keep_ckpts=1), visualization=dict(draw=False)
)
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend="gloo"))
