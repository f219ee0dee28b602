"""DDIM inversion and null-text optimisation on the tiny random model."""

from __future__ import annotations

import pytest
import torch

from vid2vid_zero.inversion import DDIMSchedule, ddim_move, uses_null_embedding


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_ddim_move_is_invertible_for_a_fixed_model_output(prediction_type):
    torch.manual_seed(0)
    x, out = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    there = ddim_move(x, out, 0.9, 0.3, "epsilon")
    back = ddim_move(there, out, 0.3, 0.9, "epsilon")
    torch.testing.assert_close(back, x, atol=1e-5, rtol=1e-5)
    if prediction_type == "v_prediction":  # v = sqrt(a) eps - sqrt(1 - a) x0 gives the same move as its eps
        a = 0.9
        x0 = torch.randn_like(x)
        xt = a**0.5 * x0 + (1 - a) ** 0.5 * out
        v = a**0.5 * out - (1 - a) ** 0.5 * x0
        torch.testing.assert_close(ddim_move(xt, v, a, 0.3, "v_prediction"), ddim_move(xt, out, a, 0.3, "epsilon"))


def test_schedule_matches_stable_diffusion_ddim(pipe):
    schedule = DDIMSchedule.from_scheduler(pipe.scheduler, 50)
    assert schedule.timesteps[0] == 981 and schedule.timesteps[-1] == 1  # steps_offset=1, leading spacing
    assert schedule.previous(0) == 961 and schedule.previous(49) == -1
    assert schedule.alpha(-1) == pytest.approx(float(pipe.scheduler.alphas_cumprod[0]))  # set_alpha_to_one=False


def test_null_uncond_ratio_follows_the_official_rule():
    assert [uses_null_embedding(i, 10, -0.5) for i in range(10)] == [False] * 5 + [True] * 5
    assert [uses_null_embedding(i, 10, 0.3) for i in range(10)] == [True] * 4 + [False] * 6
    assert all(uses_null_embedding(i, 10, 1.0) for i in range(10))
    assert not any(uses_null_embedding(i, 10, 0.0) for i in range(10))


def test_null_text_reconstruction_returns_the_inverted_latents(pipe):
    """The property null-text inversion exists for: with the source prompt, classifier-free guidance and the
    optimised null embeddings, DDIM from the inverted noise lands back on the clip's latents."""
    torch.manual_seed(0)
    latents, prompt, steps = torch.randn(2, 4, 8, 8), "a horse is running on the beach", 5
    inversion = pipe.invert(latents, prompt, num_steps=steps, null_inner_steps=15, null_base_lr=0.1)
    assert inversion.null_embeddings.shape == (steps, 77, 32)
    assert inversion.noise.shape == latents.shape and not torch.allclose(inversion.noise, latents)
    kwargs = dict(num_steps=steps, null_uncond_ratio=1.0, cross_frame=False)
    rebuilt = pipe.denoise(inversion.noise, [prompt], inversion.null_embeddings, **kwargs)[0]
    plain = pipe.denoise(inversion.noise, [prompt], None, **kwargs)[0]
    err_null = (rebuilt - latents).abs().mean().item()
    err_plain = (plain - latents).abs().mean().item()
    scale = latents.abs().mean().item()
    assert err_null < 0.05 * scale, (err_null, scale)
    assert err_null < 0.3 * err_plain, (err_null, err_plain)


def test_wrong_number_of_null_embeddings_raises(pipe):
    with pytest.raises(ValueError, match="null embeddings for 4 steps"):
        pipe.denoise(torch.randn(1, 4, 8, 8), ["a car"], torch.zeros(3, 77, 32), num_steps=4)


def test_progress_reports_every_stage_step(pipe):
    seen = []
    inversion = pipe.invert(torch.randn(1, 4, 8, 8), "a car", num_steps=3, progress=lambda *a: seen.append(a))
    pipe.edit(inversion, "a car", "a bus", num_steps=3, progress=lambda *a: seen.append(a))
    for stage in ("ddim inversion", "null-text optimisation", "editing"):
        assert [done for s, done, total in seen if s == stage] == [1, 2, 3]
