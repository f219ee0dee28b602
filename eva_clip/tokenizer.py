"""CLIP's byte-level BPE tokenizer (as used by OpenAI CLIP, open_clip and EVA-CLIP).

The 49,152-merge vocabulary file is not shipped here (it is 1.3 MB); it is read from the installed ``open_clip``
package (``pip install open_clip_torch``), which bundles it, or from ``vocab_path``. Nothing is downloaded.

Captions longer than the context are **truncated**: the first ``context_length - 1`` tokens are kept and the last
position is set to the end-of-text token, so the text tower still pools a valid EOT (open_clip does the same).
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["SimpleTokenizer", "default_vocab_path", "tokenize"]

_VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
_NUM_MERGES = 49152 - 256 - 2
SOT, EOT = "<start_of_text>", "<end_of_text>"


def default_vocab_path() -> Path:
    """The BPE merges bundled with open_clip; a clear error when open_clip is not installed."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the CLIP BPE vocabulary ({_VOCAB_FILE}) ships with open_clip: `pip install open_clip_torch` "
            "(the 'clip' extra) or pass vocab_path="
        )
    return Path(spec.origin).parent / _VOCAB_FILE


@lru_cache
def _bytes_to_unicode() -> dict[int, str]:
    """Reversible byte -> printable character map; printable Latin-1 bytes map to themselves, the rest to 256+.

    Insertion order (printable bytes first, then the others) is the order of the first 256 vocabulary entries.
    """
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    table = {b: chr(b) for b in keep}
    for extra, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + extra)
    return table


def _clean(text: str) -> str:
    import ftfy

    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


class SimpleTokenizer:
    """Text -> CLIP token ids. ``tokenizer(texts, context_length=77)`` returns a ``(N, context_length)`` LongTensor."""

    def __init__(self, vocab_path: str | os.PathLike | None = None, context_length: int = 77) -> None:
        import regex

        path = Path(vocab_path) if vocab_path is not None else default_vocab_path()
        if not path.is_file():
            raise FileNotFoundError(f"CLIP BPE vocabulary not found at {path}")
        lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")[1 : _NUM_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        byte_chars = list(_bytes_to_unicode().values())
        vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.decoder = {i: tok for tok, i in self.encoder.items()}
        self.byte_decoder = {c: b for b, c in _bytes_to_unicode().items()}
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.sot_token_id, self.eot_token_id = self.encoder[SOT], self.encoder[EOT]
        self.vocab_size = len(vocab)
        self.context_length = context_length
        self._pattern = regex.compile(
            r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
            regex.IGNORECASE,
        )
        self._cache = {SOT: SOT, EOT: EOT}

    def _bpe(self, token: str) -> list[str]:
        if token in self._cache:
            return self._cache[token].split(" ")
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self._cache[token] = " ".join(word)
        return word

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` without start/end tokens."""
        byte_map = _bytes_to_unicode()
        ids = []
        for piece in self._pattern.findall(_clean(text)):
            piece = "".join(byte_map[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(piece))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        text = "".join(self.decoder[int(i)] for i in ids)
        data = bytearray(self.byte_decoder[c] for c in text)
        return data.decode("utf-8", errors="replace").replace("</w>", " ")

    def __call__(self, texts: str | Sequence[str], context_length: int | None = None) -> torch.Tensor:
        """``(N, context_length)`` int64 ids: SOT, tokens, EOT, zero padding; long captions truncated (EOT kept)."""
        if isinstance(texts, str):
            texts = [texts]
        context_length = context_length or self.context_length
        if context_length < 2:
            raise ValueError(f"context_length must be at least 2 (start and end tokens), got {context_length}")
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__} at index {row}")
            ids = [self.sot_token_id, *self.encode(text), self.eot_token_id]
            if len(ids) > context_length:
                ids = ids[:context_length]
                ids[-1] = self.eot_token_id
            out[row, : len(ids)] = torch.tensor(ids)
        return out


@lru_cache
def _default_tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def tokenize(texts: str | Sequence[str], context_length: int = 77) -> torch.Tensor:
    """Tokenize with a shared default tokenizer (vocabulary loaded once)."""
    return _default_tokenizer()(texts, context_length)
