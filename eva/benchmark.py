"""MIM pre-training (student + frozen teacher) and fine-tuning training steps against the same steps on timm's Eva.

    python tools/benchmark.py --suite mim                       # EVA-02 Ti student and teacher, batch 8, CPU
    python tools/benchmark.py --suite mim --device cuda --student eva02_mim_base_patch14_224 --batch-size 64

Every row is one full optimizer step (forward, backward, AdamW) with identical weights on both sides: the MIM step
runs the teacher without gradients (fp32 or bf16 weights), the student on masked inputs, the cosine loss on the
masked patches; the fine-tuning step is cross-entropy on the classifier with the patch embedding frozen (the official
default). Gradient checkpointing is measured on and off. Timings are interleaved across all rows; peak memory comes
from a fresh process per row (CUDA: peak allocated; CPU: peak resident-set growth over one step, the high-water
mark reset after the models are built).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from collections.abc import Callable

import torch
import torch.nn as nn

from eva.models import EvaMIM, MIMPretrainer, MIMTeacher, mim_loss
from vision.data.masking import BlockMaskGenerator

__all__ = ["add_arguments", "run"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--student", default="eva02_mim_tiny_patch14_224", help="registered MIM student")
    parser.add_argument("--teacher", default="eva02_tiny_patch14_224", help="registered tower, used CLIP-style")
    parser.add_argument("--classifier", default=None, help="fine-tuning model (default: the student's backbone)")
    parser.add_argument("--mode", choices=("mim", "finetune", "both"), default="both")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (CPU)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", choices=("none", "bf16"), default="none", help="autocast the student / classifier")
    parser.add_argument("--vs", choices=("timm", "none"), default="timm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip the per-row memory processes")
    parser.add_argument("--depth", type=int, default=None, help="shrink every model to this depth (quick checks)")
    parser.add_argument("--embed-dim", type=int, default=None, help="shrink every model to this width")
    parser.add_argument("--num-heads", type=int, default=None, help="heads to go with --embed-dim")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)


# ---------------------------------------------------------------------------------------------------------------------
# models: ours, and the same weights in timm's Eva


def _backbone_name(student: str) -> str:
    return student.replace("_mim_", "_", 1)


def _timm_eva(name: str, ours: nn.Module, **kwargs) -> nn.Module:
    """timm's model of the same name carrying exactly ``ours``' backbone weights."""
    import timm

    from vision.convert import export_state_dict

    peer = timm.create_model(name, pretrained=False, **kwargs)
    sd = {k: v for k, v in export_state_dict(ours, "timm").items() if not k.startswith(("mask_token", "lm_head."))}
    peer.load_state_dict(sd, strict=True)
    return peer


class _TimmStudent(nn.Module):
    """The MIM student written with timm's Eva: a hook puts the mask token into its patch embedding output."""

    def __init__(self, eva: nn.Module, ours: EvaMIM) -> None:
        super().__init__()
        self.eva = eva
        self.mask_token = nn.Parameter(ours.mask_token.detach().clone())
        self.lm_head = nn.Linear(ours.embed_dim, ours.predict_feature_dim)
        self.lm_head.load_state_dict(ours.lm_head.state_dict())
        self._mask: torch.Tensor | None = None
        eva.patch_embed.register_forward_hook(self._insert_mask_token)

    def _insert_mask_token(self, module: nn.Module, args: tuple, x: torch.Tensor) -> torch.Tensor:
        w = self._mask.unsqueeze(-1).type_as(x)  # (B, N, 1)
        return x * (1.0 - w) + self.mask_token * w

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.eva.set_grad_checkpointing(enable)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self._mask = mask
        tokens = self.eva.forward_features(x)[:, self.eva.num_prefix_tokens :]  # (B, N, D)
        return self.lm_head(tokens[mask])


class _TimmTeacher(nn.Module):
    def __init__(self, eva: nn.Module, precision: str) -> None:
        super().__init__()
        self.eva = eva.requires_grad_(False).eval().to(_DTYPES[precision])

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.eva.patch_embed.proj.weight.dtype)
        return self.eva.head(self.eva.forward_features(x)[:, self.eva.num_prefix_tokens :])


