"""Reading images from disk, with failures that name the file instead of crashing a worker without context."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = [
    "ON_ERROR_CHOICES",
    "CorruptImageError",
    "CorruptImageWarning",
    "check_on_error",
    "load_image",
    "read_rgb",
]

ON_ERROR_CHOICES = ("raise", "skip")


class CorruptImageError(OSError):
    """An image file that cannot be opened or decoded; ``path`` names it."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = str(path)


class CorruptImageWarning(UserWarning):
    """Emitted once per skipped image when a dataset runs with ``on_error='skip'``."""


def check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    return on_error


def load_image(path: str | os.PathLike, mode: str = "RGB") -> Image.Image:
    """Open and fully decode ``path`` (truncated files fail here, not later in a transform)."""
    try:
        with Image.open(Path(path)) as img:
            img.load()
            return img.convert(mode)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptImageError(path, f"{type(err).__name__}: {err}") from err


def read_rgb(image: str | os.PathLike | Image.Image, what: str = "image") -> Image.Image:
    """A user-supplied path or PIL image as RGB; an unreadable file is a bad argument, so a ValueError naming it."""
    if not isinstance(image, (str, os.PathLike)):
        return image.convert("RGB")
    try:
        return load_image(image)
    except CorruptImageError as err:
        raise ValueError(f"{what} {os.fspath(image)!r} is not a readable image: {err}") from err


def warn_skipped(path: str, err: Exception) -> None:
    warnings.warn(f"skipping unreadable image {path} ({err})", CorruptImageWarning, stacklevel=3)
