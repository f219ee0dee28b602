"""An ImageNet-style class-per-folder dataset with the EVA transforms (RandAugment, random erasing; timm's).

Point ``_data_root`` (via ``--cfg-options``, e.g. ``train_dataloader.dataset.root=...``) at a folder with ``train/``
and ``val/``; mean/std come from the model's pretrained config through ``model_name``.
"""

_data_root = "data/imagenet"
_img_size = 224
_mean_std_from = "eva02_base_patch14_448.mim_in22k_ft_in22k_in1k"

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        type="vision.data.ImageFolderDataset",
        root=_data_root + "/train",
        on_error="skip",
        transform=dict(
            type="vision.data.build_transform",
            img_size=_img_size,
            is_training=True,
            model_name=_mean_std_from,
            auto_augment="rand-m9-mstd0.5-inc1",
            re_prob=0.25,
        ),
    ),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        type="vision.data.ImageFolderDataset",
        root=_data_root + "/val",
        transform=dict(type="vision.data.build_transform", img_size=_img_size, model_name=_mean_std_from),
    ),
)
evaluator = dict(type="vision.engine.ClassificationEvaluator", topk=(1, 5))
