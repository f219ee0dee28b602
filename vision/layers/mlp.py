"""Feed-forward layers: the GELU MLP of EVA-01 and the SwiGLU of EVA-02, both with optional sub-LN.

Parameter names follow the official EVA code (``fc1``/``fc2``; ``w12`` or ``w1``/``w2`` then ``w3``; ``ffn_ln``)
so official checkpoints load without renaming.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Mlp", "SwiGLU"]


class Mlp(nn.Module):
    """``fc2(drop(ffn_ln(act(fc1(x)))))``; ``ffn_ln`` only with ``sub_ln`` (EVA-02 sub-LN)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        act_layer: Callable[[], nn.Module] = nn.GELU,
        norm_layer: Callable[[int], nn.Module] | None = None,
        sub_ln: bool = False,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.ffn_ln = norm_layer(hidden_features) if sub_ln else nn.Identity()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.ffn_ln(self.act(self.fc1(x))))))


class SwiGLU(nn.Module):
    """``w3(ffn_ln(silu(x W1) * (x W2)))``.

    ``packed=True`` stores ``W1`` and ``W2`` as one ``w12`` matrix (gate first), the EVA-02 Ti/S checkpoint layout;
    ``packed=False`` keeps ``w1``/``w2`` apart as the EVA-02 B/L checkpoints do. Either way the forward runs two GEMMs,
    with no ``(..., 2 * hidden)`` product, and without autograd gates in place: fresh pages of large temporaries cost
    more on CPU than the one larger GEMM saves.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        norm_layer: Callable[[int], nn.Module] | None = None,
        sub_ln: bool = False,
        packed: bool = True,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.packed = packed
        self.hidden_features = hidden_features
        if packed:
            self.w12 = nn.Linear(in_features, 2 * hidden_features)
        else:
            self.w1 = nn.Linear(in_features, hidden_features)
            self.w2 = nn.Linear(in_features, hidden_features)
        self.ffn_ln = norm_layer(hidden_features) if sub_ln else nn.Identity()
        self.drop = nn.Dropout(drop)
        self.w3 = nn.Linear(hidden_features, out_features or in_features)

    def _gate_and_value(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.packed:
            return self.w1(x), self.w2(x)
        h, weight, bias = self.hidden_features, self.w12.weight, self.w12.bias
        return F.linear(x, weight[:h], bias[:h]), F.linear(x, weight[h:], bias[h:])  # (..., hidden) each

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self._gate_and_value(x)
        if torch.is_grad_enabled() and gate.requires_grad:
            x = F.silu(gate) * value  # out of place: in place, autograd would clone both operands for backward
        else:
            x = F.silu(gate, inplace=True).mul_(value)
        return self.drop(self.w3(self.drop(self.ffn_ln(x))))
