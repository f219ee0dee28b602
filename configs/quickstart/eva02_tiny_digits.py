"""Quickstart: a tiny EVA-02 (SwiGLU, 2-D RoPE, mean pooling) trained from scratch on scikit-learn's digits.

Run:    python tools/train.py configs/quickstart/eva02_tiny_digits.py
Check:  python tools/test.py configs/quickstart/eva02_tiny_digits.py \
            --checkpoint work_dirs/eva02_tiny_digits/checkpoints/last
Reaches 99.17% top-1 (>= 97% required) on the 360 held-out digits after 20 epochs (440 steps): about 130 s of
CPU time, 2-3 minutes on 2 CPU cores (6 minutes on a machine shared ~5-fold). test.py prints the same accuracy.
Writes work_dirs/eva02_tiny_digits/{checkpoints/, log.jsonl, tb/, curves.png}.
"""

_base_ = ["../_base_/default_runtime.py", "../_base_/schedules/adamw_cosine.py", "../_base_/datasets/digits.py"]

# EVA-02 Ti/14 (SwiGLU MLP of ratio 8/3, 2-D RoPE, mean pooling) at 1/2 width and 4 blocks, on 4x4 patches of the
# 32x32 upsampled digits: an 8x8 token grid, RoPE positions on that grid.
model = dict(
    type="vision.create_model",
    name="eva02_tiny_patch14_224",
    img_size=32,
    patch_size=4,
    in_chans=1,
    num_classes=10,
    embed_dim=96,
    depth=4,
    num_heads=3,
    rope_ref_grid=8,
)
criterion = dict(type="torch.nn.CrossEntropyLoss", label_smoothing=0.1)
optimizer = dict(lr=2e-3, weight_decay=0.05)
scheduler = dict(warmup_epochs=2, min_lr=1e-5)
# One intra-op thread: these small matrix products gain little from a second one, and a single thread stays fast
# when other jobs share the cores (two spinning threads then slow each step down several times).
train = dict(max_epochs=20, grad_clip=1.0, threads=1)
checkpoint = dict(save_best="top1")
log = dict(interval=20)