def _shape(args: argparse.Namespace) -> dict:
    """Architecture overrides applied to every model on both sides (timm takes the same names)."""
    names = (("depth", args.depth), ("embed_dim", args.embed_dim), ("num_heads", args.num_heads))
    return {k: v for k, v in names if v is not None}


def _teacher_kwargs(student: EvaMIM) -> dict:
    return dict(num_classes=student.predict_feature_dim, global_pool="token")


def _build_mim(args: argparse.Namespace, impl: str, precision: str) -> tuple[nn.Module, nn.Module]:
    """(student, teacher) for ``impl``; both implementations start from the same seeded weights."""
    import vision

    torch.manual_seed(0)
    shape = _shape(args)
    student = vision.create_model(args.student, **shape)
    tower = vision.create_model(args.teacher, **_teacher_kwargs(student), **shape)
    if impl == "ours":
        return student, MIMTeacher(tower, precision=precision)
    eva = _timm_eva(_backbone_name(args.student), student, num_classes=0, global_pool="", **shape)
    peer_student = _TimmStudent(eva, student)
    peer_teacher = _TimmTeacher(_timm_eva(args.teacher, tower, **_teacher_kwargs(student), **shape), precision)
    return peer_student, peer_teacher


def _build_classifier(args: argparse.Namespace, impl: str) -> nn.Module:
    import vision

    torch.manual_seed(0)
    name = args.classifier or _backbone_name(args.student)
    ours = vision.create_model(name, **_shape(args))
    model = ours if impl == "ours" else _timm_eva(name, ours, num_classes=ours.num_classes, **_shape(args))
    model.patch_embed.requires_grad_(False)  # frozen patch embedding, as the official fine-tuning
    return model


# ---------------------------------------------------------------------------------------------------------------------
# steps


def _autocast(args: argparse.Namespace):
    device = torch.device(args.device).type
    return torch.autocast(device, dtype=torch.bfloat16, enabled=args.amp == "bf16")


def _mim_step(args: argparse.Namespace, impl: str, precision: str, ckpt: bool) -> Callable[[], torch.Tensor]:
    student, teacher = _build_mim(args, impl, precision)
    student.to(args.device).train().set_grad_checkpointing(ckpt)
    teacher.to(args.device)
    size = student.patch_embed.img_size if impl == "ours" else student.eva.patch_embed.img_size
    grid = (size[0] // 14, size[1] // 14)
    x = torch.randn(args.batch_size, 3, *size, generator=torch.Generator().manual_seed(1)).to(args.device)
    num_masked = round(0.4 * grid[0] * grid[1])
    mask = BlockMaskGenerator(grid, num_masked, min_num_patches=min(16, num_masked), seed=0)
    mask = mask.batch(args.batch_size).to(args.device)
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.98))
    model = MIMPretrainer(student, teacher) if impl == "ours" else None

    def step() -> torch.Tensor:
        with _autocast(args):
            if model is not None:
                loss = model(x, mask)
            else:
                loss = mim_loss(student(x, mask), teacher(x)[mask])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return step


