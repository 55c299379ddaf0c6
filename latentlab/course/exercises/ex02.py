"""Exercise checks of notebook 02, DDIM: one deterministic step by hand (02.1), how P_t amplifies an
error in the predicted noise (02.2), and the whole sampler loop written by the student (02.3).

The references are diffusers' own `DDIMScheduler.step`, closed forms in the scheduler's
`alphas_cumprod`, and `ddim_sample` (which equals a loop over `DDIMScheduler.step`).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import latentlab as ll
from latentlab.ddim import clip_P_t

from .feedback import Hint, as_model, as_number, as_tensor, call_answer, checker, grid_t, is_close

__all__ = ["check_ddim_step", "check_noise_amplification", "check_ddim_loop"]


def _scheduler_step(model, x_t: Tensor, t: int, steps: int) -> tuple[Tensor, Tensor]:
    """diffusers' own DDIM step at (x_t, t) on a `steps`-step grid, and eps: the reference."""
    scheduler = type(model.scheduler).from_config(model.scheduler.config)
    scheduler.set_timesteps(steps)
    eps = ll.eps_of(model, x_t, t)
    return scheduler.step(eps, t, x_t).prev_sample, eps


@checker("02.1 one DDIM step by hand", ("x_prev",),
         "Fill in the next step, sqrt(a_prev) * P_t + sqrt(1 - a_prev) * eps, with P_t clipped to [-1, 1] as "
         "the scheduler does and a = model.scheduler.alphas_cumprod.")
