"""EVA / EVA-02 masked image modelling: the student, the frozen CLIP teacher and the loss.

The student (:class:`EvaMIM`) is the core :class:`vision.VisionTransformer` with a mask token and a linear ``lm_head``;
the official keys (``mask_token``, ``norm``, ``lm_head``) sit at the top level, so official MIM checkpoints load
without renaming. Masked patches are replaced by the mask token; the student regresses, for those patches only, the
features the teacher computes from the unmasked image. The loss is the negative cosine similarity (EVA-01, EVA-02).

Registered students (``predict_feature_dim`` = the teacher's feature size):

* ``eva02_mim_{tiny,small,base,large}_patch14_224``: EVA-02, taught by EVA-CLIP g/14 (1024-d),
* ``eva_mim_giant_patch14_224``: EVA-01 g, taught by OpenAI CLIP L/14 (768-d),
* ``eva02_mim_test_patch14_112`` / ``eva_mim_test_patch14_112``: tiny models for tests and the CPU smoke recipe.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from eva.convert import checkpoint_filter_fn
from vision import VisionTransformer, create_model, register_model
from vision.data.masking import check_mask

__all__ = ["EvaMIM", "MIMPretrainer", "MIMTeacher", "mim_loss"]

_PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _damp_patch_grad(module: nn.Module, args: tuple, output: tuple) -> tuple:
    # Official ``stop_grad_conv1``: same forward value (to ~1 ulp), a tenth of the gradient into the patch kernel.
    tokens, grid = output
    return tokens.detach() * 0.9 + tokens * 0.1, grid


class EvaMIM(VisionTransformer):
    """MIM student: ``forward(images, mask)`` returns ``lm_head`` predictions for the masked patches only.

    ``mask`` is ``(B, N)`` bool (True = masked). The prediction rows follow ``features[:, prefix:][mask]``: sample by
    sample, patches in row-major order, as the official model orders them. ``stop_grad_conv1`` scales the gradient
    into the patch embedding by 0.1 (the EVA-02 pre-training default).
    """

    checkpoint_filter_fn = staticmethod(checkpoint_filter_fn)

    def __init__(self, predict_feature_dim: int = 1024, stop_grad_conv1: bool = False, **kwargs: Any) -> None:
        for key in ("num_classes", "global_pool", "use_mask_token", "fc_norm"):
            if key in kwargs:
                raise ValueError(f"{key} is fixed for the MIM student (no classifier head); do not pass it")
        super().__init__(num_classes=0, global_pool="", use_mask_token=True, fc_norm=False, **kwargs)
        self.predict_feature_dim = predict_feature_dim
        self.lm_head = nn.Linear(self.embed_dim, predict_feature_dim)
        nn.init.trunc_normal_(self.lm_head.weight, std=0.02)
        nn.init.zeros_(self.lm_head.bias)
        self.stop_grad_conv1 = stop_grad_conv1
        if stop_grad_conv1:
            self.patch_embed.register_forward_hook(_damp_patch_grad)

    def _check(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        grid = self.patch_embed.dynamic_grid(x.shape[-2], x.shape[-1])
        return check_mask(mask, x.shape[0], grid[0] * grid[1])

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1 + N, D)`` tokens after the final norm, masked patches replaced by the mask token."""
        return super().forward_features(x, None if mask is None else self._check(x, mask))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = self._check(x, mask)
        tokens = self.forward_features(x, mask)[:, self.num_prefix_tokens :]  # (B, N, D)
        return self.lm_head(tokens[mask])  # (M, predict_feature_dim), M = mask.sum()


class MIMTeacher(nn.Module):
    """A frozen feature tower: per-patch targets ``(B, N, C)`` for the student.

    ``model`` is a module or a registered name (built with ``vision.create_model(model, pretrained, **kwargs)``);
    a CLIP model contributes its ``visual`` tower. Targets are the tower's final-norm patch tokens, passed through its
    ``head`` when ``project`` and the head is a projection (EVA-CLIP: the image projection, as the official EVA-02
    teacher does). ``precision='bf16'`` stores and runs the tower in bfloat16, halving its memory and time. The
    teacher never trains: no gradients, ``train()`` keeps it in eval mode.
    """

    def __init__(
        self,
        model: nn.Module | str,
        pretrained: bool | str | None = None,
        project: bool = True,
        precision: str = "fp32",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if precision not in _PRECISIONS:
            raise ValueError(f"teacher precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
        if isinstance(model, str):
            model = create_model(model, pretrained=pretrained, **kwargs)
        tower = getattr(model, "visual", model)
        if not hasattr(tower, "forward_features") or not hasattr(tower, "patch_embed"):
            raise TypeError(f"teacher {type(tower).__name__} is not a ViT tower (needs forward_features, patch_embed)")
        self.tower = tower.requires_grad_(False).eval()
        head = getattr(tower, "head", None)
        self.head = head if project and isinstance(head, nn.Linear) else nn.Identity()
        self.feature_dim = self.head.out_features if isinstance(self.head, nn.Linear) else tower.num_features
        self.tower.to(_PRECISIONS[precision])

    @property
    def grid_size(self) -> tuple[int, int]:
        return tuple(self.tower.patch_embed.grid_size)

    def train(self, mode: bool = True) -> MIMTeacher:
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.tower.patch_embed.proj.weight.dtype)
        tokens = self.tower.forward_features(x)[:, self.tower.num_prefix_tokens :]  # (B, N, C_tower)
        return self.head(tokens)  # (B, N, feature_dim)


def mim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative cosine similarity of L2-normalised features, averaged over rows (computed in fp32)."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and teacher target {tuple(target.shape)} differ in shape")
    pred, target = F.normalize(pred.float(), dim=-1), F.normalize(target.float(), dim=-1)
    return -(pred * target).sum(dim=-1).mean()


