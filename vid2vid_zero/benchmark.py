"""vid2vid-zero editing cost on the tiny model: memory per clip length, UNet pass time, first vs second edit.

    python tools/benchmark.py --suite vid2vid                       # all three tables, CPU, tiny random model
    python tools/benchmark.py --suite vid2vid --frames 8 16 24 --latent-size 16 --device cuda

1. peak memory of one editing UNet pass (cfg x [source, target] x frames) for each clip length: ours (dense layers
   over all frames' tokens, queries chunked by frames) vs the official layout (each frame's keys and values repeated
   for every frame in the dense layers, so memory grows with frames squared);
2. seconds per UNet pass: our processors vs diffusers' default ``AttnProcessor2_0``;
3. a first edit (inversion + editing) vs a second edit of the same clip (inversion from the cache).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from vision.benchmark import interleaved, peak_rss_mb

from .attention_processors import Vid2VidAttnProcessor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 24], help="clip lengths for memory")
    parser.add_argument("--latent-size", type=int, default=16, help="latent side (video side = 8x)")
    parser.add_argument("--chunk-frames", type=int, default=4, help="our dense layers' query frames per call")
    parser.add_argument("--time-frames", type=int, default=8, help="clip length for the UNet pass timing")
    parser.add_argument("--edit-frames", type=int, default=8, help="clip length for first vs second edit")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps for first vs second edit")
    parser.add_argument(
        "--edit-model",
        default="tiny",
        help="first vs second edit with: 'tiny', 'sd15' (random weights, Stable Diffusion v1.5's architecture) or a "
        "diffusers-format folder",
    )
    parser.add_argument(
        "--edit-size", type=int, default=None, help="first vs second edit: video side (default 8x latent)"
    )
    parser.add_argument(
        "--null-inner-steps", type=int, nargs="+", default=[1, 10], help="null-text updates per step (official: 1)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds for the UNet pass")
    parser.add_argument("--edit-rounds", type=int, default=3, help="first/second edit pairs (minimum reported)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip", nargs="*", default=[], choices=["memory", "time", "edit"])
    parser.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)


class OfficialLayoutProcessor(Vid2VidAttnProcessor):
    """The official dense layer's memory layout, for comparison only: every frame gets its own copy of all frames'
    keys and values, ``(G*F, F*N, C)``, before attention (a memory-efficient kernel, as with the official xformers)."""

    def _dense(self, attn, q, k, v) -> torch.Tensor:
        frames = self.state.num_frames
        k, v = (x.unflatten(0, (-1, frames)).permute(0, 2, 1, 3, 4).flatten(2, 3) for x in (k, v))  # (G, H, F*N, D)
        k, v = (x.repeat_interleave(frames, dim=0) for x in (k, v))  # (G*F, H, F*N, D)
        return self._attend(attn, q, k, v)


def _tiny_pipeline(device: str, chunk_frames: int | None):
    from .pipeline import Vid2VidZeroPipeline
    from .tiny import build_tiny_components

    with tempfile.TemporaryDirectory() as tmp:
        components = build_tiny_components(tmp)
    return Vid2VidZeroPipeline(**components, device=device, chunk_frames=chunk_frames)


def _edit_pass_inputs(pipe, frames: int, latent_size: int):
    """One editing UNet call: groups = cfg halves x [source, target], each ``frames`` frames."""
    torch.manual_seed(0)
    latents = torch.randn(4 * frames, 4, latent_size, latent_size, device=pipe.device)
    context = torch.randn(4, 77, pipe.unet.config.cross_attention_dim, device=pipe.device)
    return latents, context


def _use_official_layout(pipe) -> None:
    processors = {}
    for name, proc in pipe.unet.attn_processors.items():
        processors[name] = OfficialLayoutProcessor(pipe.state, proc.frame_mode, proc.is_cross, None)
    pipe.unet.set_attn_processor(processors)


def _memory_probe(args: argparse.Namespace) -> None:
    """Subprocess body: memory added by one editing pass of ``frames`` frames (CUDA: allocator peak)."""
    impl, frames = args.memory_probe.split(":")
    frames = int(frames)
    pipe = _tiny_pipeline(args.device, args.chunk_frames)
    if impl == "official":
        _use_official_layout(pipe)
    latents, context = _edit_pass_inputs(pipe, frames, args.latent_size)
    with torch.no_grad():
        pipe._unet(latents[:4], 999, context, groups=4)  # warm-up at one frame per group
        cuda = pipe.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated() / 2**20
        else:
            base = peak_rss_mb()
        pipe._unet(latents, 999, context, groups=4)
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    print(json.dumps({"peak_mb": peak - base}))


def _measure_memory(args: argparse.Namespace, impl: str, frames: int) -> float | None:
    cmd = [sys.executable, "-m", "vid2vid_zero.benchmark", "--latent-size", str(args.latent_size)]
    cmd += ["--chunk-frames", str(args.chunk_frames), "--device", args.device, "--threads", str(args.threads)]
    cmd += ["--memory-probe", f"{impl}:{frames}"]
    # a fixed mmap threshold returns freed large blocks to the OS, so peak RSS tracks live tensors, not glibc caching
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # e.g. killed for memory: report, do not abort the table
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def _memory_table(args: argparse.Namespace) -> None:
    side = args.latent_size * 8
    print(f"[1] peak memory of one editing UNet pass, {side}x{side} frames, batch 4 x frames ({args.device})")
    print(f"{'frames':>7}{'ours MiB':>11}{'ours MiB/frame':>16}{'official layout MiB':>21}{'official / ours':>17}")
    for frames in args.frames:
        ours, official = _measure_memory(args, "ours", frames), _measure_memory(args, "official", frames)
        per_frame = f"{ours / frames:.2f}" if ours is not None else "n/a"
        ratio = f"{official / ours:.2f}x" if ours and official else "n/a"
        cells = [f"{x:.0f}" if x is not None else "failed" for x in (ours, official)]
        print(f"{frames:>7}{cells[0]:>11}{per_frame:>16}{cells[1]:>21}{ratio:>17}")
    print("  linear growth keeps MiB/frame flat; the official layout copies every frame's keys for every frame")


def _time_table(args: argparse.Namespace) -> None:
    from diffusers.models.attention_processor import AttnProcessor2_0

    pipe = _tiny_pipeline(args.device, args.chunk_frames)
    default = copy.deepcopy(pipe.unet)
    default.set_attn_processor(AttnProcessor2_0())
    latents, context = _edit_pass_inputs(pipe, args.time_frames, args.latent_size)
    per_frame_context = context.repeat_interleave(args.time_frames, dim=0)

    def ours(cross_frame: bool):
        def fn():
            pipe.state.cross_frame = cross_frame
            return pipe._unet(latents, 500, context, groups=4)

        return fn

    with torch.no_grad():
        seconds = interleaved(
            {
                "diffusers AttnProcessor2_0": lambda: default(latents, 500, encoder_hidden_states=per_frame_context),
                "ours, per-frame (inversion)": ours(False),
                "ours, cross-frame (editing)": ours(True),
            },
            warmup=1,
            rounds=args.rounds,
        )
    base = seconds["diffusers AttnProcessor2_0"]
    print(f"[2] seconds per UNet pass, batch 4 x {args.time_frames} frames, latent {args.latent_size}^2")
    print(f"{'processors':<30}{'ms/pass':>10}{'vs diffusers':>14}")
    for name, sec in seconds.items():
        print(f"{name:<30}{sec * 1e3:>10.1f}{sec / base:>13.2f}x")


def _edit_costs(args: argparse.Namespace, tmp: Path, inner_steps: int) -> tuple[float, float, float]:
    """Seconds of a first edit, its inversion, and a second edit (new prompt, cached inversion)."""
    from .config import EditConfig
    from .pipeline import check_model_folder
    from .runner import edit_clip, load_pipeline
    from .tiny import save_tiny_model
    from .video_io import write_mp4

    if args.edit_model in ("tiny", "sd15"):
        model = tmp / args.edit_model
        if not model.is_dir():
            save_tiny_model(model, architecture=args.edit_model)
    else:
        model = check_model_folder(args.edit_model)
    frames = torch.linspace(0, 1, args.edit_frames).view(-1, 1, 1, 1).expand(-1, 3, 64, 64).clone()
    cfg = EditConfig(
        model_path=str(model),
        video_path=str(write_mp4(frames, tmp / "clip.mp4")),
        source_prompt="a jeep car is moving on the road",
        prompts=["a jeep car is moving on the snow"],
        num_frames=args.edit_frames,
        height=args.edit_size or args.latent_size * 8,
        width=args.edit_size or args.latent_size * 8,
        num_steps=args.steps,
        null_inner_steps=inner_steps,
        cache_dir=str(tmp / f"cache{inner_steps}"),
        device=args.device,
    )
    pipe = load_pipeline(cfg)
    firsts, inversions, seconds = [], [], []
    for _ in range(args.edit_rounds):  # first and second edits alternate; the minimum discounts load spikes
        shutil.rmtree(cfg.cache_dir, ignore_errors=True)
        start = time.perf_counter()
        first = edit_clip(replace(cfg, prompts=["a jeep car is moving on the snow"]), pipe, write=False)
        firsts.append(time.perf_counter() - start)
        inversions.append(first.seconds["inversion"])
        start = time.perf_counter()
        second = edit_clip(replace(cfg, prompts=["a Porsche car is moving on the desert"]), pipe, write=False)
        seconds.append(time.perf_counter() - start)
        if not second.cached or first.cached:
            raise RuntimeError("the second edit did not reuse the cached inversion")
    return min(firsts), min(inversions), min(seconds)


def _edit_table(args: argparse.Namespace) -> None:
    side = args.edit_size or args.latent_size * 8
    print(
        f"[3] first vs second edit of one clip, {args.edit_frames} frames {side}x{side}, {args.steps} steps, "
        f"model {args.edit_model}"
    )
    print(f"{'null inner steps':>17}{'first s':>10}{'(inversion s)':>15}{'second s':>10}{'second/first':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for inner in args.null_inner_steps:
            first, inversion, second = _edit_costs(args, Path(tmp), inner)
            print(f"{inner:>17}{first:>10.2f}{inversion:>15.2f}{second:>10.2f}{second / first:>14.0%}")
    print("  goal: second / first <= 40%")


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        _memory_probe(args)
        return
    print(f"suite vid2vid | tables 1-2: tiny random SD model | device {args.device} | threads {args.threads}")
    if "memory" not in args.skip:
        _memory_table(args)
    if "time" not in args.skip:
        _time_table(args)
    if "edit" not in args.skip:
        _edit_table(args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    run(parser.parse_args())
