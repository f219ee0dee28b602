"""Cross-frame attention processors: equivalences with ordinary attention and the frame-mixing they add."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from vid2vid_zero.attention_processors import (
    Vid2VidAttnProcessor,
    VideoAttentionState,
    frame_mode_for,
    install_video_processors,
)


def _attn_layer(dim: int = 16, heads: int = 2) -> Attention:
    torch.manual_seed(0)
    return Attention(query_dim=dim, heads=heads, dim_head=dim // heads).eval()


def _run(layer: Attention, processor, x: torch.Tensor) -> torch.Tensor:
    layer.set_processor(processor)
    with torch.no_grad():
        return layer(x)


@pytest.mark.parametrize("mode", ["dense", "first_prev"])
def test_one_frame_equals_self_attention(mode):
    layer, x = _attn_layer(), torch.randn(3, 10, 16)  # 3 clips of one frame
    expected = _run(layer, AttnProcessor2_0(), x)
    got = _run(layer, Vid2VidAttnProcessor(VideoAttentionState(num_frames=1), mode, is_cross=False), x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["dense", "first_prev"])
def test_identical_frames_give_identical_outputs_equal_to_self_attention(mode):
    layer = _attn_layer()
    frame = torch.randn(1, 10, 16)
    x = frame.repeat(5, 1, 1)  # one clip, 5 identical frames
    got = _run(layer, Vid2VidAttnProcessor(VideoAttentionState(num_frames=5), mode, is_cross=False), x)
    torch.testing.assert_close(got, got[:1].expand_as(got), atol=1e-5, rtol=1e-5)
    # duplicated keys do not change softmax attention, so each frame still equals its own self-attention
    torch.testing.assert_close(got[:1], _run(layer, AttnProcessor2_0(), frame), atol=1e-5, rtol=1e-5)


def test_first_prev_matches_explicit_reference():
    layer, frames = _attn_layer(), 4
    x = torch.randn(2 * frames, 6, 16)  # two clips
    got = _run(layer, Vid2VidAttnProcessor(VideoAttentionState(num_frames=frames), "first_prev", False), x)
    with torch.no_grad():
        q, k, v = layer.to_q(x), layer.to_k(x), layer.to_v(x)
        for clip in range(2):
            for f in range(frames):
                i, first, prev = clip * frames + f, clip * frames, clip * frames + max(f - 1, 0)
                qh = q[i].unflatten(-1, (2, 8)).transpose(0, 1)  # (H, N, D)
                kh = torch.cat([k[first], k[prev]]).unflatten(-1, (2, 8)).transpose(0, 1)
                vh = torch.cat([v[first], v[prev]]).unflatten(-1, (2, 8)).transpose(0, 1)
                out = ((qh @ kh.transpose(-1, -2)) * layer.scale).softmax(-1) @ vh
                ref = layer.to_out[0](out.transpose(0, 1).flatten(1))
                torch.testing.assert_close(got[i], ref, atol=1e-5, rtol=1e-5)


def test_dense_attends_to_all_frames_and_chunking_is_exact():
    layer, frames = _attn_layer(), 5
    x = torch.randn(frames, 6, 16)
    full = _run(layer, Vid2VidAttnProcessor(VideoAttentionState(num_frames=frames), "dense", False), x)
    chunked = _run(layer, Vid2VidAttnProcessor(VideoAttentionState(num_frames=frames), "dense", False, 2), x)
    torch.testing.assert_close(chunked, full, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # reference: one sequence of all frames' tokens attending to itself
        tokens = x.reshape(1, frames * 6, 16)
        ref = _run(layer, AttnProcessor2_0(), tokens).reshape(frames, 6, 16)
    torch.testing.assert_close(full, ref, atol=1e-5, rtol=1e-5)
    # and the last frame sees other frames: it differs from per-frame attention
    assert not torch.allclose(full[-1:], _run(layer, AttnProcessor2_0(), x[-1:]), atol=1e-4)


def test_cross_frame_switch_off_is_per_frame_attention():
    layer, x = _attn_layer(), torch.randn(4, 6, 16)
    state = VideoAttentionState(num_frames=4, cross_frame=False)
    got = _run(layer, Vid2VidAttnProcessor(state, "dense", False), x)
    torch.testing.assert_close(got, _run(layer, AttnProcessor2_0(), x), atol=1e-5, rtol=1e-5)


def test_official_layer_choice():
    sd_names = [
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor",
        "down_blocks.0.attentions.1.transformer_blocks.0.attn1.processor",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor",
        "mid_block.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.1.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.1.attentions.2.transformer_blocks.0.attn1.processor",
        "up_blocks.2.attentions.0.transformer_blocks.0.attn1.processor",
        "up_blocks.1.attentions.0.transformer_blocks.0.attn2.processor",
    ]
    modes = [frame_mode_for(n, dense_block_idx=0) for n in sd_names]
    assert modes == [
        ("dense", False),
        ("first_prev", False),
        ("first_prev", False),
        ("dense", False),
        ("dense", False),
        ("first_prev", False),
        ("first_prev", False),
        ("none", True),
    ]
    assert frame_mode_for(sd_names[0], dense_block_idx=None) == ("first_prev", False)
    assert frame_mode_for(sd_names[0], dense_block_idx=0, use_cross_frame=False) == ("none", False)
    with pytest.raises(ValueError, match="unexpected attention processor name"):
        frame_mode_for("transformer.blocks.0.attn", 0)


def test_unet_one_frame_matches_default_processors(pipe):
    unet, state = pipe.unet, pipe.state
    torch.manual_seed(0)
    latents, context = torch.randn(2, 4, 8, 8), torch.randn(2, 77, unet.config.cross_attention_dim)
    with torch.no_grad():
        state.num_frames, state.cross_frame = 1, True
        ours = unet(latents, 500, encoder_hidden_states=context).sample
        processors = unet.attn_processors
        unet.set_attn_processor(AttnProcessor2_0())
        reference = unet(latents, 500, encoder_hidden_states=context).sample
        unet.set_attn_processor(processors)
        state.num_frames = 2  # the same batch as one clip of two different frames mixes them
        mixed = unet(latents, 500, encoder_hidden_states=context).sample
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(mixed[1], reference[1], atol=1e-4)


def test_unet_identical_frames_identical_outputs(pipe):
    torch.manual_seed(1)
    frame = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        pipe.state.cross_frame = True
        out = pipe._unet(frame.repeat(6, 1, 1, 1), 300, torch.randn(1, 77, 32), groups=1)
    torch.testing.assert_close(out, out[:1].expand_as(out), atol=1e-5, rtol=1e-4)


def test_bad_dense_block_index_raises(tiny_model_dir):
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(tiny_model_dir, subfolder="unet")
    with pytest.raises(ValueError, match="dense_block_idx=1 names no attention block"):
        install_video_processors(unet, VideoAttentionState(), dense_block_idx=1)
    with pytest.raises(ValueError, match="frame_mode"):
        Vid2VidAttnProcessor(VideoAttentionState(), "temporal", False)
