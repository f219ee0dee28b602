"""Cross-frame attention and prompt-to-prompt control as diffusers attention processors (no UNet copy).

The UNet sees a clip as a batch of frames laid out ``(groups, frames)``: ``groups`` are the classifier-free-guidance
halves times the prompts, so the batch is ``(G * F, ...)``. Self-attention (``attn1``) becomes
- ``dense``: every frame attends to the tokens of all frames (official: the first transformer of
  ``down_blocks[i]``, the mid block and ``up_blocks[i + 1]``); queries are processed ``chunk_frames`` frames at a time
  so memory grows linearly with the number of frames;
- ``first_prev``: every frame attends to the first and the previous frame (everywhere else).
No new weights: the layer's own q/k/v projections are used. ``state.cross_frame=False`` turns every processor into
ordinary per-frame attention (used for DDIM inversion and null-text optimisation, as the official code does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from vision.layers.attention import attention

if TYPE_CHECKING:
    from .prompt_to_prompt import AttentionController

FRAME_MODES = ("dense", "first_prev", "none")


@dataclass
class VideoAttentionState:
    """Mutable state shared by all processors of one UNet: clip length, cross-frame switch, step and controller."""

    num_frames: int = 1
    cross_frame: bool = True
    step: int = 0
    controller: AttentionController | None = None


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, H*D) -> (B, H, N, D)."""
    return x.unflatten(-1, (heads, -1)).transpose(1, 2)


