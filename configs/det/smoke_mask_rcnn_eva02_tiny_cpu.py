"""A tiny EVA-02 ViTDet Mask R-CNN that trains and evaluates on a CPU in seconds: a wiring check, not a model.

Same structure as ``mask_rcnn_eva02_b_vitdet_lsj1024.py`` (windowed + global blocks with RoPE, simple pyramid, LSJ,
layer decay, COCO bbox/segm AP), shrunk: 128 px inputs, width 48, depth 4 (global blocks 1 and 3, window 4), 32-channel
pyramid and heads, 4 iterations. Its AP is near zero by design.

Run on the 15-image sample (it trains on val2017 there): ``python -m vision.dense.runner train
configs/det/smoke_mask_rcnn_eva02_tiny_cpu.py --data-root ../shared/data/coco/ --work-dir /tmp/smoke``.
"""

_base_ = [
    "./_base_/mask_rcnn_eva02_vitdet.py",
    "./_base_/coco_instance_lsj_1024.py",
    "./_base_/vitdet_runtime_60k.py",
]

data_root = "data/coco/"
image_size = (128, 128)

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type="BatchFixedSizePad", size=image_size, pad_mask=True)]),
    backbone=dict(
        img_size=128, embed_dim=48, depth=4, num_heads=2, window_size=4, global_block_indexes=(1, 3), drop_path_rate=0.1
    ),
    neck=dict(in_channels=48, out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, conv_out_channels=32, fc_out_channels=64),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32),
    ),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64)),
    ),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100), rcnn=dict(max_per_img=50)),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomResize", scale=image_size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(
        type="RandomCrop",
        crop_type="absolute_range",
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True,
    ),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type="Pad", size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_size, keep_ratio=True),
    dict(type="Pad", size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file="annotations/instances_val2017.json",
        data_prefix=dict(img="val2017/"),
        filter_cfg=dict(filter_empty_gt=False, min_size=0),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + "annotations/instances_val2017.json")
test_evaluator = val_evaluator

max_iters = 4
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(lr=1e-4))
param_scheduler = [dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=2)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(draw=False),
)
log_processor = dict(window_size=1)
env_cfg = dict(dist_cfg=dict(backend="gloo"))
