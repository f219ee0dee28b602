"""EVA-02 ViTDet backbone: windows vs global attention, RoPE tables, pyramid, p14to16 conversion, lr-decay ids."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from vision import VisionTransformer
from vision.dense.convert import PatchSizeMismatchError, checkpoint_filter_fn, convert_p14_to_p16
from vision.dense.vitdet import (
    EVA02ViTDet,
    SimpleFeaturePyramid,
    default_global_blocks,
    window_partition,
    window_unpartition,
)

TINY = dict(img_size=64, patch_size=8, embed_dim=32, depth=4, num_heads=2, pretrain_img_size=32, rope_ref_grid=4)


def _tiny(**kw) -> EVA02ViTDet:
    torch.manual_seed(0)
    return EVA02ViTDet(**{**TINY, **kw}).eval()


def test_official_global_block_indices() -> None:
    assert default_global_blocks(12) == (2, 5, 8, 11)
    assert default_global_blocks(24) == (5, 11, 17, 23)
    model = EVA02ViTDet(img_size=64, embed_dim=32, depth=12, num_heads=2, window_size=2)
    assert [b.window_size == 0 for b in model.blocks] == [i in (2, 5, 8, 11) for i in range(12)]
    with pytest.raises(ValueError, match="out of range"):
        EVA02ViTDet(**{**TINY, "global_block_indexes": (4,)})


@pytest.mark.parametrize("size", [(8, 8), (7, 10)])
def test_window_partition_round_trip(size: tuple[int, int]) -> None:
    x = torch.randn(2, *size, 5)
    windows, padded = window_partition(x, 4)
    assert windows.shape[1:] == (16, 5) and padded == (8, 12 if size[1] == 10 else 8)
    assert torch.equal(window_unpartition(windows, 4, padded, size), x)


def test_one_window_covering_the_map_equals_global_attention() -> None:
    windowed = _tiny(window_size=8, global_block_indexes=())  # grid 8x8: one window per image
    glob = _tiny(window_size=8, global_block_indexes=range(4))
    glob.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(windowed(x)[0], glob(x)[0])


def test_windowed_blocks_do_not_mix_windows_and_global_blocks_do() -> None:
    x = torch.randn(1, 3, 64, 64)
    x2 = x.clone()
    x2[..., :32, :32] += 1.0  # only the top-left 4x4 window of tokens changes
    local = _tiny(window_size=4, global_block_indexes=())
    diff = (local(x)[0] - local(x2)[0]).abs().amax(dim=1)[0]  # (8, 8)
    assert diff[:4, :4].min() > 0 and diff[4:].max() == 0 and diff[:, 4:].max() == 0
    mixed = _tiny(window_size=4, global_block_indexes=(3,))
    diff = (mixed(x)[0] - mixed(x2)[0]).abs().amax(dim=1)[0]
    assert diff[4:, 4:].min() > 0


def test_global_path_matches_the_core_vit() -> None:
    """All-global, no resize: the backbone is the core EVA-02 ViT (no class token) minus its final norm."""
    det = _tiny(global_block_indexes=range(4), pretrain_img_size=64, pretrain_use_cls_token=False, rope_ref_grid=4)
    core = VisionTransformer(
        img_size=64, patch_size=8, num_classes=0, global_pool="", embed_dim=32, depth=4, num_heads=2,
        mlp_ratio=4 * 2 / 3, qkv_fused=False, mlp_layer="swiglu", swiglu_packed=False, scale_mlp=True,
        use_rope=True, rope_ref_grid=4, class_token=False,
    ).eval()  # fmt: skip
    report = core.load_state_dict(det.state_dict(), strict=False)
    assert not report.unexpected_keys and set(report.missing_keys) == {"norm.weight", "norm.bias"}
    x = torch.randn(2, 3, 64, 64)
    (expected,) = core.forward_intermediates(x, indices=[3], intermediates_only=True)
    torch.testing.assert_close(det(x)[0], expected)


def test_window_rope_table_is_the_official_one(fixtures_dir) -> None:
    """Window 16 on the 16x16 pre-training grid: the official det code builds the same table as pre-training."""
    from safetensors import safe_open

    with safe_open(str(fixtures_dir / "V2_eva02_bflags_reduced_224.safetensors"), framework="pt") as f:
        cos, sin = f.get_tensor("state_dict.rope.freqs_cos"), f.get_tensor("state_dict.rope.freqs_sin")
    model = EVA02ViTDet(img_size=256, patch_size=16, embed_dim=128, depth=4, num_heads=2, window_size=16)
    torch.testing.assert_close(model.rope_win.cos, cos)
    torch.testing.assert_close(model.rope_win.sin, sin)


def test_global_rope_positions_are_scaled_to_the_pretraining_grid() -> None:
    model = EVA02ViTDet(img_size=1024, patch_size=16, embed_dim=64, depth=4, num_heads=2, window_size=16)
    head_half = 16  # head_dim 32 -> 16 channels per axis
    inv = 1.0 / (10000 ** (torch.arange(0, head_half, 2)[: head_half // 2].float() / head_half))
    t = torch.arange(64) / 64 * 16  # 64 tokens per side mapped onto the 16-token pre-training grid
    axis = (t[:, None] * inv[None]).repeat_interleave(2, dim=-1)  # (64, 16)
    freqs = torch.cat([axis[:, None].expand(64, 64, -1), axis[None].expand(64, 64, -1)], dim=-1).reshape(4096, 32)
    torch.testing.assert_close(model.rope_glb.cos, freqs.cos())
    assert model.rope_win.cos.shape == (256, 32)


def test_abs_pos_embed_is_resized_to_each_input() -> None:
    model = _tiny(window_size=4)
    grid = model._abs_pos((8, 8))
    assert grid.shape == (1, 8, 8, 32)
    patch = model.pos_embed[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    expected = F.interpolate(patch, size=(8, 8), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    torch.testing.assert_close(grid, expected)
    out = model(torch.randn(1, 3, 96, 64))[0]  # non-square, not a multiple of the window in height
    assert out.shape == (1, 32, 12, 8)


def test_pyramid_strides_and_channels() -> None:
    neck = SimpleFeaturePyramid(32, 16)
    feats = neck((torch.randn(2, 32, 8, 8),))
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]  # strides 4, 8, 16, 32, 64 for a 128 px input
    assert all(f.shape[:2] == (2, 16) for f in feats)
    assert len(SimpleFeaturePyramid(32, 16, top_pool=False)((torch.randn(1, 32, 8, 8),))) == 4
    with pytest.raises(ValueError, match="scale factor"):
        SimpleFeaturePyramid(32, 16, scale_factors=(8.0, 4.0))


def test_backbone_trains_with_checkpointing_and_drop_path() -> None:
    model = _tiny(window_size=4, drop_path_rate=0.2, use_act_checkpoint=True).train()
    model(torch.randn(2, 3, 64, 64))[0].square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_layer_ids_follow_the_official_decay_rule() -> None:
    model = _tiny()
    assert model.layer_id("pos_embed") == 0 and model.layer_id("patch_embed.proj.weight") == 0
    assert model.layer_id("blocks.2.attn.q_bias") == 3
    assert model.layer_id("anything_else") == 5


def _official_state_dict(fixtures_dir) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with safe_open(str(fixtures_dir / "V2_eva02_bflags_reduced_224.safetensors"), framework="pt") as f:
        keys = json.loads(f.metadata()["manifest"])["state_dict_keys_in_order"]
        return {k: f.get_tensor("state_dict." + k) for k in keys}


def test_official_p14_checkpoint_converts_and_loads(fixtures_dir) -> None:
    sd = _official_state_dict(fixtures_dir)  # EVA-02 B flags, patch 14 at 224 px, official key names
    converted = convert_p14_to_p16(sd)
    assert converted["patch_embed.proj.weight"].shape == (128, 3, 16, 16)
    assert converted["pos_embed"].shape == (1, 1 + 14 * 14, 128)
    assert torch.equal(converted["pos_embed"][:, 0], sd["pos_embed"][:, 0])  # class slot untouched
    model = EVA02ViTDet(img_size=128, patch_size=16, embed_dim=128, depth=2, num_heads=2, global_block_indexes=(1,))
    model.load_pretrained(converted)
    assert torch.equal(model.blocks[1].mlp.w3.weight, sd["blocks.1.mlp.w3.weight"])
    assert model(torch.randn(1, 3, 128, 128))[0].shape == (1, 128, 8, 8)


def test_p14to16_keeps_a_constant_kernel_constant() -> None:
    sd = {"patch_embed.proj.weight": torch.full((4, 3, 14, 14), 0.5), "pos_embed": torch.randn(1, 257, 4)}
    out = convert_p14_to_p16(sd)
    torch.testing.assert_close(out["patch_embed.proj.weight"], torch.full((4, 3, 16, 16), 0.5))


def test_unconverted_p14_checkpoint_is_refused_naming_the_conversion(fixtures_dir) -> None:
    model = EVA02ViTDet(img_size=128, patch_size=16, embed_dim=128, depth=2, num_heads=2, global_block_indexes=(1,))
    with pytest.raises(PatchSizeMismatchError, match="convert_p14_to_p16"):
        model.load_pretrained(_official_state_dict(fixtures_dir))


def test_filter_strips_wrappers_and_resizes_pos_embed() -> None:
    model = _tiny()
    sd = {f"backbone.net.{k}": v for k, v in model.state_dict().items()}
    sd["backbone.net.pos_embed"] = torch.randn(1, 1 + 36, 32)  # stored for a 6x6 grid
    sd["backbone.net.cls_token"] = torch.zeros(1, 1, 32)
    out = checkpoint_filter_fn(sd, model)
    assert set(out) == set(model.state_dict()) and out["pos_embed"].shape == model.pos_embed.shape


def test_conversion_command_writes_a_loadable_p16_file(fixtures_dir, tmp_path, capsys) -> None:
    from safetensors.torch import save_file

    from vision.dense.convert import main

    src, dst = tmp_path / "p14.safetensors", tmp_path / "p14to16.safetensors"
    save_file({k: v.contiguous() for k, v in _official_state_dict(fixtures_dir).items()}, str(src))
    main(["--input", str(src), "--output", str(dst)])
    assert "(128, 3, 16, 16)" in capsys.readouterr().out
    model = EVA02ViTDet(img_size=128, patch_size=16, embed_dim=128, depth=2, num_heads=2, global_block_indexes=(1,))
    model.load_pretrained(dst)
