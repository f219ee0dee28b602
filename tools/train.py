"""Train a model from a config, on one process or under ``torchrun --nproc-per-node N``.

python tools/train.py configs/quickstart/eva02_digits.py
python tools/train.py CONFIG --work-dir DIR --resume            # continue from DIR's latest checkpoint
python tools/train.py CONFIG --amp bf16 --cfg-options optimizer.lr=1e-3 train.max_epochs=5
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vision.config import ConfigError, load_config
    from vision.engine import NonFiniteLossError, Trainer, teardown_distributed

    try:
        cfg = load_config(args.config, args.cfg_options)
        work_dir = args.work_dir or cfg.get("work_dir") or str(Path("work_dirs") / Path(args.config).stem)
        trainer = Trainer(cfg, work_dir=work_dir, resume=args.resume, amp=args.amp)
        trainer.fit()
    except (ConfigError, FileNotFoundError, NonFiniteLossError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2 if not isinstance(err, NonFiniteLossError) else 3
    finally:
        teardown_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
