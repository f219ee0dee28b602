"""Prompt-to-prompt control: token mappers, step schedules, the official quirks flag, and its effect in the UNet."""

from __future__ import annotations

import pytest
import torch

from vid2vid_zero.prompt_to_prompt import (
    AttentionController,
    refinement_mapper,
    replacement_mapper,
    word_equalizer,
    word_token_spans,
)


@pytest.fixture(scope="module")
def tokenizer(pipe):
    return pipe.tokenizer


def test_word_spans_cover_the_tokenisation(tokenizer):
    prompt = "a jeep car is moving on the road"
    spans = word_token_spans(tokenizer, prompt)
    assert len(spans) == 8 and spans[0][0] == 1
    assert spans[-1][1] == len(tokenizer(prompt).input_ids) - 1  # end token follows the last word


def test_replacement_mapper_moves_changed_word_and_keeps_the_rest(tokenizer):
    source, target = "a car is moving on the road", "a car is moving on the snow"
    mapper = replacement_mapper(tokenizer, source, target, 77)
    road = word_token_spans(tokenizer, source)[-1]
    snow = word_token_spans(tokenizer, target)[-1]
    assert mapper[road[0], snow[0]] == 1
    off_diagonal = mapper - torch.diag(torch.diag(mapper))
    assert off_diagonal.abs().sum() == 0  # same token counts: the identity layout
    assert torch.equal(mapper.sum(1), torch.ones(77))  # every source token's mass goes somewhere


def test_replacement_mapper_with_different_token_counts_keeps_later_words_aligned(tokenizer):
    source, target = "a car on the road", "a bulldozer on the road"  # 'bulldozer' is two tokens, 'car' one
    src, tgt = word_token_spans(tokenizer, source), word_token_spans(tokenizer, target)
    assert tgt[1][1] - tgt[1][0] == 2
    mapper = replacement_mapper(tokenizer, source, target, 77)
    assert torch.allclose(mapper[src[1][0], tgt[1][0] : tgt[1][1]], torch.full((2,), 0.5))
    for (s0, _), (t0, _) in zip(src[2:], tgt[2:]):  # 'on the road' keep their own (shifted) tokens
        assert mapper[s0, t0] == 1
    assert mapper[src[-1][1], tgt[-1][1]] == 1  # end token to end token
    with pytest.raises(ValueError, match="same number of words"):
        replacement_mapper(tokenizer, "a car", "a red car", 77)


def test_refinement_mapper_aligns_common_tokens_and_the_tail(tokenizer):
    source, target = "a car is moving on the road", "a jeep car is moving on the road"
    index, alpha = refinement_mapper(tokenizer, source, target, 77)
    n_src, n_tgt = len(tokenizer(source).input_ids), len(tokenizer(target).input_ids)
    jeep = word_token_spans(tokenizer, target)[1]
    assert alpha[jeep[0] : jeep[1]].eq(0).all()  # the new word keeps its own attention
    car_src, car_tgt = word_token_spans(tokenizer, source)[1][0], word_token_spans(tokenizer, target)[2][0]
    assert index[car_tgt] == car_src and alpha[car_tgt] == 1
    assert index[n_tgt] == n_src  # padding counted from each prompt's own length
    assert alpha.sum() == 77 - (jeep[1] - jeep[0])


def test_equalizer_and_unknown_word(tokenizer):
    eq = word_equalizer(tokenizer, "a red car", {"red": 2.0}, 77)
    assert eq[2] == 2.0 and eq.sum() == 76 + 2.0
    with pytest.raises(ValueError, match="not a word of the prompt"):
        word_equalizer(tokenizer, "a red car", {"blue": 2.0}, 77)


