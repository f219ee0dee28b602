"""Convert a checkpoint (official EVA / EVA-CLIP / Painter / SegGPT, timm, open_clip, transformers) to safetensors.

    python tools/convert_checkpoint.py eva02_Ti_pt_in21k_p14.pt out.safetensors --model eva02_tiny_patch14_224
    python tools/convert_checkpoint.py ours.safetensors official.safetensors \
        --model eva02_base_patch14_448 --to official

The checkpoint goes through the model's ``checkpoint_filter_fn`` and a strict load, exactly as
``create_model(name, pretrained=path)`` does, so a file that converts is a file that loads. ``--to`` other than
``shijie`` uses the model's ``export_state_dict(fmt)``.
"""

from __future__ import annotations

import argparse
import json
import sys

import vision
from vision.checkpoint import save_state_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="checkpoint to read (.pt, .pth, .bin, .safetensors)")
    parser.add_argument("dst", help="safetensors file to write (written atomically)")
    parser.add_argument("--model", required=True, help="registered model name the checkpoint belongs to")
    parser.add_argument(
        "--to", default="shijie", help="output format: shijie, or one the model exports (official, timm, ...)"
    )
    parser.add_argument(
        "--model-args",
        default="{}",
        help='JSON overrides for create_model, e.g. \'{"img_size": 448, "num_classes": 0}\'',
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow pickled Python objects in the source (torch.load weights_only=False); only for trusted files",
    )
    args = parser.parse_args(argv)

    model = vision.create_model(args.model, **json.loads(args.model_args))
    report = vision.load_checkpoint(model, args.src, strict=True, weights_only=not args.trust_pickle)
    if args.to == "shijie":
        state_dict = model.state_dict()
    elif hasattr(model, "export_state_dict"):
        state_dict = model.export_state_dict(args.to)
    else:
        parser.error(f"model {args.model!r} cannot export to {args.to!r}; it has no export_state_dict")
    save_state_dict(state_dict, args.dst, metadata={"model": args.model, "format": args.to, "source": args.src})
    print(f"{args.src} -> {args.dst}: {len(state_dict)} tensors, {args.model}, format {args.to}; {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
