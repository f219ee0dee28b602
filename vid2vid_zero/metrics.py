"""Edit quality with any CLIP model: text-frame alignment and frame-to-frame consistency.

The model is anything with ``encode_image(pixels)`` and ``encode_text(tokens)`` (open_clip, EVA-CLIP); this package
imports no other model package, so the caller builds the model and its tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_preprocess(
    frames: torch.Tensor, size: int = 224, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD
) -> torch.Tensor:
    """(F, 3, H, W) in [0, 1] -> CLIP input: shorter side to ``size``, centre crop, normalise."""
    from .video_io import resize_frames

    frames = resize_frames(frames.float(), (size, size), mode="crop")
    mean_t, std_t = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return (frames - mean_t) / std_t


@torch.no_grad()
def image_embeddings(model, frames: torch.Tensor, size: int = 224, batch_size: int = 16) -> torch.Tensor:
    """Unit-norm image embeddings (F, E) of frames in [0, 1]."""
    device = next(model.parameters()).device
    pixels = clip_preprocess(frames, size)
    out = [model.encode_image(pixels[i : i + batch_size].to(device)).float() for i in range(0, len(pixels), batch_size)]
    return F.normalize(torch.cat(out), dim=-1)


@torch.no_grad()
def text_embeddings(model, tokenizer: Callable, prompts: Sequence[str]) -> torch.Tensor:
    """Unit-norm text embeddings (P, E); ``tokenizer(list[str])`` returns token ids as the model expects."""
    device = next(model.parameters()).device
    return F.normalize(model.encode_text(tokenizer(list(prompts)).to(device)).float(), dim=-1)


def frame_consistency(model, frames: torch.Tensor, size: int = 224) -> float:
    """Mean cosine similarity of consecutive frames' image embeddings (1 = every frame looks the same to CLIP)."""
    if len(frames) < 2:
        raise ValueError("frame consistency needs at least two frames")
    emb = image_embeddings(model, frames, size)
    return (emb[1:] * emb[:-1]).sum(-1).mean().item()


def text_alignment(model, tokenizer: Callable, frames: torch.Tensor, prompt: str, size: int = 224) -> float:
    """Mean cosine similarity between the prompt's text embedding and every frame's image embedding."""
    emb = image_embeddings(model, frames, size)
    return (emb @ text_embeddings(model, tokenizer, [prompt])[0]).mean().item()


def edit_report(model, tokenizer: Callable, edits: dict[str, torch.Tensor], size: int = 224) -> dict[str, dict]:
    """{prompt: {"text_alignment": ..., "frame_consistency": ...}} for a set of edited clips."""
    return {
        prompt: {
            "text_alignment": text_alignment(model, tokenizer, frames, prompt, size),
            "frame_consistency": frame_consistency(model, frames, size),
        }
        for prompt, frames in edits.items()
    }
