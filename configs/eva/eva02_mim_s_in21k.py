"""EVA-02 S/14 MIM pre-training on IN-21K with the EVA-CLIP g/14 teacher: ``eva02_S_pt_in21k_p14``.

    torchrun --nnodes 5 --nproc-per-node 8 tools/train.py configs/eva/eva02_mim_s_in21k.py \
        --cfg-options train_dataloader.dataset.root=/data/imagenet21k

Paper / official recipe: 240 epochs, total batch 4000 (100 per GPU x 40 GPUs), lr 3e-3, AdamW beta (0.9, 0.98),
eps 1e-6, weight decay 0.05, warm-up 1 epoch, drop path 0.0. Fine-tune with ``eva02_s_ft_in1k_336.py`` (85.8).
"""

_base_ = ["./_base_/mim.py"]
model = dict(student=dict(name="eva02_mim_small_patch14_224", drop_path_rate=0.0))
train_dataloader = dict(batch_size=100)
optimizer = dict(lr=3e-3)
train = dict(max_epochs=240)
