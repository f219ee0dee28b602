"""CPU smoke training: a tiny EVA-CLIP learns to match 49 real ImageNet images with captions made from their class
names ("a photo of a tench."); the contrastive loss falls within a few dozen steps.

    python tools/train.py configs/eva_clip/smoke_train_cpu.py --work-dir work_dirs/eva_clip_smoke

FLIP patch dropout (half the patches, RoPE follows), separate lr / weight decay / layer decay per tower (AdamW;
``optimizer.base='lamb'`` for LAMB), local loss with gather-with-grad (also right under ``torchrun``).
"""

_data = "../shared/data/imagenet/labels.csv"
_img = 64

model = dict(
    type="eva_clip.train.build_train_model",
    name="eva02_clip_base_patch16_224",
    img_size=_img,
    embed_dim=32,
    vision_cfg=dict(embed_dim=64, depth=2, num_heads=2, patch_drop_rate=0.5),
    text_cfg=dict(width=32, heads=2, layers=2),
)
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    dataset=dict(
        type="eva_clip.data.ImageTextCsvDataset",
        path=_data,
        image_key="file",
        caption_key="clip_classname",
        caption_template="a photo of a {}.",
        transform=dict(type="eva_clip.data.clip_transform", img_size=_img, is_training=True),
    ),
)
optimizer = dict(
    type="eva_clip.train.TowerOptimizer",
    base="adamw",
    lr=2e-3,
    weight_decay=0.05,
    visual=dict(lr=2e-3, weight_decay=0.05, layer_decay=0.9),
    text=dict(lr=1e-3, weight_decay=0.05, layer_decay=0.9),
)
scheduler = dict(type="cosine", warmup_steps=2, min_lr=1e-5)
train = dict(max_steps=30, device="cpu", threads=2, grad_clip=1.0)
checkpoint = dict(interval_steps=30, keep_last=1)
log = dict(interval=1, progress_bar=False, tensorboard=False, plot=False)
