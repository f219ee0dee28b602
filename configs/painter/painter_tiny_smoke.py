"""Painter CPU smoke training: a tiny random Painter learns depth, denoising and low-light pairs from
``../shared/data/painter``.

Run:    python tools/train.py configs/painter/painter_tiny_smoke.py

What it shows: the whole Painter training path (pair discovery, depth painted from millimetres, two same-task
pairs per canvas, block-wise / query-half masking, per-task ``valid`` weights, task mixing by the official
weights, Painter's loss, the engine) runs on CPU and the masked smooth-L1 loss falls: about 0.63 over the first
10 steps, 0.28-0.44 from step 50 on (120 steps of 8 canvases; under a minute on 2 idle cores, about 9 minutes on
a machine shared by seven jobs). The data are 5 real pairs
(1 NYUv2 depth, 3 SIDD denoising, 1 LOL low-light; SIDD and LOL carry non-commercial / GPL terms, see the data
README), read from ``../shared`` and never copied. Nothing here says anything about accuracy.
"""

_base_ = ["../_base_/default_runtime.py", "../_base_/schedules/adamw_cosine.py"]

model = dict(
    type="vision.incontext.LossOnly",
    model=dict(
        type="vision.create_model",
        name="painter_vit_test_patch16_input128x64",
        embed_dim=64,
        depth=6,
        num_heads=2,
        merge_index=2,
        out_indices=(3, 5),
        decoder_embed_dim=16,
        drop_path_rate=0.0,
    ),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(
        type="painter.data.PainterPairDataset",
        pairs="../shared/data/painter",
        image_size=64,
        patch_size=16,
        half_mask_ratio=0.1,
        task_weights=dict(nyuv2_image2depth=0.1, sidd_image2denoise=0.15, lol_image2enhance=0.05),
        length=960,
        max_size=256,
    ),
)
optimizer = dict(lr=2e-3, weight_decay=0.05)
scheduler = dict(warmup_epochs=0, warmup_steps=4, min_lr=1e-4)
train = dict(max_epochs=1, grad_clip=3.0)
checkpoint = dict(interval_epochs=1, keep_last=1)
log = dict(interval=10, progress_bar=False, tensorboard=False, plot=False)
