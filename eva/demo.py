"""Gradio demo: ImageNet top-5 with an attention heat-map, and what a MIM student predicts under a block mask.

    python -m eva.demo --model eva02_base_patch14_448 --checkpoint eva02_B_pt_in21k_medft_in21k_ft_in1k_p14.pt
    python -m eva.demo ... --mim-checkpoint eva02_B_pt_in21k_p14.pt \
        --teacher eva01_clip_giant_patch14_224 --teacher-checkpoint EVA01_CLIP_g_14_psz14_s11B.pt

Upload an image: the classifier's five most likely ImageNet classes appear as bars, and the last block's class-token
attention (mean over heads) is laid over the image. With a MIM checkpoint, a random block mask is drawn and every
masked patch is coloured by the cosine similarity between the student's prediction and the teacher's feature.
The functions below hold the logic; gradio is imported only in :func:`main`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from eva.evaluate import CLIP_MEAN, CLIP_STD, build_eval_transform
from eva.models import EvaMIM, MIMTeacher
from vision.data.masking import BlockMaskGenerator
from vision.layers import apply_rope

__all__ = ["attention_map", "build_demo", "classify", "main", "mim_similarity", "overlay"]


def _input(model: torch.nn.Module, image: Image.Image) -> torch.Tensor:
    size = model.patch_embed.img_size[0]
    return build_eval_transform(size, 1.0, CLIP_MEAN, CLIP_STD)(image.convert("RGB"))[None]  # (1, 3, S, S)


@torch.no_grad()
def classify(model: torch.nn.Module, image: Image.Image, names: Sequence[str], k: int = 5) -> dict[str, float]:
    """The ``k`` most likely classes and their probabilities."""
    probs = model.eval()(_input(model, image)).softmax(-1)[0]  # (C,)
    top = probs.topk(min(k, probs.numel()))
    return {names[int(i)]: float(p) for p, i in zip(top.values, top.indices)}


@torch.no_grad()
def attention_map(model: torch.nn.Module, image: Image.Image) -> np.ndarray:
    """``(H, W)`` grid of the last block's class-token attention to each patch, averaged over heads, in [0, 1]."""
    x = _input(model, image)
    *_, (tokens,) = model.eval().forward_intermediates(x, indices=[len(model.blocks) - 2], output_fmt="NLC")
    block = model.blocks[-1]
    grid = model.patch_embed.grid_size
    q, k, _ = block.attn._qkv(block.norm1(tokens))  # (1, heads, N, head_dim) each
    if model.rope is not None:
        q, k = (apply_rope(t, *model.rope(grid)) for t in (q, k))
    attn = (q[:, :, :1] * block.attn.scale @ k.transpose(-2, -1)).softmax(-1)  # (1, heads, 1, N)
    cls_to_patches = attn.mean(1)[0, 0, model.num_prefix_tokens :].reshape(grid)
    cls_to_patches = cls_to_patches / cls_to_patches.max()
    return cls_to_patches.numpy()


@torch.no_grad()
def mim_similarity(
    student: EvaMIM, teacher: MIMTeacher, image: Image.Image, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a 40% block mask; return the ``(H, W)`` mask and the per-patch cosine similarity (NaN where visible)."""
    x = _input(student, image)
    grid = student.patch_embed.grid_size
    num = round(0.4 * grid[0] * grid[1])
    mask = BlockMaskGenerator(grid, num, min_num_patches=min(16, num), seed=seed).batch(1)  # (1, N)
    pred = student.eval()(x, mask)  # (M, C)
    target = teacher(x)[mask].float()  # (M, C)
    sim = torch.full((grid[0] * grid[1],), float("nan"))
    sim[mask[0]] = F.cosine_similarity(pred.float(), target, dim=-1)
    return mask[0].reshape(grid).numpy(), sim.reshape(grid).numpy()


def overlay(image: Image.Image, grid_values: np.ndarray, cmap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """Blend a patch-grid map (NaN = leave the pixel alone) over the image; ``(H, W, 3)`` uint8."""
    import matplotlib

    img = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    values = torch.from_numpy(np.nan_to_num(grid_values, nan=-1.0)).float()[None, None]
    up = F.interpolate(values, size=img.shape[:2], mode="nearest")[0, 0].numpy()
    colours = matplotlib.colormaps[cmap](np.clip(up, 0.0, 1.0))[..., :3]
    weight = np.where(up < 0.0, 0.0, alpha)[..., None]
    return ((1.0 - weight) * img + weight * colours).clip(0, 1).__mul__(255).astype(np.uint8)


def _class_names() -> list[str]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(1000)]


def build_demo(
    classifier: torch.nn.Module,
    names: Sequence[str],
    student: EvaMIM | None = None,
    teacher: MIMTeacher | None = None,
):
    """The Gradio Blocks app (not launched)."""
    import gradio as gr

    def predict(image: Image.Image | None):
        if image is None:
            raise gr.Error("upload an image first")
        outputs = [classify(classifier, image, names), overlay(image, attention_map(classifier, image))]
        if student is not None:
            _, sim = mim_similarity(student, teacher, image)
            outputs += [overlay(image, (sim + 1.0) / 2.0, cmap="RdYlGn", alpha=0.6), f"{np.nanmean(sim):.3f}"]
        return outputs

    with gr.Blocks(title="EVA / EVA-02") as demo:
        gr.Markdown("## EVA / EVA-02: ImageNet classes, attention, and masked image modelling")
        with gr.Row():
            image = gr.Image(type="pil", label="image")
            with gr.Column():
                top5 = gr.Label(num_top_classes=5, label="top-5 ImageNet classes")
                heat = gr.Image(label="class-token attention (last block)")
        outputs = [top5, heat]
        if student is not None:
            with gr.Row():
                sim = gr.Image(label="MIM: cosine(student prediction, teacher feature) on a random block mask")
                mean = gr.Textbox(label="mean cosine similarity over masked patches")
            outputs += [sim, mean]
        gr.Button("run").click(predict, inputs=image, outputs=outputs)
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    import vision

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="eva02_base_patch14_448", help="registered classifier")
    p.add_argument("--checkpoint", default=None, help="classifier weights (random weights without)")
    p.add_argument("--mim-checkpoint", default=None, help="MIM student weights: enables the masked-patch view")
    p.add_argument("--student", default="eva02_mim_base_patch14_224", help="registered MIM student")
    p.add_argument("--teacher", default="eva01_clip_giant_patch14_224", help="registered teacher tower or CLIP model")
    p.add_argument("--teacher-checkpoint", default=None)
    p.add_argument("--port", type=int, default=7860)
    args = p.parse_args(argv)

    classifier = vision.create_model(args.model, pretrained=args.checkpoint)
    student = teacher = None
    if args.mim_checkpoint:
        student = vision.create_model(args.student, pretrained=args.mim_checkpoint)
        teacher = MIMTeacher(args.teacher, pretrained=args.teacher_checkpoint)
    build_demo(classifier, _class_names(), student, teacher).launch(server_port=args.port)


if __name__ == "__main__":
    main()
