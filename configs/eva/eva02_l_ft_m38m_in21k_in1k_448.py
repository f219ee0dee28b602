"""EVA-02 L/14 fine-tuned on IN-1K at 448 from the IN-21K intermediate fine-tuned Merged-38M MIM model.

    torchrun --nproc-per-node 8 tools/train.py configs/eva/eva02_l_ft_m38m_in21k_in1k_448.py \
        --cfg-options model.checkpoint=/path/to/eva02_L_pt_m38m_medft_in21k_p14.pt \
            train_dataloader.dataset.root=/data/imagenet/train val_dataloader.dataset.root=/data/imagenet/val

Expected IN-1K top-1: 90.0 (reported with EMA weights).
Paper / official recipe: 448x448, batch 16 per GPU x 32 GPUs = 512, lr 2e-5, layer decay 0.85, 20 epochs with 2
warm-up, drop path 0.15, label smoothing 0.2, AdamW (0.9, 0.999), weight decay 0.05, RandAugment, no mixup / cutmix,
EMA 0.9999, patch embedding frozen.
Evaluate: ``tools/test.py configs/eva/eva02_l_ft_m38m_in21k_in1k_448.py --checkpoint work_dirs/.../best``.
"""

_base_ = ["./_base_/finetune.py"]
model = dict(
    name="eva02_large_patch14_448", checkpoint="pretrained/eva02_L_pt_m38m_medft_in21k_p14.pt", drop_path_rate=0.15
)
criterion = dict(label_smoothing=0.2)
train_dataloader = dict(batch_size=16, dataset=dict(transform=dict(img_size=448)))
val_dataloader = dict(dataset=dict(transform=dict(img_size=448)))
optimizer = dict(lr=2e-5, layer_decay=0.85)
scheduler = dict(warmup_epochs=2)
train = dict(max_epochs=20)
