"""Video object segmentation with SegGPT: propagate a first-frame mask through a clip.

As the official video mode, every frame is segmented with the first frame and its mask as a prompt, plus the last
``num_context`` frames with the masks predicted for them (the official ``--num-frames``, 0 by default there), all
batched through the feature ensemble. The prompts are kept as model-size tensors, so no frame is preprocessed twice.
Frames are read with PyAV; ``backend='decord'`` uses decord when it is installed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from fractions import Fraction

import numpy as np
import torch
import torch.nn as nn

from seggpt.inference import (
    ImageLike,
    PreparedPrompts,
    SegmentResult,
    decode_painting,
    encode_target,
    finish,
    load_image,
    make_result,
    num_classes_of,
    paint_query,
    prepare_prompts,
    prepare_query,
    target_from_labels,
    to_label_map,
)

__all__ = ["propagate", "read_frames", "segment_video", "video_fps", "write_video"]


def _check_path(path: str | os.PathLike) -> str:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video not found: {os.fspath(path)}")
    return os.fspath(path)


def read_frames(path: str | os.PathLike, max_frames: int | None = None, backend: str = "pyav") -> Iterator[np.ndarray]:
    """Decoded RGB frames ``(H, W, 3)`` uint8, in order; at most ``max_frames``."""
    path = _check_path(path)
    if backend == "decord":
        import decord  # optional

        reader = decord.VideoReader(path)
        for i in range(len(reader) if max_frames is None else min(len(reader), max_frames)):
            yield reader[i].asnumpy()
        return
    if backend != "pyav":
        raise ValueError(f"backend must be 'pyav' or 'decord', got {backend!r}")
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as err:
        raise ValueError(f"{path} is not a readable video: {err}") from err
    with container:
        for i, frame in enumerate(container.decode(video=0)):
            if max_frames is not None and i >= max_frames:
                break
            yield frame.to_ndarray(format="rgb24")


def video_fps(path: str | os.PathLike) -> float:
    """Average frame rate of the first video stream (25 when the file does not say)."""
    import av

    with av.open(_check_path(path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else 25.0


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 25.0) -> None:
    """Write RGB frames to an H.264 (or MPEG-4 if unavailable) file with PyAV; sides are cropped to even sizes."""
    import av

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError("no frames to write")
    h, w = first.shape[0] // 2 * 2, first.shape[1] // 2 * 2
    with av.open(os.fspath(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        except (av.error.FFmpegError, ValueError):
            stream = container.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for frame in (first, *frames):
            packet = stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="rgb24"))
            container.mux(packet)
        container.mux(stream.encode())


def propagate(
    model: nn.Module,
    frames: Iterable[ImageLike],
    first_mask: ImageLike,
    first_frame: ImageLike | None = None,
    num_context: int = 0,
    mode: str = "binary",
    seg_type: str | None = None,
    alpha: float = 0.5,
) -> Iterator[SegmentResult]:
    """One :class:`~seggpt.inference.SegmentResult` per frame, in order.

    ``first_mask`` belongs to ``first_frame``; without ``first_frame`` it belongs to the clip's first frame, which
    is then returned with the given mask (as the official code, which uses that frame only as the prompt).
    """
    if num_context < 0:
        raise ValueError(f"num_context must be >= 0, got {num_context}")
    frames = iter(frames)
    own_first = first_frame is None
    if own_first:
        first_frame = next(frames, None)
        if first_frame is None:
            raise ValueError("the clip has no frames")
    size = model.img_size[1]
    first_image = load_image(first_frame, "first frame")
    base = prepare_prompts([(first_image, first_mask)], size, mode)
    if own_first:
        labels = to_label_map(first_mask, mode, "first-frame mask")
        yield make_result(first_image, labels, encode_target(labels, mode, num_classes_of(base)), base, alpha)
    context: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=num_context)
    for frame in frames:
        image = load_image(frame, "frame")
        query = prepare_query(image, size)  # (3, W, W)
        prompts = PreparedPrompts(
            torch.cat([base.images, *[c[0][None] for c in context]]),
            torch.cat([base.targets, *[c[1][None] for c in context]]),
            base.mode,
            base.classes,
        )
        painting = paint_query(model, query, prompts, seg_type)  # (W, W, 3)
        if num_context:
            labels = decode_painting(painting, mode, num_classes_of(base))  # (W, W) at model size
            context.append((query, target_from_labels(labels, base)))
        yield finish(image, painting, base, alpha)


def segment_video(
    model: nn.Module,
    path: str | os.PathLike,
    first_mask: ImageLike,
    out_path: str | os.PathLike | None = None,
    num_context: int = 0,
    max_frames: int | None = None,
    mode: str = "binary",
    backend: str = "pyav",
) -> list[np.ndarray]:
    """Masks of every frame of the video at ``path``; with ``out_path`` also writes the overlay video there."""
    results = list(propagate(model, read_frames(path, max_frames, backend), first_mask, None, num_context, mode))
    if out_path is not None:
        write_video(out_path, (r.overlay for r in results), video_fps(path))
    return [r.mask for r in results]
