"""Run one edit config end to end: read the clip, invert it (or reuse the cache), edit per prompt, write videos."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .cache import INVERSION_FIELDS, InversionCache, as_device, inversion_key, model_fingerprint
from .config import EditConfig
from .pipeline import Vid2VidZeroPipeline
from .video_io import read_frames, side_by_side, write_gif, write_mp4


@dataclass
class EditResult:
    """Frames in [0, 1] (F, 3, H, W), the written files, whether the inversion came from the cache, stage seconds."""

    source: torch.Tensor
    edits: dict[str, torch.Tensor]
    files: list[Path]
    cached: bool
    seconds: dict[str, float] = field(default_factory=dict)


class TqdmProgress:
    """One tqdm bar per stage, for ``tools/edit_video.py``."""

    def __init__(self):
        self.bars = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self.bars[stage]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:80] or "edit"


def load_pipeline(cfg: EditConfig) -> Vid2VidZeroPipeline:
    return Vid2VidZeroPipeline.from_pretrained(
        cfg.model_path,
        device=cfg.device,
        dtype=cfg.dtype,
        dense_block_idx=cfg.dense_block_idx if cfg.use_dense else None,
        use_cross_frame=cfg.use_cross_frame,
        chunk_frames=cfg.dense_chunk_frames,
    )


def check_inputs(cfg: EditConfig, pipe: Vid2VidZeroPipeline) -> torch.Tensor:
    """Every check that can fail, before any diffusion step: prompts, size, and the clip (returned as frames)."""
    pipe.check_prompts([cfg.source_prompt, *cfg.prompts])
    pipe.check_size(cfg.height, cfg.width)
    return read_frames(cfg.video_path, cfg.num_frames, cfg.start, cfg.stride, (cfg.height, cfg.width), cfg.resize)


def edit_clip(
    cfg: EditConfig, pipe: Vid2VidZeroPipeline | None = None, progress=None, write: bool = True
) -> EditResult:
    """Edit ``cfg.video_path`` towards every prompt in ``cfg.prompts``; writes ``<prompt>.mp4/.gif`` per edit and a
    side-by-side ``grid.mp4/.gif`` (source first) into ``cfg.output_dir`` when ``write``."""
    pipe = pipe or load_pipeline(cfg)
    frames = check_inputs(cfg, pipe)
    seconds = {}
    start = time.perf_counter()

    def invert():
        latents = pipe.encode_video(frames)
        return pipe.invert(
            latents,
            cfg.source_prompt,
            num_steps=cfg.num_steps,
            guidance_scale=cfg.guidance_scale,
            use_null_inv=cfg.use_null_inv,
            null_inner_steps=cfg.null_inner_steps,
            null_base_lr=cfg.null_base_lr,
            null_early_stop_eps=cfg.null_early_stop_eps,
            progress=progress,
        )

    cached = False
    if cfg.cache_dir:
        cache = InversionCache(cfg.cache_dir)
        settings = {name: getattr(cfg, name) for name in INVERSION_FIELDS}
        key = inversion_key(cfg.video_path, settings, model_fingerprint(pipe))
        inversion, cached = cache.get_or_invert(key, invert)
        inversion = as_device(inversion, pipe.device, pipe.dtype)
    else:
        inversion = invert()
    source_pass = pipe.new_source_pass(
        inversion, cfg.source_prompt, cfg.num_steps, cfg.guidance_scale, cfg.null_uncond_ratio
    )
    # the attention layout shapes the source's latents as well
    source_key = {**source_pass.settings, "use_cross_frame": cfg.use_cross_frame}
    source_key["dense_block_idx"] = cfg.dense_block_idx if cfg.use_dense else None
    if cfg.cache_dir:
        source_pass.latents = cache.load_source_latents(key, source_key, pipe.device, pipe.dtype) or source_pass.latents
    known = len(source_pass.latents)
    seconds["inversion"] = time.perf_counter() - start

    edits = {}
    for prompt in cfg.prompts:
        start = time.perf_counter()
        edits[prompt] = pipe.edit(
            inversion,
            cfg.source_prompt,
            prompt,
            num_steps=cfg.num_steps,
            guidance_scale=cfg.guidance_scale,
            null_uncond_ratio=cfg.null_uncond_ratio,
            cross_replace_steps=cfg.cross_replace_steps,
            self_replace_steps=cfg.self_replace_steps,
            reweight=cfg.reweight or None,
            official_quirks=cfg.official_quirks,
            source_pass=source_pass,
            progress=progress,
        )
        seconds[f"edit: {prompt}"] = time.perf_counter() - start
    if cfg.cache_dir and len(source_pass.latents) > known:
        cache.save_source_latents(key, source_key, source_pass.latents)

    files = []
    if write:
        out = Path(cfg.output_dir)
        for prompt, video in edits.items():
            files += [
                write_mp4(video, out / f"{slug(prompt)}.mp4", cfg.fps),
                write_gif(video, out / f"{slug(prompt)}.gif", cfg.fps),
            ]
        grid = side_by_side([frames, *edits.values()])
        files += [write_mp4(grid, out / "grid.mp4", cfg.fps), write_gif(grid, out / "grid.gif", cfg.fps)]
    return EditResult(source=frames, edits=edits, files=files, cached=cached, seconds=seconds)