def _first_prev(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Keys/values of the first and the previous frame: (G*F, H, N, D) -> (G*F, H, 2N, D); frame 0 uses itself twice."""
    x = x.unflatten(0, (-1, num_frames))  # (G, F, H, N, D)
    prev = torch.arange(num_frames, device=x.device).sub(1).clamp(min=0)
    return torch.cat([x[:, [0] * num_frames], x[:, prev]], dim=3).flatten(0, 1)


class Vid2VidAttnProcessor:
    """One processor per attention layer: frame mixing (``frame_mode``) plus the state's prompt-to-prompt control.

    ``is_cross`` marks text cross-attention (``attn2``): its maps are built explicitly while the controller edits them.
    Self-attention replacement swaps the source's queries and keys into the target, so self-attention always runs
    through the fused kernel of :func:`vision.layers.attention.attention`.
    """

    def __init__(self, state: VideoAttentionState, frame_mode: str, is_cross: bool, chunk_frames: int | None = None):
        if frame_mode not in FRAME_MODES:
            raise ValueError(f"frame_mode must be one of {FRAME_MODES}, got {frame_mode!r}")
        if is_cross and frame_mode != "none":
            raise ValueError("text cross-attention layers take frame_mode='none'")
        self.state = state
        self.frame_mode = frame_mode
        self.is_cross = is_cross
        self.chunk_frames = chunk_frames

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        spatial_shape = None
        if hidden_states.ndim == 4:  # (B, C, h, w) -> (B, h*w, C)
            spatial_shape = hidden_states.shape
            hidden_states = hidden_states.flatten(2).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)

        q = _split_heads(attn.to_q(hidden_states), attn.heads)  # (B, H, N, D)
        k = _split_heads(attn.to_k(context), attn.heads)  # (B, H, M, D)
        v = _split_heads(attn.to_v(context), attn.heads)
        mode = self.frame_mode if self.state.cross_frame and self.state.num_frames > 1 else "none"
        if mode != "none" and attention_mask is not None:
            raise ValueError("cross-frame attention does not take an attention mask")
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, context.shape[1], q.shape[0])
            attention_mask = attention_mask.view(q.shape[0], attn.heads, -1, attention_mask.shape[-1])
        controller, step = self.state.controller, self.state.step
        if not self.is_cross and controller is not None and controller.edits(False, q.shape[2], step):
            # target maps := source maps, i.e. softmax(q_src k_src^T) v_tgt: swap in the source's queries and keys
            q, k = (controller.replace_self(x, self.state.num_frames) for x in (q, k))

        if mode == "dense":
            out = self._dense(attn, q, k, v)
        else:
            if mode == "first_prev":
                k, v = _first_prev(k, self.state.num_frames), _first_prev(v, self.state.num_frames)
            out = self._attend(attn, q, k, v, attention_mask)
        out = out.transpose(1, 2).flatten(2).to(q.dtype)  # (B, N, H*D)
        out = attn.to_out[1](attn.to_out[0](out))
        if spatial_shape is not None:
            out = out.transpose(1, 2).reshape(spatial_shape)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _attend(self, attn, q, k, v, mask=None) -> torch.Tensor:
        """softmax(q k^T) v on (B, H, N, D); text cross-attention maps are built explicitly only when edited."""
        controller = self.state.controller
        if not self.is_cross or controller is None or not controller.edits(True, q.shape[2], self.state.step):
            return attention(q, k, v, attn_bias=mask, scale=attn.scale)
        scores = (q.float() @ k.float().transpose(-1, -2)) * attn.scale  # (B, H, N, M)
        if mask is not None:
            scores = scores + mask.float()
        probs = scores.softmax(-1).unflatten(0, (-1, self.state.num_frames))  # (G, F, H, N, M)
        probs = controller.edit_cross(probs, self.state.step)
        return probs.flatten(0, 1).to(v.dtype) @ v

    def _dense(self, attn, q, k, v) -> torch.Tensor:
        """All frames' tokens as keys, queries ``chunk_frames`` frames at a time: (G*F, H, N, D) -> same."""
        frames = self.state.num_frames
        q, k, v = (x.unflatten(0, (-1, frames)) for x in (q, k, v))  # (G, F, H, N, D)
        k_all = k.permute(0, 2, 1, 3, 4).flatten(2, 3)  # (G, H, F*N, D)
        v_all = v.permute(0, 2, 1, 3, 4).flatten(2, 3)
        chunk = self.chunk_frames or frames
        outs = []
        for start in range(0, frames, chunk):
            q_chunk = q[:, start : start + chunk]  # (G, c, H, N, D)
            c, n = q_chunk.shape[1], q_chunk.shape[3]
            q_flat = q_chunk.permute(0, 2, 1, 3, 4).flatten(2, 3)  # (G, H, c*N, D)
            out = attention(q_flat, k_all, v_all, scale=attn.scale)  # (G, H, c*N, D)
            outs.append(out.unflatten(2, (c, n)).permute(0, 2, 1, 3, 4))  # (G, c, H, N, D)
        return torch.cat(outs, dim=1).flatten(0, 1)


_LAYER = re.compile(
    r"^(down_blocks|mid_block|up_blocks)\.?(\d*)\.attentions\.(\d+)\.transformer_blocks\.(\d+)\.(attn[12])"
)


def frame_mode_for(name: str, dense_block_idx: int | None, use_cross_frame: bool = True) -> tuple[str, bool]:
    """(frame_mode, is_cross) of a UNet processor name, following the official layer choice.

    Dense layers: ``attentions.0.transformer_blocks.0.attn1`` of ``down_blocks[idx]``, ``mid_block`` and
    ``up_blocks[idx + 1]``; other self-attention layers use first-and-previous frame attention.
    """
    match = _LAYER.match(name)
    if match is None:
        raise ValueError(f"unexpected attention processor name {name!r} (not a UNet2DConditionModel transformer)")
    block, index, attention_idx, transformer_idx, kind = match.groups()
    if kind == "attn2":
        return "none", True
    if not use_cross_frame:
        return "none", False
    first = attention_idx == "0" and transformer_idx == "0"
    dense = (
        dense_block_idx is not None
        and first
        and (
            block == "mid_block"
            or (block == "down_blocks" and int(index) == dense_block_idx)
            or (block == "up_blocks" and int(index) == dense_block_idx + 1)
        )
    )
    return ("dense" if dense else "first_prev"), False


def install_video_processors(
    unet,
    state: VideoAttentionState,
    dense_block_idx: int | None = 0,
    use_cross_frame: bool = True,
    chunk_frames: int | None = None,
) -> dict[str, Vid2VidAttnProcessor]:
    """Give every attention layer of ``unet`` a :class:`Vid2VidAttnProcessor` sharing ``state`` (in place).

    ``dense_block_idx=None`` disables the dense layers (first-and-previous everywhere). Raises when the chosen
    block has no attention, so a wrong index never silently means "no dense layer".
    """
    processors = {}
    for name in unet.attn_processors:
        mode, is_cross = frame_mode_for(name, dense_block_idx, use_cross_frame)
        processors[name] = Vid2VidAttnProcessor(state, mode, is_cross, chunk_frames)
    if use_cross_frame and dense_block_idx is not None:
        dense = [n for n, p in processors.items() if p.frame_mode == "dense" and not n.startswith("mid_block")]
        if not any(n.startswith("down_blocks") for n in dense) or not any(n.startswith("up_blocks") for n in dense):
            raise ValueError(
                f"dense_block_idx={dense_block_idx} names no attention block: down_blocks[{dense_block_idx}] and "
                f"up_blocks[{dense_block_idx + 1}] must both be cross-attention blocks"
            )
    unet.set_attn_processor(processors)
    return processors
