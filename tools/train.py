"""Train a model from a config, on one process or under ``torchrun --nproc-per-node N``.

python tools/train.py configs/quickstart/eva02_tiny_digits.py
python tools/train.py CONFIG --work-dir DIR --resume            # continue from DIR's latest checkpoint
python tools/train.py CONFIG --amp bf16 --cfg-options optimizer.lr=1e-3 train.max_epochs=5

Detection and segmentation configs (``default_scope`` mmdet or mmseg, in configs/det/) run through mmengine's runner
(vision.dense.runner) with the same command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="Python config file")
    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: the config's work_dir)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CKPT",
        help="continue from CKPT, or from the work dir's latest checkpoint when CKPT is omitted",
    )
    parser.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (overrides train.amp)")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys")
    parser.add_argument("--data-root", help="mmdet/mmseg only: the COCO-style data folder every loader reads")
    return parser.parse_args(argv)


def _train_dense(args: argparse.Namespace, work_dir: str) -> None:
    """mmdet / mmseg configs train with mmengine's runner; --resume maps onto its resume."""
    from vision.dense.runner import load_dense_config, run_train

    if args.amp:
        raise SystemExit("error: --amp does not apply to mmdet/mmseg configs; set optim_wrapper.type='AmpOptimWrapper'")
    cfg = load_dense_config(args.config, args.cfg_options, data_root=args.data_root, work_dir=work_dir)
    if args.resume is not None:
        cfg.resume = True
        if args.resume is not True:
            cfg.load_from = str(args.resume)
    run_train(cfg)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vision.config import ConfigError, load_config
    from vision.engine import NonFiniteLossError, Trainer, teardown_distributed

    try:
        cfg = load_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get("work_dir") or str(Path("work_dirs") / Path(args.config).stem)
        if cfg.get("default_scope") in ("mmdet", "mmseg"):
            _train_dense(args, work_dir)
        elif args.data_root:
            raise ConfigError("--data-root applies to mmdet/mmseg configs only; set the dataset path in the config")
        else:
            Trainer(cfg, work_dir=work_dir, resume=args.resume, amp=args.amp).fit()
    except (ConfigError, FileNotFoundError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        teardown_distributed()
        return 2 if not isinstance(err, NonFiniteLossError) else 3
    except BaseException:
        teardown_distributed()
        raise
    teardown_distributed(finished=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
