"""SegGPT in the browser: segment a query from example pairs, or propagate a first-frame mask through a video.

    python -m seggpt.demo --checkpoint PATH/seggpt_vit_large.pth [--port 7860] [--host 127.0.0.1]

Image tab: a query image and one to three prompt pairs (image + mask; the first mask can also be drawn on its
image), binary or semantic (class-index masks) mode; out come the mask, the overlay and the raw mask as a PNG
download (0/255 for binary, class indices for semantic). Video tab: a clip and the mask of its first frame; out
comes the overlay video. Without ``--checkpoint`` a tiny random model runs (a warning says so on the page): the
demo works end to end but its masks mean nothing. Bad input (unreadable files, mask and image of different sizes,
an empty mask) is reported on the page, never a crash.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch.nn as nn
from PIL import Image

from vision.demo import add_demo_arguments, load_demo_model, serve_demo

__all__ = ["build_demo", "load_model", "main", "run_image", "run_video"]

LARGE = "seggpt_vit_large_patch16_input896x448"
TINY = "seggpt_vit_test_patch16_input128x64"
RANDOM_WARNING = (
    "**Warning: no checkpoint given - this is a tiny model with random weights.** The demo runs end to end, but "
    "its masks are meaningless. Start it with `--checkpoint PATH` for real results."
)
MAX_PROMPTS = 3


def load_model(checkpoint: str | os.PathLike | None, name: str = LARGE) -> tuple[nn.Module, str | None]:
    """The model to serve and the warning to show (``None`` with a checkpoint)."""
    return load_demo_model(checkpoint, name, TINY, RANDOM_WARNING)


def _drawn_mask(editor: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(background image, mask of everything drawn on it) from an ImageEditor value, or (None, None)."""
    if not isinstance(editor, dict) or editor.get("background") is None:
        return None, None
    background = np.asarray(editor["background"])
    mask = np.zeros(background.shape[:2], bool)
    for layer in editor.get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[:2] == mask.shape:
            mask |= (layer[..., 3] if layer.shape[2] == 4 else layer.max(-1)) > 0
    return background[..., :3], mask


def _mask_file(mask: np.ndarray, mode: str) -> str:
    """Write the raw mask as a PNG (0/255 binary; class indices, 8 or 16 bit, semantic) and return its path."""
    if mode == "binary":
        image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    elif mask.max(initial=0) < 256:
        image = Image.fromarray(mask.astype(np.uint8), mode="L")
    else:
        image = Image.fromarray(mask.astype(np.uint16))
    fd, path = tempfile.mkstemp(prefix="seggpt_mask_", suffix=".png")
    os.close(fd)
    image.save(path)
    return path


def run_image(
    model: nn.Module,
    query: Any,
    prompts: Sequence[tuple[Any, Any]],
    drawn: Any = None,
    mode: str = "binary",
) -> tuple[np.ndarray, np.ndarray, str]:
    """(mask image, overlay, raw mask PNG path). ``prompts`` are (image, mask) slots, empty ones skipped; a drawn
    mask fills the first slot when it has no uploaded mask. Raises ValueError with a readable message."""
    from seggpt.inference import load_prompt_pair, palette, segment

    if query is None:
        raise ValueError("upload a query image to segment")
    pairs = []
    background, drawn_mask = _drawn_mask(drawn)
    for i, (image, mask) in enumerate(prompts):
        if i == 0 and mask is None and drawn_mask is not None:
            if not drawn_mask.any():
                raise ValueError("prompt 1: nothing is drawn on the prompt image; draw the object or upload a mask")
            image, mask = background, drawn_mask
        if image is None and mask is None:
            continue
        if image is None or mask is None:
            raise ValueError(f"prompt {i + 1}: give both the image and its mask")
        # checked here so messages number the prompts as the page does (empty slots are skipped)
        pairs.append(load_prompt_pair(image, mask, mode, f"prompt {i + 1}"))
    if not pairs:
        raise ValueError("give at least one prompt: an image and its mask (uploaded or drawn)")
    result = segment(model, query, pairs, mode=mode)
    if mode == "binary":
        shown = np.repeat((result.mask.astype(np.uint8) * 255)[..., None], 3, axis=2)
    else:
        shown = palette(int(result.mask.max(initial=0)))[result.mask]
    return shown, result.overlay, _mask_file(result.mask, mode)


