"""Image-text data for EVA-CLIP: CLIP transforms, CSV/TSV captions, webdataset-style tar shards, labelled CSVs.

Images decode through ``vision.data.image_loader.load_image``, so an undecodable file raises
``CorruptImageError`` naming it. Captions are tokenized in the dataset (the tokenizer truncates captions longer than
the context, keeping the end-of-text token; see :mod:`eva_clip.tokenizer`).
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from vision.data.datasets import ImageListDataset
from vision.data.image_loader import CorruptImageError, load_image

__all__ = ["ImageTextCsvDataset", "ImageTextTarDataset", "LabeledCsvDataset", "clip_transform", "read_table"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def clip_transform(
    img_size: int | Sequence[int] = 224,
    mean: Sequence[float] = (0.48145466, 0.4578275, 0.40821073),
    std: Sequence[float] = (0.26862954, 0.26130258, 0.27577711),
    is_training: bool = False,
    scale: tuple[float, float] = (0.9, 1.0),
) -> Callable[[Image.Image], torch.Tensor]:
    """CLIP preprocessing: bicubic resize of the short side and centre crop (evaluation) or a mild random-resized
    crop (training, EVA-CLIP's scale 0.9-1), then normalisation."""
    from torchvision import transforms as T

    size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    bicubic = T.InterpolationMode.BICUBIC
    resize = (
        [T.RandomResizedCrop(size, scale=scale, interpolation=bicubic)]
        if is_training
        else [T.Resize(min(size), interpolation=bicubic), T.CenterCrop(size)]
    )
    return T.Compose([*resize, T.ToTensor(), T.Normalize(mean, std)])


def read_table(path: str | os.PathLike, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV (``,``) or TSV (``.tsv``/``.tab``: tab) file with a header; checks the required columns."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"captions/labels file does not exist: {path}")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the header has {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path} has a header but no rows")
    return rows


def _resolve(root: Path, name: str) -> str:
    return str(Path(name) if Path(name).is_absolute() else root / name)


class ImageTextCsvDataset(Dataset):
    """``(image, tokens)`` pairs from a CSV/TSV with an image path column and a caption column.

    ``caption_template`` (e.g. ``'a photo of a {}.'``) turns a label-like column into a caption, which is how the
    smoke config trains on ImageNet images captioned with their class names.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        tokenizer: Callable[[Sequence[str]], torch.Tensor] | None = None,
        transform: Callable | None = None,
        root: str | os.PathLike | None = None,
        image_key: str = "filepath",
        caption_key: str = "title",
        caption_template: str = "{}",
        context_length: int = 77,
    ) -> None:
        from eva_clip.tokenizer import tokenize

        rows = read_table(path, (image_key, caption_key))
        base = Path(root).expanduser() if root is not None else Path(path).expanduser().parent
        self.images = [_resolve(base, r[image_key]) for r in rows]
        self.captions = [caption_template.format(r[caption_key]) for r in rows]
        self.tokenizer = tokenizer or tokenize
        self.transform = transform or clip_transform()
        self.context_length = context_length

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.transform(load_image(self.images[index]))
        return image, self.tokenizer([self.captions[index]], self.context_length)[0]


class ImageTextTarDataset(Dataset):
    """Webdataset-style shards: tar files whose members pair ``KEY.jpg`` (or png/webp) with ``KEY.txt``.

    ``shards`` is a folder of ``*.tar`` or a list of tar paths. The index (member offsets) is built once; samples are
    read by random access, so the engine's samplers and resumable data order work unchanged.
    """

    def __init__(
        self,
        shards: str | os.PathLike | Sequence[str | os.PathLike],
        tokenizer: Callable[[Sequence[str]], torch.Tensor] | None = None,
        transform: Callable | None = None,
        context_length: int = 77,
    ) -> None:
        from eva_clip.tokenizer import tokenize

        if isinstance(shards, (str, os.PathLike)) and Path(shards).is_dir():
            paths = sorted(Path(shards).glob("*.tar"))
        elif isinstance(shards, (str, os.PathLike)):
            paths = [Path(shards)]
        else:
            paths = [Path(p) for p in shards]
        if not paths:
            raise ValueError(f"no .tar shards found in {shards}")
        self.samples: list[tuple[Path, tarfile.TarInfo, str]] = []
        for shard in paths:
            if not shard.is_file():
                raise FileNotFoundError(f"tar shard does not exist: {shard}")
            with tarfile.open(shard) as tar:
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
                for name, member in members.items():
                    stem, suffix = os.path.splitext(name)
                    if suffix.lower() in IMAGE_SUFFIXES and stem + ".txt" in members:
                        caption = tar.extractfile(members[stem + ".txt"]).read().decode("utf-8").strip()
                        self.samples.append((shard, member, caption))
        if not self.samples:
            raise ValueError(f"no (image, .txt caption) pairs in {[str(p) for p in paths]}")
        self.tokenizer = tokenizer or tokenize
        self.transform = transform or clip_transform()
        self.context_length = context_length

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        shard, member, caption = self.samples[index]
        with tarfile.open(shard) as tar:
            data = tar.extractfile(member).read()
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                image = img.convert("RGB")
        except (OSError, SyntaxError, ValueError) as err:
            raise CorruptImageError(f"{shard}:{member.name}", f"{type(err).__name__}: {err}") from err
        return self.transform(image), self.tokenizer([caption], self.context_length)[0]


def LabeledCsvDataset(  # noqa: N802 (a dataset factory, used as ``type=`` in configs)
    path: str | os.PathLike,
    transform: Callable | None = None,
    root: str | os.PathLike | None = None,
    image_key: str = "file",
    label_key: str = "class_index",
    on_error: str = "raise",
) -> ImageListDataset:
    """``(image, label)`` samples from a CSV/TSV (e.g. ``labels.csv`` with ``file,class_index`` columns)."""
    rows = read_table(path, (image_key, label_key))
    base = Path(root).expanduser() if root is not None else Path(path).expanduser().parent
    samples: list[tuple[str, Any]] = [(_resolve(base, r[image_key]), int(r[label_key])) for r in rows]
    return ImageListDataset(samples, transform or clip_transform(), on_error)
