"""Command-line behaviour of tools/train.py and tools/test.py that needs no training run."""

from __future__ import annotations

import pytest

from tools import test as test_tool
from tools import train as train_tool


def test_train_arguments():
    args = train_tool.parse_args(["cfg.py", "--resume", "--amp", "bf16", "--cfg-options", "a.b=1", "c=2"])
    assert args.resume is True and args.amp == "bf16" and args.cfg_options == ["a.b=1", "c=2"]
    assert train_tool.parse_args(["cfg.py", "--resume", "ckpt_dir"]).resume == "ckpt_dir"
    assert train_tool.parse_args(["cfg.py"]).resume is None
    with pytest.raises(SystemExit):
        train_tool.parse_args(["cfg.py", "--amp", "fp8"])


def test_missing_config_file(tmp_path, capsys):
    assert train_tool.main([str(tmp_path / "absent.py")]) == 2
    assert "error: config file not found" in capsys.readouterr().err


def test_test_tool_missing_checkpoint(tmp_path, capsys):
    cfg = tmp_path / "cfg.py"
    cfg.write_text(
        "model = dict(type='vision.VisionTransformer', img_size=8, patch_size=4, in_chans=1, num_classes=10,"
        " embed_dim=16, depth=1, num_heads=2)\n"
        "test_dataloader = dict(batch_size=8,"
        " dataset=dict(type='vision.data.DigitsDataset', split='val', img_size=8))\n"
    )
    assert test_tool.main([str(cfg), "--checkpoint", str(tmp_path / "nothing")]) == 2
    assert "error: --checkpoint: no such file or directory" in capsys.readouterr().err
