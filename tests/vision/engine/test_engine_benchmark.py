"""tools/benchmark.py --suite engine: engine step against a bare loop with the same optimizer kernel."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_engine_suite_times_both_loops_with_the_same_optimizer_kernel():
    args = ["--suite", "engine", "--steps", "1", "--rounds", "1", "--warmup", "0", "--workers", "0", "--batches", "2"]
    out = subprocess.run(
        [sys.executable, "tools/benchmark.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = dict(re.findall(r"^(engine|bare)\s+[\d.]+\s+[\d.]+\s+(.+)$", out.stdout, flags=re.M))
    assert rows == {"engine": "AdamW (fused)", "bare": "AdamW (fused)"}, out.stdout
    assert "engine overhead vs bare loop:" in out.stdout
    assert re.search(r"^0\s+[\d.]+\s+[\d.]+\s+[\d.]+$", out.stdout, flags=re.M), out.stdout  # loader row, 0 workers
