"""EVA-02 Ti/14 MIM pre-training on IN-21K (14.2M images) with the EVA-CLIP g/14 teacher: ``eva02_Ti_pt_in21k_p14``.

    torchrun --nnodes 5 --nproc-per-node 8 tools/train.py configs/eva/eva02_mim_ti_in21k.py \
        --cfg-options train_dataloader.dataset.root=/data/imagenet21k

Paper / official recipe: 240 epochs, total batch 4000 (100 per GPU x 40 GPUs), lr 3e-3, AdamW beta (0.9, 0.98),
eps 1e-6, weight decay 0.05, warm-up 1 epoch, drop path 0.0, 105 of 256 patches masked, stop-grad on the patch
embedding. Fine-tune it with ``eva02_ti_ft_in1k_336.py`` (80.7 top-1).
"""

_base_ = ["./_base_/mim.py"]
model = dict(student=dict(name="eva02_mim_tiny_patch14_224", drop_path_rate=0.0))
train_dataloader = dict(batch_size=100)
optimizer = dict(lr=3e-3)
train = dict(max_epochs=240)
