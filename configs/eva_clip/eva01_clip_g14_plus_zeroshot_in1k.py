"""EVA01-CLIP-g/14+ zero-shot ImageNet-1k (eva01_clip_giant_patch14_plus_224, 224px).

    python tools/test.py configs/eva_clip/eva01_clip_g14_plus_zeroshot_in1k.py \
        --checkpoint EVA01_CLIP_g_14_plus_psz14_s11B.pt \
        --cfg-options test_dataloader.dataset.path=/data/imagenet/val.csv

Expected with the official weights: 79.3% IN-1k zero-shot top-1 (EVA-CLIP model card).
"""

_base_ = ["./_zero_shot_imagenet.py"]

model = dict(name="eva01_clip_giant_patch14_plus_224")
test_dataloader = dict(dataset=dict(transform=dict(img_size=224)))
