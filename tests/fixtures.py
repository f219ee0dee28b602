"""Reading the official golden fixtures (see ../shared/fixtures/official/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class Fixture:
    manifest: dict
    state_dict: dict[str, torch.Tensor]
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]


def load_fixture(path: Path) -> Fixture:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        manifest = json.loads(f.metadata()["manifest"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state_dict = {k: tensors["state_dict." + k] for k in manifest["state_dict_keys_in_order"]}
    inputs = {k[len("input.") :]: v for k, v in tensors.items() if k.startswith("input.")}
    outputs = {k[len("output.") :]: v for k, v in tensors.items() if k.startswith("output.")}
    return Fixture(manifest, state_dict, inputs, outputs)
