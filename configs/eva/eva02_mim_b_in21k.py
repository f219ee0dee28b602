"""EVA-02 B/14 MIM pre-training on IN-21K with the EVA-CLIP g/14 teacher: ``eva02_B_pt_in21k_p14``.

    torchrun --nnodes 4 --nproc-per-node 8 tools/train.py configs/eva/eva02_mim_b_in21k.py \
        --cfg-options train_dataloader.dataset.root=/data/imagenet21k

Paper / official recipe: 150 epochs, total batch 2048 (64 per GPU x 32 GPUs), lr 1.5e-3, AdamW beta (0.9, 0.98),
eps 1e-6, weight decay 0.05, warm-up 1 epoch, drop path 0.0. Then IN-21K intermediate fine-tuning and
``eva02_b_ft_in21k_in1k_448.py`` (88.6 top-1).
"""

_base_ = ["./_base_/mim.py"]
model = dict(student=dict(name="eva02_mim_base_patch14_224", drop_path_rate=0.0))
train_dataloader = dict(batch_size=64)
optimizer = dict(lr=1.5e-3)
train = dict(max_epochs=150)
