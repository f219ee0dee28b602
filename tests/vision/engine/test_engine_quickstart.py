"""The README's main job end to end: the quickstart reaches >= 97% top-1 and tools/test.py reproduces it (slow)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = "configs/quickstart/eva02_tiny_digits.py"


@pytest.mark.slow
def test_quickstart_reaches_97_and_test_tool_reproduces_it(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    work_dir = tmp_path / "quickstart"
    train = subprocess.run(
        [sys.executable, "tools/train.py", CONFIG, "--work-dir", str(work_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    top1, top5 = re.search(r"final eval: top1 ([\d.]+)\s+top5 ([\d.]+)", train.stdout).groups()
    assert float(top1) >= 97.0
    assert (work_dir / "curves.png").is_file() and (work_dir / "checkpoints" / "last" / "model.safetensors").is_file()
    test = subprocess.run(
        [sys.executable, "tools/test.py", CONFIG, "--checkpoint", str(work_dir / "checkpoints" / "last")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert test.returncode == 0, test.stderr[-3000:]
    assert re.search(r"test: top1 ([\d.]+)\s+top5 ([\d.]+)", test.stdout).groups() == (top1, top5)
