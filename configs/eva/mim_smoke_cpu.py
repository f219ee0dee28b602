"""CPU smoke test of MIM pre-training: a tiny EVA-02 student learns a tiny random CLIP-like teacher's patch features.

    python tools/train.py configs/eva/mim_smoke_cpu.py \
        --cfg-options train_dataloader.dataset.root=../shared/data/imagenet/images

Runs in well under a minute on 2 cores; the loss (negative cosine, -1 is perfect) falls within the 12 steps. Same
pipeline as the paper recipes (block masks, frozen bf16 teacher, AdamW beta (0.9, 0.98)), at 112 px on an 8x8 grid.
"""

model = dict(
    type="eva.models.MIMPretrainer",
    student=dict(type="vision.create_model", name="eva02_mim_test_patch14_112"),
    teacher=dict(
        type="eva.models.MIMTeacher",
        model=dict(
            type="vision.VisionTransformer",
            img_size=112,
            patch_size=14,
            embed_dim=32,
            depth=2,
            num_heads=2,
            mlp_layer="swiglu",
            mlp_ratio=8 / 3,
            use_rope=True,
            num_classes=16,
            global_pool="token",
        ),
        precision="bf16",
    ),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=True,
    dataset=dict(
        type="eva.data.MIMDataset",
        root="../shared/data/imagenet/images",
        img_size=112,
        patch_size=14,
        min_num_patches=4,
    ),
)
optimizer = dict(type="adamw", lr=3e-3, weight_decay=0.05, betas=(0.9, 0.98), eps=1e-6)
scheduler = dict(type="cosine", warmup_steps=2, min_lr=1e-5)
train = dict(max_steps=12, grad_clip=3.0, device="cpu")
log = dict(interval=1, progress_bar=False, tensorboard=False, plot=False)
checkpoint = dict(interval_steps=12, keep_last=1)
seed = 0
work_dir = "work_dirs/eva_mim_smoke"
