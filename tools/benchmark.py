"""Benchmarks: Shijie side by side with its peer in one run, reported as a ratio.

    python tools/benchmark.py --model eva02_base_patch14_224 --vs timm            # ViT forward (suite 'vit')
    python tools/benchmark.py --model eva02_base_patch14_224 --vs timm --mode train --grad-checkpointing
    python tools/benchmark.py --suite clip --help                                  # every suite has its own flags

Suites: vit (vision.benchmark), engine, clip, seggpt, vid2vid, det, mim; each lives beside the code it measures.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUITES = {
    "vit": "vision.benchmark",
    "engine": "vision.engine.benchmark",
    "clip": "eva_clip.benchmark",
    "seggpt": "seggpt.benchmark",
    "vid2vid": "vid2vid_zero.benchmark",
    "det": "vision.dense.benchmark",
    "mim": "eva.benchmark",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--suite", choices=sorted(SUITES), default="vit")
    known, _ = pre.parse_known_args(argv)
    module = importlib.import_module(SUITES[known.suite])
    parser = argparse.ArgumentParser(
        description=f"Shijie benchmark, suite '{known.suite}': {(module.__doc__ or '').strip().splitlines()[0]}",
        parents=[pre],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    module.add_arguments(parser)
    module.run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
