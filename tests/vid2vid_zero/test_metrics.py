"""CLIP metrics with a tiny random open_clip model (any encode_image / encode_text model works)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vid2vid_zero.metrics import edit_report, frame_consistency, text_alignment

open_clip = pytest.importorskip("open_clip")


@pytest.fixture(scope="module")
def clip():
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(0)
    model = CLIP(
        embed_dim=16,
        vision_cfg=CLIPVisionCfg(layers=1, width=32, head_width=16, patch_size=16, image_size=32),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
    ).eval()
    return model, open_clip.get_tokenizer("ViT-B-32")


def test_frame_consistency(clip):
    model, _ = clip
    torch.manual_seed(0)
    still = torch.rand(1, 3, 40, 40).repeat(4, 1, 1, 1)
    assert frame_consistency(model, still, size=32) == pytest.approx(1.0, abs=1e-5)
    assert frame_consistency(model, torch.rand(4, 3, 40, 40), size=32) < 0.999
    with pytest.raises(ValueError, match="at least two frames"):
        frame_consistency(model, still[:1], size=32)


def test_text_alignment_is_the_mean_cosine(clip):
    model, tokenizer = clip
    frames = torch.rand(3, 3, 32, 32)
    got = text_alignment(model, tokenizer, frames, "a dog", size=32)
    mean, std = torch.tensor([0.48145466, 0.4578275, 0.40821073]), torch.tensor([0.26862954, 0.26130258, 0.27577711])
    with torch.no_grad():
        img = F.normalize(model.encode_image((frames - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)), dim=-1)
        txt = F.normalize(model.encode_text(tokenizer(["a dog"])), dim=-1)
    assert got == pytest.approx((img @ txt[0]).mean().item(), abs=1e-4)
    report = edit_report(model, tokenizer, {"a dog": frames}, size=32)
    assert report["a dog"]["text_alignment"] == pytest.approx(got)
