"""DDIM and the asymmetric reverse process, against diffusers' DDIMScheduler and DDIMPipeline."""
import numpy as np
import pytest
import torch
from diffusers import DDIMPipeline, DDIMScheduler

import latentlab as ll
from latentlab.ddim import eps_from_output

from helpers import gen


def reference_loop(model, x, steps, eta, generator):
    """The oracle: diffusers' own scheduler, stepped by hand."""
    s = DDIMScheduler.from_config(model.scheduler.config)
    s.set_timesteps(steps)
    for t in s.timesteps:
        eps = model.unet(x, t).sample
        x = s.step(eps, t, x, eta=eta, generator=generator).prev_sample
    return x


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("clip", [True, False])
def test_sample_equals_diffusers_scheduler(model, eta, clip):
    model.scheduler = DDIMScheduler(clip_sample=clip)
    x_T = torch.randn(2, 3, 16, 16, generator=gen(1))
    ours = ll.ddim_sample(model, x_T, steps=10, eta=eta, generator=gen(7), progress=False)
    ref = reference_loop(model, x_T, 10, eta, gen(7))
    # Unclipped, a random U-Net's samples leave [-1, 1] by far; float32 then allows 1e-5 relative.
    assert (ours - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())


def test_sample_equals_ddim_pipeline(model):
    pipe = DDIMPipeline(unet=model.unet, scheduler=DDIMScheduler())
    pipe.set_progress_bar_config(disable=True)
    ref = pipe(2, generator=gen(3), num_inference_steps=8, eta=0.0, output_type="np").images
    x_T = torch.randn(2, 3, 16, 16, generator=gen(3))
    ours = ll.ddim_sample(model, x_T, steps=8, progress=False)
    ours = (ours / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert np.abs(ours - ref).max() <= 1e-5


def test_timesteps_match_scheduler(model):
    s = DDIMScheduler()
    for steps in (1, 7, 50, 1000):
        s.set_timesteps(steps)
        assert torch.equal(ll.ddim_timesteps(model, steps), s.timesteps)


def test_t_boost_everywhere_is_eta_one(model):
    x_T = torch.randn(1, 3, 16, 16, generator=gen(2))
    boosted = ll.ddim_sample(model, x_T, steps=6, eta=0.0, t_boost=1000, generator=gen(4), progress=False)
    ref = reference_loop(model, x_T, 6, 1.0, gen(4))
    assert (boosted - ref).abs().max() <= 1e-5


def test_split_into_P_t_and_D_t_matches_step():
    """P_t and D_t recombine into diffusers' step (no clipping, eta 0)."""
    s = DDIMScheduler(clip_sample=False)
    s.set_timesteps(10)
    x, eps = torch.randn(4, generator=gen(0)), torch.randn(4, generator=gen(1))
    t = int(s.timesteps[3])
    a_t, a_prev = s.alphas_cumprod[t], s.alphas_cumprod[t - 100]
    ours = a_prev.sqrt() * ll.P_t(x, eps, a_t) + ll.D_t(eps, a_prev)
    assert torch.allclose(ours, s.step(eps, t, x).prev_sample, atol=1e-6)


def test_asymmetric_with_zero_dh_is_plain(model):
    x_T = torch.randn(2, 3, 16, 16, generator=gen(5))
    plain = ll.ddim_sample(model, x_T, steps=5, progress=False)
    zero = ll.ddim_sample(model, x_T, steps=5, dh=torch.zeros(model.h_shape), progress=False)
    assert torch.equal(plain, zero)


def test_asymmetric_differs_from_symmetric(model):
    x_T = torch.randn(2, 3, 16, 16, generator=gen(5))
    dh = torch.randn(model.h_shape, generator=gen(6))
    asym = ll.ddim_sample(model, x_T, steps=5, dh=dh, progress=False)
    sym = ll.ddim_sample(model, x_T, steps=5, dh=dh, asymmetric=False, progress=False)
    plain = ll.ddim_sample(model, x_T, steps=5, progress=False)
    assert (asym - plain).abs().max() > 1e-3
    assert (asym - sym).abs().max() > 1e-3


def test_asymmetric_step_by_hand(model):
    """One edited step equals sqrt(a_prev) P_t(eps_edit) + D_t(eps), built from eps_of."""
    model.scheduler = DDIMScheduler(clip_sample=False)
    x_T = torch.randn(1, 3, 16, 16, generator=gen(8))
    dh = torch.randn(model.h_shape, generator=gen(9))
    ours = ll.ddim_sample(model, x_T, steps=1, dh=dh, progress=False)
    t = 0
    a_t, a_prev = model.scheduler.alphas_cumprod[t], torch.tensor(1.0)
    eps, eps_edit = model.unet(x_T, t).sample, ll.eps_of(model, x_T, t, dh=dh)
    ref = a_prev.sqrt() * (x_T - (1 - a_t).sqrt() * eps_edit) / a_t.sqrt() + (1 - a_prev).sqrt() * eps
    assert torch.allclose(ours, ref, atol=1e-5)


def test_edit_only_at_t_edit_and_above(model):
    x_T = torch.randn(1, 3, 16, 16, generator=gen(5))
    seen = []
    ll.ddim_sample(model, x_T, steps=4, dh=lambda t, h: (seen.append(t), torch.zeros_like(h))[1],
                   t_edit=500, progress=False)
    assert seen == [750, 500]
    never = ll.ddim_sample(model, x_T, steps=4, dh=torch.ones(model.h_shape), t_edit=1000, progress=False)
    assert torch.equal(never, ll.ddim_sample(model, x_T, steps=4, progress=False))


def test_callback_and_trajectory(model):
    x_T = torch.randn(3, 16, 16, generator=gen(0))
    steps = []
    x0, traj = ll.ddim_sample(model, x_T, steps=3, return_trajectory=True, callback=steps.append, progress=False)
    assert x0.shape == (3, 16, 16) and len(traj) == 4 and torch.equal(traj[0], x_T) and torch.equal(traj[-1], x0)
    assert [s["t"] for s in steps] == [666, 333, 0]
    assert set(steps[0]) >= {"x", "i", "t", "P_t", "h"} and steps[0]["h"].shape == (1, *model.h_shape)


def test_invert_then_sample_is_exact_when_eps_is_zero():
    """With eps = 0 every step is a pure rescaling, so the round trip checks the grid and algebra."""
    model = ll.tiny_model(sample_size=32)
    model.unet.conv_out.weight.data.zero_()
    model.unet.conv_out.bias.data.zero_()
    x0, _ = ll.render_faces(2, seed=3)
    x_T = ll.ddim_invert(model, x0, steps=50, progress=False)
    assert (ll.ddim_sample(model, x_T, steps=50, progress=False) - x0).abs().max() <= 1e-5


@pytest.mark.slow
def test_invert_then_sample_converges_with_steps():
    """The round trip's error is DDIM's discretisation error: first order, so it shrinks with steps.

    On a random U-Net (output scaled by 0.01, so the ODE is not too stiff) the max abs error is
    about 0.76 / 0.34 / 0.10 at 10 / 50 / 200 steps; a trained model does far better (the faces
    benchmark reports PSNR). Tolerance: <= 0.5 at 50 steps and <= 0.15 at 200.
    """
    model = ll.tiny_model(sample_size=32)
    model.unet.conv_out.weight.data *= 0.01
    model.unet.conv_out.bias.data *= 0.01
    model.scheduler = DDIMScheduler(clip_sample=False)
    x0, _ = ll.render_faces(2, seed=3)
    errs = {}
    for steps in (10, 50, 200):
        x_T = ll.ddim_invert(model, x0, steps=steps, progress=False)
        errs[steps] = (ll.ddim_sample(model, x_T, steps=steps, progress=False) - x0).abs().max().item()
    assert errs[200] < errs[50] < errs[10]
    assert errs[50] <= 0.5 and errs[200] <= 0.15


@pytest.mark.parametrize("clip_sample", [False, True])
def test_clip_overrides_the_scheduler_config(clip_sample):
    """clip=False / True sample as diffusers' DDIMScheduler.step does with clip_sample False / True,
    whatever the model's own config says (the oracle: diffusers' loop with the other config)."""
    model = ll.tiny_model(sample_size=16)
    model.scheduler = DDIMScheduler(clip_sample=not clip_sample)
    x_T = torch.randn(2, 3, 16, 16, generator=gen(5)) * 3  # large, so that clipping bites
    ours = ll.ddim_sample(model, x_T, steps=6, clip=clip_sample, progress=False)
    ref = DDIMScheduler(clip_sample=clip_sample)
    ref.set_timesteps(6)
    x = x_T
    with torch.no_grad():
        for t in ref.timesteps:
            x = ref.step(model.unet(x, t).sample, t, x).prev_sample
    torch.testing.assert_close(ours, x, rtol=0, atol=1e-5)
    other = ll.ddim_sample(model, x_T, steps=6, progress=False)  # the model's own config
    assert (other - ours).abs().max() > 1e-3


def test_sample_is_deterministic(model):
    x_T = torch.randn(2, 3, 16, 16, generator=gen(0))
    a = ll.ddim_sample(model, x_T, steps=4, eta=0.5, generator=gen(1), progress=False)
    b = ll.ddim_sample(model, x_T, steps=4, eta=0.5, generator=gen(1), progress=False)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(x_T=torch.zeros(16, 16)), ValueError, "x_T must have shape"),
        (dict(x_T=torch.zeros(1, 4, 16, 16)), ValueError, "x_T must have per-sample shape"),
        (dict(x_T=torch.zeros(1, 3, 8, 8)), ValueError, "x_T must have per-sample shape"),
        (dict(x_T=torch.full((1, 3, 16, 16), float("nan"))), ValueError, "x_T contains NaN"),
        (dict(steps=0), ValueError, "steps must be an integer from 1 to 1000"),
        (dict(steps=1001), ValueError, "steps must be an integer from 1 to 1000"),
        (dict(eta=-0.1), ValueError, "eta must be a finite number >= 0"),
        (dict(dh=torch.zeros(3, 3)), ValueError, "dh must have the shape of h"),
        (dict(t_edit=-1), ValueError, "t_edit must be"),
        (dict(x_T=[1.0]), TypeError, "x_T must be a torch.Tensor"),
        (dict(clip="no"), ValueError, r"clip must be None \(the scheduler's config\), True or False, got 'no'"),
    ],
)
def test_sampler_bad_input(model, kwargs, error, match):
    args = dict(x_T=torch.zeros(1, 3, 16, 16), steps=2, progress=False) | kwargs
    with pytest.raises(error, match=match):
        ll.ddim_sample(model, **args)


