"""Evaluators for ``tools/test.py`` (the engine's evaluator contract: ``evaluator(model, dataloader, ctx)``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from eva_clip.zero_shot import build_zero_shot_classifier, imagenet_classnames, openai_templates, topk_correct

__all__ = ["ZeroShotEvaluator"]


class ZeroShotEvaluator:
    """Zero-shot top-k accuracy (percent) on ``(image, class_index)`` batches.

    Defaults: the 1000 ImageNet class names and the 80 CLIP templates. ``class_indices`` keeps a subset of those
    classes; ``benchmark='imagenet-a'`` or ``'imagenet-r'`` picks their 200 ImageNet-1k ids. Labels stay ImageNet-1k
    ids and only the subset's classes compete.
    """

    def __init__(
        self,
        classnames: Sequence[str] | None = None,
        templates: Sequence[str] | None = None,
        class_indices: Sequence[int] | None = None,
        benchmark: str | None = None,
        topk: Sequence[int] = (1, 5),
        context_length: int = 77,
    ) -> None:
        if benchmark is not None:
            if class_indices is not None:
                raise ValueError("pass class_indices or benchmark, not both")
            from vision.data.imagenet import subset_indices

            class_indices = subset_indices(benchmark)
        names = list(classnames) if classnames is not None else imagenet_classnames()
        if not names:
            raise ValueError("classnames is empty; zero-shot classification needs at least one class")
        self.class_ids = list(class_indices) if class_indices is not None else list(range(len(names)))
        out_of_range = [i for i in self.class_ids if not 0 <= i < len(names)]
        if out_of_range:
            raise ValueError(f"class_indices {out_of_range[:5]} are outside the {len(names)} class names")
        self.classnames = [names[i] for i in self.class_ids]
        self.templates = list(templates) if templates is not None else openai_templates()
        self.topk = tuple(topk)
        self.context_length = context_length

    def __call__(self, model: torch.nn.Module, dataloader, ctx) -> dict[str, float]:
        from eva_clip.tokenizer import tokenize

        model = getattr(model, "module", model)
        classifier = build_zero_shot_classifier(
            model, lambda t: tokenize(t, self.context_length), self.classnames, self.templates, device=ctx.device
        )
        # ImageNet-1k id -> column of the (possibly subset) classifier; -1 for labels outside it.
        column = torch.full((max(self.class_ids) + 1,), -1, dtype=torch.long, device=ctx.device)
        column[torch.tensor(self.class_ids, device=ctx.device)] = torch.arange(len(self.class_ids), device=ctx.device)
        stats = torch.zeros(1 + len(self.topk), device=ctx.device)
        for (images, labels, *_), valid in ctx.batches(dataloader):
            with ctx.autocast():
                logits = model.encode_image(images, normalize=True).float() @ classifier.float()
            targets = column[labels.clamp(max=column.numel() - 1)]
            targets[labels >= column.numel()] = -1
            if (targets[valid] < 0).any():
                raise ValueError("a label is not among the evaluated classes (check class_indices)")
            hits = topk_correct(logits[valid], targets[valid], self.topk)
            stats[0] += valid.sum()
            for j, k in enumerate(self.topk):
                stats[1 + j] += hits[k]
        ctx.all_reduce_sum(stats)
        n = stats[0].clamp(min=1)
        return {f"top{k}": (100.0 * stats[1 + j] / n).item() for j, k in enumerate(self.topk)}
