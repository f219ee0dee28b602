"""The EVA-CLIP text tower: a causal transformer over BPE tokens, pooled at the end-of-text token.

Parameter names follow the official EVA-CLIP / open_clip ``TextTransformer`` (``token_embedding``,
``positional_embedding``, ``transformer.resblocks.i.{ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc,
mlp.c_proj}``, ``ln_final``, ``text_projection``), so official and open_clip checkpoints load with no renaming.
The official tower uses apex ``FusedLayerNorm`` with its default eps 1e-5 and exact GELU.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from vision.layers import attention

__all__ = ["TextTransformer"]


class TextAttention(nn.Module):
    """Causal multi-head self-attention with ``nn.MultiheadAttention``'s parameter names (one packed in-projection)."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"text width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, L, 3C)
        q, k, v = qkv.view(B, L, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)  # (B, H, L, D) each
        x = attention(q, k, v, is_causal=True, dropout_p=self.attn_drop if self.training else 0.0)
        return self.out_proj(x.transpose(1, 2).reshape(B, L, C))


class TextMlp(nn.Sequential):
    """``c_fc -> GELU -> c_proj`` (OpenAI CLIP names)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(dim, hidden)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(hidden, dim)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, eps: float = 1e-5) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=eps)
        self.attn = TextAttention(dim, num_heads)
        self.ln_2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = TextMlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    """Holds ``resblocks`` so the keys read ``transformer.resblocks.i.*`` as in the official checkpoints."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, mlp_ratio, eps) for _ in range(layers))


class TextTransformer(nn.Module):
    """Token ids ``(B, L)`` -> text embeddings ``(B, embed_dim)`` (unnormalised), pooled at the EOT token.

    The EOT token has the largest id in CLIP's vocabulary, so ``argmax`` over the ids finds it. Because attention is
    causal, tokens after the last EOT in the batch never reach the pooled output; :meth:`forward` therefore runs only
    the first ``max(eot) + 1`` positions, which gives the same result as the full context for much less work.
    """

    def __init__(
        self,
        embed_dim: int = 512,
        context_length: int = 77,
        vocab_size: int = 49408,
        width: int = 512,
        heads: int = 8,
        layers: int = 12,
        mlp_ratio: float = 4.0,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.context_length = context_length
        self.vocab_size = vocab_size
        self.width = width
        self.grad_checkpointing = False
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = _Transformer(width, layers, heads, mlp_ratio, norm_eps)
        self.ln_final = nn.LayerNorm(width, eps=norm_eps)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """OpenAI CLIP's init (std scaled by width and depth)."""
        layers = len(self.transformer.resblocks)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = self.width**-0.5 * (2 * layers) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=self.width**-0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * self.width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=self.width**-0.5)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def no_weight_decay(self) -> set[str]:
        return {"positional_embedding", "token_embedding.weight"}

    def layer_id(self, param_name: str) -> int:
        """0 embeddings, i + 1 for ``transformer.resblocks.i``, layers + 1 the rest (for layer-wise lr decay)."""
        if param_name.startswith(("token_embedding", "positional_embedding")):
            return 0
        if param_name.startswith("transformer.resblocks."):
            return int(param_name.split(".")[2]) + 1
        return len(self.transformer.resblocks) + 1

    def _check(self, text: torch.Tensor) -> None:
        if text.dim() != 2 or text.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"text must be (batch, length) integer token ids, got {tuple(text.shape)} {text.dtype}")
        if text.shape[1] > self.context_length:
            raise ValueError(
                f"text has {text.shape[1]} tokens but the context length is {self.context_length}; tokenize with "
                f"context_length={self.context_length} (the tokenizer truncates long captions)"
            )

    def encode_tokens(self, text: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, L, width)`` tokens after ``ln_final`` (every position, as the official tower)."""
        self._check(text)
        x = self.token_embedding(text) + self.positional_embedding[: text.shape[1]]  # (B, L, C)
        for block in self.transformer.resblocks:
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.ln_final(x)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        self._check(text)
        eot = text.argmax(dim=-1)  # (B,)
        used = int(eot.max()) + 1 if text.numel() else 0
        x = self.encode_tokens(text[:, :used])  # (B, used, C); causal, so the dropped tail cannot matter
        x = x[torch.arange(x.shape[0], device=x.device), eot]  # (B, C)
        return x @ self.text_projection
