"""tools/train.py and tools/test.py run mmdet configs through mmengine's runner: one command for every config."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmdet", reason="mmdet is an optional extra (pip install -e '.[det]')")

ROOT = Path(__file__).resolve().parents[2]
SMOKE = "configs/det/smoke_mask_rcnn_eva02_tiny_cpu.py"


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_train_then_test_a_detector_with_the_common_tools(data_dir, tmp_path):
    coco = str(data_dir / "coco")
    no_val = ["train_cfg.max_iters=1", "val_dataloader=None", "val_cfg=None", "val_evaluator=None"]
    out = _run("tools/train.py", SMOKE, "--data-root", coco, "--work-dir", str(tmp_path), "--cfg-options", *no_val)
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = tmp_path / "iter_1.pth"
    assert ckpt.is_file()
    out = _run(
        "tools/test.py",
        SMOKE,
        "--checkpoint",
        str(ckpt),
        "--data-root",
        coco,
        "--cfg-options",
        "test_dataloader.dataset.indices=2",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "coco/bbox_AP" in out.stdout


def test_data_root_is_refused_for_engine_configs(tmp_path):
    out = _run("tools/train.py", "configs/quickstart/eva02_tiny_digits.py", "--data-root", str(tmp_path))
    assert out.returncode == 2 and "--data-root applies to mmdet/mmseg configs only" in out.stderr
