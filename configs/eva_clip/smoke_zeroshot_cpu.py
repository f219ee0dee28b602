"""CPU smoke run of the whole zero-shot evaluation path with a tiny random EVA-CLIP (numbers are chance level).

    python tools/test.py configs/eva_clip/smoke_zeroshot_cpu.py

Reads the 49 labelled ImageNet images of ``../shared/data/imagenet`` (labels.csv) and scores them against the 1000
class names with 2 of the 80 templates.
"""

_data = "../shared/data/imagenet/labels.csv"

model = dict(
    type="vision.create_model",
    name="eva02_clip_base_patch16_224",
    img_size=64,
    embed_dim=32,
    vision_cfg=dict(embed_dim=64, depth=1, num_heads=2),
    text_cfg=dict(width=32, heads=2, layers=1),
)
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    dataset=dict(
        type="eva_clip.data.LabeledCsvDataset",
        path=_data,
        transform=dict(type="eva_clip.data.clip_transform", img_size=64),
    ),
)
evaluator = dict(
    type="eva_clip.evaluate.ZeroShotEvaluator", templates=["a photo of a {c}.", "a sketch of a {c}."], topk=(1, 5)
)
train = dict(device="cpu", threads=2)
