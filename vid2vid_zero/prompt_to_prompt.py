"""Prompt-to-prompt attention control: the target prompt's attention maps follow the source prompt's.

Cross-attention maps arrive from :class:`~vid2vid_zero.attention_processors.Vid2VidAttnProcessor` shaped
``(G, F, H, N, M)``, groups ``[uncond x P, cond x P]``, prompts ``[source, target]``; only the conditional half is
edited (as in the official code). Edits:
- replace (same word count): cross-attention of the target = source maps through a token mapper;
- refine (different word count): tokens aligned by a longest-common-subsequence alignment take the source map,
  new tokens keep their own;
- re-weight: chosen target words' maps are scaled;
- self-attention replacement: the target's self-attention maps become the source's during the first
  ``self_replace_steps`` of the steps, at layers with at most ``self_replace_max_queries`` queries per frame.
``official_quirks=True`` reproduces the official behaviour: self replacement never fires (the official hook only
patches layers whose class is named ``CrossAttention``) and refine receives ``self_replace_steps`` as its cross
replacement fraction.
"""

from __future__ import annotations

import torch


def word_token_spans(tokenizer, prompt: str) -> list[tuple[int, int]]:
    """Token positions ``[start, end)`` of each space-separated word of ``prompt`` (after the start token)."""
    spans, pos = [], 1
    for word in prompt.split(" "):
        n = len(tokenizer(word, add_special_tokens=False).input_ids)
        spans.append((pos, pos + n))
        pos += n
    return spans


def _token_ids(tokenizer, prompt: str) -> list[int]:
    return list(tokenizer(prompt).input_ids)


def replacement_mapper(tokenizer, source: str, target: str, context: int) -> torch.Tensor:
    """(context, context) matrix ``m[s, t]``: target token ``t`` receives ``sum_s map[s] * m[s, t]``.

    Words are paired by position; a changed word's source tokens are spread evenly over its target tokens. The tokens
    after the prompt (end / padding) are paired in order, counted from each prompt's own length.
    """
    src_spans, tgt_spans = word_token_spans(tokenizer, source), word_token_spans(tokenizer, target)
    if len(src_spans) != len(tgt_spans):
        raise ValueError(
            f"replace needs prompts with the same number of words, got {len(src_spans)} and {len(tgt_spans)}"
        )
    mapper = torch.zeros(context, context)
    mapper[0, 0] = 1.0  # start token
    for (s0, s1), (t0, t1) in zip(src_spans, tgt_spans):
        if s1 - s0 == t1 - t0:
            mapper[torch.arange(s0, s1), torch.arange(t0, t1)] = 1.0
        else:
            mapper[s0:s1, t0:t1] = 1.0 / (t1 - t0)
    src_end, tgt_end = src_spans[-1][1], tgt_spans[-1][1]
    tail = min(context - src_end, context - tgt_end)
    mapper[torch.arange(src_end, src_end + tail), torch.arange(tgt_end, tgt_end + tail)] = 1.0
    return mapper


def refinement_mapper(tokenizer, source: str, target: str, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(index, alpha), each (context,): target token ``t`` takes source token ``index[t]`` where ``alpha[t] = 1``.

    Tokens are aligned by a longest common subsequence; unmatched target tokens get ``alpha = 0`` (keep their own
    map). Positions after the target prompt map to the positions after the source prompt.
    """
    x, y = _token_ids(tokenizer, source), _token_ids(tokenizer, target)
    table = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]  # LCS lengths of suffixes
    for i in range(len(x) - 1, -1, -1):
        for j in range(len(y) - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if x[i] == y[j] else max(table[i + 1][j], table[i][j + 1])
    index, alpha = torch.zeros(context, dtype=torch.long), torch.zeros(context)
    i = j = 0
    while i < len(x) and j < len(y):
        if x[i] == y[j]:
            index[j], alpha[j] = i, 1.0
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    tail = torch.arange(len(y), context)
    index[tail] = (len(x) + tail - len(y)).clamp(max=context - 1)
    alpha[tail] = 1.0
    return index, alpha


def word_equalizer(tokenizer, prompt: str, weights: dict[str, float], context: int) -> torch.Tensor:
    """(context,) multipliers for the tokens of the given words of ``prompt`` (1 elsewhere)."""
    words = prompt.split(" ")
    spans = word_token_spans(tokenizer, prompt)
    equalizer = torch.ones(context)
    for word, value in weights.items():
        hits = [span for w, span in zip(words, spans) if w == word]
        if not hits:
            raise ValueError(f"re-weight word {word!r} is not a word of the prompt {prompt!r}")
        for start, end in hits:
            equalizer[start:end] = value
    return equalizer


class AttentionController:
    """Edits attention maps of a ``[source, target]`` prompt pair, step by step (see the module docstring)."""

    def __init__(
        self,
        tokenizer,
        source: str,
        target: str,
        num_steps: int,
        cross_replace_steps: float = 0.8,
        self_replace_steps: float = 0.4,
        reweight: dict[str, float] | None = None,
        official_quirks: bool = False,
        self_replace_max_queries: int = 32**2,
        context: int = 77,
    ):
        self.is_replace = len(source.split(" ")) == len(target.split(" "))
        if self.is_replace:
            self.mapper = replacement_mapper(tokenizer, source, target, context)
        else:
            self.index, self.alpha = refinement_mapper(tokenizer, source, target, context)
            if official_quirks:
                cross_replace_steps = self_replace_steps
        self.equalizer = word_equalizer(tokenizer, target, reweight, context) if reweight else None
        self.cross_until = int(num_steps * cross_replace_steps)
        self.self_until = 0 if official_quirks else int(num_steps * self_replace_steps)
        self.self_replace_max_queries = self_replace_max_queries

    @property
    def active_steps(self) -> int:
        """Maps are edited only in steps ``0 .. active_steps - 1``; after that the target never looks at the source."""
        return max(self.cross_until, self.self_until)

    def edits(self, is_cross: bool, num_queries: int, step: int) -> bool:
        """Whether this layer's maps are edited at this step (so the processor must build them)."""
        if is_cross:
            return step < self.cross_until
        return step < self.self_until and num_queries <= self.self_replace_max_queries

    def replace_self(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Self-attention replacement on queries or keys (G*F, H, N, D): the conditional target takes the source's.

        Swapping both makes the target's map ``softmax(q_src k_src^T)`` while it keeps its own values, which is the
        official map replacement without ever building the map.
        """
        x = x.unflatten(0, (-1, num_frames)).clone()  # (G, F, H, N, D)
        x[-1] = x[-2]
        return x.flatten(0, 1)

    def edit_cross(self, probs: torch.Tensor, step: int) -> torch.Tensor:
        """Cross-attention maps (G, F, H, N, tokens), G = cfg halves x [source, target]: edit the conditional target."""
        if not self.edits(True, probs.shape[-2], step):
            return probs
        base, current = probs[-2], probs[-1]  # conditional source / target
        if self.is_replace:
            new = base @ self.mapper.to(base)
        else:
            alpha = self.alpha.to(base)
            new = base[..., self.index.to(base.device)] * alpha + current * (1 - alpha)
        if self.equalizer is not None:
            new = new * self.equalizer.to(new)
        probs[-1] = new
        return probs
