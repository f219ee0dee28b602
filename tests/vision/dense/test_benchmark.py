"""The 'det' benchmark suite runs end to end on a small input and reports both attention layouts."""

from __future__ import annotations

import argparse

import pytest

from vision.dense import benchmark


@pytest.fixture(autouse=True)
def _small_b(monkeypatch) -> None:
    """Time a narrow, shallow 'B' so the suite's wiring is checked in a second; real runs use the paper sizes."""
    monkeypatch.setitem(benchmark.SIZES, "b", dict(embed_dim=32, depth=4, num_heads=2))


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    benchmark.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_backbone_table_compares_windowed_with_global(capsys) -> None:
    args = _args("--img-size", "64", "--window-size", "2", "--rounds", "1", "--warmup", "0", "--skip-ops")
    benchmark.run(args)
    out = capsys.readouterr().out
    assert "windowed (4 global)" in out and "global everywhere" in out and "speed-up" in out


def test_backbone_variants_share_weights_and_differ_in_layout() -> None:
    models = benchmark._backbones(_args("--img-size", "64", "--window-size", "2"))
    windowed, glob = models.values()
    assert sum(b.window_size == 0 for b in windowed.blocks) == 4 and all(b.window_size == 0 for b in glob.blocks)
    assert all(a.equal(b) for a, b in zip(windowed.state_dict().values(), glob.state_dict().values()))


@pytest.mark.slow
def test_ops_timings_report_their_backend() -> None:
    pytest.importorskip("mmcv", reason="mmcv is not installed")
    result = benchmark._time_ops(rounds=1)
    assert result["nms"] > 0 and result["roi_align"] > 0
    assert result["backend"] in ("torchvision (compat)", "mmcv._ext")
