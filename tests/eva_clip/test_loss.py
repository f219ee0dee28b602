"""Contrastive loss: the single-process formula, and the distributed gather giving the same loss and gradients."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from eva_clip.loss import ClipLoss

GLOBAL_BATCH, DIM, WORLD = 8, 6, 2


def _problem():
    """A tiny two-tower model and a fixed global batch (identical in every process)."""
    torch.manual_seed(0)
    towers = torch.nn.ModuleDict(dict(image=torch.nn.Linear(5, DIM), text=torch.nn.Linear(4, DIM)))
    scale = torch.nn.Parameter(torch.tensor(2.3))
    images, texts = torch.randn(GLOBAL_BATCH, 5), torch.randn(GLOBAL_BATCH, 4)
    return towers, scale, images, texts


def _loss_and_grads(loss_fn, towers, scale, images, texts):
    img = F.normalize(towers["image"](images), dim=-1)
    txt = F.normalize(towers["text"](texts), dim=-1)
    loss = loss_fn(img, txt, scale.exp())
    params = [*towers.parameters(), scale]
    grads = torch.autograd.grad(loss, params)
    return loss.detach(), [g.detach() for g in grads]


def test_single_process_loss_matches_formula():
    towers, scale, images, texts = _problem()
    img = F.normalize(towers["image"](images), dim=-1)
    txt = F.normalize(towers["text"](texts), dim=-1)
    logits = scale.exp() * img @ txt.T
    labels = torch.arange(GLOBAL_BATCH)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(ClipLoss()(img, txt, scale.exp()), expected)


def test_mismatched_pairs_raise():
    with pytest.raises(ValueError, match="pairs must align"):
        ClipLoss()(torch.randn(3, 4), torch.randn(2, 4), torch.tensor(1.0))


def _worker(rank: int, out_dir: str) -> None:
    # A file store: no TCP store thread for rank 0 to tear down under rank 1 at exit.
    store = f"file://{os.path.join(out_dir, 'store')}"
    dist.init_process_group("gloo", init_method=store, rank=rank, world_size=WORLD)
    try:
        towers, scale, images, texts = _problem()
        part = slice(rank * GLOBAL_BATCH // WORLD, (rank + 1) * GLOBAL_BATCH // WORLD)
        results = {}
        for local_loss in (False, True):
            loss_fn = ClipLoss(local_loss=local_loss, gather_with_grad=True)
            loss, grads = _loss_and_grads(loss_fn, towers, scale, images[part], texts[part])
            # What data-parallel training does: average the loss (for logging) and the gradients over ranks.
            for t in (loss, *grads):
                dist.all_reduce(t)
                t /= WORLD
            results[f"local={local_loss}"] = dict(loss=loss, grads=grads)
        if rank == 0:
            torch.save(results, os.path.join(out_dir, "result.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()
    # gloo threads can abort the interpreter's shutdown ("terminate called without an active exception"); the results
    # are on disk, so leave without the static destructors. Errors above still propagate and fail the spawn.
    os._exit(0)


def test_two_process_gather_with_grad_equals_single_process(tmp_path):
    """2 gloo processes, half the global batch each: loss and averaged gradients equal one process on all of it,
    for the full (global x global) and the local (local x global) logits."""
    mp.start_processes(_worker, args=(str(tmp_path),), nprocs=WORLD, start_method="spawn")
    results = torch.load(tmp_path / "result.pt", weights_only=True)
    towers, scale, images, texts = _problem()
    loss, grads = _loss_and_grads(ClipLoss(), towers, scale, images, texts)
    assert set(results) == {"local=False", "local=True"}
    for variant, got in results.items():
        torch.testing.assert_close(got["loss"], loss, rtol=1e-5, atol=1e-6, msg=lambda m, v=variant: f"{v}: {m}")
        for g_dist, g_single in zip(got["grads"], grads):
            torch.testing.assert_close(g_dist, g_single, rtol=1e-5, atol=1e-6, msg=lambda m, v=variant: f"{v}: {m}")
