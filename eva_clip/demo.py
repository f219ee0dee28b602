"""EVA-CLIP demo: zero-shot classification (image + comma-separated labels -> bar chart of probabilities) and
text-to-image search over a folder.

    python -m eva_clip.demo --checkpoint EVA02_CLIP_B_psz16_s8B.pt [--model eva02_clip_base_patch16_224]
        [--image-dir ../shared/data/imagenet/images] [--port 7860]

Without ``--checkpoint`` the model has random weights (the UI works, the answers are meaningless).
gradio is imported only in :func:`build_demo`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch
from PIL import Image

__all__ = ["ClipApp", "build_demo", "main"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ClipApp:
    """The demo's logic, independent of the UI: classify an image against labels, search a folder by text."""

    def __init__(self, model: torch.nn.Module, image_dir: str | os.PathLike | None = None) -> None:
        from eva_clip.data import clip_transform
        from eva_clip.tokenizer import tokenize

        self.model = model.eval()
        self.tokenize = tokenize
        self.transform = clip_transform(model.image_size, model.mean, model.std)
        self.paths: list[Path] = []
        self.index: torch.Tensor | None = None
        if image_dir is not None:
            self.index_folder(image_dir)

    @torch.no_grad()
    def classify(self, image: Image.Image | None, labels: str) -> dict[str, float]:
        """Probabilities over the comma-separated ``labels`` (prompted as 'a photo of a {label}.')."""
        if image is None:
            raise ValueError("upload an image first")
        names = [s.strip() for s in labels.split(",") if s.strip()]
        if not names:
            raise ValueError("enter at least one label (comma-separated)")
        pixels = self.transform(image.convert("RGB")).unsqueeze(0)
        image_features = self.model.encode_image(pixels, normalize=True)
        text_features = self.model.encode_text(self.tokenize([f"a photo of a {n}." for n in names]), normalize=True)
        probs = (self.model.logit_scale.exp() * image_features @ text_features.T).softmax(dim=-1)[0]
        return {name: float(p) for name, p in zip(names, probs)}

    @torch.no_grad()
    def index_folder(self, folder: str | os.PathLike, batch_size: int = 16) -> int:
        """Embed every image of ``folder`` (unreadable files are skipped); returns how many were indexed."""
        from vision.data.image_loader import CorruptImageError, load_image

        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder does not exist: {folder}")
        paths, pixels = [], []
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                pixels.append(self.transform(load_image(path)))
            except CorruptImageError:
                continue
            paths.append(path)
        if not paths:
            raise ValueError(f"no readable images in {folder}")
        chunks = [
            self.model.encode_image(torch.stack(pixels[i : i + batch_size]), normalize=True)
            for i in range(0, len(pixels), batch_size)
        ]
        self.paths, self.index = paths, torch.cat(chunks)
        return len(paths)

    @torch.no_grad()
    def search(self, query: str, k: int = 4) -> list[tuple[str, float]]:
        """The ``k`` indexed images closest to ``query``, as (path, cosine similarity)."""
        if self.index is None:
            raise ValueError("no image folder indexed; start the demo with --image-dir")
        if not query.strip():
            raise ValueError("enter a text query")
        text = self.model.encode_text(self.tokenize([query]), normalize=True)[0]
        scores = self.index @ text
        top = scores.topk(min(k, len(self.paths)))
        return [(str(self.paths[i]), float(s)) for s, i in zip(top.values, top.indices)]


def build_demo(app: ClipApp) -> Any:
    """The Gradio Blocks: a classification tab (bar chart) and a search tab (gallery)."""
    import gradio as gr
    import pandas as pd

    def classify(image, labels):
        try:
            probs = app.classify(image, labels)
        except ValueError as err:
            raise gr.Error(str(err)) from err
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        table = pd.DataFrame({"label": [k for k, _ in ranked], "probability": [v for _, v in ranked]})
        summary = ", ".join(f"{k}: {v:.3f}" for k, v in ranked)
        return table, summary

    def search(query):
        try:
            hits = app.search(query)
        except ValueError as err:
            raise gr.Error(str(err)) from err
        return [(path, f"{Path(path).stem} ({score:.3f})") for path, score in hits]

    with gr.Blocks(title="EVA-CLIP") as demo:
        gr.Markdown("# EVA-CLIP\nZero-shot classification and text-to-image search.")
        with gr.Tab("Zero-shot classification"):
            with gr.Row():
                image = gr.Image(type="pil", label="Image", elem_id="image")
                with gr.Column():
                    labels = gr.Textbox(label="Labels (comma-separated)", value="cat, dog, car", elem_id="labels")
                    run = gr.Button("Classify", elem_id="classify")
            chart = gr.BarPlot(x="label", y="probability", y_lim=[0, 1], label="Probabilities", elem_id="chart")
            summary = gr.Textbox(label="Ranked", elem_id="summary")
            run.click(classify, [image, labels], [chart, summary])
        with gr.Tab("Text-to-image search"):
            query = gr.Textbox(label="Query", elem_id="query")
            go = gr.Button("Search", elem_id="search")
            gallery = gr.Gallery(label=f"Top matches among {len(app.paths)} images", elem_id="gallery")
            go.click(search, query, gallery)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="eva02_clip_base_patch16_224")
    parser.add_argument("--checkpoint", help="official .pt, open_clip or Shijie weights (random weights if omitted)")
    parser.add_argument("--image-dir", help="folder of images for text-to-image search")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)

    import vision

    model = vision.create_model(args.model, pretrained=args.checkpoint)
    demo = build_demo(ClipApp(model, args.image_dir))
    demo.launch(server_name=args.host, server_port=args.port)


if __name__ == "__main__":
    main()
