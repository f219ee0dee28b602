"""Per-clip cache: a second edit of the same clip (new prompts) skips DDIM inversion and null-text tuning, and the
source branch of the editing pass wherever it is already known.

The inversion key covers everything the inversion depends on: the video bytes, frame sampling and resizing, the source
prompt, the inversion settings and a fingerprint of the model weights and dtype. A source pass is stored beside its
inversion under a sub-key of the editing settings it depends on. Entries are safetensors files written atomically, so
an interrupted run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from vision.checkpoint import load_state_dict, save_state_dict

from .pipeline import Inversion

INVERSION_FIELDS = (
    "source_prompt",
    "num_frames",
    "start",
    "stride",
    "height",
    "width",
    "resize",
    "num_steps",
    "guidance_scale",
    "use_null_inv",
    "null_inner_steps",
    "null_base_lr",
    "null_early_stop_eps",
)


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(pipeline) -> str:
    """Cheap identity of the weights: configs plus the bytes of a few parameters of each network, and the dtype."""
    digest = hashlib.sha256(str(pipeline.dtype).encode())
    for module in (pipeline.unet, pipeline.vae, pipeline.text_encoder):
        config = module.config.to_dict() if hasattr(module.config, "to_dict") else dict(module.config)
        digest.update(json.dumps(config, sort_keys=True, default=str).encode())
        params = list(module.parameters())
        for param in (params[0], params[len(params) // 2], params[-1]):
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def inversion_key(video_path: str | Path, settings: dict[str, Any], fingerprint: str) -> str:
    """Hex key of one inversion; ``settings`` must hold every name in :data:`INVERSION_FIELDS`."""
    missing = [name for name in INVERSION_FIELDS if name not in settings]
    if missing:
        raise KeyError(f"inversion settings lack {missing}")
    payload = {name: settings[name] for name in INVERSION_FIELDS}
    payload.update(video=file_digest(video_path), model=fingerprint)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


class InversionCache:
    """Folder of ``<key>.safetensors`` entries holding ``latents``, ``noise`` and (optionally) ``null_embeddings``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.safetensors"

    def load(self, key: str) -> Inversion | None:
        path = self.path(key)
        if not path.is_file():
            return None
        tensors = load_state_dict(path)
        return Inversion(
            latents=tensors["latents"], noise=tensors["noise"], null_embeddings=tensors.get("null_embeddings")
        )

    def save(self, key: str, inversion: Inversion) -> Path:
        tensors = {"latents": inversion.latents, "noise": inversion.noise}
        if inversion.null_embeddings is not None:
            tensors["null_embeddings"] = inversion.null_embeddings
        tensors = {k: v.detach().cpu() for k, v in tensors.items()}
        save_state_dict(tensors, self.path(key), metadata={"kind": "vid2vid_zero inversion"})
        return self.path(key)

    def source_path(self, key: str, settings: dict[str, Any]) -> Path:
        """Where the source latents of inversion ``key`` under ``settings`` (JSON-serialisable) live."""
        sub = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        return self.root / f"{key}.source-{sub}.safetensors"

    def load_source_latents(self, key: str, settings: dict[str, Any], device, dtype) -> list[torch.Tensor] | None:
        """A :class:`~vid2vid_zero.pipeline.SourcePass`'s latents, or ``None`` when none are stored."""
        path = self.source_path(key, settings)
        if not path.is_file():
            return None
        return list(load_state_dict(path)["latents"].to(device, dtype).unbind(0))

    def save_source_latents(self, key: str, settings: dict[str, Any], latents: list[torch.Tensor]) -> Path:
        path = self.source_path(key, settings)
        stacked = torch.stack(latents).cpu()  # (steps known, F, C, h, w)
        save_state_dict({"latents": stacked}, path, metadata={"kind": "vid2vid_zero source pass"})
        return path

    def get_or_invert(self, key: str, invert) -> tuple[Inversion, bool]:
        """The cached inversion, or ``invert()`` stored under ``key``; returns ``(inversion, was_cached)``."""
        cached = self.load(key)
        if cached is not None:
            return cached, True
        inversion = invert()
        self.save(key, inversion)
        return inversion, False


def as_device(inversion: Inversion, device: torch.device, dtype: torch.dtype) -> Inversion:
    """Move a cached inversion to the pipeline's device and dtype (null embeddings stay float32 until used)."""
    null = inversion.null_embeddings
    return Inversion(
        latents=inversion.latents.to(device, dtype),
        noise=inversion.noise.to(device, dtype),
        null_embeddings=None if null is None else null.to(device),
    )
