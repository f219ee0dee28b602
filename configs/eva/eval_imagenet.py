"""Evaluate a registered classifier on an ImageNet-style validation set: top-1/top-5, per-class accuracy, JSON.

    python tools/test.py configs/eva/eval_imagenet.py --checkpoint eva02_B_pt_in21k_medft_in21k_ft_in1k_p14.pt \
        --cfg-options model.name=eva02_base_patch14_448 _img=448 \
            test_dataloader.dataset.root=/data/imagenet/val test_dataloader.dataset.transform.img_size=448

``test_dataloader.dataset.root`` is a folder of WordNet-id sub-folders (IN-1k val, ImageNet-A, ImageNet-R), a folder
of class-index sub-folders (ImageNet-V2) or a CSV list with ``file`` and ``class_index`` columns. Choose the scoring
with ``evaluator.benchmark`` (``imagenet``, ``imagenet-v2``, ``imagenet-a``, ``imagenet-r``; the last two keep only
the 200 subset logits) and ``test_dataloader.dataset.benchmark`` (how folders are read). Results, per-class accuracy
included, go to ``evaluator.results_file``. The official checkpoints evaluate at crop_pct 1.0 with CLIP mean/std.
Expected (official checkpoints): EVA-02 Ti 336 80.7, S 336 85.8, B 448 88.6, L 448 90.0; EVA-01 g 560 89.7.
"""

_img = 224
model = dict(type="vision.create_model", name="eva02_base_patch14_448")
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    dataset=dict(
        type="eva.evaluate.ImageList",
        root="data/imagenet/val",
        benchmark="imagenet",
        transform=dict(type="eva.evaluate.build_eval_transform", img_size=_img, crop_pct=1.0),
    ),
)
evaluator = dict(
    type="eva.evaluate.ImageNetEvaluator", benchmark="imagenet", results_file="work_dirs/eval/results.json"
)
