"""ViT throughput against timm's same architecture, and timing helpers every benchmark suite shares.

Timings are interleaved (ours, peer, ours, peer, ...) so both see the same machine state, and reported with the
achieved GFLOP/s as a fraction of a large-GEMM ceiling measured in the same run. Memory is the peak resident set of a
fresh subprocess per configuration, minus its resident set before the measured step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

__all__ = [
    "add_arguments",
    "count_flops",
    "gemm_gflops",
    "interleaved",
    "interleaved_samples",
    "peak_rss_mb",
    "round_ratios",
    "run",
    "time_fn",
]


def time_fn(fn: Callable[[], object], warmup: int = 2, iters: int = 5) -> list[float]:
    """Wall-clock seconds of ``iters`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleaved_samples(
    fns: dict[str, Callable[[], object]], warmup: int = 2, rounds: int = 5
) -> dict[str, list[float]]:
    """Seconds of every call of each function, timed in alternation so drift hits all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def interleaved(fns: dict[str, Callable[[], object]], warmup: int = 2, rounds: int = 5) -> dict[str, float]:
    """Median seconds per call of each function, timed in alternation (see ``interleaved_samples``)."""
    return {name: statistics.median(ts) for name, ts in interleaved_samples(fns, warmup, rounds).items()}


def round_ratios(samples: dict[str, list[float]], slow: str, fast: str) -> tuple[float, float, float]:
    """Median, lowest and highest of ``slow / fast`` taken round by round: a speed-up with its spread.

    Each round times both back to back, so a ratio per round cancels the machine's slow drift, which the ratio of
    the two medians does not."""
    ratios = sorted(s / f for s, f in zip(samples[slow], samples[fast], strict=True))
    return statistics.median(ratios), ratios[0], ratios[-1]


def gemm_gflops(n: int = 2048, dtype: torch.dtype = torch.float32, iters: int = 5) -> float:
    """The machine's ceiling: GFLOP/s of an ``n x n`` matrix product at the current thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    seconds = min(time_fn(lambda: a @ b, warmup=2, iters=iters))
    return 2 * n**3 / seconds / 1e9


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call (matmuls, convolutions, attention) as torch's flop counter sees them."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, MiB.

    Linux's ``VmHWM``: ``ru_maxrss`` would carry the parent's peak over fork and exec, so a probe subprocess of a
    large benchmark would report the parent's memory."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


# --------------------------------------------------------------------------------------------------------------------
# the 'vit' suite


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="eva02_base_patch14_224", help="registered model name")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--img-size", type=int, default=None, help="input size (default: the model's)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--mode", choices=("infer", "train"), default="infer")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--vs", choices=("timm", "none"), default="timm", help="peer timed in the same run")
    parser.add_argument("--grad-checkpointing", action="store_true", help="train mode: also measure memory with it")
    parser.add_argument(
        "--optimizer",
        choices=("shared", "own"),
        default="shared",
        help="train mode: one torch AdamW for both (the models alone), or each toolkit's own AdamW factory "
        "with the same settings (the whole step a user gets)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)


def _build_ours(args: argparse.Namespace) -> torch.nn.Module:
    import vision

    return vision.create_model(args.model, **({"img_size": args.img_size} if args.img_size else {}))


def _build_timm(args: argparse.Namespace, ours: torch.nn.Module) -> torch.nn.Module:
    """timm's model of the same name carrying exactly our weights."""
    import timm

    from vision.convert import export_state_dict

    overrides = {"img_size": args.img_size} if args.img_size else {}
    peer = timm.create_model(args.model, pretrained=False, num_classes=ours.num_classes, **overrides)
    peer.load_state_dict(export_state_dict(ours, "timm"), strict=True)
    return peer


def _build(args: argparse.Namespace, impl: str) -> torch.nn.Module:
    ours = _build_ours(args)
    return ours if impl == "ours" else _build_timm(args, ours)


def _optimizer(model: torch.nn.Module, args: argparse.Namespace, impl: str) -> torch.optim.Optimizer:
    if args.optimizer == "shared":
        return torch.optim.AdamW(model.parameters(), lr=1e-4)
    if impl == "ours":
        from vision.engine.optim import build_optimizer

        return build_optimizer(model, "adamw", lr=1e-4, weight_decay=0.05)
    from timm.optim import create_optimizer_v2

    return create_optimizer_v2(model, "adamw", lr=1e-4, weight_decay=0.05)


def _autocast(args: argparse.Namespace) -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")


def _step_fn(model: torch.nn.Module, args: argparse.Namespace, x: torch.Tensor, impl: str) -> Callable[[], object]:
    if args.mode == "infer":
        model.eval()

        def infer() -> object:
            with torch.inference_mode(), _autocast(args):
                return model(x)

        return infer
    model.train()
    optimizer = _optimizer(model, args, impl)
    target = torch.randint(0, model.num_classes, (x.shape[0],))

    def train() -> object:
        with _autocast(args):
            loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return train


def _input(args: argparse.Namespace, model: torch.nn.Module) -> torch.Tensor:
    size = model.patch_embed.img_size if hasattr(model.patch_embed, "img_size") else (args.img_size,) * 2
    return torch.randn(args.batch_size, 3, *size)


def _memory_probe(args: argparse.Namespace) -> None:
    """Subprocess body: memory the activations hold after a forward pass, and the peak of a whole training step.

    The parent fixes glibc's mmap threshold so every large tensor is its own mapping, returned to the system when
    freed: resident memory then follows the live tensors instead of the allocator's cache.
    """
    impl, checkpointing = args.memory_probe.split(":")
    torch.manual_seed(0)
    model = _build(args, impl).train()
    if checkpointing == "1":
        model.set_grad_checkpointing(True)
    x = _input(args, model)
    base = _current_rss_mb()
    with _autocast(args):
        logits = model(x)
    activations = _current_rss_mb() - base
    logits.float().logsumexp(-1).mean().backward()
    print(json.dumps({"activations_mb": activations, "step_peak_mb": peak_rss_mb() - base}))


def _measure_memory(args: argparse.Namespace, impl: str, checkpointing: bool) -> dict[str, float]:
    cmd = [sys.executable, "-m", "vision.benchmark", "--model", args.model, "--batch-size", str(args.batch_size)]
    cmd += ["--threads", str(args.threads), "--dtype", args.dtype, "--mode", "train"]
    cmd += ["--img-size", str(args.img_size)] if args.img_size else []
    cmd += ["--memory-probe", f"{impl}:{int(checkpointing)}"]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        _memory_probe(args)
        return
    torch.manual_seed(0)
    impls = ["ours"] + (["timm"] if args.vs == "timm" else [])
    models = {"ours": _build_ours(args)}
    if args.vs == "timm":
        models["timm"] = _build_timm(args, models["ours"])
    x = _input(args, models["ours"])
    if args.vs == "timm":  # pre-logits: a freshly built head is zero, so the logits would agree trivially
        with torch.no_grad():
            ours, peer = (m.eval().forward_head(m.forward_features(x), pre_logits=True) for m in models.values())
        print(f"same weights, max |ours - timm| on pre-logits: {(ours - peer).abs().max().item():.2e}")
    flops = count_flops(_step_fn(models["ours"], args, x, "ours"))  # counted eagerly: the same work compiled or not
    if args.compile:
        models = {k: torch.compile(m) for k, m in models.items()}
    fns = {impl: _step_fn(model, args, x, impl) for impl, model in models.items()}
    ceiling = gemm_gflops(dtype=torch.bfloat16 if args.dtype == "bf16" else torch.float32)  # the run's own dtype
    samples = interleaved_samples(fns, warmup=args.warmup, rounds=args.rounds)
    seconds = {impl: statistics.median(ts) for impl, ts in samples.items()}

    print(
        f"suite vit | model {args.model} | mode {args.mode} | batch {args.batch_size} | "
        f"input {tuple(x.shape[-2:])} | {args.dtype} | threads {args.threads} | compile {args.compile}"
        + (f" | optimizer {args.optimizer}" if args.mode == "train" else "")
    )
    print(f"GEMM ceiling (2048^3 {args.dtype}): {ceiling:.1f} GFLOP/s")
    print(f"{'impl':<8}{'img/s':>10}{'ms/batch':>11}{'GFLOP/s':>10}{'% ceiling':>11}")
    for impl, sec in seconds.items():
        gflops = flops / sec / 1e9
        print(
            f"{impl:<8}{args.batch_size / sec:>10.2f}{sec * 1e3:>11.1f}{gflops:>10.1f}{100 * gflops / ceiling:>10.1f}%"
        )
    if "timm" in seconds:
        median, low, high = round_ratios(samples, "timm", "ours")
        print(f"speed-up ours / timm: {seconds['timm'] / seconds['ours']:.3f}x (ratio of the medians)")
        print(f"per-round speed-up: median {median:.3f}x, range {low:.3f}-{high:.3f}x over {args.rounds} rounds")
    if args.mode == "train":
        print("memory (RSS growth in a fresh process; activations held after forward, and the fwd+bwd peak):")
        for impl in impls:
            plain = _measure_memory(args, impl, False)
            line = f"  {impl:<6} activations {plain['activations_mb']:7.0f} MiB, "
            line += f"step peak {plain['step_peak_mb']:7.0f} MiB"
            if args.grad_checkpointing and impl == "ours":
                ckpt = _measure_memory(args, impl, True)
                ratio = plain["activations_mb"] / max(ckpt["activations_mb"], 1.0)
                line += (
                    f" | grad checkpointing: activations {ckpt['activations_mb']:7.0f} MiB ({ratio:.1f}x less), "
                    f"step peak {ckpt['step_peak_mb']:7.0f} MiB"
                )
            print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    run(parser.parse_args())
