"""EVA-01 g/14 (1.0B) MIM pre-training on Merged-30M: ``eva_psz14``.

    torchrun --nnodes 16 --nproc-per-node 8 tools/train.py configs/eva/eva01_mim_g_m30m.py \
        --cfg-options train_dataloader.dataset.root=/data/merged30m

Paper / official recipe: 150 epochs, total batch 4096 (32 per GPU x 128 GPUs), lr 1e-3, AdamW beta (0.9, 0.98),
eps 1e-6, weight decay 0.05, warm-up 2 epochs, drop path 0.1, grad-norm clip 3.0, 105 of 256 patches masked; the
targets are 768-d projected CLIP patch features. The paper's teacher is OpenAI CLIP L/14, whose tower (with its
pre-norm) the core ViT does not build; this config uses EVA02-CLIP-L/14 (also 768-d on a 16x16 grid at 224). Any tower
``vision.create_model`` builds can teach (``model.teacher.model``). Continues with ``eva01_g_ft_in21k_224.py``.
"""

_base_ = ["./_base_/mim.py"]
model = dict(
    student=dict(name="eva_mim_giant_patch14_224", drop_path_rate=0.1),
    teacher=dict(model="eva02_clip_large_patch14_224", pretrained=True),
)
train_dataloader = dict(batch_size=32, dataset=dict(root="data/merged30m"))
optimizer = dict(lr=1e-3)
scheduler = dict(warmup_epochs=2)
train = dict(max_epochs=150, grad_checkpointing=True)
