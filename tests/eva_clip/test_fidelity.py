"""EVA-CLIP against the official code (fixture V4) and against open_clip's EVA02-B-16, with random weights."""

from __future__ import annotations

import pytest
import torch

import vision
from eva_clip.convert import export_state_dict
from eva_clip.tokenizer import tokenize


def test_v4_strict_load_reports_nothing_missing(v4):
    model = vision.create_model(
        "eva02_clip_base_patch16_224",
        embed_dim=64,
        vision_cfg=dict(embed_dim=128, depth=2, num_heads=2),
        text_cfg=dict(width=16, heads=2, layers=2),
    )
    report = vision.load_checkpoint(model, v4["state_dict"])
    assert report.ok, str(report)


@torch.no_grad()
def test_v4_reproduces_official_outputs(v4, v4_model):
    inp, out = v4["inputs"], v4["outputs"]
    image, text = inp["image"], inp["text"]
    img_n, txt_n, scale = v4_model(image, text)
    got = {
        "image_features": v4_model.encode_image(image),
        "text_features": v4_model.encode_text(text),
        "image_features_normalized": img_n,
        "text_features_normalized": txt_n,
        "logit_scale_exp": scale,
        "logits_per_image": scale * img_n @ txt_n.T,
        "visual_pre_head": v4_model.visual.forward_head(v4_model.visual.forward_features(image), pre_logits=True),
        "text_all_tokens": v4_model.text.encode_tokens(text),
    }
    for name, value in got.items():
        torch.testing.assert_close(value, out[name], rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


@torch.no_grad()
def test_v4_clip_loss(v4, v4_model):
    from eva_clip.loss import ClipLoss

    img_n, txt_n, scale = v4_model(v4["inputs"]["image"], v4["inputs"]["text"])
    torch.testing.assert_close(ClipLoss()(img_n, txt_n, scale), v4["outputs"]["clip_loss"], rtol=1e-5, atol=1e-5)


def test_v4_export_official_round_trips(v4, v4_model):
    exported = export_state_dict(v4_model, "official")
    assert set(exported) == set(v4["state_dict"])
    for key, value in v4["state_dict"].items():
        torch.testing.assert_close(exported[key], value, rtol=0, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")


def _open_clip_eva02_b16(depth: int, text_layers: int):
    """open_clip's EVA02-B-16 from its own config dict with fewer blocks in both towers, every weight perturbed.

    open_clip builds the image tower through timm by name, so the shallower trunk is registered with timm under a
    test-only name (timm's own ``eva02_base_patch16_clip_224`` arguments, ``depth`` changed).
    """
    open_clip = pytest.importorskip("open_clip")
    timm = pytest.importorskip("timm")
    name = f"eva02_base_patch16_clip_224_depth{depth}"
    if not timm.list_models(name):

        def shallow(pretrained: bool = False, **kwargs):
            return timm.create_model("eva02_base_patch16_clip_224", depth=depth, **kwargs)

        shallow.__name__ = name
        timm.models.register_model(shallow)
    cfg = open_clip.get_model_config("EVA02-B-16")
    cfg["vision_cfg"]["timm_model_name"] = name
    cfg["text_cfg"]["layers"] = text_layers
    torch.manual_seed(0)
    model = open_clip.CustomTextCLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"])
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    return model.eval()


@torch.no_grad()
def test_open_clip_eva02_b16_converts_with_equal_outputs():
    peer = _open_clip_eva02_b16(depth=2, text_layers=2)
    ours = vision.create_model("eva02_clip_base_patch16_224", depth=2, text_cfg=dict(layers=2)).eval()
    report = vision.load_checkpoint(ours, peer.state_dict())
    assert report.ok, str(report)
    image = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    text = tokenize(["a photo of a cat", "a diagram of a rotary position embedding"])
    peer_image, peer_text = peer.encode_image(image), peer.encode_text(text)
    torch.testing.assert_close(ours.encode_image(image), peer_image, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.encode_text(text), peer_text, rtol=1e-5, atol=1e-5)

    # ... and back: our export in open_clip's layout loads strictly into open_clip and gives the same outputs.
    with torch.no_grad():
        for p in peer.parameters():
            p.zero_()
    peer.load_state_dict(export_state_dict(ours, "open_clip"), strict=True)
    torch.testing.assert_close(peer.encode_image(image), peer_image, rtol=0, atol=1e-6)
    torch.testing.assert_close(peer.encode_text(text), peer_text, rtol=0, atol=1e-6)