class MIMPretrainer(nn.Module):
    """Student + frozen teacher: ``forward(images, mask)`` returns the MIM loss.

    The teacher is deliberately not a registered submodule: checkpoints, ``parameters()`` (optimizer, DDP, FSDP)
    and ``state_dict()`` hold the student only, while ``.to()`` / ``.cuda()`` move both. ``teacher_images`` lets the
    teacher see differently normalised pixels; by default it sees the student's input.
    """

    def __init__(self, student: EvaMIM, teacher: MIMTeacher) -> None:
        super().__init__()
        if tuple(student.patch_embed.grid_size) != teacher.grid_size:
            s, t = student.patch_embed, teacher.tower.patch_embed
            raise ValueError(
                f"teacher patch grid {t.grid_size[0]}x{t.grid_size[1]} (image {t.img_size[0]}, patch {t.patch_size[0]})"
                f" does not match the student's {s.grid_size[0]}x{s.grid_size[1]} (image {s.img_size[0]}, patch "
                f"{s.patch_size[0]}); the student regresses one teacher feature per patch"
            )
        if student.predict_feature_dim != teacher.feature_dim:
            raise ValueError(
                f"student lm_head predicts {student.predict_feature_dim}-d features but the teacher gives "
                f"{teacher.feature_dim}-d; build the student with predict_feature_dim={teacher.feature_dim}"
            )
        self.student = student
        self._teacher = [teacher]  # a list hides it from parameters() and state_dict()

    @property
    def teacher(self) -> MIMTeacher:
        return self._teacher[0]

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.student.set_grad_checkpointing(enable)

    def no_weight_decay(self) -> set[str]:
        return {f"student.{name}" for name in self.student.no_weight_decay()}

    def _apply(self, fn, recurse: bool = True):
        self.teacher._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def forward(
        self, images: torch.Tensor, mask: torch.Tensor, teacher_images: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = self.student._check(images, mask)
        target = self.teacher(images if teacher_images is None else teacher_images)  # (B, N, C)
        if target.shape[1] != mask.shape[1]:
            raise ValueError(f"teacher gave {target.shape[1]} patch features for a mask of {mask.shape[1]} patches")
        pred = self.student(images, mask)  # (M, C)
        return mim_loss(pred, target[mask])


# ---------------------------------------------------------------------------------------------------------------------
# registered students

_EVA02 = dict(patch_size=14, mlp_ratio=4 * 2 / 3, mlp_layer="swiglu", use_rope=True, stop_grad_conv1=True)
_EVA01 = dict(patch_size=14, mlp_ratio=6144 / 1408, mlp_layer="gelu")


def _student(defaults: dict, **overrides: Any) -> EvaMIM:
    # RoPE positions are the student's own grid (official pt_seq_len = img // patch), the core's default.
    return EvaMIM(**{**defaults, **overrides})


@register_model
def eva02_mim_tiny_patch14_224(**kwargs: Any) -> EvaMIM:
    """EVA-02 Ti/14 MIM student (packed SwiGLU, RoPE), EVA-CLIP g/14 teacher."""
    return _student(dict(_EVA02, embed_dim=192, depth=12, num_heads=3, predict_feature_dim=1024), **kwargs)


@register_model
def eva02_mim_small_patch14_224(**kwargs: Any) -> EvaMIM:
    """EVA-02 S/14 MIM student, EVA-CLIP g/14 teacher."""
    return _student(dict(_EVA02, embed_dim=384, depth=12, num_heads=6, predict_feature_dim=1024), **kwargs)


@register_model
def eva02_mim_base_patch14_224(**kwargs: Any) -> EvaMIM:
    """EVA-02 B/14 MIM student (sub-LN SwiGLU, RoPE), EVA-CLIP g/14 teacher."""
    cfg = dict(_EVA02, embed_dim=768, depth=12, num_heads=12, scale_mlp=True, predict_feature_dim=1024)
    return _student(cfg, **kwargs)


@register_model
def eva02_mim_large_patch14_224(**kwargs: Any) -> EvaMIM:
    """EVA-02 L/14 MIM student (sub-LN SwiGLU, RoPE), EVA-CLIP g/14 teacher."""
    cfg = dict(_EVA02, embed_dim=1024, depth=24, num_heads=16, scale_mlp=True, predict_feature_dim=1024)
    return _student(cfg, **kwargs)


@register_model
def eva_mim_giant_patch14_224(**kwargs: Any) -> EvaMIM:
    """EVA-01 g/14 MIM student (GELU MLP, absolute positions), OpenAI CLIP L/14 teacher (768-d)."""
    return _student(dict(_EVA01, embed_dim=1408, depth=40, num_heads=16, predict_feature_dim=768), **kwargs)


@register_model
def eva02_mim_test_patch14_112(**kwargs: Any) -> EvaMIM:
    """Tiny EVA-02 MIM student for tests: 2 sub-LN SwiGLU blocks of width 32 on an 8x8 grid, 16-d targets."""
    cfg = dict(_EVA02, img_size=112, embed_dim=32, depth=2, num_heads=2, scale_mlp=True, predict_feature_dim=16)
    return _student(cfg, **kwargs)


@register_model
def eva_mim_test_patch14_112(**kwargs: Any) -> EvaMIM:
    """Tiny EVA-01 MIM student for tests: 2 GELU blocks of width 32 on an 8x8 grid, 16-d targets."""
    cfg = dict(_EVA01, img_size=112, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.0, predict_feature_dim=16)
    return _student(cfg, **kwargs)
