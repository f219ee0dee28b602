"""EVA-02 L/14 MIM pre-training on Merged-38M with the EVA-CLIP g/14 teacher: ``eva02_L_pt_m38m_p14``.

    torchrun --nnodes 8 --nproc-per-node 8 tools/train.py configs/eva/eva02_mim_l_m38m.py \
        --cfg-options train_dataloader.dataset.root=/data/merged38m

Paper / official recipe: 56 epochs on Merged-38M (150 on IN-21K for ``eva02_L_pt_in21k_p14``), total batch 2048
(32 per GPU x 64 GPUs), lr 1.5e-3, AdamW beta (0.9, 0.98), eps 1e-6, weight decay 0.05, warm-up 1 epoch, drop path
0.1. Then IN-21K intermediate fine-tuning and ``eva02_l_ft_m38m_in21k_in1k_448.py`` (90.0 top-1).
"""

_base_ = ["./_base_/mim.py"]
model = dict(student=dict(name="eva02_mim_large_patch14_224", drop_path_rate=0.1))
train_dataloader = dict(batch_size=32, dataset=dict(root="data/merged38m"))
optimizer = dict(lr=1.5e-3)
train = dict(max_epochs=56, grad_checkpointing=True)
