"""Zero-shot classification: class-name prompts -> text classifier -> top-k accuracy on an image folder.

The classifier averages the normalised text embeddings of every template for each class (the CLIP recipe), so a
class is one unit vector; an image's logits are its cosine similarity to each. ``class_indices`` restricts the
1000 ImageNet classes to a subset (ImageNet-A / ImageNet-R use 200), scoring only those columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources

import torch
import torch.nn.functional as F

__all__ = [
    "build_zero_shot_classifier",
    "imagenet_classnames",
    "openai_templates",
    "zero_shot_logits",
    "topk_correct",
]


@lru_cache
def _read_lines(name: str) -> tuple[str, ...]:
    text = resources.files("eva_clip.assets").joinpath(name).read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def imagenet_classnames() -> list[str]:
    """The 1000 OpenAI-CLIP ImageNet class names (index = class id)."""
    return list(_read_lines("imagenet_classnames.txt"))


def openai_templates() -> list[str]:
    """The 80 CLIP prompt templates; ``{c}`` is replaced by the class name."""
    return list(_read_lines("imagenet_templates.txt"))


@torch.no_grad()
def build_zero_shot_classifier(
    model: torch.nn.Module,
    tokenizer: Callable[[Sequence[str]], torch.Tensor],
    classnames: Sequence[str],
    templates: Sequence[str],
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(embed_dim, num_classes)`` weights: per class, the renormalised mean of its normalised prompt embeddings."""
    classnames, templates = list(classnames), list(templates)
    if not classnames:
        raise ValueError("classnames is empty; zero-shot classification needs at least one class")
    if not templates:
        raise ValueError("templates is empty; pass at least one prompt template such as '{c}' or 'a photo of a {c}.'")
    bad = [t for t in templates if "{c}" not in t]
    if bad:
        raise ValueError(f"templates must contain '{{c}}' where the class name goes; got {bad[0]!r}")
    device = device or next(model.parameters()).device
    prompts = [t.format(c=c) for c in classnames for t in templates]  # class-major
    chunks = []
    for i in range(0, len(prompts), batch_size):
        tokens = tokenizer(prompts[i : i + batch_size]).to(device)
        chunks.append(model.encode_text(tokens, normalize=True))
    embeddings = torch.cat(chunks).view(len(classnames), len(templates), -1)  # (C, T, D)
    return F.normalize(embeddings.mean(dim=1), dim=-1).T.contiguous()  # (D, C)


def zero_shot_logits(
    model: torch.nn.Module, images: torch.Tensor, classifier: torch.Tensor, scale: float = 100.0
) -> torch.Tensor:
    """``(B, 3, H, W)`` images -> ``(B, num_classes)`` scaled cosine similarities."""
    return scale * model.encode_image(images, normalize=True) @ classifier


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, torch.Tensor]:
    """Number of samples whose target is among the top-k logits, per k (k is capped at the number of classes)."""
    maxk = min(max(ks), logits.shape[1])
    pred = logits.topk(maxk, dim=1).indices  # (B, maxk)
    hits = pred == targets.unsqueeze(1)
    return {k: hits[:, : min(k, maxk)].any(dim=1).sum() for k in ks}
