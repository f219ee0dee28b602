"""Train and test the dense-prediction configs in ``configs/det/`` (mmdet detectors, mmseg UperNet) with mmengine's
runner. Each config's ``custom_imports`` registers our modules (and the mmcv compat ops) when it is loaded.

``python -m vision.dense.runner train CONFIG [--work-dir D] [--data-root R] [--cfg-options k=v ...]``
``python -m vision.dense.runner test CONFIG --checkpoint C [--data-root R] [--trust-checkpoint]``

``--data-root`` points every dataloader and the evaluators at a COCO folder. Checkpoints are read with
``torch.load(weights_only=True)``; mmengine's own checkpoints also pickle the training state, so a checkpoint is
unpickled in full only when it sits in a work directory this toolkit trained into (marked by :data:`RUN_MARKER`) or
when the caller passes ``trust_checkpoint=True`` for a file they trust.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RUN_MARKER", "load_dense_config", "run_test", "run_train"]

RUN_MARKER = "shijie_run.json"
_LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
_EVALUATORS = ("val_evaluator", "test_evaluator")


def load_dense_config(
    path: str | Path,
    cfg_options: Sequence[str] | None = None,
    data_root: str | Path | None = None,
    work_dir: str | Path | None = None,
):
    """The mmengine Config of a dense config, with overrides applied (loading it registers mmdet / mmseg)."""
    from vision.config import load_config

    cfg = load_config(str(path), list(cfg_options or ()))
    if data_root is not None:
        root = str(data_root).rstrip("/") + "/"
        for name in _LOADERS:
            if cfg.get(name) is not None:
                cfg[name].dataset.data_root = root
        for name in _EVALUATORS:
            evaluator = cfg.get(name)
            if evaluator is not None and "ann_file" in evaluator:
                evaluator.ann_file = root + "annotations/" + Path(evaluator.ann_file).name
    cfg.work_dir = str(work_dir or Path("work_dirs") / Path(path).stem)
    return cfg


def run_train(cfg) -> Any:
    """Train (and validate) as the config says; returns the mmengine Runner."""
    from mmengine.runner import Runner

    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / RUN_MARKER).write_text(json.dumps({"config": cfg.filename, "written_by": "vision.dense.runner"}))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def run_test(cfg, checkpoint: str | Path, trust_checkpoint: bool = False) -> dict[str, float]:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics."""
    from mmengine.runner import Runner

    from vision.checkpoint import load_state_dict

    checkpoint = Path(checkpoint)
    trusted = trust_checkpoint or (checkpoint.parent / RUN_MARKER).is_file()
    try:
        state_dict = load_state_dict(checkpoint, weights_only=not trusted, prefer_ema=False)
    except ValueError as err:
        raise ValueError(
            f"{err}\nmmengine checkpoints pickle training state; if you trust {checkpoint}, pass "
            f"--trust-checkpoint (trust_checkpoint=True)"
        ) from err
    runner = Runner.from_cfg(cfg)
    runner.model.load_state_dict(state_dict, strict=True)
    return runner.test()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="train / test an EVA-02 detector (mmdet 3.3) or segmentor (mmseg 1.2)")
    parser.add_argument("mode", choices=("train", "test"))
    parser.add_argument("config")
    parser.add_argument("--work-dir")
    parser.add_argument("--data-root", help="dataset folder (COCO: annotations/ and the image folders)")
    parser.add_argument("--checkpoint", help="weights to test")
    parser.add_argument("--trust-checkpoint", action="store_true", help="unpickle a checkpoint you trust in full")
    parser.add_argument("--cfg-options", nargs="+", default=[], help="overrides like optim_wrapper.optimizer.lr=1e-4")
    args = parser.parse_args(argv)
    cfg = load_dense_config(args.config, args.cfg_options, args.data_root, args.work_dir)
    if args.mode == "train":
        run_train(cfg)
    else:
        if not args.checkpoint:
            parser.error("test needs --checkpoint")
        print(run_test(cfg, args.checkpoint, args.trust_checkpoint))


if __name__ == "__main__":
    main()
