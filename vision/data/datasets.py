"""Classification datasets read from disk: a class-per-folder tree and a ``path label`` list file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from vision.data.image_loader import CorruptImageError, check_on_error, load_image, warn_skipped

__all__ = ["FileListDataset", "ImageFolderDataset", "ImageListDataset"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


class ImageListDataset(Dataset):
    """``(path, label)`` samples loaded as RGB PIL images and passed through ``transform``.

    ``on_error='raise'`` stops at the first unreadable file (the error names it); ``'skip'`` warns with the path and
    serves the next readable sample instead, so batch sizes (and distributed step counts) stay unchanged.
    """

    def __init__(
        self, samples: Sequence[tuple[str, int]], transform: Callable[[Any], Any] | None = None, on_error: str = "raise"
    ) -> None:
        if not samples:
            raise ValueError("dataset has no samples")
        self.samples = list(samples)
        self.transform = transform
        self.on_error = check_on_error(on_error)
        self.bad: set[int] = set()  # indices found unreadable in this process

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        img = load_image(path)
        return (self.transform(img) if self.transform is not None else img), label

    def __getitem__(self, index: int) -> tuple[Any, int]:
        for offset in range(len(self.samples)):
            i = (index + offset) % len(self.samples)
            if i in self.bad:
                continue
            try:
                return self._load(i)
            except CorruptImageError as err:
                if self.on_error == "raise":
                    raise
                self.bad.add(i)
                warn_skipped(err.path, err)
        raise CorruptImageError(self.samples[index][0], "every image in the dataset is unreadable")


def _existing_dir(root: str | os.PathLike, what: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} does not exist or is not a directory: {path}")
    return path


class ImageFolderDataset(ImageListDataset):
    """``root/<class>/<image>``; classes sorted by name give labels 0..C-1."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None, on_error: str = "raise") -> None:
        root = _existing_dir(root, "image folder root")
        self.classes = sorted(d.name for d in root.iterdir() if d.is_dir())
        if not self.classes:
            raise ValueError(f"image folder {root} has no class sub-folders")
        samples = [
            (str(f), label)
            for label, name in enumerate(self.classes)
            for f in sorted((root / name).rglob("*"))
            if f.suffix.lower() in IMG_EXTENSIONS
        ]
        if not samples:
            raise ValueError(f"image folder {root} has no images with extensions {IMG_EXTENSIONS}")
        super().__init__(samples, transform, on_error)


class FileListDataset(ImageListDataset):
    """A text file of ``relative/path.jpg label`` lines (``#`` comments and blank lines ignored)."""

    def __init__(
        self,
        list_file: str | os.PathLike,
        root: str | os.PathLike | None = None,
        transform: Callable | None = None,
        on_error: str = "raise",
    ) -> None:
        list_file = Path(list_file).expanduser()
        if not list_file.is_file():
            raise FileNotFoundError(f"file list does not exist: {list_file}")
        base = _existing_dir(root, "file list root") if root is not None else list_file.parent
        samples = []
        for lineno, line in enumerate(list_file.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path, _, label = line.rpartition(" ")
            if not path or not label.lstrip("-").isdigit():
                raise ValueError(f"{list_file}:{lineno}: expected 'path label', got {line!r}")
            samples.append((str(base / path.strip()), int(label)))
        super().__init__(samples, transform, on_error)
