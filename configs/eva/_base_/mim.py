"""Shared EVA / EVA-02 MIM pre-training settings (the official recipes' common values).

Student: a registered ``eva*_mim_*`` model with the mask token and ``lm_head``; teacher: a frozen EVA-CLIP tower
(bf16, no gradients). Data: unlabeled images, random resized crop (0.2, 1), flip, CLIP mean/std, and a block-wise mask
of 105 of the 16x16 patches (40%, min 16 patches per block). Loss: negative cosine similarity on the masked patches.
Optimizer: AdamW beta (0.9, 0.98), eps 1e-6, weight decay 0.05, grad-norm clip 3.0; cosine lr to 1e-5 after a 1-epoch
linear warm-up; bf16 autocast (the official runs use DeepSpeed fp16).
"""

model = dict(
    type="eva.models.MIMPretrainer",
    student=dict(type="vision.create_model", name="eva02_mim_base_patch14_224", drop_path_rate=0.0),
    teacher=dict(type="eva.models.MIMTeacher", model="eva01_clip_giant_patch14_224", pretrained=True, precision="bf16"),
)
train_dataloader = dict(
    batch_size=64,
    num_workers=10,
    pin_memory=True,
    drop_last=True,
    dataset=dict(
        type="eva.data.MIMDataset", root="data/imagenet21k", img_size=224, patch_size=14, num_masking_patches=105
    ),
)
optimizer = dict(type="adamw", lr=1.5e-3, weight_decay=0.05, betas=(0.9, 0.98), eps=1e-6)
scheduler = dict(type="cosine", warmup_epochs=1, min_lr=1e-5)
train = dict(max_epochs=150, amp="bf16", grad_clip=3.0)
checkpoint = dict(interval_epochs=10, keep_last=2)
