"""Engine overhead per training step against a bare PyTorch loop, and data-loader throughput with N workers.

    python tools/benchmark.py --suite engine                                  # the quickstart config's model
    python tools/benchmark.py --suite engine --images ../shared/data/imagenet/images --workers 0 1 2

The step comparison feeds both loops the same pre-loaded batch (data loading is measured separately), builds the
same model from the same seed, and uses the same optimizer groups, criterion and gradient clipping; the engine adds
its schedule, loss reduction and non-finite check, EMA if configured.
"""

from __future__ import annotations

import argparse
import copy
import math
import tempfile
import time
from pathlib import Path

import torch

__all__ = ["add_arguments", "run"]

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "quickstart" / "eva02_tiny_digits.py"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="training config whose model/data to use")
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="data-loader worker counts to time")
    parser.add_argument("--batches", type=int, default=40, help="batches per data-loader measurement")
    parser.add_argument("--batch-size", type=int, help="data-loader batch size (default: the config's)")
    parser.add_argument(
        "--images", help="a folder of images: time decoding + EVA train augmentation (224 px, RandAugment) instead"
    )


def _trainer(args: argparse.Namespace, work_dir: str):
    from vision.config import load_config
    from vision.engine import Trainer

    cfg = load_config(args.config)
    cfg.log.update(progress_bar=False, tensorboard=False, plot=False)
    return Trainer(cfg, work_dir=work_dir)


def _bare_step(trainer, batch) -> tuple[callable, torch.optim.Optimizer]:
    """The textbook loop on a copy of the engine's model, optimizer groups and criterion; and its optimizer."""
    model = copy.deepcopy(trainer.module).train()
    groups = [
        {"params": list(dict(model.named_parameters())[n] for n in g["param_names"]), "weight_decay": g["weight_decay"]}
        for g in trainer.optimizer.param_groups
    ]
    # The same kernel choice too (fused / foreach), so the gap is the engine's and not the optimizer's.
    kept = ("lr", "betas", "eps", "fused", "foreach")
    defaults = {k: v for k, v in trainer.optimizer.defaults.items() if k in kept}
    optimizer = type(trainer.optimizer)(groups, **defaults)
    criterion, clip = trainer.criterion, trainer.spec["train"]["grad_clip"]
    images, labels = batch

    def step() -> float:
        loss = criterion(model(images), labels)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    return step, optimizer


def _optimizer_kind(optimizer: torch.optim.Optimizer) -> str:
    kernel = next((k for k in ("fused", "foreach") if optimizer.defaults.get(k)), "for-loop")
    return f"{type(optimizer).__name__} ({kernel})"


def _loader_rate(loader, batches: int) -> float:
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start, count = time.perf_counter(), 0
    for _ in range(batches):
        try:
            count += len(next(it)[0])
        except StopIteration:
            break
    return count / (time.perf_counter() - start)


def _image_dataset(folder: str, tmp: str, min_len: int):
    """The folder's images (repeated up to ``min_len`` samples) with the EVA training transform."""
    from vision.data import FileListDataset, build_transform

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise FileNotFoundError(f"--images: no .jpg/.png files in {folder}")
    files = files * math.ceil(min_len / len(files))
    listing = Path(tmp) / "images.txt"
    listing.write_text("".join(f"{p.resolve()} 0\n" for p in files))
    transform = build_transform(224, is_training=True, auto_augment="rand-m9-mstd0.5-inc1", re_prob=0.25)
    return FileListDataset(listing, root="/", transform=transform)


def run(args: argparse.Namespace) -> None:
    from torch.utils.data import DataLoader

    from vision.benchmark import interleaved
    from vision.data import EpochSampler, SeededDataset

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(args, tmp)
        batch = next(iter(trainer.train_loader))
        bare, bare_optimizer = _bare_step(trainer, batch)

        def engine_round() -> None:
            for _ in range(args.steps):
                trainer.train_step([batch])

        def bare_round() -> None:
            for _ in range(args.steps):
                bare()

        seconds = interleaved({"engine": engine_round, "bare": bare_round}, warmup=args.warmup, rounds=args.rounds)
        per_step = {k: v / args.steps for k, v in seconds.items()}
        print(
            f"suite engine | config {Path(args.config).name} | model {type(trainer.module).__name__} | "
            f"batch {len(batch[0])} | threads {args.threads} | median of {args.rounds} rounds x {args.steps} steps"
        )
        optimizers = {"engine": _optimizer_kind(trainer.optimizer), "bare": _optimizer_kind(bare_optimizer)}
        print(f"{'loop':<8}{'ms/step':>10}{'img/s':>10}  optimizer")
        for name, sec in per_step.items():
            print(f"{name:<8}{sec * 1e3:>10.2f}{len(batch[0]) / sec:>10.1f}  {optimizers[name]}")
        print(f"engine overhead vs bare loop: {100 * (per_step['engine'] / per_step['bare'] - 1):+.1f}%")

        batch_size = args.batch_size or trainer.train_loader.batch_size
        if args.images:
            dataset = _image_dataset(args.images, tmp, (args.batches + 1) * batch_size)
            what = f"{args.images} decoded + RandAugment at 224"
        else:
            dataset, what = trainer.train_set.dataset, "the config's training set"
        print(f"data loader: {what}, batch {batch_size}, up to {args.batches} batches")
        print(f"{'workers':<9}{'ours img/s':>12}{'plain img/s':>13}{'ours/plain':>12}")
        for workers in args.workers:
            ours = DataLoader(
                SeededDataset(dataset), batch_size, sampler=EpochSampler(len(dataset)), num_workers=workers
            )
            plain = DataLoader(dataset, batch_size, shuffle=True, num_workers=workers)
            rates: dict[str, list[float]] = {"ours": [], "plain": []}
            for _ in range(2):  # alternate, keep the best: worker start-up and machine load vary between passes
                rates["ours"].append(_loader_rate(ours, args.batches))
                rates["plain"].append(_loader_rate(plain, args.batches))
            rate_ours, rate_plain = max(rates["ours"]), max(rates["plain"])
            print(f"{workers:<9}{rate_ours:>12.1f}{rate_plain:>13.1f}{rate_ours / rate_plain:>12.3f}")
