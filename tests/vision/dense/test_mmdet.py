"""mmdet 3.3 integration: registration, layer decay, the paper configs, and a tiny detector trained and evaluated on
the 15-image COCO sample (including an image without annotations and a crowd region)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet", reason="mmdet is not installed (pip install 'shijie[det]')")

from vision.dense.runner import load_dense_config, run_test, run_train  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "det"
SMOKE = CONFIGS / "smoke_mask_rcnn_eva02_tiny_cpu.py"


@pytest.fixture(autouse=True)
def _mmdet_scope() -> None:
    from mmengine.registry import init_default_scope

    init_default_scope("mmdet")  # what the Runner does from the configs' default_scope


def _build(cfg):
    from mmdet.registry import MODELS

    return MODELS.build(cfg.model)


@pytest.mark.slow
def test_full_size_b_model_builds() -> None:
    model = _build(load_dense_config(CONFIGS / "cascade_mask_rcnn_eva02_b_vitdet_lsj1024.py"))
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    assert 85e6 < backbone_params < 88e6  # EVA-02-B: 86M


def test_b_configs_set_the_official_recipe() -> None:
    for name in ("cascade_mask_rcnn_eva02_b_vitdet_lsj1024", "mask_rcnn_eva02_b_vitdet_lsj1024"):
        cfg = load_dense_config(CONFIGS / f"{name}.py")
        assert cfg.model.backbone.global_block_indexes == (2, 5, 8, 11) and cfg.model.backbone.window_size == 16
        assert cfg.model.backbone.drop_path_rate == 0.1 and cfg.optim_wrapper.optimizer.lr == 5e-5
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.7 and cfg.train_cfg.max_iters == 60000
        assert cfg.train_dataloader.dataset.pipeline[3]["ratio_range"] == (0.1, 2.0)  # LSJ


def test_cascade_config_wires_three_normed_class_agnostic_stages() -> None:
    from vision.layers import LayerNorm2d

    small = ["model.backbone.embed_dim=32", "model.backbone.num_heads=2", "model.neck.in_channels=32"]
    model = _build(load_dense_config(CONFIGS / "cascade_mask_rcnn_eva02_b_vitdet_lsj1024.py", small))
    heads = model.roi_head.bbox_head
    assert len(heads) == 3 and all(h.reg_class_agnostic for h in heads)
    assert [h.bbox_coder.stds[0] for h in heads] == [0.1, 0.05, 0.033]
    assert any(isinstance(m, LayerNorm2d) for m in heads[0].modules())
    assert any(isinstance(m, LayerNorm2d) for m in model.roi_head.mask_head.modules())


def test_large_configs_set_the_l_recipe() -> None:
    for name in ("cascade_mask_rcnn_eva02_l_vitdet_lsj1024", "mask_rcnn_eva02_l_vitdet_lsj1024"):
        cfg = load_dense_config(CONFIGS / f"{name}.py")
        assert cfg.model.backbone.depth == 24 and cfg.model.backbone.global_block_indexes == (5, 11, 17, 23)
        assert cfg.model.backbone.drop_path_rate == 0.4 and cfg.optim_wrapper.optimizer.lr == 6e-5
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8 and cfg.model.neck.in_channels == 1024


def test_layer_decay_groups_follow_the_official_rule() -> None:
    from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS

    cfg = load_dense_config(SMOKE)
    model = _build(cfg)
    optim_cfg = dict(
        constructor="LayerDecayOptimWrapperConstructor",
        paramwise_cfg=dict(layer_decay_rate=0.5),
        optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.1),
    )
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type=optim_cfg.pop("constructor"), optim_wrapper_cfg=optim_cfg, paramwise_cfg=optim_cfg.pop("paramwise_cfg")
        )
    )
    groups = ctor(model).optimizer.param_groups
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    depth = len(model.backbone.blocks)  # 4: embeddings 0.5**5, block i 0.5**(4 - i), heads 1
    assert lr_of[id(model.backbone.pos_embed)] == 0.5 ** (depth + 1)
    assert lr_of[id(model.backbone.blocks[1].attn.q_bias)] == 0.5 ** (depth - 1)
    assert lr_of[id(next(model.rpn_head.parameters()))] == 1.0
    assert len(lr_of) == sum(p.requires_grad for p in model.parameters())
    assert {g["weight_decay"] for g in groups} == {0.1}


def test_empty_and_crowd_images_give_finite_losses(data_dir) -> None:
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    cfg = load_dense_config(SMOKE, data_root=data_dir / "coco")
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    ids = [dataset.get_data_info(i)["img_id"] for i in range(len(dataset))]
    annotations = json.loads((data_dir / "coco" / "annotations" / "instances_val2017.json").read_text())
    crowd_image = next(a["image_id"] for a in annotations["annotations"] if a["iscrowd"])
    empty, crowd = ids.index(226111), ids.index(crowd_image)
    batch = pseudo_collate([dataset[empty], dataset[crowd]])
    assert len(batch["data_samples"][0].gt_instances) == 0
    assert batch["data_samples"][1].ignored_instances is not None
    torch.manual_seed(0)
    model = _build(cfg)
    data = model.data_preprocessor(batch, training=True)
    losses = model.loss(data["inputs"], data["data_samples"])
    total, _ = model.parse_losses(losses)  # the sum the runner back-propagates
    assert torch.isfinite(total)
    total.backward()


def test_tiny_detector_trains_evaluates_and_reloads(data_dir, tmp_path) -> None:
    no_val = ["train_cfg.max_iters=2", "val_dataloader=None", "val_cfg=None", "val_evaluator=None"]
    cfg = load_dense_config(SMOKE, no_val, data_root=data_dir / "coco", work_dir=tmp_path / "run")
    torch.manual_seed(0)
    run_train(cfg)
    ckpt = tmp_path / "run" / "iter_2.pth"
    assert ckpt.is_file()
    subset = ["test_dataloader.dataset.indices=3"]
    results = run_test(load_dense_config(SMOKE, subset, data_root=data_dir / "coco", work_dir=tmp_path / "t"), ckpt)
    assert {"coco/bbox_AP", "coco/segm_AP"} <= set(results)
    assert all(0.0 <= results[f"coco/{t}_AP"] <= 1.0 for t in ("bbox", "segm"))
    stray = tmp_path / "elsewhere" / "iter_2.pth"  # not in a work dir we trained into: refused unless trusted
    stray.parent.mkdir()
    shutil.copy(ckpt, stray)
    with pytest.raises(ValueError, match="trust-checkpoint"):
        run_test(load_dense_config(SMOKE, subset, data_root=data_dir / "coco", work_dir=tmp_path / "u"), stray)
