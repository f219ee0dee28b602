"""Where a model's weights come from, and how to fetch them without surprises."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PretrainedCfg", "resolve_pretrained_file", "sha256sum"]


@dataclass(frozen=True)
class PretrainedCfg:
    """One set of weights for one architecture (``arch.tag`` in the registry).

    A weight file is found, in order, at ``file`` (a local path), in ``$SHIJIE_WEIGHTS`` as ``arch.tag.safetensors``
    (or ``.pth``/``.pt``/``.bin``) or by the original file name, on the
    Hugging Face hub (``hf_hub_id`` + ``hf_hub_filename``) or at ``url``; the last two only when online.
    """

    file: str | None = None
    url: str | None = None
    hf_hub_id: str | None = None
    hf_hub_filename: str | None = None
    sha256: str | None = None
    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    crop_pct: float = 1.0
    interpolation: str = "bicubic"
    num_classes: int = 1000
    license: str = "mit"
    origin: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def filename(self) -> str | None:
        for candidate in (self.file, self.hf_hub_filename, self.url):
            if candidate:
                return Path(candidate).name
        return None


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "SHIJIE_OFFLINE"))


def resolve_pretrained_file(name: str, cfg: PretrainedCfg) -> Path:
    """A local path to ``cfg``'s weights, downloading only when online; checks the sha256 when it is known."""
    candidates = [Path(cfg.file).expanduser()] if cfg.file else []
    if os.environ.get("SHIJIE_WEIGHTS"):
        # Hub files share generic names (model.safetensors), so the folder is searched by arch.tag first.
        folder = Path(os.environ["SHIJIE_WEIGHTS"]).expanduser()
        candidates += [folder / f"{name}{ext}" for ext in (".safetensors", ".pth", ".pt", ".bin")]
        if cfg.filename and cfg.filename != "model.safetensors":
            candidates.append(folder / cfg.filename)
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        if not (cfg.hf_hub_id or cfg.url):
            raise FileNotFoundError(
                f"no weights for {name!r}: looked at {[str(c) for c in candidates] or 'nothing'}; "
                f"pass a local file with create_model({name.split('.')[0]!r}, pretrained='/path/to/weights')"
            )
        if _offline():
            source = f"hub {cfg.hf_hub_id}/{cfg.hf_hub_filename}" if cfg.hf_hub_id else cfg.url
            raise RuntimeError(
                f"weights for {name!r} live at {source}, but the hub is offline (HF_HUB_OFFLINE/SHIJIE_OFFLINE); "
                f"download them elsewhere and pass the local file: pretrained='/path/to/{cfg.filename}', "
                f"or put it in $SHIJIE_WEIGHTS"
            )
        path = _download(cfg)
    if cfg.sha256:
        actual = sha256sum(path)
        if actual != cfg.sha256:
            raise ValueError(f"{path} has sha256 {actual}, expected {cfg.sha256} for {name!r}: corrupt or wrong file")
    return path


def _download(cfg: PretrainedCfg) -> Path:
    if cfg.hf_hub_id:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(cfg.hf_hub_id, cfg.hf_hub_filename or "model.safetensors"))
    import torch.hub

    target = Path(torch.hub.get_dir()) / "shijie" / (cfg.filename or "weights.pt")
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(cfg.url, str(target), progress=True)
    return target
