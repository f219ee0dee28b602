"""Fixtures for vid2vid-zero: tiny random Stable Diffusion components, a saved model folder, one thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="package", autouse=True)
def one_thread():
    """Tiny convolutions run ~20x faster on one thread than on an oversubscribed shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="package")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A diffusers-format Stable Diffusion folder with tiny random components."""
    from vid2vid_zero.tiny import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny_sd") / "model")


@pytest.fixture(scope="package")
def pipe(tiny_model_dir):
    from vid2vid_zero.pipeline import Vid2VidZeroPipeline

    return Vid2VidZeroPipeline.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="package")
def clips_dir(data_dir) -> Path:
    path = data_dir / "video" / "vid2vid_zero"
    if not path.is_dir():
        pytest.skip(f"vid2vid-zero sample clips are absent ({path})")
    return path
