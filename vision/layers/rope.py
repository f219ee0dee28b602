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
    """Rotate ``x`` (..., N, D) by the tables ``cos``/``sin`` broadcastable to it; the result is contiguous.

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
    return torch.view_as_real(_RotatePairs.apply(pairs, angles)).flatten(-2).type_as(x)


class _RotatePairs(torch.autograd.Function):
    """``pairs * angles`` written contiguously whatever the layout of ``pairs``.

    A plain product would inherit the token-major layout of the fused qkv view; attention runs about 10% faster on
    CPU when q and k are head-major, and writing them so here costs nothing. The tables never need a gradient.
    """

    @staticmethod
    def forward(pairs: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
        shape = torch.broadcast_shapes(pairs.shape, angles.shape)
        return torch.mul(pairs, angles, out=pairs.new_empty(shape))

    @staticmethod
    def setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[1])
        ctx.pairs_shape = inputs[0].shape
        ctx.set_materialize_grads(False)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor | None) -> tuple:
        (angles,) = ctx.saved_tensors
        if grad is None or not ctx.needs_input_grad[0]:
            return None, None
        return (grad * angles.conj()).sum_to_size(ctx.pairs_shape), None  # d(z a)/dz = a; torch takes the conjugate


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
