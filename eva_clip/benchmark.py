"""EVA-CLIP image and text encoding throughput against open_clip's same model, same weights, same run.

    python tools/benchmark.py --suite clip                       # EVA02-CLIP-B/16 vs open_clip EVA02-B-16, fp32
    python tools/benchmark.py --suite clip --threads 2 --image-batch 8 --text-batch 64

open_clip's model is built from its own config with random weights; ours loads that state dict through
``checkpoint_filter_fn``, so both run identical weights (the max output difference is printed). Captions are the
80 CLIP templates filled with ImageNet class names, the zero-shot workload.
"""

from __future__ import annotations

import argparse

import torch

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="eva02_clip_base_patch16_224", help="our registered model")
    parser.add_argument("--peer", default="EVA02-B-16", help="open_clip model name with the same architecture")
    parser.add_argument("--image-batch", type=int, default=8)
    parser.add_argument("--text-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)


def _captions(n: int) -> list[str]:
    from eva_clip.zero_shot import imagenet_classnames, openai_templates

    names, templates = imagenet_classnames(), openai_templates()
    return [templates[i % len(templates)].format(c=names[(7 * i) % len(names)]) for i in range(n)]


def run(args: argparse.Namespace) -> None:
    import open_clip

    import vision
    from eva_clip.tokenizer import tokenize
    from vision.benchmark import interleaved

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peer = open_clip.create_model(args.peer, pretrained=None).eval()
    ours = vision.create_model(args.model).eval()
    vision.load_checkpoint(ours, peer.state_dict())
    size = ours.image_size
    image = torch.randn(args.image_batch, 3, *size, generator=torch.Generator().manual_seed(1))
    text = tokenize(_captions(args.text_batch))

    with torch.inference_mode():
        ref_img, ref_txt = peer.encode_image(image), peer.encode_text(text)
        d_img = ((ours.encode_image(image) - ref_img).abs().max() / ref_img.abs().max()).item()
        d_txt = ((ours.encode_text(text) - ref_txt).abs().max() / ref_txt.abs().max()).item()

        def timed(kind: str) -> dict[str, float]:
            if kind == "image":
                fns = {"ours": lambda: ours.encode_image(image), "open_clip": lambda: peer.encode_image(image)}
            else:
                fns = {"ours": lambda: ours.encode_text(text), "open_clip": lambda: peer.encode_text(text)}
            return interleaved(fns, warmup=args.warmup, rounds=args.rounds)

        results = {kind: timed(kind) for kind in ("image", "text")}

    print(
        f"suite clip | ours {args.model} vs open_clip {args.peer} | fp32 | threads {args.threads} | "
        f"image batch {args.image_batch} at {size[0]}x{size[1]} | text batch {args.text_batch} (CLIP templates)"
    )
    print(f"same weights: max |ours - open_clip| / max |open_clip|: image {d_img:.2e}, text {d_txt:.2e}")
    print(f"{'encode':<8}{'impl':<11}{'items/s':>10}{'ms/batch':>11}")
    batch = {"image": args.image_batch, "text": args.text_batch}
    for kind, seconds in results.items():
        for impl, sec in seconds.items():
            print(f"{kind:<8}{impl:<11}{batch[kind] / sec:>10.1f}{sec * 1e3:>11.1f}")
        print(f"{kind:<8}speed-up ours / open_clip: {seconds['open_clip'] / seconds['ours']:.3f}x")
