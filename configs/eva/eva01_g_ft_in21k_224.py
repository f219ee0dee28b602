"""EVA-01 g/14 intermediate fine-tuning on IN-21K (21,841 classes) at 224 from the MIM model: ``eva_21k_224px_psz14``.

    torchrun --nnodes 8 --nproc-per-node 8 tools/train.py configs/eva/eva01_g_ft_in21k_224.py \
        --cfg-options model.checkpoint=/path/to/eva_psz14.pt train_dataloader.dataset.root=/data/imagenet21k

No IN-1K number of its own: it is the starting point of ``eva01_g_ft_in21k_in1k_336.py`` (89.6) and
``eva01_g_ft_in21k_in1k_560.py`` (89.7). Paper / official recipe: batch 64 per GPU x 64 GPUs = 4096, lr 1e-4, layer
decay 0.85, 60 epochs with 15 warm-up, drop path 0.4, CutMix 1.0 (label smoothing 0.1 folded into the soft targets),
AdamW (0.9, 0.98) eps 1e-6, weight decay 0.05, random resized crop (0.5, 1), gradient checkpointing, no evaluation.
"""

_base_ = ["./_base_/finetune.py"]
model = dict(name="eva_giant_patch14_224", checkpoint="pretrained/eva_psz14.pt", num_classes=21841, drop_path_rate=0.4)
criterion = dict(_delete_=True, type="timm.loss.SoftTargetCrossEntropy")
train_dataloader = dict(
    batch_size=64, dataset=dict(root="data/imagenet21k", transform=dict(img_size=224, scale=(0.5, 1.0)))
)
val_dataloader = None
evaluator = None
ema = None
optimizer = dict(lr=1e-4, layer_decay=0.85, betas=(0.9, 0.98), eps=1e-6)
scheduler = dict(warmup_epochs=15)
train = dict(
    max_epochs=60,
    grad_checkpointing=True,
    batch_transform=dict(
        type="timm.data.Mixup", mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=21841
    ),
)
checkpoint = dict(save_best=None)
