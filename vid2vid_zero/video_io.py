"""Video in and out: PyAV frame sampling (start / stride / count), resizing, mp4 and gif writing, side-by-side grids.

Frames travel as float tensors ``(F, 3, H, W)`` in ``[0, 1]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

RESIZE_MODES = ("resize", "crop")


def read_frames(
    path: str | Path,
    num_frames: int,
    start: int = 0,
    stride: int = 1,
    size: tuple[int, int] | None = None,
    resize: str = "resize",
) -> torch.Tensor:
    """Decode frames ``start, start + stride, ...`` (``num_frames`` of them) and resize them to ``size = (H, W)``.

    ``resize="resize"`` stretches to the size (the official reader); ``"crop"`` keeps the aspect ratio and centre
    crops. Raises ``ValueError`` for a file PyAV cannot decode as video and for a clip with too few frames.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    if num_frames < 1 or stride < 1 or start < 0:
        raise ValueError(f"need num_frames >= 1, stride >= 1, start >= 0; got {num_frames}, {stride}, {start}")
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    wanted = range(start, start + stride * num_frames, stride)
    last = wanted[-1]
    frames, decoded = [], 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            for index, frame in enumerate(container.decode(video=0)):
                decoded = index + 1
                if index in wanted:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if index >= last:
                    break
    except av.error.FFmpegError as err:
        raise ValueError(f"{path} is not a readable video file: {err}") from err
    if len(frames) < num_frames:
        raise ValueError(
            f"{path} has {decoded} frames, too few for {num_frames} frames from index {start} with stride {stride} "
            f"(needs index {last})"
        )
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0  # (F, 3, H, W)
    return video if size is None else resize_frames(video, size, resize)


def resize_frames(video: torch.Tensor, size: tuple[int, int], mode: str = "resize") -> torch.Tensor:
    """Resize ``(F, 3, H, W)`` frames to ``size = (H, W)``: plain stretch or aspect-preserving centre crop."""
    height, width = size
    if mode == "crop":
        scale = max(height / video.shape[-2], width / video.shape[-1])
        new_h, new_w = max(height, round(video.shape[-2] * scale)), max(width, round(video.shape[-1] * scale))
        video = F.interpolate(video, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        top, left = (new_h - height) // 2, (new_w - width) // 2
        return video[..., top : top + height, left : left + width].clamp(0, 1)
    if mode != "resize":
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    return F.interpolate(video, size=(height, width), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def _to_uint8(video: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) in [0, 1] -> (F, H, W, 3) uint8."""
    if video.ndim != 4 or video.shape[1] != 3:
        raise ValueError(f"expected frames shaped (F, 3, H, W), got {tuple(video.shape)}")
    return (video.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def write_mp4(video: torch.Tensor, path: str | Path, fps: int = 8) -> Path:
    """Write H.264 mp4 (yuv420p, so any player opens it); odd sizes are padded by one pixel."""
    import av

    frames = _to_uint8(video)
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_gif(video: torch.Tensor, path: str | Path, fps: int = 8) -> Path:
    """Write a looping gif."""
    from PIL import Image

    images = [Image.fromarray(frame) for frame in _to_uint8(video)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def side_by_side(videos: list[torch.Tensor]) -> torch.Tensor:
    """Place clips of equal length and height next to each other: list of (F, 3, H, W_i) -> (F, 3, H, sum W_i)."""
    if not videos:
        raise ValueError("side_by_side needs at least one clip")
    shapes = {(v.shape[0], v.shape[2]) for v in videos}
    if len(shapes) != 1:
        raise ValueError(f"clips differ in frame count or height: {[tuple(v.shape) for v in videos]}")
    return torch.cat([v.detach().float().cpu() for v in videos], dim=-1)
