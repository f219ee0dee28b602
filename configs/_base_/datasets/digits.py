"""scikit-learn's 1,797 real 8x8 handwritten digits, upsampled; a stratified 80/20 split (1,437 train / 360 val).

Bundled with scikit-learn, so nothing downloads. Training images get small random rotations, shifts and zooms.
"""

_img_size = 32

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(type="vision.data.DigitsDataset", split="train", img_size=_img_size, augment=True),
)
val_dataloader = dict(
    batch_size=360,
    num_workers=0,
    dataset=dict(type="vision.data.DigitsDataset", split="val", img_size=_img_size),
)
evaluator = dict(type="vision.engine.ClassificationEvaluator", topk=(1, 5))
