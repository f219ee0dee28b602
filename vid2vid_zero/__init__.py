"""vid2vid-zero: zero-shot video editing with an image diffusion model, on current diffusers.

Importing the package stays light (no diffusers, gradio or transformers); the pipeline lives in
``vid2vid_zero.pipeline`` and is imported where it is used.
"""

from .config import EditConfig, load_edit_config

__all__ = ["EditConfig", "load_edit_config"]
