"""Image-text retrieval: recall@k in both directions over a captions file (several captions per image allowed)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from eva_clip.data import clip_transform, read_table
from vision.data.image_loader import load_image

__all__ = ["evaluate_retrieval", "retrieval_recall"]


def retrieval_recall(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    text_to_image: torch.Tensor,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Recall@k in percent from normalised ``(I, D)`` image and ``(T, D)`` text features.

    ``text_to_image[t]`` is the image of caption ``t``. Text->image: the caption's image is in its top k. Image->text:
    any of the image's captions is in its top k (the COCO / Flickr30k protocol).
    """
    if text_to_image.shape[0] != text_features.shape[0]:
        raise ValueError(f"{text_features.shape[0]} captions but {text_to_image.shape[0]} caption->image links")
    sim = text_features @ image_features.T  # (T, I)
    out = {}
    for k in ks:
        top_images = sim.topk(min(k, sim.shape[1]), dim=1).indices  # (T, k)
        out[f"text_to_image_R@{k}"] = 100.0 * (top_images == text_to_image[:, None]).any(1).float().mean().item()
        top_texts = sim.T.topk(min(k, sim.shape[0]), dim=1).indices  # (I, k)
        hit = text_to_image[top_texts] == torch.arange(sim.shape[1])[:, None]
        out[f"image_to_text_R@{k}"] = 100.0 * hit.any(1).float().mean().item()
    return out


@torch.no_grad()
def evaluate_retrieval(
    model: torch.nn.Module,
    captions_file: str | os.PathLike,
    tokenizer: Callable[[Sequence[str]], torch.Tensor] | None = None,
    root: str | os.PathLike | None = None,
    image_key: str = "filepath",
    caption_key: str = "title",
    batch_size: int = 64,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Recall@k of ``model`` on a CSV/TSV of (image path, caption) rows; repeated paths are one image."""
    from eva_clip.tokenizer import tokenize

    tokenizer = tokenizer or tokenize
    rows = read_table(captions_file, (image_key, caption_key))
    base = Path(root) if root is not None else Path(captions_file).parent
    paths = list(dict.fromkeys(r[image_key] for r in rows))
    index = {p: i for i, p in enumerate(paths)}
    text_to_image = torch.tensor([index[r[image_key]] for r in rows])
    device = next(model.parameters()).device
    transform = clip_transform(model.image_size, model.mean, model.std)
    images = []
    for i in range(0, len(paths), batch_size):
        batch = torch.stack([transform(load_image(base / p)) for p in paths[i : i + batch_size]]).to(device)
        images.append(model.encode_image(batch, normalize=True))
    texts = []
    captions = [r[caption_key] for r in rows]
    for i in range(0, len(captions), batch_size):
        texts.append(model.encode_text(tokenizer(captions[i : i + batch_size]).to(device), normalize=True))
    return retrieval_recall(torch.cat(images).cpu(), torch.cat(texts).cpu(), text_to_image, ks)
