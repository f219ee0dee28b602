"""Shared EVA / EVA-02 ImageNet-1K fine-tuning settings (the official recipes' common values).

Model: a registered classifier (mean pooling + ``fc_norm``) built by ``eva.finetune.build_classifier`` from a MIM or
IN-21K checkpoint; ``fc_norm`` and ``head`` start fresh (head scaled by 1e-3), position embeddings are resampled to
the fine-tuning grid, RoPE scales onto the 16x16 pre-training grid. The patch embedding is frozen (official default).
Training: AdamW (0.9, 0.999), eps 1e-8, weight decay 0.05, layer-wise lr decay, cosine to 0 after a linear warm-up,
label smoothing, RandAugment rand-m9-mstd0.5-inc1, colour jitter 0.4, random resized crop (0.08, 1), no mixup /
cutmix / random erasing, EMA 0.9999 evaluated beside the model. Evaluation: resize + centre crop at crop_pct 1.0,
CLIP mean/std.
"""

_mean = (0.48145466, 0.4578275, 0.40821073)
_std = (0.26862954, 0.26130258, 0.27577711)
model = dict(
    type="eva.finetune.build_classifier",
    name="eva02_base_patch14_448",
    checkpoint=None,
    num_classes=1000,
    drop_path_rate=0.1,
)
criterion = dict(type="torch.nn.CrossEntropyLoss", label_smoothing=0.1)
train_dataloader = dict(
    batch_size=32,
    num_workers=10,
    pin_memory=True,
    drop_last=True,
    dataset=dict(
        type="vision.data.ImageFolderDataset",
        root="data/imagenet/train",
        transform=dict(
            type="vision.data.build_transform",
            img_size=448,
            is_training=True,
            mean=_mean,
            std=_std,
            scale=(0.08, 1.0),
            auto_augment="rand-m9-mstd0.5-inc1",
            re_prob=0.0,
            color_jitter=0.4,
        ),
    ),
)
val_dataloader = dict(
    batch_size=48,
    num_workers=10,
    dataset=dict(
        type="eva.evaluate.ImageList",
        root="data/imagenet/val",
        transform=dict(type="eva.evaluate.build_eval_transform", img_size=448, crop_pct=1.0, mean=_mean, std=_std),
    ),
)
evaluator = dict(type="eva.evaluate.ImageNetEvaluator", benchmark="imagenet")
optimizer = dict(type="adamw", lr=1e-4, weight_decay=0.05, layer_decay=0.8, betas=(0.9, 0.999), eps=1e-8)
scheduler = dict(type="cosine", warmup_epochs=3, min_lr=0.0)
ema = dict(decay=0.9999, evaluate=True)
train = dict(max_epochs=30, amp="bf16", freeze=["patch_embed"])
checkpoint = dict(interval_epochs=1, keep_last=2, save_best="top1", rule="greater")
