"""Process-group set-up from torchrun's environment, model wrapping (DDP / FSDP2) and cross-rank reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as torch_dist
import torch.nn as nn

__all__ = ["DistContext", "setup_distributed", "teardown_distributed", "wrap_model"]

STRATEGIES = ("ddp", "fsdp")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: its rank, the world size and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks (in place; returned for chaining); a no-op on one process."""
        if self.distributed:
            torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
        return tensor

    def barrier(self) -> None:
        if self.distributed:
            torch_dist.barrier()


def _pick_device(device: str | None, local_rank: int) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was requested but no CUDA device is available")
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    return dev


def setup_distributed(device: str | None = None, backend: str | None = None, timeout_s: float = 600) -> DistContext:
    """Join the process group torchrun describes (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``), or run alone.

    The backend defaults to nccl on CUDA and gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if world_size > 1 and not torch_dist.is_initialized():
        backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
        torch_dist.init_process_group(
            backend,
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout_s),
            device_id=dev if dev.type == "cuda" else None,
        )
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def teardown_distributed(finished: bool = False) -> None:
    """Leave the process group. After a run that ``finished`` on every rank, meet at a barrier first so no rank
    tears down while another is still in a collective (a failed run skips it: the others may never arrive)."""
    if torch_dist.is_initialized():
        if finished:
            torch_dist.barrier()
        torch_dist.destroy_process_group()


def wrap_model(
    model: nn.Module,
    ctx: DistContext,
    strategy: str = "ddp",
    find_unused_parameters: bool = False,
    fsdp_layers: tuple[str, ...] = ("Block",),
) -> nn.Module:
    """DDP, or FSDP2 (``fully_shard`` on every module whose class name is in ``fsdp_layers``, then the root).

    On one process the model is returned as is. FSDP shards in place: parameter names stay the same, which the
    optimizer factory and checkpoints rely on.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"dist.strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not ctx.distributed:
        return model
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)
    from torch.distributed.fsdp import fully_shard

    layers = [m for m in model.modules() if type(m).__name__ in fsdp_layers and m is not model]
    for layer in layers:
        fully_shard(layer)
    fully_shard(model)
    return model
