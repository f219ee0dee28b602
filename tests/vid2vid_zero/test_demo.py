"""The demo's callback edits an uploaded clip; the app builds; importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import av
import pytest

from vid2vid_zero.demo import DemoEditor, build_demo


def test_editor_returns_side_by_side_video(pipe, tiny_model_dir, clips_dir, tmp_path):
    editor = DemoEditor(pipe, str(tiny_model_dir), tmp_path)
    args = ("a jeep car is moving on the road", "a jeep car is moving on the snow", 2, 1, 64, 2, 7.5)
    out = editor(str(clips_dir / "jeep-moving.mp4"), *args)
    with av.open(out) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 2 and (frames[0].height, frames[0].width) == (64, 128)
    with pytest.raises(ValueError, match="upload a video first"):
        editor(None, *args)
    with pytest.raises(ValueError, match="source prompt"):
        editor(str(clips_dir / "jeep-moving.mp4"), " ", *args[1:])


def test_app_builds(pipe, tiny_model_dir, tmp_path):
    pytest.importorskip("gradio")
    demo = build_demo(DemoEditor(pipe, str(tiny_model_dir), tmp_path))
    assert type(demo).__name__ == "Blocks"


def test_package_import_is_light():
    code = (
        "import sys, vid2vid_zero, vid2vid_zero.demo, vid2vid_zero.video_io, vid2vid_zero.metrics; "
        "print(sorted(m for m in ('gradio', 'diffusers', 'transformers', 'open_clip') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
