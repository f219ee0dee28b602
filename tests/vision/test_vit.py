import pytest
import timm
import torch

import vision
from vision import VisionTransformer, load_checkpoint


def _tiny(**kw):
    return vision.create_model("eva02_test_patch14_56", **kw)


@pytest.mark.parametrize(
    ("name", "millions"),
    [
        ("eva02_tiny_patch14_224", 5.5),
        ("eva02_small_patch14_224", 21.6),
        ("eva02_base_patch14_224", 86),
        ("eva02_large_patch14_224", 304),
        ("eva_giant_patch14_224", 1010),
    ],
)
def test_parameter_counts_match_the_papers(name, millions):
    with torch.device("meta"):
        model = vision.create_model(name, num_classes=0)
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert count == pytest.approx(millions, rel=0.006), count


# Reduced-depth copies of every size, built both in timm and in Shijie from timm's weights.
_TIMM_EQUIVALENTS = [
    ("eva02_tiny_patch14_224", dict(depth=2)),
    ("eva02_small_patch14_224", dict(depth=2)),
    ("eva02_base_patch14_224", dict(depth=2)),
    ("eva02_large_patch14_224", dict(depth=1)),
    ("eva_giant_patch14_224", dict(depth=1)),
]


@pytest.mark.parametrize(("name", "overrides"), _TIMM_EQUIVALENTS)
def test_timm_weights_convert_and_agree(name, overrides):
    torch.manual_seed(0)
    kw = dict(overrides, img_size=112, num_classes=10)
    peer = timm.create_model(name, pretrained=False, **kw).eval()
    with torch.no_grad():  # timm's init leaves biases at zero; random ones catch a dropped or swapped bias
        for p in peer.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    ours = vision.create_model(name, **kw).eval()
    assert load_checkpoint(ours, peer.state_dict(), strict=True).ok
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), peer(x), rtol=1e-5, atol=1e-5)
    # and back: our export loads strictly into timm
    peer.load_state_dict(ours.export_state_dict("timm"), strict=True)


def test_dynamic_input_size_matches_a_model_built_for_it():
    model = _tiny().eval()
    big = _tiny(img_size=84).eval()
    assert load_checkpoint(big, model.state_dict()).ok  # pos embed resampled 4x4 -> 6x6 by the filter
    x = torch.randn(1, 3, 84, 84)
    with torch.no_grad():
        torch.testing.assert_close(model(x), big(x), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 42, 70)).shape == (1, 1000)  # non-square


def test_image_size_must_divide_by_patch():
    with pytest.raises(ValueError, match="not divisible by the patch size 14"):
        _tiny()(torch.randn(1, 3, 50, 56))
    with pytest.raises(ValueError, match="image height 100 is not divisible by the patch size 14"):
        vision.create_model("eva02_tiny_patch14_224", img_size=100)


def test_mask_token_replaces_masked_patches_only():
    model = _tiny(use_mask_token=True, global_pool="", num_classes=0).eval()
    x = torch.randn(2, 3, 56, 56)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(model.forward_features(x, mask), model.forward_features(x))
        mask[0, 3] = True
        changed = model.forward_features(x, mask) != model.forward_features(x)
    assert changed[0].any() and not changed[1].any()
    with pytest.raises(ValueError, match=r"mask of shape \(2, 15\) does not match the 2 x 16 patches"):
        model.forward_features(x, torch.zeros(2, 15, dtype=torch.bool))
    with pytest.raises(ValueError, match="no mask token"):
        _tiny().forward_features(x, mask)


def test_grad_checkpointing_gives_identical_gradients():
    torch.manual_seed(0)
    model = _tiny(drop_path_rate=0.0)
    x = torch.randn(2, 3, 56, 56)
    model(x).sum().backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, plain[name], msg=name)


def test_patch_dropout_keeps_prefix_and_a_fraction_and_trains():
    model = _tiny(patch_drop_rate=0.5, global_pool="token").train()
    x = torch.randn(2, 3, 56, 56)
    tokens, rope, _ = model._embed(x, None)
    assert tokens.shape == (2, 1 + 8, 32)
    assert rope[0].shape == (2, 1, 9, 16)  # head dim 32 / 2 heads
    model(x).sum().backward()
    model.eval()
    assert model.forward_features(x).shape == (2, 17, 32)  # no dropout at eval


def test_patch_dropout_rope_follows_the_kept_tokens():
    """Dropping tokens must not change how the kept ones attend each other's positions."""
    torch.manual_seed(0)
    model = _tiny(patch_drop_rate=0.25, global_pool="token").train()
    x = torch.randn(1, 3, 56, 56)
    torch.manual_seed(1)
    tokens, rope, _ = model._embed(x, None)
    torch.manual_seed(1)
    keep = torch.randn(1, 16).topk(12, dim=-1).indices[0] + 1
    full_cos = model.rope.cos
    torch.testing.assert_close(rope[0][0, 0, 1:], full_cos[keep])


def test_forward_intermediates_and_layer_ids():
    model = _tiny().eval()
    x = torch.randn(2, 3, 56, 56)
    final, maps = model.forward_intermediates(x, indices=2)
    assert [m.shape for m in maps] == [(2, 32, 4, 4)] * 2
    torch.testing.assert_close(final, model.forward_features(x))
    with pytest.raises(ValueError, match="out of range"):
        model.forward_intermediates(x, indices=[5])
    assert model.layer_id("cls_token") == 0 and model.layer_id("patch_embed.proj.weight") == 0
    assert model.layer_id("blocks.1.attn.qkv.weight") == 2 and model.layer_id("head.weight") == 3
    assert {"pos_embed", "cls_token"} <= model.no_weight_decay()


@pytest.mark.parametrize(
    "flags",
    [
        dict(post_norm=True, init_values=0.1),
        dict(norm_layer="rmsnorm"),
        dict(qkv_fused=False, swiglu_packed=False, scale_attn_inner=True),
    ],
)
def test_flag_variants_run_and_convert_layouts(flags):
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=56,
        patch_size=14,
        embed_dim=32,
        depth=2,
        num_heads=2,
        mlp_layer="swiglu",
        use_rope=True,
        num_classes=5,
        **flags,
    ).eval()
    x = torch.randn(1, 3, 56, 56)
    other = VisionTransformer(
        img_size=56,
        patch_size=14,
        embed_dim=32,
        depth=2,
        num_heads=2,
        mlp_layer="swiglu",
        use_rope=True,
        num_classes=5,
        **dict(flags, qkv_fused=not flags.get("qkv_fused", True), swiglu_packed=not flags.get("swiglu_packed", True)),
    ).eval()
    assert load_checkpoint(other, model.state_dict()).ok  # fused <-> split conversion
    with torch.no_grad():
        torch.testing.assert_close(other(x), model(x), rtol=1e-5, atol=1e-5)
    if flags.get("init_values"):
        assert "blocks.0.gamma_1" in model.state_dict()


@pytest.mark.parametrize("flags", [dict(), dict(post_norm=True), dict(init_values=0.1, use_rope=False)])
def test_token_pooling_shortcut_equals_the_full_last_block(flags):
    """forward() updates only the class token in the last block; the result equals running every token."""
    torch.manual_seed(0)
    model = _tiny(global_pool="token", **flags).eval()
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x)), rtol=1e-5, atol=1e-6)
