"""SegGPT latency at 896x448, single prompt and multi-prompt ensemble, against transformers in the same run.

    python tools/benchmark.py --suite seggpt                       # ViT-L, 1 and 4 prompts, fp32, 2 threads
    python tools/benchmark.py --suite seggpt --prompts 1 --dtype bf16 --checkpoint seggpt_vit_large.pth

transformers' ``SegGptForImageSegmentation`` is built from the same weights (``seggpt.convert``); both get the same
random canvases. Ours runs ``SegGPT.predict`` (prompts batched through the feature ensemble, only the query half
decoded); theirs runs its forward (``feature_ensemble=True`` for several prompts). Calls are interleaved so both see
the same machine state; the table gives the median seconds per query, the speed-up and the largest difference of
the painted query half (single prompt: the same function; several prompts: transformers' merge-block ensemble
differs from the official one, see seggpt/models.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import torch

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="seggpt_vit_large_patch16_input896x448", help="registered SegGPT name")
    parser.add_argument("--checkpoint", default=None, help="weights for both models (default: random init)")
    parser.add_argument("--img-size", type=int, default=None, help="half-canvas side W (canvas 2W x W)")
    parser.add_argument("--prompts", type=int, nargs="+", default=[1, 4], help="prompt counts to time")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vs", choices=("transformers", "none"), default="transformers")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this file")


def _models(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    import vision

    overrides = {"img_size": (2 * args.img_size, args.img_size)} if args.img_size else {}
    ours = vision.create_model(args.model, pretrained=args.checkpoint, **overrides).eval()
    if args.vs == "none":
        return ours, None
    from transformers import SegGptConfig, SegGptForImageSegmentation

    from seggpt.convert import export_state_dict, transformers_config

    peer = SegGptForImageSegmentation(SegGptConfig(**transformers_config(ours))).eval()
    peer.load_state_dict(export_state_dict(ours, "transformers"), strict=True)
    return ours, peer


def _calls(
    ours: torch.nn.Module, peer: torch.nn.Module | None, n: int, args: argparse.Namespace
) -> tuple[dict[str, Callable[[], torch.Tensor]], float | None]:
    side = ours.img_size[1]
    g = torch.Generator().manual_seed(n)
    p_img, p_mask = torch.randn(n, 3, side, side, generator=g), torch.randn(n, 3, side, side, generator=g)
    query = torch.randn(1, 3, side, side, generator=g).expand(n, -1, -1, -1)
    p_img, p_mask, query = (t.to(args.device) for t in (p_img, p_mask, query))
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    device_type = torch.device(args.device).type

    def wrap(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        def call() -> torch.Tensor:
            with torch.inference_mode(), torch.autocast(device_type, dtype=dtype, enabled=dtype != torch.float32):
                out = fn()
            if device_type == "cuda":
                torch.cuda.synchronize()
            return out

        return call

    fns = {
        "ours": wrap(lambda: ours.predict(torch.cat([p_img, query], 2), torch.cat([p_mask, p_mask], 2), "instance")[0])
    }
    if peer is not None:
        fns["transformers"] = wrap(
            lambda: peer(
                pixel_values=query,
                prompt_pixel_values=p_img,
                prompt_masks=p_mask,
                feature_ensemble=n > 1,
                embedding_type="instance",
            ).pred_masks[0, :, side:]
        )
    diff = None
    if peer is not None:
        diff = (fns["ours"]().float() - fns["transformers"]().float()).abs().max().item()
    return fns, diff


def run(args: argparse.Namespace) -> None:
    from vision.benchmark import interleaved

    torch.set_num_threads(args.threads)
    ours, peer = _models(args)
    ours.to(args.device)
    if peer is not None:
        peer.to(args.device)
    canvas = f"{ours.img_size[0]}x{ours.img_size[1]}"
    print(f"# SegGPT {args.model} canvas {canvas} {args.dtype} {args.device} threads={args.threads}")
    print(f"{'prompts':>7} | {'ours s':>8} | {'transformers s':>14} | {'speed-up':>8} | max|diff| of query half")
    rows = []
    for n in args.prompts:
        fns, diff = _calls(ours, peer, n, args)
        times = interleaved(fns, warmup=args.warmup, rounds=args.rounds)
        theirs = times.get("transformers")
        ratio = theirs / times["ours"] if theirs else None
        rows.append(dict(prompts=n, ours_s=times["ours"], transformers_s=theirs, speedup=ratio, max_diff=diff))
        print(
            f"{n:>7} | {times['ours']:>8.3f} | {theirs or float('nan'):>14.3f} | {ratio or float('nan'):>7.2f}x | "
            f"{'n/a' if diff is None else f'{diff:.2e}'}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(model=args.model, canvas=canvas, dtype=args.dtype, threads=args.threads, rows=rows), fh)
