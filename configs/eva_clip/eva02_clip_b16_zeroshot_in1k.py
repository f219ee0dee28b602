"""EVA02-CLIP-B/16 zero-shot ImageNet-1k (eva02_clip_base_patch16_224, 224px).

    python tools/test.py configs/eva_clip/eva02_clip_b16_zeroshot_in1k.py \
        --checkpoint EVA02_CLIP_B_psz16_s8B.pt \
        --cfg-options test_dataloader.dataset.path=/data/imagenet/val.csv

Expected with the official weights: 74.7% IN-1k zero-shot top-1 (EVA-CLIP model card).
"""

_base_ = ["./_zero_shot_imagenet.py"]

model = dict(name="eva02_clip_base_patch16_224")
test_dataloader = dict(dataset=dict(transform=dict(img_size=224)))
