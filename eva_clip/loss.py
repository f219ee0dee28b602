"""CLIP's symmetric contrastive loss, single process or across data-parallel ranks.

Across ranks the features of every rank are gathered so each image sees every caption of the global batch.
``gather_with_grad=True`` gathers through ``torch.distributed.nn.functional.all_gather``, whose backward sends each
rank's gradient to the rank that produced the features: after the usual gradient averaging, loss and gradients
equal those of one process on the whole global batch. ``local_loss=True`` scores only this rank's rows against the
global batch (``B x ws*B`` logits instead of ``ws*B x ws*B``), which is the same loss for less memory.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ClipLoss", "gather_features"]


def gather_features(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    rank: int,
    world_size: int,
    gather_with_grad: bool = False,
    local_loss: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, D)`` per rank -> ``(world_size * B, D)`` in rank order.

    Without ``gather_with_grad`` only this rank's slice carries gradient (and only when ``local_loss`` is off, where
    the slice is put back in place); the other ranks' features are constants.
    """
    if gather_with_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(image_features)), torch.cat(all_gather(text_features))
    images = [torch.zeros_like(image_features) for _ in range(world_size)]
    texts = [torch.zeros_like(text_features) for _ in range(world_size)]
    dist.all_gather(images, image_features.detach())
    dist.all_gather(texts, text_features.detach())
    if not local_loss:
        images[rank], texts[rank] = image_features, text_features
    return torch.cat(images), torch.cat(texts)


class ClipLoss(nn.Module):
    """``(image_features, text_features, logit_scale) -> loss``: mean of image->text and text->image cross-entropy.

    Features are expected L2-normalised; ``logit_scale`` is the already exponentiated scale (as ``EVACLIP.forward``
    returns it). ``rank``/``world_size`` default to the initialised process group (1 process otherwise).
    """

    def __init__(
        self,
        local_loss: bool = False,
        gather_with_grad: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        distributed = dist.is_available() and dist.is_initialized()
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.rank = rank if rank is not None else (dist.get_rank() if distributed else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if distributed else 1)

    def logits(
        self, image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Image->text logits, text->image logits and the matching column of each row."""
        B = image_features.shape[0]
        if text_features.shape[0] != B:
            raise ValueError(f"{B} image features but {text_features.shape[0]} text features; pairs must align")
        labels = torch.arange(B, device=image_features.device)
        if self.world_size == 1:
            per_image = logit_scale * image_features @ text_features.T  # (B, B)
            return per_image, per_image.T, labels
        all_images, all_texts = gather_features(
            image_features, text_features, self.rank, self.world_size, self.gather_with_grad, self.local_loss
        )
        if self.local_loss:
            per_image = logit_scale * image_features @ all_texts.T  # (B, ws*B)
            per_text = logit_scale * text_features @ all_images.T  # (B, ws*B)
            return per_image, per_text, labels + B * self.rank
        per_image = logit_scale * all_images @ all_texts.T  # (ws*B, ws*B)
        return per_image, per_image.T, torch.arange(per_image.shape[0], device=per_image.device)

    def forward(
        self, image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor
    ) -> torch.Tensor:
        per_image, per_text, labels = self.logits(image_features, text_features, logit_scale)
        return (F.cross_entropy(per_image, labels) + F.cross_entropy(per_text, labels)) / 2