def run_video(model: nn.Module, video: Any, first_mask: Any, max_frames: int = 16, num_context: int = 0) -> str:
    """Path of an mp4 with the propagated mask overlaid on every frame. Raises ValueError on bad input."""
    from seggpt.video import segment_video

    if video is None or first_mask is None:
        raise ValueError("upload a video and the mask of its first frame")
    fd, out = tempfile.mkstemp(prefix="seggpt_video_", suffix=".mp4")
    os.close(fd)
    try:
        segment_video(model, video, first_mask, out_path=out, num_context=num_context, max_frames=int(max_frames))
    except (OSError, RuntimeError) as err:  # PyAV reports undecodable files as OSError subclasses
        raise ValueError(f"could not read the video: {err}") from err
    return out


def build_demo(model: nn.Module, warning: str | None = None) -> Any:
    """The Gradio Blocks (gradio is imported here, not at module import)."""
    import gradio as gr

    def on_image(query, drawn, mode, *slots):
        prompts = [(slots[2 * i], slots[2 * i + 1]) for i in range(MAX_PROMPTS)]
        try:
            shown, over, path = run_image(model, query, prompts, drawn, mode)
        except (ValueError, FileNotFoundError) as err:
            return None, None, None, f"**Error:** {err}"
        return shown, over, path, "Done."

    def on_video(video, first_mask, max_frames, num_context):
        try:
            out = run_video(model, video, first_mask, max_frames, num_context)
        except (ValueError, FileNotFoundError) as err:
            return None, f"**Error:** {err}"
        return out, "Done."

    with gr.Blocks(title="SegGPT") as demo:
        gr.Markdown("# SegGPT: segment everything in context")
        if warning:
            gr.Markdown(warning, elem_id="model-warning")
        with gr.Tab("Image"):
            with gr.Row():
                query = gr.Image(label="Query image", type="filepath", elem_id="query")
                mode = gr.Radio(["binary", "semantic"], value="binary", label="Mode", elem_id="mode")
            slots = []
            for i in range(MAX_PROMPTS):
                with gr.Row(visible=True):
                    slots.append(gr.Image(label=f"Prompt {i + 1} image", type="filepath", elem_id=f"prompt{i + 1}"))
                    slots.append(gr.Image(label=f"Prompt {i + 1} mask", type="filepath", elem_id=f"prompt{i + 1}-mask"))
            with gr.Accordion("Or draw the first prompt's mask", open=False):
                drawn = gr.ImageEditor(label="Draw on prompt 1", type="numpy", elem_id="drawn")
            run = gr.Button("Segment", variant="primary", elem_id="segment")
            status = gr.Markdown("", elem_id="status")
            with gr.Row():
                mask_out = gr.Image(label="Mask", type="numpy", elem_id="mask-out")
                overlay_out = gr.Image(label="Overlay", type="numpy", elem_id="overlay-out")
            download = gr.File(label="Raw mask (PNG)", elem_id="mask-file")
            run.click(
                on_image, [query, drawn, mode, *slots], [mask_out, overlay_out, download, status], api_name="segment"
            )
        with gr.Tab("Video"):
            with gr.Row():
                video = gr.Video(label="Video", elem_id="video")
                first_mask = gr.Image(label="First-frame mask", type="filepath", elem_id="first-mask")
            with gr.Row():
                max_frames = gr.Slider(2, 120, value=16, step=1, label="Frames to process")
                num_context = gr.Slider(0, 4, value=0, step=1, label="Previous frames used as extra prompts")
            run_v = gr.Button("Propagate", variant="primary", elem_id="propagate")
            status_v = gr.Markdown("", elem_id="video-status")
            video_out = gr.Video(label="Overlay video", elem_id="video-out")
            run_v.click(
                on_video, [video, first_mask, max_frames, num_context], [video_out, status_v], api_name="propagate"
            )
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_demo_arguments(parser, LARGE, "SegGPT weights (official or transformers layout); omit for a demo model")
    return serve_demo(parser.parse_args(argv), load_model, build_demo)


if __name__ == "__main__":
    sys.exit(main())
