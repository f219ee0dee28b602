"""Evaluate a checkpoint with a config's model, test data and evaluator (also under ``torchrun``).

python tools/test.py configs/quickstart/eva02_digits.py --checkpoint work_dirs/eva02_digits/checkpoints/last
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="Python config file")
    parser.add_argument(
        "--checkpoint", help="a training checkpoint directory or a weights file (omit to use the config's weights)"
    )
    parser.add_argument("--amp", choices=("bf16", "fp16"), help="mixed precision (overrides train.amp)")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vision.config import ConfigError, load_config
    from vision.engine import evaluate_checkpoint, teardown_distributed

    try:
        evaluate_checkpoint(load_config(args.config, args.cfg_options), args.checkpoint, amp=args.amp)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    finally:
        teardown_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
