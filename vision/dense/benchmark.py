"""Detection backbone speed: windowed EVA-02 ViTDet against the same backbone with global attention everywhere.

    python tools/benchmark.py --suite det                       # EVA-02-B, one 1024 x 1024 image, forward
    python tools/benchmark.py --suite det --size l --batch-size 2 --dtype bf16

Both variants carry the same weights; they differ only in which blocks attend within 16 x 16 windows. Timings are
interleaved (vision.benchmark.interleaved). The ops table times mmcv's ``nms`` and ``RoIAlign`` as mmdet calls them,
served by the torchvision compatibility layer, against full mmcv's compiled kernels when those are installed (measured
in a subprocess, since one process holds one ``mmcv._ext``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from vision.benchmark import interleaved

__all__ = ["add_arguments", "run"]

SIZES = {"b": dict(embed_dim=768, depth=12, num_heads=12), "l": dict(embed_dim=1024, depth=24, num_heads=16)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="b", help="EVA-02 backbone size")
    parser.add_argument("--img-size", type=int, default=1024)
    parser.add_argument("--window-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--skip-ops", action="store_true", help="only the backbone table")
    parser.add_argument("--ops-probe", action="store_true", help=argparse.SUPPRESS)


def _backbones(args: argparse.Namespace) -> dict[str, torch.nn.Module]:
    from vision.dense.vitdet import EVA02ViTDet

    cfg = dict(img_size=args.img_size, window_size=args.window_size, **SIZES[args.size])
    windowed = EVA02ViTDet(**cfg)  # official global blocks, windows elsewhere
    glob = EVA02ViTDet(**cfg, global_block_indexes=range(cfg["depth"]))
    glob.load_state_dict(windowed.state_dict())
    return {"windowed (4 global)": windowed, "global everywhere": glob}


def _backbone_table(args: argparse.Namespace) -> None:
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=args.device)
    fns = {}
    for name, model in _backbones(args).items():
        model = model.to(args.device).eval()

        def forward(model: torch.nn.Module = model) -> object:
            with (
                torch.inference_mode(),
                torch.autocast(args.device.split(":")[0], dtype=dtype, enabled=dtype != torch.float32),
            ):
                out = model(x)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            return out

        fns[name] = forward
    times = interleaved(fns, warmup=args.warmup, rounds=args.rounds)
    base = times["global everywhere"]
    print(
        f"EVA-02-{args.size.upper()} ViTDet backbone, {args.batch_size} x {args.img_size}^2, {args.dtype}, "
        f"{args.device}, {torch.get_num_threads()} threads, window {args.window_size}"
    )
    print(f"{'variant':<22}{'s/batch':>10}{'img/s':>9}{'speed-up':>10}")
    for name, seconds in times.items():
        print(f"{name:<22}{seconds:>10.3f}{args.batch_size / seconds:>9.2f}{base / seconds:>9.2f}x")


def _time_ops(rounds: int) -> dict[str, float]:
    """Seconds per call of mmcv's nms (1000 boxes) and RoIAlign forward+backward (512 RoIs, 256 x 64^2 map)."""
    from vision.dense import mmcv_compat

    mmcv_compat.install()
    from mmcv.ops import RoIAlign, nms

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(1000, 2, generator=g) * 900
    boxes = torch.cat([xy, xy + torch.rand(1000, 2, generator=g) * 120 + 4], dim=1)
    scores = torch.rand(1000, generator=g)
    feats = torch.randn(2, 256, 64, 64, generator=g, requires_grad=True)
    rois = torch.cat([torch.randint(0, 2, (512, 1), generator=g).float(), boxes[:512] / 16], dim=1)
    layer = RoIAlign(7, spatial_scale=1.0, sampling_ratio=0, aligned=True)

    def roi_align() -> None:
        layer(feats, rois).sum().backward()

    times = interleaved({"nms": lambda: nms(boxes, scores, 0.5), "roi_align": roi_align}, warmup=1, rounds=rounds)
    return {**times, "backend": "torchvision (compat)" if mmcv_compat.is_active() else "mmcv._ext"}


def _ops_table(args: argparse.Namespace) -> None:
    try:
        import mmcv  # noqa: F401
    except ImportError:
        print("\nops: mmcv is not installed (pip install 'shijie[det]'); skipped")
        return
    cmd = [sys.executable, "-m", "vision.dense.benchmark", "--ops-probe", "--rounds", str(max(args.rounds, 5))]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(f"\nmmcv ops as mmdet calls them ({torch.get_num_threads()} threads), backend: {result['backend']}")
    print(f"{'op':<34}{'ms/call':>9}")
    print(f"{'nms (1000 boxes)':<34}{1e3 * result['nms']:>9.2f}")
    print(f"{'RoIAlign fwd+bwd (512 RoIs, 7x7)':<34}{1e3 * result['roi_align']:>9.2f}")
    if result["backend"] != "mmcv._ext":
        print("no full mmcv (compiled mmcv._ext) here, so no peer row; install mmcv==2.1.0 to compare")


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.ops_probe:
        print(json.dumps(_time_ops(args.rounds)))
        return
    _backbone_table(args)
    if not args.skip_ops:
        _ops_table(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
