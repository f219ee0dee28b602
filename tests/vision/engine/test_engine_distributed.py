"""Multi-process behaviour through the real command line: gloo DDP on 127.0.0.1, kill + resume, and test.py.

One module-scoped reference run (in this process, one thread, global batch 32, 8 steps) is compared with a 2-process
torchrun of the same global batch (DDP; FSDP2 in the slow set), with a subprocess run SIGKILLed mid-training and then
resumed, and with tools/test.py on its checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import KILL_ENV, tiny_config, write_config

from vision.checkpoint import load_state_dict
from vision.engine.logger import read_log

ROOT = Path(__file__).resolve().parents[3]
HELPERS = Path(__file__).resolve().parent
TIMEOUT = 240


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(HELPERS), str(ROOT), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        GLOO_SOCKET_IFNAME="lo",
        **extra,
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_env(**env), capture_output=True, text=True, timeout=TIMEOUT
    )


def _train(cfg: Path, work_dir: Path, *extra: str, nproc: int = 1, **env: str) -> subprocess.CompletedProcess:
    launcher = []
    if nproc > 1:
        launcher = ["-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--nnodes=1"]
        launcher += ["--master-addr=127.0.0.1", f"--master-port={_free_port()}"]
    return _run([*launcher, "tools/train.py", str(cfg), "--work-dir", str(work_dir), *extra], **env)


def _losses(work_dir: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(work_dir / "log.jsonl") if r["kind"] == "train"}


def _weights(work_dir: Path) -> dict[str, torch.Tensor]:
    return load_state_dict(work_dir / "checkpoints" / "last" / "model.safetensors")


def _in_process(tool, args: list[str]) -> tuple[int, str]:
    """Run a tool's ``main`` here on one thread (like the subprocess runs, so results are bit-comparable)."""
    threads = torch.get_num_threads()
    out = io.StringIO()
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out):
            code = tool.main(args)
    finally:
        torch.set_num_threads(threads)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    from tools import train

    tmp = tmp_path_factory.mktemp("engine_ref")
    cfg = write_config(tmp / "tiny.py", tiny_config())
    code, stdout = _in_process(train, [str(cfg), "--work-dir", str(tmp / "ref")])
    assert code == 0
    return cfg, tmp / "ref", stdout


def test_reference_run_writes_everything(reference):
    _, work_dir, stdout = reference
    assert re.search(r"done: 8 steps in \d+m\d\ds; final eval: top1 [\d.]+\s+top5 [\d.]+", stdout)
    assert sorted(_losses(work_dir)) == list(range(1, 9))
    for name in ("log.jsonl", "curves.png", "checkpoints/last/model.safetensors", "checkpoints/best/state.pt"):
        assert (work_dir / name).exists(), name
    assert any((work_dir / "tb").iterdir())
    kept = sorted(p.name for p in (work_dir / "checkpoints").glob("step_*"))
    assert kept[-3:] == ["step_0000004", "step_0000006", "step_0000008"]  # keep_last=3 (+ best if older)


@pytest.mark.parametrize("strategy", ["ddp", pytest.param("fsdp", marks=pytest.mark.slow)])
def test_two_processes_match_one_process(reference, tmp_path, strategy):
    _, ref_dir, _ = reference
    # 2 x 16 = the reference's global batch of 32
    cfg = tiny_config(train_dataloader=dict(batch_size=16), dist=dict(strategy=strategy))
    proc = _train(write_config(tmp_path / "ddp.py", cfg), tmp_path / "ddp", nproc=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "on 2 process(es)" in proc.stdout
    final = re.compile(r"final eval: top1 ([\d.]+)\s+top5 ([\d.]+)")
    assert final.search(proc.stdout).groups() == final.search(reference[2]).groups()  # padding not counted
    ref, ddp = _losses(ref_dir), _losses(tmp_path / "ddp")
    assert sorted(ddp) == sorted(ref)
    for step in ref:
        assert ddp[step] == pytest.approx(ref[step], rel=1e-5, abs=1e-6), step
    ref_w, ddp_w = _weights(ref_dir), _weights(tmp_path / "ddp")
    assert ref_w.keys() == ddp_w.keys()
    for key in ref_w:
        torch.testing.assert_close(ddp_w[key], ref_w[key], atol=2e-5, rtol=1e-4, msg=key)
    assert (tmp_path / "ddp" / "checkpoints" / "last" / "rng_1.pt").is_file()


def test_kill_and_resume_matches_uninterrupted_run(reference, tmp_path):
    cfg, ref_dir, _ = reference
    work_dir = tmp_path / "killed"
    # 32 samples per step: the 170th read falls inside step 6, after step 4's checkpoint, before step 6's.
    killed = _train(cfg, work_dir, **{KILL_ENV: "170"})
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert sorted(_losses(work_dir)) == [1, 2, 3, 4, 5]
    assert (work_dir / "checkpoints" / "last").resolve().name == "step_0000004"
    from tools import train

    code, stdout = _in_process(train, [str(cfg), "--work-dir", str(work_dir), "--resume"])
    assert code == 0 and "resumed at step 4" in stdout
    assert _losses(work_dir) == _losses(ref_dir)  # steps 1-4 from the first run, 5-8 re-run: bit-identical
    ref_w, res_w = _weights(ref_dir), _weights(work_dir)
    for key in ref_w:
        assert torch.equal(res_w[key], ref_w[key]), key


def test_test_tool_reproduces_final_accuracy(reference):
    from tools import test

    cfg, ref_dir, stdout = reference
    trained = re.search(r"final eval: top1 ([\d.]+)\s+top5 ([\d.]+)", stdout).groups()
    code, out = _in_process(test, [str(cfg), "--checkpoint", str(ref_dir / "checkpoints" / "last")])
    assert code == 0
    assert re.search(r"test: top1 ([\d.]+)\s+top5 ([\d.]+)", out).groups() == trained
