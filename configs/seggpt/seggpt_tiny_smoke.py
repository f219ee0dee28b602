"""SegGPT CPU smoke training: a tiny random in-context ViT learns in-context colouring on ``../shared/data/seggpt``.

Run:    python tools/train.py configs/seggpt/seggpt_tiny_smoke.py
Check:  python tools/test.py configs/seggpt/seggpt_tiny_fewshot_eval.py \
            --checkpoint work_dirs/seggpt_tiny_smoke/checkpoints/last

What it shows: the whole training path (pair discovery, random colouring, mix-context tiles, query-half / random
masking, the SegGPT loss, the engine) runs on CPU and the masked smooth-L1 loss falls: about 1.0-1.5 over the first
10 steps, 0.3-0.7 from step 60 on (120 steps of 8 canvases; 30 s on 2 idle cores, a few minutes on busy ones).
The data are 15 real (image, mask) pairs in 4 classes (SegGPT's examples, PerSeg, COCO cats), shrunk once to 256
pixels and kept in memory. Nothing here says anything about accuracy: after 2 minutes the model paints mostly black.
"""

_base_ = ["../_base_/default_runtime.py", "../_base_/schedules/adamw_cosine.py"]

_data = "../shared/data"

# A 6-block, width-64 SegGPT on a 128x64 canvas (64x64 per image): streams merge after block 2 as in the
# released model, features of blocks 3 and 5 feed the decoder.
model = dict(
    type="vision.incontext.LossOnly",
    model=dict(
        type="vision.create_model",
        name="seggpt_vit_test_patch16_input128x64",
        embed_dim=64,
        depth=6,
        num_heads=2,
        merge_index=2,
        out_indices=(3, 5),
        decoder_embed_dim=16,
        drop_path_rate=0.0,
    ),
)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(
        type="seggpt.data.InContextSegDataset",
        sources=[
            dict(
                type="seggpt.data.FolderSource",
                root=f"{_data}/seggpt",
                image_dirs=[f"{_data}/coco/val2017"],
                max_size=256,
            )
        ],
        image_size=64,
        patch_size=16,
        length=960,
        mask_ratio=0.5,
        half_mask_prob=0.5,
        mix_prob=0.25,
        mix_tiles=2,
    ),
)
optimizer = dict(lr=2e-3, weight_decay=0.05)
scheduler = dict(warmup_epochs=0, warmup_steps=4, min_lr=1e-4)
train = dict(max_epochs=1, grad_clip=3.0, eval_interval=1)
checkpoint = dict(interval_epochs=1, keep_last=1)
log = dict(interval=10, progress_bar=False, tensorboard=False, plot=False)