def test_invert_bad_input(model):
    with pytest.raises(ValueError, match="x_0 contains NaN"):
        ll.ddim_invert(model, torch.full((3, 16, 16), float("inf")), steps=2)
    with pytest.raises(ValueError, match="steps must be"):
        ll.ddim_invert(model, torch.zeros(3, 16, 16), steps=-1)


def test_t_start_finishes_the_trajectory(model):
    """Started from the trajectory's x_t at grid step t, the sampler reaches the same x_0."""
    x_T = torch.randn(2, *model.sample_shape, generator=gen(9))
    x_0, traj = ll.ddim_sample(model, x_T, steps=10, return_trajectory=True, progress=False)
    i = ll.ddim_timesteps(model, 10).tolist().index(600)
    assert (ll.ddim_sample(model, traj[i], 10, t_start=600, progress=False) - x_0).abs().max() <= 1e-6
    with pytest.raises(ValueError, match="t_start must be None or a timestep of the 10-step grid"):
        ll.ddim_sample(model, traj[i], 10, t_start=650, progress=False)


def test_samplers_share_one_signature():
    """k-diffusion style: every sampler takes (model, x, steps, ...) and the same keyword names."""
    import inspect

    shared = {"steps", "return_trajectory", "callback", "progress"}
    for sampler in (ll.ddim_sample, ll.ddim_invert):
        params = inspect.signature(sampler).parameters
        assert list(params)[:3] in (["model", "x_T", "steps"], ["model", "x_0", "steps"])
        assert shared <= set(params) and all(params[p].default is not inspect.Parameter.empty for p in shared)


