"""EVA02-CLIP-L/14-336 zero-shot ImageNet-1k (eva02_clip_large_patch14_336, 336px).

    python tools/test.py configs/eva_clip/eva02_clip_l14_336_zeroshot_in1k.py \
        --checkpoint EVA02_CLIP_L_336_psz14_s6B.pt \
        --cfg-options test_dataloader.dataset.path=/data/imagenet/val.csv

Expected with the official weights: 80.4% IN-1k zero-shot top-1 (EVA-CLIP model card).
"""

_base_ = ["./_zero_shot_imagenet.py"]

model = dict(name="eva02_clip_large_patch14_336")
test_dataloader = dict(dataset=dict(transform=dict(img_size=336)))
