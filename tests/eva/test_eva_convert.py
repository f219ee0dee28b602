"""Official MIM checkpoints into a classifier: fc_norm and head start fresh, everything else carries over."""

from __future__ import annotations

import json

import torch

import vision
from eva.convert import checkpoint_filter_fn, is_mim_checkpoint, mim_to_classifier

V3 = "V3_eva02_mim_bflags_reduced_224.safetensors"


def _v3_state_dict(fixtures_dir) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    with safe_open(str(fixtures_dir / V3), framework="pt") as f:
        keys = json.loads(f.metadata()["manifest"])["state_dict_keys_in_order"]
        return {k: f.get_tensor("state_dict." + k) for k in keys}


def _classifier(global_pool: str = "avg", img_size: int = 224) -> vision.VisionTransformer:
    return vision.VisionTransformer(
        img_size=img_size,
        patch_size=14,
        embed_dim=128,
        depth=2,
        num_heads=2,
        mlp_ratio=8 / 3,
        mlp_layer="swiglu",
        scale_mlp=True,
        use_rope=True,
        rope_ref_grid=16,
        num_classes=10,
        global_pool=global_pool,
    )


def test_mim_checkpoint_into_classifier_starts_fc_norm_and_head_fresh(fixtures_dir):
    sd = _v3_state_dict(fixtures_dir)
    assert is_mim_checkpoint(sd)
    model = _classifier()
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = vision.load_checkpoint(model, {"module": sd}, filter_fn=checkpoint_filter_fn)
    assert report.ok
    after = model.state_dict()
    for key in ("fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"):
        assert torch.equal(after[key], fresh[key])
    assert "norm.weight" not in after  # mean pooling: the classifier's norm is fc_norm
    qkv = torch.cat([sd[f"blocks.1.attn.{n}_proj.weight"] for n in "qkv"])
    assert torch.equal(after["blocks.1.attn.qkv.weight"], qkv)
    assert torch.equal(after["pos_embed"], sd["pos_embed"])


def test_timm_style_norm_to_fc_norm_is_available(fixtures_dir):
    sd = _v3_state_dict(fixtures_dir)
    out = mim_to_classifier(sd, _classifier(), norm_to_fc_norm=True)
    assert torch.equal(out["fc_norm.weight"], sd["norm.weight"]) and "mask_token" not in out


def test_token_pooling_classifier_keeps_the_mim_norm(fixtures_dir):
    sd = _v3_state_dict(fixtures_dir)
    model = _classifier(global_pool="token")
    vision.load_checkpoint(model, sd, filter_fn=checkpoint_filter_fn)
    assert torch.equal(model.norm.weight, sd["norm.weight"])


def test_finetune_resolution_resamples_pos_embed(fixtures_dir):
    sd = _v3_state_dict(fixtures_dir)
    model = _classifier(img_size=448)
    assert vision.load_checkpoint(model, sd, filter_fn=checkpoint_filter_fn).ok
    assert model.pos_embed.shape == (1, 1 + 32 * 32, 128)
    torch.testing.assert_close(model.pos_embed[:, 0], sd["pos_embed"][:, 0])  # class token position kept


def test_non_mim_checkpoint_round_trips():
    src = _classifier()
    dst = _classifier()
    assert not is_mim_checkpoint(src.state_dict())
    vision.load_checkpoint(dst, src.state_dict(), filter_fn=checkpoint_filter_fn)
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in src.state_dict().items())
