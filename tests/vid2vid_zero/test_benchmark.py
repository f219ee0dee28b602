"""The benchmark's peer (official dense layout) computes the same attention, and the suite runs end to end."""

from __future__ import annotations

import argparse

import torch
from diffusers.models.attention_processor import Attention

from vid2vid_zero import benchmark
from vid2vid_zero.attention_processors import Vid2VidAttnProcessor, VideoAttentionState


def test_official_layout_peer_matches_ours():
    torch.manual_seed(0)
    layer, state = Attention(query_dim=16, heads=2, dim_head=8).eval(), VideoAttentionState(num_frames=3)
    x = torch.randn(2 * 3, 5, 16)
    with torch.no_grad():
        layer.set_processor(Vid2VidAttnProcessor(state, "dense", False, chunk_frames=2))
        ours = layer(x)
        layer.set_processor(benchmark.OfficialLayoutProcessor(state, "dense", False))
        peer = layer(x)
    torch.testing.assert_close(ours, peer, atol=1e-5, rtol=1e-5)


def test_suite_runs(capsys):
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    args = parser.parse_args(["--skip", "memory", "edit", "--latent-size", "4", "--time-frames", "2", "--rounds", "1"])
    benchmark.run(args)
    out = capsys.readouterr().out
    assert "diffusers AttnProcessor2_0" in out and "ours, cross-frame (editing)" in out


def test_edit_table_on_a_model_folder(tiny_model_dir, capsys):
    """The first-vs-second edit table takes any diffusers folder (a real SD when a user has one)."""
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    argv = ["--skip", "memory", "time", "--edit-model", str(tiny_model_dir), "--edit-size", "64", "--edit-frames", "2"]
    benchmark.run(parser.parse_args(argv + ["--steps", "2", "--null-inner-steps", "1", "--edit-rounds", "1"]))
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    first, _, second, ratio = row.split()[1:]
    assert 0 < float(second) < float(first) and ratio.endswith("%")
    assert f"model {tiny_model_dir}" in out
