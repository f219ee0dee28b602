"""The demo's logic (top-5, attention heat-map, MIM similarity) and the 'mim' benchmark suite."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

import vision
from eva import benchmark
from eva.demo import attention_map, build_demo, classify, mim_similarity, overlay
from eva.models import MIMTeacher
from vision.layers import attention


def _image(data_dir) -> Image.Image:
    return Image.open(data_dir / "imagenet" / "images" / "n01440764_tench.JPEG")


def test_classify_returns_the_five_most_likely_classes(data_dir):
    torch.manual_seed(0)
    model = vision.create_model("eva02_test_patch14_56")
    names = [f"class {i}" for i in range(1000)]
    top = classify(model, _image(data_dir), names)
    probs = list(top.values())
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1


def test_attention_map_is_the_last_blocks_class_token_attention(data_dir):
    torch.manual_seed(0)
    model = vision.create_model("eva02_test_patch14_56").eval()
    image = _image(data_dir)
    heat = attention_map(model, image)
    assert heat.shape == (4, 4) and heat.max() == pytest.approx(1.0) and heat.min() >= 0.0
    # Reference: capture the attention probabilities of the last block through the math backend.
    captured = {}
    block = model.blocks[-1]

    def hook(module, args, kwargs, output):
        x = args[0]
        q, k, v = module._qkv(x)
        rope = kwargs.get("rope", args[1] if len(args) > 1 else None)
        if rope is not None:
            from vision.layers import apply_rope

            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        captured["attn"] = attention(q, k, v, return_attn=True)[1]

    handle = block.attn.register_forward_hook(hook, with_kwargs=True)
    from eva.demo import _input

    with torch.no_grad():
        model(_input(model, image))
    handle.remove()
    ref = captured["attn"].mean(1)[0, 0, 1:].reshape(4, 4)
    np.testing.assert_allclose(heat, (ref / ref.max()).numpy(), rtol=1e-4, atol=1e-5)


def test_mim_similarity_covers_exactly_the_masked_patches(data_dir):
    torch.manual_seed(0)
    student = vision.create_model("eva02_mim_test_patch14_112")
    tower = vision.VisionTransformer(
        img_size=112, patch_size=14, embed_dim=32, depth=2, num_heads=2, num_classes=16, global_pool="token"
    )
    mask, sim = mim_similarity(student, MIMTeacher(tower), _image(data_dir), seed=0)
    assert mask.shape == sim.shape == (8, 8) and 20 <= mask.sum() <= 26
    assert np.array_equal(np.isnan(sim), ~mask)
    assert np.all(np.abs(sim[mask]) <= 1.0)
    picture = overlay(_image(data_dir), (sim + 1.0) / 2.0)
    assert picture.shape == (375, 500, 3) and picture.dtype == np.uint8
    # Visible patches are left untouched by the overlay.
    original = np.asarray(_image(data_dir).convert("RGB"))
    r, c = map(int, np.argwhere(~mask)[0])
    row, col = int((r + 0.5) * 375 / 8), int((c + 0.5) * 500 / 8)
    assert np.array_equal(picture[row, col], original[row, col])


def test_demo_app_builds_without_launching():
    pytest.importorskip("gradio")
    import gradio as gr

    model = vision.create_model("eva02_test_patch14_56")
    demo = build_demo(model, [str(i) for i in range(1000)])
    assert isinstance(demo, gr.Blocks)


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    shrink = ["--depth", "1", "--embed-dim", "64", "--num-heads", "2", "--batch-size", "1", "--device", "cpu"]
    return parser.parse_args(shrink + list(extra))


@pytest.mark.parametrize("mode", ["mim", "finetune"])
def test_benchmark_steps_match_timm_on_the_same_weights(mode):
    args = _args()
    ours = benchmark._make_step(args, (mode, "ours", "fp32", False))
    peer = benchmark._make_step(args, (mode, "timm", "fp32", False))
    first_ours, first_peer = ours(), peer()
    torch.testing.assert_close(first_ours, first_peer, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(), peer(), rtol=1e-4, atol=1e-4)  # the optimizer steps agree too


@pytest.mark.slow
def test_benchmark_suite_runs_end_to_end(capsys):
    benchmark.run(_args("--rounds", "1", "--warmup", "0"))
    out = capsys.readouterr().out
    assert out.count("\nmim ") == 8 and out.count("\nfinetune ") == 4 and "peak MiB" in out
