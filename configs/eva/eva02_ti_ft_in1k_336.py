"""EVA-02 Ti/14 fine-tuned on IN-1K at 336 from the IN-21K MIM model.

    torchrun --nproc-per-node 8 tools/train.py configs/eva/eva02_ti_ft_in1k_336.py \
        --cfg-options model.checkpoint=/path/to/eva02_Ti_pt_in21k_p14.pt \
            train_dataloader.dataset.root=/data/imagenet/train val_dataloader.dataset.root=/data/imagenet/val

Expected IN-1K top-1: 80.7 (EMA kept but the reported number is the non-EMA model).
Paper / official recipe: 336x336, batch 128 per GPU x 8 GPUs = 1024, lr 2e-4, layer decay 0.9, 100 epochs with 5
warm-up, drop path 0.1, label smoothing 0.1, AdamW (0.9, 0.999), weight decay 0.05, RandAugment, no mixup / cutmix,
EMA 0.9999, patch embedding frozen.
Evaluate: ``tools/test.py configs/eva/eva02_ti_ft_in1k_336.py --checkpoint work_dirs/.../best``.
"""

_base_ = ["./_base_/finetune.py"]
model = dict(name="eva02_tiny_patch14_336", checkpoint="pretrained/eva02_Ti_pt_in21k_p14.pt", drop_path_rate=0.1)
criterion = dict(label_smoothing=0.1)
train_dataloader = dict(batch_size=128, dataset=dict(transform=dict(img_size=336)))
val_dataloader = dict(dataset=dict(transform=dict(img_size=336)))
optimizer = dict(lr=2e-4, layer_decay=0.9)
scheduler = dict(warmup_epochs=5)
train = dict(max_epochs=100)
