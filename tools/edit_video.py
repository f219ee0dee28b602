"""Edit a video with vid2vid-zero from one config file.

    python tools/edit_video.py configs/vid2vid_zero/jeep-moving.yaml --model-path PATH/TO/stable-diffusion-v1-5
    python tools/edit_video.py CONFIG --cfg-options num_frames=16 prompts="['a red jeep car is moving on the road']"

Writes one mp4 and gif per target prompt and a side-by-side grid (source first) into the config's output_dir.
With --cache-dir, a second run on the same clip and source prompt skips the inversion.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="edit config (.yaml or .py)")
    parser.add_argument("--model-path", help="Stable Diffusion folder (diffusers format); overrides model_path")
    parser.add_argument("--video", help="input clip; overrides video_path")
    parser.add_argument("--output-dir", help="overrides output_dir")
    parser.add_argument("--cache-dir", help="inversion cache folder; overrides cache_dir")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ...; overrides device")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], help="overrides dtype")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="any other config key")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vid2vid_zero.config import load_edit_config
    from vid2vid_zero.runner import TqdmProgress, edit_clip

    flags = {
        "model_path": args.model_path,
        "video_path": args.video,
        "output_dir": args.output_dir,
        "cache_dir": args.cache_dir,
        "device": args.device,
        "dtype": args.dtype,
    }
    options = list(args.cfg_options) + [f"{k}={v!r}" for k, v in flags.items() if v is not None]
    cfg = load_edit_config(args.config, options)
    result = edit_clip(cfg, progress=TqdmProgress())
    print(f"inversion: {'from cache' if result.cached else 'computed'}")
    for stage, seconds in result.seconds.items():
        print(f"{stage}: {seconds:.1f} s")
    for path in result.files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
