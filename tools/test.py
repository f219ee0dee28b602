"""Evaluate a checkpoint with a config's model, test data and evaluator (also under ``torchrun``).

python tools/test.py configs/quickstart/eva02_tiny_digits.py --checkpoint work_dirs/eva02_tiny_digits/checkpoints/last

Detection and segmentation configs (``default_scope`` mmdet or mmseg) are evaluated by mmengine's runner
(vision.dense.runner); their checkpoints are unpickled in full only for runs this toolkit wrote, or with
--trust-checkpoint.
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
    parser.add_argument("--data-root", help="mmdet/mmseg only: the COCO-style data folder every loader reads")
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="mmdet/mmseg only: unpickle a checkpoint this toolkit did not write (only for files you trust)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vision.config import ConfigError, load_config
    from vision.engine import evaluate_checkpoint, teardown_distributed

    try:
        cfg = load_config(args.config, args.cfg_options)
        if cfg.get("default_scope") in ("mmdet", "mmseg"):
            from vision.dense.runner import load_dense_config, run_test

            if not args.checkpoint:
                raise ConfigError("mmdet/mmseg configs need --checkpoint")
            dense_cfg = load_dense_config(args.config, args.cfg_options, data_root=args.data_root)
            print(run_test(dense_cfg, args.checkpoint, trust_checkpoint=args.trust_checkpoint))
        elif args.data_root:
            raise ConfigError("--data-root applies to mmdet/mmseg configs only; set the dataset path in the config")
        else:
            evaluate_checkpoint(cfg, args.checkpoint, amp=args.amp)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        teardown_distributed()
        return 2
    except BaseException:
        teardown_distributed()
        raise
    teardown_distributed(finished=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