def test_schedules_and_official_quirks(tokenizer):
    refine = AttentionController(tokenizer, "a car", "a red car", 50, cross_replace_steps=0.8, self_replace_steps=0.4)
    assert (refine.cross_until, refine.self_until) == (40, 20)
    assert refine.edits(False, 16, 19) and not refine.edits(False, 16, 20)
    assert not refine.edits(False, 64 * 64, 0)  # large self-attention layers are left alone
    quirky = AttentionController(tokenizer, "a car", "a red car", 50, 0.8, 0.4, official_quirks=True)
    assert (quirky.cross_until, quirky.self_until) == (20, 0)
    replace = AttentionController(tokenizer, "a car", "a bus", 50, 0.8, 0.4, official_quirks=True)
    assert (replace.cross_until, replace.self_until) == (40, 0)


def test_edits_touch_only_the_conditional_target(tokenizer):
    ctrl = AttentionController(tokenizer, "a car", "a bus", 10, 1.0, 1.0)
    probs = torch.rand(4, 2, 2, 16, 77).softmax(-1)  # (G=[u_src, u_tgt, c_src, c_tgt], F, H, N, tokens)
    out = ctrl.edit_cross(probs.clone(), step=0)
    torch.testing.assert_close(out[:3], probs[:3])
    torch.testing.assert_close(out[3], probs[2] @ ctrl.mapper)
    torch.testing.assert_close(ctrl.edit_cross(probs.clone(), step=10), probs)  # past cross_replace_steps
    q = torch.randn(4 * 2, 2, 16, 8)  # (G*F, H, N, D)
    swapped = ctrl.replace_self(q, num_frames=2).unflatten(0, (4, 2))
    torch.testing.assert_close(swapped[:3], q.unflatten(0, (4, 2))[:3])
    torch.testing.assert_close(swapped[3], q.unflatten(0, (4, 2))[2])


def test_replace_with_identical_prompts_leaves_output_unchanged(pipe):
    prompt = "a car is moving on the road"
    torch.manual_seed(0)
    noise = torch.randn(3, 4, 8, 8)
    ctrl = AttentionController(pipe.tokenizer, prompt, prompt, 4, 1.0, 1.0, self_replace_max_queries=10**6)
    edited = pipe.denoise(noise, [prompt, prompt], num_steps=4, controller=ctrl)
    plain = pipe.denoise(noise, [prompt, prompt], num_steps=4)
    torch.testing.assert_close(edited, plain, atol=1e-5, rtol=1e-4)
    # a real edit under the same control does change the target branch, and never the source branch
    ctrl = AttentionController(pipe.tokenizer, prompt, "a car is moving on the snow", 4, 1.0, 1.0)
    edited = pipe.denoise(noise, [prompt, "a car is moving on the snow"], num_steps=4, controller=ctrl)
    free = pipe.denoise(noise, [prompt, "a car is moving on the snow"], num_steps=4)
    torch.testing.assert_close(edited[0], free[0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(edited[1], free[1], atol=1e-5)


def test_self_replacement_equals_explicit_map_replacement(tokenizer):
    from diffusers.models.attention_processor import Attention

    from vid2vid_zero.attention_processors import Vid2VidAttnProcessor, VideoAttentionState

    torch.manual_seed(0)
    layer = Attention(query_dim=16, heads=2, dim_head=8).eval()
    ctrl = AttentionController(tokenizer, "a car", "a bus", 10, 1.0, 1.0)
    x = torch.randn(4, 6, 16)  # G=4 groups of one frame: [u_src, u_tgt, c_src, c_tgt]
    layer.set_processor(Vid2VidAttnProcessor(VideoAttentionState(num_frames=1, controller=ctrl), "dense", False))
    with torch.no_grad():
        got = layer(x)
        q, k, v = (proj(x).unflatten(-1, (2, 8)).transpose(1, 2) for proj in (layer.to_q, layer.to_k, layer.to_v))
        probs = ((q @ k.transpose(-1, -2)) * layer.scale).softmax(-1)  # (G, H, N, N)
        probs[3] = probs[2]  # the official replacement, on explicit maps
        ref = layer.to_out[0]((probs @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
