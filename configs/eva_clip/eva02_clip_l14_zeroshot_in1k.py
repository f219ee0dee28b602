"""EVA02-CLIP-L/14 zero-shot ImageNet-1k (eva02_clip_large_patch14_224, 224px).

    python tools/test.py configs/eva_clip/eva02_clip_l14_zeroshot_in1k.py \
        --checkpoint EVA02_CLIP_L_psz14_s4B.pt \
        --cfg-options test_dataloader.dataset.path=/data/imagenet/val.csv

Expected with the official weights: 79.8% IN-1k zero-shot top-1 (EVA-CLIP model card).
"""

_base_ = ["./_zero_shot_imagenet.py"]

model = dict(name="eva02_clip_large_patch14_224")
test_dataloader = dict(dataset=dict(transform=dict(img_size=224)))
