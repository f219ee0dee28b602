"""Datasets, transforms, samplers and the robust image loader used by the training engine."""

from vision.data.datasets import FileListDataset, ImageFolderDataset, ImageListDataset
from vision.data.digits import DigitsDataset
from vision.data.image_loader import CorruptImageError, CorruptImageWarning, load_image
from vision.data.sampler import EpochSampler, SeededDataset
from vision.data.transforms import build_transform

__all__ = [
    "CorruptImageError",
    "CorruptImageWarning",
    "DigitsDataset",
    "EpochSampler",
    "FileListDataset",
    "ImageFolderDataset",
    "ImageListDataset",
    "SeededDataset",
    "build_transform",
    "load_image",
]
