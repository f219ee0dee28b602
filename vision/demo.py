"""What every model demo shares: a checkpoint or a tiny random model, the command line, and serving.

Gradio is imported only when a demo is served, so importing a model package never pulls it in.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

__all__ = ["add_demo_arguments", "load_demo_model", "serve_demo"]


def load_demo_model(
    checkpoint: str | os.PathLike | None, name: str, tiny: str, random_warning: str
) -> tuple[nn.Module, str | None]:
    """``name`` with the checkpoint's weights, or the ``tiny`` model with random weights and ``random_warning``."""
    import vision

    if checkpoint is None:
        torch.manual_seed(0)
        return vision.create_model(tiny).eval(), random_warning
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    return vision.create_model(name, pretrained=str(checkpoint)).eval(), None


def add_demo_arguments(parser: argparse.ArgumentParser, default_model: str, checkpoint_help: str) -> None:
    parser.add_argument("--checkpoint", help=checkpoint_help)
    parser.add_argument("--model", default=default_model, help=f"registered model name (default {default_model})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)


def serve_demo(
    args: argparse.Namespace,
    load_model: Callable[[str | None, str], tuple[nn.Module, str | None]],
    build_demo: Callable[[nn.Module, str | None], Any],
) -> int:
    """Load the model (errors become exit code 2 with a message), then build and serve the Gradio app."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("error: the demo needs gradio (pip install 'shijie[demo]')", file=sys.stderr)
        return 2
    try:
        model, warning = load_model(args.checkpoint, args.model)
    except (FileNotFoundError, ValueError, RuntimeError, KeyError) as err:
        print(f"error: cannot load {args.checkpoint}: {err}", file=sys.stderr)
        return 2
    if warning:
        print("warning: no --checkpoint given; serving a tiny RANDOM model (outputs are meaningless)", file=sys.stderr)
    build_demo(model, warning).queue().launch(server_name=args.host, server_port=args.port)
    return 0
