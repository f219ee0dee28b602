"""Painter ViT-L/16 on the 896x448 canvas: the official seven-task training recipe (Wang et al., CVPR 2023).

Run (8 GPUs per node; the official run used WORLD_SIZE nodes of 8):
    torchrun --nproc-per-node 8 tools/train.py configs/painter/painter_vit_large_train.py \
        --cfg-options model.model.pretrained=PATH/mae_pretrain_vit_large.pth

Data: the official pair lists under ``datasets/`` (``docs/DATA.md`` of baaivision/Painter shows how to make them):
NYUv2 depth, ADE20K semantic, COCO panoptic (instance and semantic halves), COCO pose 256x192, SIDD denoising,
derain (Rain13K) and LOL low-light. A missing folder fails up front with the path it expected.

Official settings reproduced here (``train_painter_vit_large.sh`` and the ``main_train.py`` defaults):
* task mixture per sample (not normalised, as the official list): depth 0.1, ADE20K 0.2, panoptic-instance 0.15,
  panoptic-semantic 0.25, pose 0.2, denoise 0.15, derain 0.05, low-light 0.05 (``OFFICIAL_TASK_WEIGHTS``);
* two pairs of one task per canvas, random resized crop (scale 0.3-1) + flip except for instance / pose targets;
* block-wise masking of 784 of the 1568 target patches (blocks of 16-392 patches); the query half alone for 10 %;
* AdamW, lr 1e-3 (absolute), weight decay 0.1, betas (0.9, 0.999), layer decay 0.8, 1 warm-up epoch then cosine,
  15 epochs, grad clip 3, drop path 0.1; per-GPU batch 2 with 16 accumulation steps;
* initialised from MAE ViT-L (the decoder and mask token start fresh).
Not reproduced: the official colour jitter (0.4, 0.4, 0.2, 0.1 at p=0.8) and the second "seccrop" crop of the
canvas for some tasks.

Paper results of the released model (Table 1): NYUv2 depth RMSE 0.288, ADE20K 49.9 mIoU, COCO panoptic 43.4 PQ,
COCO pose 72.1 AP, SIDD denoising 38.66 dB PSNR. Evaluate each task with ``painter.inference`` and
``painter.metrics`` (depth errors, mIoU, PSNR/SSIM).
"""

_base_ = ["../_base_/default_runtime.py", "../_base_/schedules/adamw_cosine.py"]

_data = "datasets"
_lists = [
    "nyu_depth_v2/nyuv2_sync_image_depth.json",
    "ade20k/ade20k_training_image_semantic.json",
    "coco/pano_ca_inst/coco_train_image_panoptic_inst.json",
    "coco/pano_sem_seg/coco_train2017_image_panoptic_sem_seg.json",
    "coco_pose/coco_pose_256x192_train.json",
    "denoise/denoise_ssid_train.json",
    "derain/derain_train.json",
    "light_enhance/enhance_lol_train.json",
]

model = dict(
    type="vision.incontext.LossOnly",
    model=dict(type="vision.create_model", name="painter_vit_large_patch16_input896x448", drop_path_rate=0.1),
)
train_dataloader = dict(
    batch_size=2,
    num_workers=10,
    pin_memory=True,
    dataset=dict(
        type="painter.data.PainterPairDataset",
        pairs=[f"{_data}/{name}" for name in _lists],
        data_root=_data,
        image_size=448,
        patch_size=16,
        num_mask_patches=784,
        max_mask_patches_per_block=392,
        min_mask_patches_per_block=16,
        half_mask_ratio=0.1,
        scale=(0.3, 1.0),
        task_weights={
            "nyuv2_image2depth": 0.1,
            "ade20k_image2semantic": 0.2,
            "coco_image2panoptic_inst": 0.15,
            "coco_image2panoptic_sem_seg": 0.25,
            "coco_image2pose": 0.2,
            "sidd_image2denoise": 0.15,
            "derain_image2derain": 0.05,
            "lol_image2enhance": 0.05,
        },
    ),
)
optimizer = dict(type="adamw", lr=1e-3, weight_decay=0.1, betas=(0.9, 0.999), layer_decay=0.8)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr=0.0)
train = dict(max_epochs=15, accum_steps=16, grad_clip=3.0, amp="bf16", grad_checkpointing=False)
checkpoint = dict(interval_epochs=1, keep_last=3)
