"""Shared zero-shot ImageNet evaluation for the EVA-CLIP configs (not run on its own).

``test_dataloader.dataset.path`` is a CSV/TSV with ``file`` and ``class_index`` columns (paths relative to it), e.g.
a listing of the 50,000 IN-1k validation images. Scoring uses the 1000 OpenAI CLIP class names and the 80 templates
shipped in ``eva_clip/assets``. ImageNet-A / ImageNet-R: point the dataset at their listing (labels are ImageNet-1k
ids) and add ``--cfg-options evaluator.benchmark=imagenet-a`` (or ``imagenet-r``) so only their 200 classes compete;
``evaluator.class_indices`` restricts to any other subset.
"""

_model_name = "eva02_clip_base_patch16_224"
_img_size = 224

model = dict(type="vision.create_model", name=_model_name)
test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type="eva_clip.data.LabeledCsvDataset",
        path="data/imagenet/val.csv",
        transform=dict(type="eva_clip.data.clip_transform", img_size=_img_size),
    ),
)
evaluator = dict(type="eva_clip.evaluate.ZeroShotEvaluator", topk=(1, 5))
