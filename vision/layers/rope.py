"""EVA-02's 2-D rotary position embedding.

Half of each head's channels rotate with the row index and half with the column index. Positions are scaled onto
the pre-training grid (``ref_grid``, the official ``pt_seq_len``): a grid of ``n`` tokens along an axis gets the
positions ``arange(n) / n * ref``, so any fine-tuning resolution, square or not, maps into the range seen in
pre-training. Channel pairs are interleaved ``(x0, x1), (x2, x3), ...`` as in the official code.

The tables carry identity rows (cos 1, sin 0) for the prefix tokens, so one elementwise op rotates a whole sequence
and leaves the class token exactly as it was, with no slicing or concatenation.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["RotaryEmbedding2d", "apply_rope"]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (..., N, D) by the tables ``cos``/``sin`` broadcastable to it.

    Equal to the official ``x * cos + rotate_half(x) * sin``, with ``rotate_half`` mapping each channel pair
    ``(x0, x1) -> (-x1, x0)``, computed as one complex multiplication of the pairs by ``cos + i sin``: a single pass
    over ``x`` instead of five, which matters on CPU where these tensors are strided views of the fused qkv output.
    Under ``torch.compile`` the real form is used instead: inductor fuses it into one kernel but has no complex codegen.
    """
    if torch.compiler.is_compiling():
        even, odd = x.float().unflatten(-1, (-1, 2)).unbind(-1)
        return (x.float() * cos + torch.stack((-odd, even), dim=-1).flatten(-2) * sin).type_as(x)
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))  # (..., N, D/2) complex
    angles = torch.complex(cos[..., ::2].float(), sin[..., ::2].float())  # pairs share an angle
    return torch.view_as_real(pairs * angles).flatten(-2).type_as(x)


class RotaryEmbedding2d(nn.Module):
    """Builds ``(cos, sin)`` tables of shape ``(prefix + H*W, head_dim)`` for a token grid.

    The table of the model's native grid is a non-persistent buffer: it is recomputed at construction and never read
    from a checkpoint. Other grids (dynamic input sizes) are computed when asked for.
    """

    def __init__(
        self,
        head_dim: int,
        grid: tuple[int, int],
        ref_grid: tuple[int, int] | None = None,
        num_prefix_tokens: int = 1,
        theta: float = 10000.0,
    ) -> None:
        super().__init__()
        if head_dim % 4:
            raise ValueError(f"2-D RoPE needs a head dim divisible by 4, got {head_dim}")
        self.head_dim = head_dim
        self.grid = tuple(grid)
        self.ref_grid = tuple(ref_grid or grid)
        self.num_prefix_tokens = num_prefix_tokens
        axis_dim = head_dim // 2
        # Same expression as the official code, so the frequencies agree bit for bit.
        inv_freq = 1.0 / (theta ** (torch.arange(0, axis_dim, 2)[: axis_dim // 2].float() / axis_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        cos, sin = self._tables(self.grid, inv_freq)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def _axis(self, n: int, ref: int, inv_freq: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(n, device=inv_freq.device) / n * ref  # (n,)
        return (positions[:, None] * inv_freq[None, :]).repeat_interleave(2, dim=-1)  # (n, axis_dim)

    def _tables(self, grid: tuple[int, int], inv_freq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = grid
        rows = self._axis(h, self.ref_grid[0], inv_freq)  # (h, axis_dim)
        cols = self._axis(w, self.ref_grid[1], inv_freq)  # (w, axis_dim)
        freqs = torch.cat([rows[:, None, :].expand(h, w, -1), cols[None, :, :].expand(h, w, -1)], dim=-1)
        freqs = freqs.reshape(h * w, self.head_dim)  # (h*w, head_dim)
        prefix = torch.zeros(self.num_prefix_tokens, self.head_dim, device=freqs.device)
        freqs = torch.cat([prefix, freqs], dim=0)  # (prefix + h*w, head_dim); angle 0 = identity
        return freqs.cos(), freqs.sin()

    def forward(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        if tuple(grid) == self.grid:
            return self.cos, self.sin
        return self._tables(tuple(grid), self.inv_freq)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, grid={self.grid}, ref_grid={self.ref_grid}"
