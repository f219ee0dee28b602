"""EVA-01 g/14 fine-tuned on IN-1K at 336 from the IN-21K intermediate fine-tuned model (``eva01_g_ft_in21k_224``).

    torchrun --nproc-per-node 8 tools/train.py configs/eva/eva01_g_ft_in21k_in1k_336.py \
        --cfg-options model.checkpoint=/path/to/eva_21k_224px_psz14.pt \
            train_dataloader.dataset.root=/data/imagenet/train val_dataloader.dataset.root=/data/imagenet/val

Expected IN-1K top-1: 89.6 (reported with EMA weights; gradient checkpointing).
Paper / official recipe: 336x336, batch 16 per GPU x 32 GPUs = 512, lr 3e-5, layer decay 0.95, 10 epochs with 2
warm-up, drop path 0.4, label smoothing 0.3, AdamW (0.9, 0.999), weight decay 0.05, RandAugment, no mixup / cutmix,
EMA 0.9999, patch embedding frozen.
Evaluate: ``tools/test.py configs/eva/eva01_g_ft_in21k_in1k_336.py --checkpoint work_dirs/.../best``.
"""

_base_ = ["./_base_/finetune.py"]
model = dict(name="eva_giant_patch14_336", checkpoint="pretrained/eva_21k_224px_psz14.pt", drop_path_rate=0.4)
criterion = dict(label_smoothing=0.3)
train_dataloader = dict(batch_size=16, dataset=dict(transform=dict(img_size=336)))
val_dataloader = dict(dataset=dict(transform=dict(img_size=336)))
optimizer = dict(lr=3e-5, layer_decay=0.95)
scheduler = dict(warmup_epochs=2)
train = dict(max_epochs=10, grad_checkpointing=True)
