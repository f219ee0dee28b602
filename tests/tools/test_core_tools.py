"""tools/convert_checkpoint.py and tools/benchmark.py, run as a user runs them."""

import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch

import vision
from vision.checkpoint import load_state_dict

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_convert_checkpoint_timm_to_ours_and_to_official(tmp_path):
    torch.manual_seed(0)
    peer = timm.create_model("eva02_base_patch14_224", depth=1, img_size=56, num_classes=5)
    src = tmp_path / "timm.pth"
    torch.save(peer.state_dict(), src)
    args = ["--model", "eva02_base_patch14_224", "--model-args", '{"depth": 1, "img_size": 56, "num_classes": 5}']
    out = _run("tools/convert_checkpoint.py", str(src), str(tmp_path / "ours.safetensors"), *args)
    assert out.returncode == 0, out.stderr
    ours = load_state_dict(tmp_path / "ours.safetensors")
    assert "blocks.0.attn.qkv.weight" in ours and "blocks.0.mlp.w12.weight" in ours
    out = _run(
        "tools/convert_checkpoint.py",
        str(tmp_path / "ours.safetensors"),
        str(tmp_path / "off.safetensors"),
        *args,
        "--to",
        "official",
    )
    assert out.returncode == 0, out.stderr
    official = load_state_dict(tmp_path / "off.safetensors")
    assert "blocks.0.attn.q_proj.weight" in official and "blocks.0.mlp.w1.weight" in official
    assert "blocks.0.attn.rope.freqs_cos" in official
    torch.testing.assert_close(official["blocks.0.attn.q_bias"], peer.state_dict()["blocks.0.attn.q_proj.bias"])


def test_convert_checkpoint_reports_a_wrong_model(tmp_path):
    src = tmp_path / "eva01.safetensors"
    from vision.checkpoint import save_state_dict

    save_state_dict(vision.create_model("eva_test_patch14_56").state_dict(), src)
    out = _run(
        "tools/convert_checkpoint.py", str(src), str(tmp_path / "x.safetensors"), "--model", "eva02_test_patch14_56"
    )
    assert out.returncode != 0 and "does not fit the model" in out.stderr
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_benchmark_vit_suite_runs_against_timm(dtype):
    tiny = ["--model", "eva02_tiny_patch14_224", "--img-size", "56", "--batch-size", "2", "--rounds", "1"]
    out = _run("tools/benchmark.py", *tiny, "--warmup", "0", "--dtype", dtype)
    assert out.returncode == 0, out.stderr
    assert "speed-up ours / timm" in out.stdout and "per-round speed-up: median" in out.stdout
    assert f"GEMM ceiling (2048^3 {dtype})" in out.stdout  # the ceiling is measured in the run's dtype
    diff = float(out.stdout.split("max |ours - timm| on pre-logits: ")[1].split()[0])
    assert diff < 1e-4


def test_benchmark_train_step_with_each_toolkits_optimizer():
    tiny = ["--model", "eva02_tiny_patch14_224", "--img-size", "56", "--batch-size", "2", "--rounds", "1"]
    out = _run("tools/benchmark.py", *tiny, "--warmup", "0", "--mode", "train", "--optimizer", "own")
    assert out.returncode == 0, out.stderr
    assert "optimizer own" in out.stdout and "speed-up ours / timm" in out.stdout
    assert "step peak" in out.stdout


def test_peak_rss_of_a_probe_subprocess_is_its_own():
    """Memory probes run in subprocesses; their peak must not inherit the parent's (``ru_maxrss`` does over exec)."""
    from vision.benchmark import peak_rss_mb

    held = torch.ones(128 * 2**20 // 4)  # 128 MiB resident in this process
    assert peak_rss_mb() >= 128
    code = "from vision.benchmark import peak_rss_mb; import torch; print(peak_rss_mb())"
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    parent_rss = float(peak_rss_mb())
    assert float(child.stdout.split()[-1]) < parent_rss - 100, (child.stdout, parent_rss)
    del held


def test_round_ratios_follow_each_round_not_the_medians():
    """Drift between rounds cancels in per-round ratios: a constant 2x gap reads 2x even while the machine slows."""
    from vision.benchmark import round_ratios

    samples = {"timm": [2.0, 4.0, 8.0], "ours": [1.0, 2.0, 4.0]}
    assert round_ratios(samples, "timm", "ours") == (2.0, 2.0, 2.0)
    samples = {"timm": [3.0, 2.0, 2.0], "ours": [1.0, 2.0, 1.0]}
    assert round_ratios(samples, "timm", "ours") == (2.0, 1.0, 3.0)


def test_memory_probe_runs_in_the_benchmarks_dtype():
    """bf16 autocast stores the linear layers' outputs in half the bytes, so the probe must see fewer activations."""
    import argparse

    from vision.benchmark import _measure_memory, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    held = {}
    for dtype in ("fp32", "bf16"):
        args = parser.parse_args(["--model", "eva02_tiny_patch14_224", "--batch-size", "8", "--dtype", dtype])
        held[dtype] = _measure_memory(args, "ours", checkpointing=False)["activations_mb"]
    assert held["bf16"] < 0.8 * held["fp32"], held
