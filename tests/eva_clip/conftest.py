"""Small EVA-CLIP models and the V4 fixture, shared by the EVA-CLIP tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import vision


def tiny_clip(**overrides) -> torch.nn.Module:
    """A two-block EVA02-CLIP-B/16 layout (RoPE, sub-LN, SwiGLU) small enough for fast tests."""
    cfg = dict(
        embed_dim=32, vision_cfg=dict(embed_dim=64, depth=2, num_heads=2), text_cfg=dict(width=32, heads=2, layers=2)
    )
    cfg.update(overrides)
    return vision.create_model("eva02_clip_base_patch16_224", **cfg)


@pytest.fixture(scope="session")
def v4(fixtures_dir: Path) -> dict:
    """The official EVA-CLIP fixture: state dict, inputs, outputs, manifest."""
    from safetensors import safe_open

    with safe_open(str(fixtures_dir / "V4_evaclip_b16_reduced.safetensors"), framework="pt") as f:
        manifest = json.loads(f.metadata()["manifest"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return dict(
        manifest=manifest,
        state_dict={k: tensors["state_dict." + k] for k in manifest["state_dict_keys_in_order"]},
        inputs={k[6:]: v for k, v in tensors.items() if k.startswith("input.")},
        outputs={k[7:]: v for k, v in tensors.items() if k.startswith("output.")},
    )


@pytest.fixture(scope="session")
def v4_model(v4: dict) -> torch.nn.Module:
    """Our model built to the V4 config and loaded (strict) from the official state dict."""
    model = vision.create_model(
        "eva02_clip_base_patch16_224",
        embed_dim=64,
        vision_cfg=dict(embed_dim=128, depth=2, num_heads=2),
        text_cfg=dict(width=16, heads=2, layers=2),
    ).eval()
    vision.load_checkpoint(model, v4["state_dict"])
    return model


@pytest.fixture(scope="session")
def make_clip():
    """Factory for :func:`tiny_clip` (seeded, eval mode)."""

    def make(seed: int = 0, **overrides) -> torch.nn.Module:
        torch.manual_seed(seed)
        return tiny_clip(**overrides).eval()

    return make
