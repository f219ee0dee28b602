"""Painter in the browser: pick a task, see its prompt pair, paint a query and read the answer back.

    python -m painter.demo --checkpoint PATH/painter_vit_large.pth [--port 7860] [--examples ../shared/data]

The prompt pair is an image and its *painted* target (a depth map in grey, a palette-coloured class map ...); the
model paints the query's target and the task's codec decodes it (depth in metres shown with a colour map, classes
re-painted in clean palette colours, panoptic segments, keypoints drawn on the query, restored images as they are).
COCO panoptic takes two painted targets: the semantic one and the instance one. With ``--examples`` pointing at the
project's sample data, depth, denoising, low-light and panoptic come with ready prompt pairs. Without
``--checkpoint`` a tiny random model runs (the page says so): everything works, nothing means anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn as nn
from PIL import Image

from vision.demo import add_demo_arguments, load_demo_model, serve_demo

__all__ = ["build_demo", "example_prompts", "load_model", "main", "run_task_demo", "visualise"]

LARGE = "painter_vit_large_patch16_input896x448"
TINY = "painter_vit_test_patch16_input128x64"
RANDOM_WARNING = (
    "**Warning: no checkpoint given - this is a tiny Painter with random weights.** The demo runs end to end, but "
    "its paintings are meaningless. Start it with `--checkpoint PATH` for real results."
)
TASK_LABELS = {
    "depth": "Depth (NYUv2)",
    "semantic": "Semantic segmentation (ADE20K)",
    "panoptic": "Panoptic segmentation (COCO)",
    "keypoints": "Human keypoints (COCO)",
    "denoise": "Denoising (SIDD)",
    "derain": "Deraining",
    "lowlight": "Low-light enhancement (LOL)",
}
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_model(checkpoint: str | os.PathLike | None, name: str = LARGE) -> tuple[nn.Module, str | None]:
    """The model to serve and the warning to show (``None`` with a checkpoint)."""
    return load_demo_model(checkpoint, name, TINY, RANDOM_WARNING)


def _save(image: np.ndarray, name: str, folder: Path) -> str:
    path = folder / name
    Image.fromarray(image).save(path)
    return str(path)


def example_prompts(data: str | os.PathLike | None) -> dict[str, dict[str, str]]:
    """``{task: {"prompt", "target", "target2"?, "query"}}`` file paths built from the sample data folder, for the
    tasks it covers (painted targets are written to a temporary folder). Missing data gives no examples."""
    from painter.codecs import DepthCodec, InstanceCodec, SemanticCodec

    if data is None or not Path(data).is_dir():
        return {}
    data = Path(data)
    out_dir = Path(tempfile.mkdtemp(prefix="painter_demo_"))
    examples: dict[str, dict[str, str]] = {}
    nyu = data / "painter/depth"
    if (nyu / "nyud2_depth.png").is_file():
        rgb = np.asarray(Image.open(nyu / "nyud2_rgb.png").convert("RGB"))
        depth = np.asarray(Image.open(nyu / "nyud2_depth.png")).astype(np.float64)
        examples["depth"] = {
            "prompt": str(nyu / "nyud2_rgb.png"),
            "target": _save(DepthCodec().encode(depth), "depth_target.png", out_dir),
            "query": _save(np.ascontiguousarray(rgb[:, ::-1]), "depth_query.png", out_dir),  # mirrored frame
        }
    sidd = data / "painter/denoise"
    if (sidd / "sidd_7_noisy.png").is_file():
        examples["denoise"] = {
            "prompt": str(sidd / "sidd_7_noisy.png"),
            "target": str(sidd / "sidd_7_gt.png"),
            "query": str(sidd / "sidd_8_noisy.png"),
        }
    lol = data / "painter/lowlight"
    if (lol / "lol_778_low.png").is_file():
        examples["lowlight"] = {
            "prompt": str(lol / "lol_778_low.png"),
            "target": str(lol / "lol_778_high.png"),
            "query": str(lol / "lol_778_low.png"),
        }
    ann = data / "coco/annotations/instances_val2017.json"
    if ann.is_file():
        from pycocotools.coco import COCO

        coco = COCO(str(ann))
        thing_index = {cat: i + 1 for i, cat in enumerate(sorted(coco.cats))}  # panoptic order: things first
        image_id = 555705
        info = coco.imgs[image_id]
        anns = [a for a in coco.imgToAnns[image_id] if not a["iscrowd"]]
        category = np.zeros((info["height"], info["width"]), np.int64)
        masks = np.stack([coco.annToMask(a) > 0 for a in anns])
        for a, m in zip(anns, masks):
            category[m] = thing_index[a["category_id"]]
        examples["panoptic"] = {
            "prompt": str(data / "coco/val2017" / info["file_name"]),
            "target": _save(SemanticCodec(133, 7).encode(category), "panoptic_semantic.png", out_dir),
            "target2": _save(InstanceCodec().encode(masks), "panoptic_instance.png", out_dir),
            "query": str(data / "coco/val2017/000000443303.jpg"),
        }
    return examples


def visualise(task: str, output: Any, query: np.ndarray) -> np.ndarray:
    """A picture of a decoded output: colour-mapped depth, clean class colours, segments, joints, or the image."""
    if task == "depth":
        import matplotlib

        return (matplotlib.colormaps["turbo"](np.clip(output / 10.0, 0, 1))[..., :3] * 255).astype(np.uint8)
    if task == "semantic":
        from painter.codecs import ADE20K

        return ADE20K.encode(output)
    if task == "panoptic":
        seg, _ = output
        colours = np.random.default_rng(0).integers(40, 256, size=(int(seg.max()) + 1, 3)).astype(np.uint8)
        colours[0] = 0
        return colours[seg]
    if task == "keypoints":
        canvas = query.copy()
        for x, y, score in output:
            if score > 0.1:
                canvas[max(0, int(y) - 2) : int(y) + 3, max(0, int(x) - 2) : int(x) + 3] = (255, 0, 0)
        return canvas
    return np.asarray(output, dtype=np.uint8)


def run_task_demo(
    model: nn.Module, task: str, query: Any, prompt: Any, target: Any, target2: Any = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """(painting, decoded picture, summary). Raises ValueError with a readable message on bad input."""
    from painter.codecs import get_codec
    from painter.inference import load_rgb, paint

    if task not in TASK_LABELS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(TASK_LABELS)}")
    if query is None or prompt is None or target is None:
        raise ValueError("give a query image and a prompt pair (image and painted target)")
    query_rgb = load_rgb(query, "query image")
    coded = task in ("semantic", "keypoints", "panoptic")
    painting = paint(model, query_rgb, prompt, target, nearest=coded)
    codec = get_codec(task)
    if task == "panoptic":
        if target2 is None:
            raise ValueError("panoptic needs a second painted target: the instance colours of the prompt")
        painting2 = paint(model, query_rgb, prompt, target2, nearest=True)
        output = codec.decode((painting, painting2))
        summary = f"{len(output[1])} segments ({sum(s['isthing'] for s in output[1])} things)"
    else:
        output = codec.decode(painting)
        summary = {
            "depth": lambda o: f"depth {o.min():.2f}-{o.max():.2f} m",
            "semantic": lambda o: f"{len(np.unique(o))} classes",
            "keypoints": lambda o: f"{int((o[:, 2] > 0.1).sum())} joints found",
        }.get(task, lambda o: "restored image")(output)
    return painting, visualise(task, output, query_rgb), summary


def build_demo(model: nn.Module, warning: str | None = None, examples: dict[str, dict[str, str]] | None = None) -> Any:
    """The Gradio Blocks (gradio is imported here, not at module import)."""
    import gradio as gr

    examples = examples or {}

    def on_task(task):
        ex = examples.get(task, {})
        note = "Example prompt loaded." if ex else "No example for this task: upload a prompt pair and a query."
        return ex.get("prompt"), ex.get("target"), ex.get("target2"), ex.get("query"), note

    def on_run(task, query, prompt, target, target2):
        try:
            painting, picture, summary = run_task_demo(model, task, query, prompt, target, target2)
        except (ValueError, FileNotFoundError, KeyError) as err:
            return None, None, f"**Error:** {err}"
        return painting, picture, f"Done: {summary}."

    first = next(iter(examples), "depth")
    with gr.Blocks(title="Painter") as demo:
        gr.Markdown("# Painter: images speak in images")
        if warning:
            gr.Markdown(warning, elem_id="model-warning")
        task = gr.Dropdown([(v, k) for k, v in TASK_LABELS.items()], value=first, label="Task", elem_id="task")
        with gr.Row():
            prompt = gr.Image(label="Prompt image", type="filepath", elem_id="prompt")
            target = gr.Image(label="Prompt target (painted)", type="filepath", elem_id="target")
            target2 = gr.Image(label="Panoptic only: instance target", type="filepath", elem_id="target2")
        query = gr.Image(label="Query image", type="filepath", elem_id="query")
        run = gr.Button("Paint", variant="primary", elem_id="paint")
        status = gr.Markdown("", elem_id="status")
        with gr.Row():
            painting = gr.Image(label="Painting (semantic half for panoptic)", type="numpy", elem_id="painting")
            decoded = gr.Image(label="Decoded", type="numpy", elem_id="decoded")
        task.change(on_task, [task], [prompt, target, target2, query, status])
        demo.load(on_task, [task], [prompt, target, target2, query, status])
        run.click(on_run, [task, query, prompt, target, target2], [painting, decoded, status], api_name="paint")
    return demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_demo_arguments(parser, LARGE, "Painter weights; omit for a tiny random demo model")
    parser.add_argument("--examples", default=str(DEFAULT_EXAMPLES), help="sample data folder for example prompts")
    args = parser.parse_args(argv)
    return serve_demo(
        args, load_model, lambda model, warning: build_demo(model, warning, example_prompts(args.examples))
    )


if __name__ == "__main__":
    sys.exit(main())
