"""PyAV reading with start/stride/count, resize modes, mp4/gif writing and grids."""

from __future__ import annotations

import av
import pytest
import torch
from PIL import Image

from vid2vid_zero.video_io import read_frames, resize_frames, side_by_side, write_gif, write_mp4


@pytest.fixture(scope="module")
def counting_clip(tmp_path_factory):
    """12 frames of 48x64 whose grey level encodes the frame index (index * 20 / 255)."""
    frames = torch.arange(12).float().mul(20 / 255).view(12, 1, 1, 1).expand(12, 3, 48, 64).clone()
    return write_mp4(frames, tmp_path_factory.mktemp("clip") / "count.mp4", fps=10)


def _index_of(frame: torch.Tensor) -> int:
    return round(frame.mean().item() * 255 / 20)


def test_sampling_by_start_stride_count(counting_clip):
    video = read_frames(counting_clip, num_frames=4, start=1, stride=3)
    assert video.shape == (4, 3, 48, 64)
    assert [_index_of(f) for f in video] == [1, 4, 7, 10]


def test_resize_modes(counting_clip):
    plain = read_frames(counting_clip, 1, size=(32, 32), resize="resize")
    assert plain.shape == (1, 3, 32, 32)
    wide = torch.zeros(1, 3, 40, 80)
    wide[..., :, :20] = 1.0  # a white left quarter
    stretched, cropped = resize_frames(wide, (40, 40), "resize"), resize_frames(wide, (40, 40), "crop")
    assert stretched[..., :, :5].mean() > 0.99  # stretching keeps the white band at the left edge
    assert cropped[..., :, :5].mean() < 0.01  # the centre crop cuts it off
    with pytest.raises(ValueError, match="resize mode"):
        resize_frames(wide, (40, 40), "pad")


def test_bad_inputs_are_named(tmp_path, counting_clip):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match="not a readable video"):
        read_frames(text, 2)
    with pytest.raises(ValueError, match="has 12 frames, too few for 5 frames"):
        read_frames(counting_clip, num_frames=5, start=0, stride=3)
    with pytest.raises(FileNotFoundError, match="video not found"):
        read_frames(tmp_path / "missing.mp4", 2)
    with pytest.raises(ValueError, match="resize must be one of"):
        read_frames(counting_clip, 2, resize="zoom")


def test_mp4_and_gif_are_playable(tmp_path):
    video = torch.rand(5, 3, 30, 42)
    mp4 = write_mp4(video, tmp_path / "a.mp4", fps=8)
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
    assert len(decoded) == 5 and (decoded[0].height, decoded[0].width) == (30, 42)
    gif = write_gif(video, tmp_path / "a.gif", fps=8)
    with Image.open(gif) as image:
        assert image.n_frames == 5 and image.size == (42, 30)


def test_side_by_side():
    a, b = torch.zeros(3, 3, 8, 8), torch.ones(3, 3, 8, 4)
    grid = side_by_side([a, b])
    assert grid.shape == (3, 3, 8, 12) and grid[..., 8:].eq(1).all()
    with pytest.raises(ValueError, match="differ in frame count or height"):
        side_by_side([a, torch.zeros(2, 3, 8, 8)])


def test_reads_the_shared_clips(clips_dir):
    video = read_frames(clips_dir / "horse-running.mp4", num_frames=8, start=0, stride=2, size=(64, 64))
    assert video.shape == (8, 3, 64, 64) and 0.05 < video.mean() < 0.95
    assert not torch.allclose(video[0], video[-1], atol=1e-2)  # a moving clip
