"""Run a Painter task from one prompt pair: ``run_task(model, "depth", image, prompt_image, prompt_label)``.

The prompt label is the task's own label (a depth map in millimetres, a class map, instance masks, joints, a clean
image); :mod:`painter.codecs` paints it, the model paints the query's target half from the canvas (prompt above,
query below, each resized to the model's ``W x W`` half as the official inference does), and the codec reads the
painting back at the query's size. COCO panoptic takes two passes, one per painted half (semantic, instance).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from painter.codecs import CODECS, get_codec
from vision.data.image_loader import read_rgb

__all__ = ["TASKS", "TaskResult", "load_rgb", "paint", "run_task"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


@dataclass
class TaskResult:
    """``painting``: the model's RGB answer at the query's size (uint8; a (semantic, instance) pair for panoptic);
    ``output``: the decoded label (depth in metres, class map, (segment map, segments), joints, clean image)."""

    painting: np.ndarray | tuple[np.ndarray, np.ndarray]
    output: Any


def load_rgb(image: str | os.PathLike | Image.Image | np.ndarray, what: str = "image") -> np.ndarray:
    """``(H, W, 3)`` uint8 from a path, PIL image or array; unreadable or oddly shaped input raises ValueError."""
    if isinstance(image, (str, os.PathLike, Image.Image)):
        image = read_rgb(image, what)
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) == 0:
        raise ValueError(f"{what} must be an (H, W, 3) RGB image, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {array.dtype}")
    return np.ascontiguousarray(array[..., :3])


def _to_model(rgb: np.ndarray, size: int, resample: Image.Resampling) -> torch.Tensor:
    """uint8 (H, W, 3) -> normalised (3, size, size)."""
    x = np.asarray(Image.fromarray(rgb).resize((size, size), resample)) / 255.0
    return torch.from_numpy(((x - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)).float()


@torch.no_grad()
def paint(
    model: nn.Module, image: np.ndarray, prompt_image: np.ndarray, prompt_target: np.ndarray, nearest: bool = False
) -> np.ndarray:
    """The model's painting of ``image``'s target, given a painted prompt pair; uint8 ``(H, W, 3)`` at its size.

    ``nearest`` resizes the prompt target with nearest neighbours (colour-coded targets) instead of bicubic.
    """
    image = load_rgb(image, "query image")
    prompt_image = load_rgb(prompt_image, "prompt image")
    prompt_target = load_rgb(prompt_target, "prompt target")
    if prompt_image.shape != prompt_target.shape:
        raise ValueError(
            f"the prompt image is {prompt_image.shape[1]}x{prompt_image.shape[0]} but its target is "
            f"{prompt_target.shape[1]}x{prompt_target.shape[0]}; they must be the same size"
        )
    size = model.img_size[1]
    tgt_filter = Image.NEAREST if nearest else Image.BICUBIC
    imgs = torch.cat([_to_model(prompt_image, size, Image.BICUBIC), _to_model(image, size, Image.BICUBIC)], dim=1)
    prompt = _to_model(prompt_target, size, tgt_filter)
    tgts = torch.cat([prompt, prompt], dim=1)  # the query half is masked; the official code repeats the prompt
    param = next(model.parameters())
    imgs, tgts = imgs[None].to(param.device, param.dtype), tgts[None].to(param.device, param.dtype)
    hp, wp = model.grid(imgs.shape[2], imgs.shape[3])
    mask = torch.zeros(1, hp * wp, dtype=torch.bool, device=imgs.device)
    mask[:, hp * wp // 2 :] = True
    out = model.forward_decoder(model.forward_encoder(imgs, tgts, mask), query_only=True)[0].float()  # (3, W, W)
    mean, std = out.new_tensor(IMAGENET_MEAN)[:, None, None], out.new_tensor(IMAGENET_STD)[:, None, None]
    rgb = ((out * std + mean) * 255).clamp(0, 255)
    h, w = image.shape[:2]
    rgb = F.interpolate(rgb[None], size=(h, w), mode="bilinear", align_corners=False)[0]  # as the official code
    return rgb.round().byte().permute(1, 2, 0).cpu().numpy()


def run_task(model: nn.Module, task: str, image: Any, prompt_image: Any, prompt_label: Any) -> TaskResult:
    """Paint and decode one of the seven tasks (see the module docstring and :data:`painter.codecs.CODECS`).

    ``prompt_label`` is what the task's codec encodes: depth in mm (depth), a class map (semantic), a
    ``(category map, instance masks)`` pair (panoptic), ``(joints, (H, W))`` (keypoints), an RGB image (low-level).
    """
    codec = get_codec(task)
    if task == "panoptic":
        sem_target, inst_target = codec.encode(prompt_label)
        sem = paint(model, image, prompt_image, sem_target, nearest=True)
        inst = paint(model, image, prompt_image, inst_target, nearest=True)
        return TaskResult((sem, inst), codec.decode((sem, inst)))
    target = codec.encode(prompt_label)
    painting = paint(model, image, prompt_image, target, nearest=task in ("semantic", "keypoints"))
    return TaskResult(painting, codec.decode(painting))


TASKS = tuple(CODECS)