def test_unet_passes_per_step(model):
    """One pass per step without an edit or with a symmetric one; two for Asyrp's asymmetric step."""
    calls = []
    handle = model.unet.conv_in.register_forward_pre_hook(lambda m, a: calls.append(1))
    x_T = torch.randn(1, 3, 16, 16, generator=gen(0))
    dh = torch.ones(model.h_shape)
    try:
        for kwargs, expected in ((dict(), 3), (dict(dh=dh, asymmetric=False), 3), (dict(dh=dh), 6)):
            calls.clear()
            ll.ddim_sample(model, x_T, steps=3, progress=False, **kwargs)
            assert len(calls) == expected, kwargs
    finally:
        handle.remove()


@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("clip_sample", [False, True])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_ddim_step_equals_diffusers_step(model, eta, clip_sample, prediction_type):
    """One ddim_step against diffusers' DDIMScheduler.step, called directly on the same model output,
    state and generator, at every step of a grid (the last one steps to final_alpha_cumprod)."""
    model.scheduler = DDIMScheduler(clip_sample=clip_sample, prediction_type=prediction_type)
    ref = DDIMScheduler.from_config(model.scheduler.config)
    ref.set_timesteps(5)
    x = torch.randn(2, 3, 16, 16, generator=gen(1)) * 2
    for i, t in enumerate(ref.timesteps.tolist()):
        out = torch.randn(2, 3, 16, 16, generator=gen(10 + i))
        expected = ref.step(out, t, x, eta=eta, generator=gen(20 + i))
        eps = eps_from_output(model, out, x, t)
        ours, x0 = ll.ddim_step(model, x, t, t - 1000 // 5, eps, eta=eta, generator=gen(20 + i))
        # v_prediction: diffusers forms x_0 from v directly, we go through eps (float32 rounding apart)
        torch.testing.assert_close(ours, expected.prev_sample, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(x0, expected.pred_original_sample, rtol=1e-4, atol=1e-4)
        x = expected.prev_sample


@pytest.mark.parametrize("clip", [True, False])
def test_ddim_step_clip_argument_overrides_config(model, clip):
    """clip=True / False steps as diffusers does with clip_sample True / False, whatever the model's config."""
    model.scheduler = DDIMScheduler(clip_sample=not clip)
    ref = DDIMScheduler(clip_sample=clip)
    ref.set_timesteps(4)
    x, eps = torch.randn(1, 3, 16, 16, generator=gen(2)) * 3, torch.randn(1, 3, 16, 16, generator=gen(3))
    t = int(ref.timesteps[0])
    ours, _ = ll.ddim_step(model, x, t, t - 250, eps, clip=clip)
    torch.testing.assert_close(ours, ref.step(eps, t, x).prev_sample, rtol=1e-5, atol=1e-5)


def test_ddim_step_asymmetric_uses_eps_edit_in_P_t_only(model):
    """Asyrp's Eq. 4: P_t from eps_edit, D_t from eps (built here from P_t and D_t by hand)."""
    model.scheduler = DDIMScheduler(clip_sample=False)
    x, eps, eps_edit = (torch.randn(1, 3, 16, 16, generator=gen(s)) for s in (4, 5, 6))
    a_t, a_prev = model.scheduler.alphas_cumprod[600], model.scheduler.alphas_cumprod[400]
    ours, x0 = ll.ddim_step(model, x, 600, 400, eps, eps_edit)
    expected = a_prev.sqrt() * (x - (1 - a_t).sqrt() * eps_edit) / a_t.sqrt() + (1 - a_prev).sqrt() * eps
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x0, (x - (1 - a_t).sqrt() * eps_edit) / a_t.sqrt())


@pytest.mark.parametrize("kwargs, match", [
    (dict(t=1000), "t must be an int timestep below 1000"),
    (dict(t_prev=500.0), "t_prev must be an int timestep below 1000"),
    (dict(eps=torch.zeros(3, 16, 16)), r"eps must have x_t's shape \(1, 3, 16, 16\), got \(3, 16, 16\)"),
    (dict(eps_edit=torch.zeros(1, 3, 8, 8)), r"eps_edit must have x_t's shape"),
    (dict(eta=-1.0), "eta must be a finite number >= 0"),
    (dict(clip=1), "clip must be None"),
])
def test_ddim_step_bad_input(model, kwargs, match):
    args = dict(x_t=torch.zeros(1, 3, 16, 16), t=500, t_prev=250, eps=torch.zeros(1, 3, 16, 16)) | kwargs
    with pytest.raises(ValueError, match=match):
        ll.ddim_step(model, **args)
