"""Gradio demo: upload a clip, give source and target prompts, see the edit beside the source.

    python -m vid2vid_zero.demo --model-path PATH/TO/stable-diffusion-v1-5 [--device cuda --dtype float16]

Runs (slowly) on CPU with any diffusers-format Stable Diffusion folder. Inversions are cached per clip, so trying a
second target prompt on the same clip only runs the editing passes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from .config import EditConfig


class DemoEditor:
    """The demo's callback, free of gradio so it can be tested and reused: one loaded pipeline, one cache folder."""

    def __init__(self, pipe, model_path: str, work_dir: str | Path, device: str = "cpu", dtype: str = "float32"):
        self.pipe, self.model_path = pipe, model_path
        self.work_dir = Path(work_dir)
        self.device, self.dtype = device, dtype

    def __call__(
        self,
        video_path: str | None,
        source_prompt: str,
        target_prompt: str,
        num_frames: int = 8,
        stride: int = 1,
        size: int = 512,
        num_steps: int = 50,
        guidance_scale: float = 7.5,
    ) -> str:
        """Edit the clip; returns the path of the side-by-side mp4 (source | edit)."""
        from .runner import edit_clip, slug

        if not video_path:
            raise ValueError("upload a video first")
        if not source_prompt.strip() or not target_prompt.strip():
            raise ValueError("give both a source prompt (what the clip shows) and a target prompt")
        cfg = EditConfig(
            model_path=self.model_path,
            video_path=str(video_path),
            source_prompt=source_prompt.strip(),
            prompts=[target_prompt.strip()],
            output_dir=str(self.work_dir / "outputs" / slug(target_prompt)),
            num_frames=int(num_frames),
            stride=int(stride),
            height=int(size),
            width=int(size),
            num_steps=int(num_steps),
            guidance_scale=float(guidance_scale),
            cache_dir=str(self.work_dir / "cache"),
            device=self.device,
            dtype=self.dtype,
        )
        result = edit_clip(cfg, self.pipe)
        return str(next(p for p in result.files if p.name == "grid.mp4"))


def build_demo(editor: DemoEditor):
    """The Gradio Blocks app around ``editor``."""
    import gradio as gr

    def run(*inputs):
        try:
            return editor(*inputs)
        except (ValueError, FileNotFoundError) as err:
            raise gr.Error(str(err)) from err

    with gr.Blocks(title="vid2vid-zero") as demo:
        gr.Markdown(
            "# vid2vid-zero: zero-shot video editing\nSource prompt describes the clip; target prompt the edit."
        )
        with gr.Row():
            video = gr.Video(label="input clip", sources=["upload"])
            output = gr.Video(label="source | edit")
        source = gr.Textbox(label="source prompt", value="a jeep car is moving on the road")
        target = gr.Textbox(label="target prompt", value="a jeep car is moving on the snow")
        with gr.Row():
            frames = gr.Slider(1, 32, value=8, step=1, label="frames")
            stride = gr.Slider(1, 8, value=1, step=1, label="frame stride")
            size = gr.Slider(64, 768, value=512, step=64, label="size")
            steps = gr.Slider(2, 100, value=50, step=1, label="DDIM steps")
            guidance = gr.Slider(1.0, 15.0, value=7.5, step=0.5, label="guidance")
        button = gr.Button("edit", variant="primary")
        button.click(run, [video, source, target, frames, stride, size, steps, guidance], output)
    return demo


def main(argv: list[str] | None = None) -> None:
    import gradio  # noqa: F401  (fail early, before loading a model, when gradio is missing)

    from .pipeline import Vid2VidZeroPipeline

    parser = argparse.ArgumentParser(description="vid2vid-zero Gradio demo")
    parser.add_argument("--model-path", required=True, help="Stable Diffusion folder in diffusers format")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--work-dir", default=None, help="outputs and inversion cache (default: a temporary folder)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true")
    args = parser.parse_args(argv)
    pipe = Vid2VidZeroPipeline.from_pretrained(args.model_path, device=args.device, dtype=args.dtype)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="vid2vid_zero_demo_")
    editor = DemoEditor(pipe, args.model_path, work_dir, args.device, args.dtype)
    build_demo(editor).launch(server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
