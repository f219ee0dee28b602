"""One edit's settings: the clip, the prompts, sampling, diffusion and null-text options (the official YAML fields)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESIZE_MODES = ("resize", "crop")
DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class EditConfig:
    """Settings for editing one clip; defaults follow the official ``configs/*.yaml`` unless noted.

    ``resize``: ``"resize"`` stretches frames to ``height x width`` as the official reader does; ``"crop"`` keeps the
    aspect ratio with a centre crop. ``official_quirks=True`` reproduces two official bugs (self-attention replacement
    never fires; the refine edit gets ``self_replace_steps`` as its cross replacement fraction).
    ``dense_chunk_frames`` bounds memory of the dense cross-frame layers (query frames per attention call).
    """

    model_path: str
    video_path: str
    source_prompt: str
    prompts: list[str]
    output_dir: str = "work_dirs/vid2vid_zero"
    num_frames: int = 8
    start: int = 0
    stride: int = 1
    height: int = 512
    width: int = 512
    resize: str = "resize"
    num_steps: int = 50
    guidance_scale: float = 7.5
    use_null_inv: bool = True
    null_inner_steps: int = 1
    null_base_lr: float = 1e-2
    null_early_stop_eps: float = 1e-5
    null_uncond_ratio: float = -0.5
    cross_replace_steps: float = 0.8
    self_replace_steps: float = 0.4
    reweight: dict[str, float] = field(default_factory=dict)
    official_quirks: bool = False
    use_cross_frame: bool = True
    use_dense: bool = True
    dense_block_idx: int = 0
    dense_chunk_frames: int | None = 4
    fps: int = 8
    device: str = "cpu"
    dtype: str = "float32"
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.prompts, str):
            self.prompts = [self.prompts]
        self.prompts = list(self.prompts)
        if not self.prompts:
            raise ValueError("prompts is empty: give at least one target prompt to edit towards")
        if self.num_frames < 1 or self.stride < 1 or self.start < 0:
            raise ValueError(
                f"frame sampling needs num_frames >= 1, stride >= 1, start >= 0; got num_frames={self.num_frames}, "
                f"stride={self.stride}, start={self.start}"
            )
        if self.height % 8 or self.width % 8 or self.height <= 0 or self.width <= 0:
            raise ValueError(f"height and width must be positive multiples of 8, got {self.height}x{self.width}")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {self.resize!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        for name in ("cross_replace_steps", "self_replace_steps"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a fraction of the steps in [0, 1], got {getattr(self, name)}")
        if not -1.0 <= self.null_uncond_ratio <= 1.0:
            raise ValueError(f"null_uncond_ratio must lie in [-1, 1], got {self.null_uncond_ratio}")
        if self.dense_chunk_frames is not None and self.dense_chunk_frames < 1:
            raise ValueError(f"dense_chunk_frames must be >= 1 or None, got {self.dense_chunk_frames}")


def load_edit_config(path: str | Path, cfg_options: list[str] | dict[str, Any] | None = None) -> EditConfig:
    """Read an edit config (``.yaml`` or ``.py``, through :func:`vision.config.load_config`, so ``--cfg-options``
    overrides work); a relative ``video_path`` / ``model_path`` that exists beside the config is resolved against it.

    Unknown keys raise, so a typo never silently falls back to a default.
    """
    from vision.config import load_config

    path = Path(path)
    raw = load_config(path, cfg_options).to_dict()
    known = {f.name for f in dataclasses.fields(EditConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"unknown keys in {path}: {unknown}; known keys are {sorted(known)}")
    for key in ("video_path", "model_path"):
        if raw.get(key) and not Path(raw[key]).is_absolute() and (path.parent / raw[key]).exists():
            raw[key] = str(path.parent / raw[key])
    return EditConfig(**raw)
