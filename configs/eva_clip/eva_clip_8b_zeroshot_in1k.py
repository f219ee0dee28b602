"""EVA-CLIP-8B zero-shot ImageNet-1k (eva_clip_8b_patch14_224, 224px).

    python tools/test.py configs/eva_clip/eva_clip_8b_zeroshot_in1k.py \
        --checkpoint EVA_CLIP_8B_psz14_s9B.pt \
        --cfg-options test_dataloader.dataset.path=/data/imagenet/val.csv

Expected with the official weights: 83.5% IN-1k zero-shot top-1 (EVA-CLIP model card).
"""

_base_ = ["./_zero_shot_imagenet.py"]

model = dict(name="eva_clip_8b_patch14_224")
test_dataloader = dict(dataset=dict(transform=dict(img_size=224)))
