"""SegGPT ViT-L/16 training on the 896x448 canvas (Wang et al., ICCV 2023). The official training code was never
released; this is the recipe as the paper describes it, on Shijie's data pipeline.

Run (multi-GPU):
    torchrun --nproc-per-node 8 tools/train.py configs/seggpt/seggpt_vit_large_train.py \
        --cfg-options model.model.pretrained=PATH/painter_vit_large.pth

Data: COCO 2017 instances (``datasets/coco``) as both semantic context (two images sharing categories, each
category its own random colour) and instance context (two views of one image, each instance its own colour), plus
any folders of (image, mask) pairs per class (``FolderSource``; the paper also mixes ADE20K, LIP, PACO, FSS-1000,
PASCAL VOC, Cityscapes, iSAID, loveDA, CHASE-DB1, DRIVE, HRF, STARE and others, convertible to either form).

What is implemented from the paper: in-context colouring with a fresh random colour mapping per sample shared by
prompt and query; mix-context (here: with probability 0.5 each canvas half is a row of two tiles of the same
context); masking of the query half or of random target patches; the semantic / instance type token (``seg_type``);
the smooth-L1 loss on masked patches. Optimisation as reported (verify against the paper before relying on it):
AdamW, lr 1e-4, weight decay 0.05, cosine schedule with warm-up, global batch 2048 (here 2 x 8 GPUs x 128
accumulation steps), about 9k iterations, 448x448 per image.

Paper results of the released model (one-shot unless noted): COCO-20i 56.1 mIoU, PASCAL-5i 83.2 mIoU, FSS-1000
85.6 mIoU; video object segmentation DAVIS-17 75.6 J&F, YouTube-VOS 2018 74.7 G. Few-shot numbers on a pair folder
come from ``tools/test.py`` with a ``seggpt.evaluate.FewShotEpisodes`` loader (see seggpt_tiny_fewshot_eval.py).
"""

_base_ = ["../_base_/default_runtime.py", "../_base_/schedules/adamw_cosine.py"]

_coco = "datasets/coco"

model = dict(
    type="vision.incontext.LossOnly",
    model=dict(type="vision.create_model", name="seggpt_vit_large_patch16_input896x448", drop_path_rate=0.1),
)
train_dataloader = dict(
    batch_size=2,
    num_workers=10,
    pin_memory=True,
    dataset=dict(
        type="seggpt.data.InContextSegDataset",
        sources=[
            dict(
                type="seggpt.data.CocoSource",
                ann_file=f"{_coco}/annotations/instances_train2017.json",
                image_dir=f"{_coco}/train2017",
                mode="semantic",
            ),
            dict(
                type="seggpt.data.CocoSource",
                ann_file=f"{_coco}/annotations/instances_train2017.json",
                image_dir=f"{_coco}/train2017",
                mode="instance",
            ),
        ],
        weights=[0.5, 0.5],
        image_size=448,
        patch_size=16,
        length=2048 * 9000 // 8,  # one "epoch" = the whole schedule on 8 processes
        mask_ratio=0.75,
        half_mask_prob=0.5,
        mix_prob=0.5,
        mix_tiles=2,
    ),
)
optimizer = dict(type="adamw", lr=1e-4, weight_decay=0.05, betas=(0.9, 0.999), layer_decay=None)
scheduler = dict(type="cosine", warmup_steps=1800, min_lr=1e-6)
train = dict(max_epochs=1, accum_steps=128, grad_clip=3.0, amp="bf16")
checkpoint = dict(interval_epochs=1, interval_steps=500, keep_last=3)
