"""EVA-02 UperNet: the segmentation backbone, its checkpoint loading, and a tiny model trained on real cat masks
with mmseg (mIoU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vision import VisionTransformer
from vision.dense.convert import PatchSizeMismatchError
from vision.dense.segmentation import EVA02SegBackbone

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "det"
TINY = dict(img_size=64, patch_size=8, embed_dim=32, depth=4, num_heads=2, out_indices=(0, 1, 2, 3))


def _official_like(**kw) -> dict[str, torch.Tensor]:
    """An EVA-02 pre-training state dict in the official layout (class token, final norm, head, 224 px grid)."""
    vit = VisionTransformer(
        img_size=224 // 16 * kw.get("patch_size", 8), patch_size=kw.get("patch_size", 8), num_classes=5,
        embed_dim=32, depth=4, num_heads=2, mlp_ratio=4 * 2 / 3, qkv_fused=False, mlp_layer="swiglu",
        swiglu_packed=False, scale_mlp=True, use_rope=True, rope_ref_grid=16,
    )  # fmt: skip
    sd = vit.state_dict()
    sd["blocks.0.attn.rope.freqs_cos"] = torch.zeros(196, 16)  # per-block RoPE buffers of official checkpoints
    return sd


def test_pyramid_levels_and_official_key_layout() -> None:
    model = EVA02SegBackbone(**TINY).eval()
    maps = model(torch.randn(2, 3, 64, 64))
    assert [m.shape for m in maps] == [(2, 32, 32, 32), (2, 32, 16, 16), (2, 32, 8, 8), (2, 32, 4, 4)]
    keys = set(model.state_dict())
    assert {
        "cls_token",
        "pos_embed",
        "blocks.0.attn.q_bias",
        "blocks.0.mlp.ffn_ln.weight",
        "fpn1.1.running_mean",
    } <= keys
    assert not any(k.startswith(("norm.", "head.")) for k in keys)
    with pytest.raises(ValueError, match="increasing"):
        EVA02SegBackbone(**{**TINY, "out_indices": (0, 1, 1, 3)})


def test_read_out_maps_are_the_core_vit_intermediates() -> None:
    model = EVA02SegBackbone(**TINY).eval()
    model.fpn2 = torch.nn.Identity()
    x = torch.randn(1, 3, 64, 64)
    expected = VisionTransformer.forward_intermediates(model, x, indices=[1], intermediates_only=True)[0]
    torch.testing.assert_close(model(x)[1], expected)


def test_pretraining_checkpoint_loads_with_resized_positions() -> None:
    model = EVA02SegBackbone(**TINY)
    sd = _official_like()
    model.load_pretrained(sd)
    assert model.pos_embed.shape == (1, 1 + 64, 32)
    assert torch.equal(model.blocks[3].mlp.w3.weight, sd["blocks.3.mlp.w3.weight"])
    assert torch.equal(model.cls_token, sd["cls_token"])


def test_patch14_checkpoint_is_refused_naming_the_conversion() -> None:
    sd = _official_like()
    sd["patch_embed.proj.weight"] = torch.zeros(32, 3, 7, 7)
    with pytest.raises(PatchSizeMismatchError, match="convert_p14_to_p16"):
        EVA02SegBackbone(**TINY).load_pretrained(sd)


@pytest.fixture()
def cat_seg_dir(data_dir, tmp_path) -> Path:
    """Three COCO images with their binary cat masks (0 background, 1 cat) in mmseg's folder layout."""
    from PIL import Image

    root = tmp_path / "cat_seg"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for mask in sorted((data_dir / "seggpt" / "coco_cat").glob("*_cat_mask.png")):
        stem = mask.name.split("_")[0]
        shutil.copy(data_dir / "coco" / "val2017" / f"{stem}.jpg", root / "images" / f"{stem}.jpg")
        binary = (np.array(Image.open(mask)) > 127).astype(np.uint8)
        Image.fromarray(binary).save(root / "masks" / f"{stem}.png")
    return root


def test_tiny_upernet_trains_and_reports_miou(cat_seg_dir, tmp_path) -> None:
    pytest.importorskip("mmseg", reason="mmsegmentation is not installed (pip install 'shijie[det]')")
    from vision.dense.runner import load_dense_config, run_train

    cfg = load_dense_config(CONFIGS / "smoke_upernet_eva02_tiny_cpu.py", data_root=cat_seg_dir, work_dir=tmp_path / "w")
    torch.manual_seed(0)
    runner = run_train(cfg)
    miou = runner.message_hub.get_scalar("val/mIoU").current()
    assert 0.0 <= miou <= 100.0


def test_ade20k_configs_carry_the_paper_recipe() -> None:
    pytest.importorskip("mmseg", reason="mmsegmentation is not installed")
    from vision.dense.runner import load_dense_config

    b = load_dense_config(CONFIGS / "upernet_eva02_b_ade20k_512.py")
    assert b.model.backbone.out_indices == (3, 5, 7, 11) and b.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.85
    assert b.model.test_cfg.mode == "slide" and b.train_cfg.max_iters == 60000
    large = load_dense_config(CONFIGS / "upernet_eva02_l_ade20k_512.py")
    assert large.model.backbone.out_indices == (7, 11, 15, 23) and large.optim_wrapper.optimizer.lr == 4e-5
    assert large.param_scheduler[1].end == 80000 and large.model.decode_head.channels == 1024


def test_seg_layer_decay_exempts_biases_norms_and_embeddings_from_weight_decay() -> None:
    from vision.dense.layer_decay import LayerDecayOptimWrapperConstructor

    model = torch.nn.Module()
    model.backbone = EVA02SegBackbone(**TINY)
    model.head = torch.nn.Linear(4, 2)
    ctor = LayerDecayOptimWrapperConstructor(
        dict(optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05)),
        dict(layer_decay_rate=0.9, skip_decay_1d=True),
    )
    groups = ctor(model).optimizer.param_groups
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    bb = model.backbone
    assert (
        wd_of[id(bb.pos_embed)] == 0.0
        and wd_of[id(bb.cls_token)] == 0.0
        and wd_of[id(bb.blocks[0].norm1.weight)] == 0.0
    )
    assert wd_of[id(bb.blocks[0].attn.q_proj.weight)] == 0.05 and wd_of[id(model.head.weight)] == 0.05
    assert lr_of[id(bb.cls_token)] == pytest.approx(0.9**5) and lr_of[id(bb.fpn2.weight)] == 1.0
