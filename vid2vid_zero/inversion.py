"""DDIM inversion and null-text optimisation (one unconditional embedding per step, shared by all frames).

``unet_fn(latents, t, embedding) -> model_output`` hides the frame batching: ``latents`` is ``(F, C, h, w)`` and
``embedding`` one ``(1, L, D)`` text embedding applied to every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

UNetFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DDIMSchedule:
    """Timesteps (descending) and cumulative alphas; ``alpha(-1)`` is the scheduler's final alpha."""

    timesteps: torch.Tensor
    alphas_cumprod: torch.Tensor
    final_alpha_cumprod: float
    prediction_type: str = "epsilon"

    @classmethod
    def from_scheduler(cls, scheduler, num_steps: int) -> DDIMSchedule:
        scheduler.set_timesteps(num_steps)
        if scheduler.config.prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"unsupported prediction_type {scheduler.config.prediction_type!r}")
        return cls(
            timesteps=scheduler.timesteps.clone(),
            alphas_cumprod=scheduler.alphas_cumprod.clone(),
            final_alpha_cumprod=float(scheduler.final_alpha_cumprod),
            prediction_type=scheduler.config.prediction_type,
        )

    def alpha(self, t: int) -> float:
        return self.final_alpha_cumprod if t < 0 else float(self.alphas_cumprod[t])

    def previous(self, i: int) -> int:
        """The timestep denoising step ``i`` lands on (-1 after the last step)."""
        return int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1


def ddim_move(
    sample: torch.Tensor, model_output: torch.Tensor, alpha_from: float, alpha_to: float, prediction_type: str
) -> torch.Tensor:
    """Deterministic DDIM move of ``sample`` from noise level ``alpha_from`` to ``alpha_to`` (either direction)."""
    a, b = alpha_from**0.5, (1 - alpha_from) ** 0.5
    if prediction_type == "v_prediction":
        eps = a * model_output + b * sample
    else:
        eps = model_output
    x0 = (sample - b * eps) / a
    return alpha_to**0.5 * x0 + (1 - alpha_to) ** 0.5 * eps


@torch.no_grad()
def ddim_invert(
    unet_fn: UNetFn,
    latents: torch.Tensor,
    embedding: torch.Tensor,
    schedule: DDIMSchedule,
    progress: Callable[[int], None] | None = None,
) -> list:
    """Run DDIM backwards from clean ``latents``; returns ``[z_0, z_1, ..., z_T]`` (``z_T`` last)."""
    trajectory = [latents]
    steps = len(schedule.timesteps)
    for i in range(steps - 1, -1, -1):
        t = schedule.timesteps[i]
        output = unet_fn(latents, t, embedding)
        latents = ddim_move(
            latents, output, schedule.alpha(schedule.previous(i)), schedule.alpha(int(t)), schedule.prediction_type
        )
        trajectory.append(latents)
        if progress is not None:
            progress(steps - i - 1)
    return trajectory


def null_text_optimise(
    unet_fn: UNetFn,
    trajectory: list,
    uncond: torch.Tensor,
    cond: torch.Tensor,
    schedule: DDIMSchedule,
    guidance_scale: float = 7.5,
    inner_steps: int = 1,
    base_lr: float = 1e-2,
    early_stop_eps: float = 1e-5,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Optimise one unconditional embedding per step so guided DDIM retraces the inversion ``trajectory``.

    Per step ``i``: Adam with learning rate ``base_lr * (1 - i / 100)``, at most ``inner_steps`` updates, stopping
    once the MSE falls under ``early_stop_eps + i * 2e-5`` (the official schedule). Returns ``(T, L, D)``.
    """
    steps = len(schedule.timesteps)
    latent = trajectory[-1]
    embedding = uncond.detach().float()
    out = []
    for i in range(steps):
        t = schedule.timesteps[i]
        a_from, a_to = schedule.alpha(int(t)), schedule.alpha(schedule.previous(i))
        target = trajectory[steps - i - 1]
        embedding = embedding.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([embedding], lr=base_lr * (1.0 - i / 100.0))
        with torch.no_grad():
            out_cond = unet_fn(latent, t, cond)
        for _ in range(inner_steps):
            out_uncond = unet_fn(latent, t, embedding.to(cond.dtype))
            output = out_uncond + guidance_scale * (out_cond - out_uncond)
            rec = ddim_move(latent, output, a_from, a_to, schedule.prediction_type)
            loss = F.mse_loss(rec.float(), target.float())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if not torch.isfinite(embedding).all():
                raise FloatingPointError(f"null-text embedding diverged at step {i}; lower null_base_lr")
            if loss.item() < early_stop_eps + i * 2e-5:
                break
        embedding = embedding.detach()
        out.append(embedding[0])
        with torch.no_grad():  # the conditional output of this step is still valid: same latent, same prompt
            out_uncond = unet_fn(latent, t, embedding.to(cond.dtype))
            output = out_uncond + guidance_scale * (out_cond - out_uncond)
            latent = ddim_move(latent, output, a_from, a_to, schedule.prediction_type)
        if progress is not None:
            progress(i)
    return torch.stack(out)


def uses_null_embedding(step: int, num_steps: int, null_uncond_ratio: float) -> bool:
    """Official ``null_uncond_ratio``: ``r > 0`` uses the optimised embeddings for steps ``i <= T * r``; ``r <= 0`` for
    steps ``i >= T * (1 + r)`` (so the default ``-0.5`` uses them in the last half)."""
    if null_uncond_ratio > 0:
        return step <= num_steps * null_uncond_ratio
    return step >= num_steps * (1 + null_uncond_ratio)