def _finetune_step(args: argparse.Namespace, impl: str, ckpt: bool) -> Callable[[], torch.Tensor]:
    model = _build_classifier(args, impl).to(args.device).train()
    model.set_grad_checkpointing(ckpt)
    size = model.patch_embed.img_size
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch_size, 3, *size, generator=gen).to(args.device)
    target = torch.randint(0, model.num_classes, (args.batch_size,), generator=gen).to(args.device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> torch.Tensor:
        with _autocast(args):
            loss = nn.functional.cross_entropy(model(x), target, label_smoothing=0.1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return step


def _rows(args: argparse.Namespace) -> list[tuple[str, str, str, bool]]:
    """(mode, impl, teacher precision, checkpointing) for every measured configuration."""
    impls = ["ours"] + (["timm"] if args.vs == "timm" else [])
    rows = []
    if args.mode in ("mim", "both"):
        rows += [("mim", i, p, c) for p in ("fp32", "bf16") for c in (False, True) for i in impls]
    if args.mode in ("finetune", "both"):
        rows += [("finetune", i, "-", c) for c in (False, True) for i in impls]
    return rows


def _make_step(args: argparse.Namespace, row: tuple[str, str, str, bool]) -> Callable[[], torch.Tensor]:
    mode, impl, precision, ckpt = row
    return _mim_step(args, impl, precision, ckpt) if mode == "mim" else _finetune_step(args, impl, ckpt)


def _key(row: tuple[str, str, str, bool]) -> str:
    mode, impl, precision, ckpt = row
    return f"{mode}:{impl}:{precision}:{int(ckpt)}"


def _memory_probe(args: argparse.Namespace) -> None:
    """Subprocess body: peak memory of one training step after a warm-up step (optimizer state exists)."""
    mode, impl, precision, ckpt = args.memory_probe.split(":")
    step = _make_step(args, (mode, impl, precision, ckpt == "1"))
    step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        gc.collect()
        _reset_peak_rss()  # model construction peaks must not count
        base = _rss_mb("VmRSS")
        step()
        peak = _rss_mb("VmHWM") - base
    print(json.dumps({"peak_mb": peak}))


def _reset_peak_rss() -> None:
    """Reset this process's resident-set high-water mark (Linux ``clear_refs`` 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _measure_memory(args: argparse.Namespace, row: tuple[str, str, str, bool]) -> float:
    cmd = [sys.executable, "-m", "eva.benchmark", "--student", args.student, "--teacher", args.teacher]
    cmd += ["--batch-size", str(args.batch_size), "--threads", str(args.threads), "--device", args.device]
    cmd += ["--amp", args.amp, "--memory-probe", _key(row)]
    cmd += ["--classifier", args.classifier] if args.classifier else []
    for flag, value in (("--depth", args.depth), ("--embed-dim", args.embed_dim), ("--num-heads", args.num_heads)):
        cmd += [flag, str(value)] if value is not None else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def _check_same_loss(args: argparse.Namespace) -> None:
    """Both implementations compute the same first-step loss from the same weights and inputs."""
    for mode in ("mim", "finetune"):
        if args.mode not in (mode, "both"):
            continue
        ours = _make_step(args, (mode, "ours", "fp32", False))()
        peer = _make_step(args, (mode, "timm", "fp32", False))()
        print(f"same weights, {mode} loss: ours {ours.item():.6f}  timm {peer.item():.6f}")


def run(args: argparse.Namespace) -> None:
    from vision.benchmark import interleaved

    torch.set_num_threads(args.threads)
    if args.memory_probe:
        _memory_probe(args)
        return
    rows = _rows(args)
    print(
        f"suite mim | student {args.student} | teacher {args.teacher} | classifier "
        f"{args.classifier or _backbone_name(args.student)} | batch {args.batch_size} | device {args.device} | "
        f"amp {args.amp} | threads {args.threads}"
    )
    if args.vs == "timm":
        _check_same_loss(args)
    steps = {_key(row): _make_step(args, row) for row in rows}

    def synced(fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        return lambda: fn().item()  # .item() waits for the device

    seconds = interleaved({k: synced(fn) for k, fn in steps.items()}, warmup=args.warmup, rounds=args.rounds)
    memory = {} if args.no_memory else {_key(row): _measure_memory(args, row) for row in rows}
    header = f"{'step':<10}{'teacher':>8}{'grad ckpt':>10}{'impl':>6}{'img/s':>9}{'ms/step':>10}{'peak MiB':>10}"
    print(header + f"{'ours/timm':>11}")
    for row in rows:
        mode, impl, precision, ckpt = row
        sec = seconds[_key(row)]
        peer = seconds.get(_key((mode, "timm", precision, ckpt)))
        ratio = f"{peer / sec:.3f}x" if impl == "ours" and peer else ""
        mem = f"{memory[_key(row)]:.0f}" if memory else "-"
        print(
            f"{mode:<10}{precision:>8}{'on' if ckpt else 'off':>10}{impl:>6}{args.batch_size / sec:>9.2f}"
            f"{sec * 1e3:>10.1f}{mem:>10}{ratio:>11}"
        )
    print("ours/timm > 1: ours is faster (speed-up of the same step, same weights, same run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    run(parser.parse_args())