def check_ddim_step(model: Any, x_t: Tensor, t: int, x_prev: Any, steps: int = 50) -> str:
    """Exercise 02.1: one deterministic DDIM step from `x_t` at `t` on the `steps`-step grid.

    The reference is `DDIMScheduler.step` (diffusers), with eps from `eps_of`.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> check_ddim_step(m, x, 500, x).message[:31]
    'Your x_prev equals x_t: nothing'
    """
    model = as_model(model)
    x_t = as_tensor(x_t, "x_t")
    t = grid_t(model, t, steps)
    x_prev = as_tensor(x_prev, "x_prev", tuple(x_t.shape))
    ref, eps = _scheduler_step(model, x_t.float(), t, steps)
    ref, eps = ref.double(), eps.double()
    ac = model.scheduler.alphas_cumprod.double()
    a_t, a_prev = ac[t], ac[t - model.num_train_timesteps // steps] if t - model.num_train_timesteps // steps >= 0 \
        else torch.tensor(float(model.scheduler.final_alpha_cumprod))
    if is_close(x_prev, ref, 1e-4):
        p = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        outside = (p.abs() > 1).double().mean().item()
        return (f"your step equals diffusers' DDIMScheduler.step. At t = {t}, P_t divides eps's share by "
                f"sqrt(a_t) = {a_t.sqrt().item():.3f}, and {outside:.0%} of its entries left [-1, 1] before clipping.")
    if is_close(x_prev, x_t, 1e-6):
        raise Hint("Your x_prev equals x_t: nothing was computed. Predict x_0 with P_t, then step to t_prev.")
    p = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    if is_close(x_prev, a_prev.sqrt() * p + (1 - a_prev).sqrt() * eps, 1e-4):
        raise Hint("Right except where P_t leaves [-1, 1]: the scheduler clips it (clip_sample=True). "
                   "Clamp P_t to [-1, 1] before the step.")
    if is_close(x_prev, p.clamp(-1, 1), 1e-4) or is_close(x_prev, p, 1e-4):
        raise Hint("That is P_t, the predicted x_0. The step goes on: x_prev = sqrt(a_prev) P_t + D_t, with "
                   "D_t = sqrt(1 - a_prev) eps.")
    al = model.scheduler.alphas.double()
    pa = ((x_t - (1 - al[t]).sqrt() * eps) / al[t].sqrt()).clamp(-1, 1)
    if is_close(x_prev, al[t - model.num_train_timesteps // steps].sqrt() * pa
                + (1 - al[t - model.num_train_timesteps // steps]).sqrt() * eps, 1e-3):
        raise Hint("You used `alphas` (one step's alpha_t); DDIM needs the cumulative product, `alphas_cumprod`.")
    a1 = ac[t - 1]
    if is_close(x_prev, a1.sqrt() * p.clamp(-1, 1) + (1 - a1).sqrt() * eps, 1e-4):
        raise Hint(f"You stepped to t - 1; on the {steps}-step grid the next timestep is "
                   f"t - {model.num_train_timesteps // steps}.")
    err = (x_prev - ref).abs().max().item()
    raise Hint(f"Your x_prev differs from the scheduler's by up to {err:.3f}. Use a = alphas_cumprod: "
               f"P_t = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), clipped, then sqrt(a_prev) P_t + sqrt(1 - a_prev) eps.")


@checker("02.2 how P_t amplifies an error in eps", ("gain", "t_cross"),
         "Fill in `gain` (sqrt(1 - a_t) / sqrt(a_t) at every timestep of the grid) and `t_cross` (the largest "
         "grid timestep where the gain is still below 1).")
def check_noise_amplification(model: Any, gain: Any, t_cross: Any, steps: int = 50) -> str:
    """Exercise 02.2: the factor by which `P_t` multiplies an error in eps, on the DDIM grid.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); a = m.scheduler.alphas_cumprod[ll.ddim_timesteps(m, 50)]
    >>> check_noise_amplification(m, ((1 - a) / a).sqrt(), 240).ok
    True
    """
    model = as_model(model)
    grid = ll.ddim_timesteps(model, steps)
    a = model.scheduler.alphas_cumprod.double()[grid]
    ref = ((1 - a) / a).sqrt()
    gain = as_tensor(gain, "gain")
    if gain.shape == (model.num_train_timesteps,):
        raise Hint(f"One value per timestep of the {steps}-step grid (ll.ddim_timesteps(model, {steps})), not "
                   f"all {model.num_train_timesteps} training timesteps.")
    gain = as_tensor(gain, "gain", (steps,))
    if is_close(gain, 1 / ref, 1e-4):
        raise Hint("That is the inverse, sqrt(a_t / (1 - a_t)) (signal to noise). P_t multiplies eps by "
                   "sqrt(1 - a_t) and divides by sqrt(a_t).")
    if is_close(gain, (1 - a) / a, 1e-4):
        raise Hint("Take the square root: P_t's factor on eps is sqrt(1 - a_t) / sqrt(a_t).")
    if is_close(gain.flip(0), ref, 1e-4):
        raise Hint("Right values in the wrong order: follow ll.ddim_timesteps(model, steps), which descends.")
    if not is_close(gain, ref, 1e-4):
        raise Hint(f"At t = {grid[0].item()} the gain should be {ref[0].item():.1f}, yours is {gain[0].item():.1f}: "
                   "use a_t = model.scheduler.alphas_cumprod[t].")
    below = grid[ref < 1]
    want = int(below.max().item()) if len(below) else None
    tc = as_number(t_cross, "t_cross")
    if want is None or tc != want:
        raise Hint(f"`gain` is right; `t_cross` = {tc:g} is not the largest grid timestep with gain < 1 "
                   f"(look at grid[gain < 1]).")
    return (f"P_t multiplies an error in eps by {ref[0].item():.0f} at t = {grid[0].item()} and by less than 1 only "
            f"from t = {want} down: at large t, P_t is mostly the amplified error of the noise prediction.")


def _loop(model: ll.Model, x_T: Tensor, steps: int, *, clip: bool = True, last: str = "final",
          stride: int | None = None, alphas: str = "alphas_cumprod", order: str = "descending") -> Tensor:
    """A hand-written DDIM loop with one slip switched on: the checker's map from wrong answers to hints."""
    a = getattr(model.scheduler, alphas).double()
    grid = ll.ddim_timesteps(model, steps).tolist()
    grid = grid if order == "descending" else grid[::-1]
    stride = stride or model.num_train_timesteps // steps
    final = float(model.scheduler.final_alpha_cumprod) if last == "final" else a[0].item()
    x = x_T.double()
    for t in grid:
        eps = ll.eps_of(model, x.float(), t).double()
        a_prev = a[t - stride] if t - stride >= 0 else torch.tensor(final, dtype=torch.float64)
        p = (x - (1 - a[t]).sqrt() * eps) / a[t].sqrt()
        x = a_prev.sqrt() * (clip_P_t(model, p, True) if clip else p) + (1 - a_prev).sqrt() * eps
    return x


@checker("02.3 the DDIM sampler loop", ("ddim_loop",),
         "Fill in `ddim_loop(model, x_T, steps)`: for t in ll.ddim_timesteps(model, steps), one DDIM step "
         "(exercise 02.1) from t to t - 1000 // steps; return x_0.")
def check_ddim_loop(model: Any, ddim_loop: Any, steps: int = 10, n: int = 2) -> str:
    """Exercise 02.3: the student's deterministic DDIM sampler, against `ll.ddim_sample` (which equals a
    loop over diffusers' `DDIMScheduler.step`), from `n` noise images of seed 0.

    >>> import latentlab as ll
    >>> check_ddim_loop(ll.tiny_model(), lambda model, x_T, steps: x_T).message[:40]
    'Your loop returned x_T unchanged: for ea'
    """
    model = as_model(model)
    x_T = torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    out = call_answer(ddim_loop, "ddim_loop", model, x_T.clone(), steps)
    if out is None:
        raise Hint("`ddim_loop` returned None: write its loop and `return x` at the end.")
    x0 = as_tensor(out, "ddim_loop(model, x_T, steps)", tuple(x_T.shape))
    ref = ll.ddim_sample(model, x_T, steps, progress=False).double()
    if is_close(x0, ref, 1e-4):
        return (f"your {steps}-step loop gives ll.ddim_sample's x_0 (largest difference "
                f"{(x0 - ref).abs().max().item():.1e}): {steps} U-Net calls, each split into P_t and D_t.")
    if is_close(x0, x_T.double(), 1e-6):
        raise Hint("Your loop returned x_T unchanged: for each t, predict eps, form P_t and D_t, and overwrite x.")
    slips = [
        (dict(clip=False), "Right except where P_t leaves [-1, 1]: clip P_t to [-1, 1] at every step, as the "
                           "scheduler does (clip_sample=True); at large t many entries leave it."),
        (dict(last="first"), "Every step but the last is right: after t = 0 the level is the scheduler's "
                             f"final_alpha_cumprod = {float(model.scheduler.final_alpha_cumprod):g}, "
                             "not alphas_cumprod[0]."),
        (dict(stride=1), f"You stepped from t to t - 1; on the {steps}-step grid the next level is "
                         f"t - {model.num_train_timesteps // steps}."),
        (dict(alphas="alphas"), "You used `alphas` (one step's alpha_t); DDIM needs the cumulative product, "
                                "`alphas_cumprod`."),
        (dict(order="ascending"), "Your loop runs from t = 0 up: sampling goes from noise (the largest t) "
                                  "down, in the order ll.ddim_timesteps gives."),
    ]
    for slip, message in slips:
        if is_close(x0, _loop(model, x_T, steps, **slip), 1e-4):
            raise Hint(message)
    if steps != 50 and is_close(x0, ll.ddim_sample(model, x_T, 50, progress=False).double(), 1e-4):
        raise Hint(f"That is a 50-step run: use the `steps` argument ({steps}).")
    raise Hint(f"Your x_0 differs from ll.ddim_sample's by up to {(x0 - ref).abs().max().item():.3f}. Each step: "
               "eps = ll.eps_of(model, x, t), P_t = (x - sqrt(1 - a_t) eps) / sqrt(a_t) clipped, "
               "x = sqrt(a_prev) P_t + sqrt(1 - a_prev) eps.")
