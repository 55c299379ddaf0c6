# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · The faces world, the bundled model, and DDIM: solutions to the exercises
#
# The exercises of `../labs/02_faces_model_and_ddim_lab.ipynb`, each with a worked solution and its check.
# Only the setup the exercises need is repeated here; the lecture, `../02_faces_model_and_ddim.ipynb`,
# explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex

torch.set_num_threads(1)
model = ll.load_model()

# %% [markdown]
# ### Exercise 02.1: one DDIM step by hand
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# `x_800` holds four renders noised to $t = 800$. One step of the 50-step grid goes to
# $t_\text{prev} = 780$: predict $x_0$ with $P_t = (x_t - \sqrt{1 - a_t}\,\varepsilon)/\sqrt{a_t}$, clip it
# to $[-1, 1]$ as the scheduler does (`clip_sample=True`), and add
# $D_t = \sqrt{1 - a_\text{prev}}\,\varepsilon$: $x_\text{prev} = \sqrt{a_\text{prev}}\,P_t + D_t$, with
# $a$ = `model.scheduler.alphas_cumprod` and $\varepsilon$ = `ll.eps_of(model, x_800, 800)`. The check
# compares with diffusers' own `DDIMScheduler.step`.

# %%
faces_ex, _ = ll.render_faces(4, seed=21)
x_800 = ll.q_sample(model, faces_ex, 800, generator=torch.Generator().manual_seed(21))

a = model.scheduler.alphas_cumprod
eps = ll.eps_of(model, x_800, 800)
x0_pred = ((x_800 - (1 - a[800]).sqrt() * eps) / a[800].sqrt()).clamp(-1, 1)  # P_t, clipped
x_780 = a[780].sqrt() * x0_pred + (1 - a[780]).sqrt() * eps  # + D_t

# %%
ex.check_ddim_step(model, x_800, 800, x_780)

# %% [markdown]
# **Discussion.** The step is two lines, and the clip is the part most often forgotten: at $t = 800$
# only 4 % of $P_t$'s entries leave $[-1, 1]$, but at the largest $t$ about half do, and the scheduler
# (`clip_sample=True`) clips them. $D_t$ reuses the same $\varepsilon$, which is what makes the step
# deterministic and invertible.

# %% [markdown]
# ### Exercise 02.2: how much does $P_t$ amplify an error in $\varepsilon$?
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# In $P_t$ an error $\delta$ in the predicted noise becomes an error $\sqrt{1 - a_t}/\sqrt{a_t}\;\delta$
# in the predicted $x_0$. Compute this gain at every timestep of the 50-step grid (`grid`,
# descending), and `t_cross`, the largest grid timestep where the gain is still below 1. Above it,
# $P_t$ is mostly the noise prediction's error, magnified.

# %%
grid = ll.ddim_timesteps(model, 50)

a = model.scheduler.alphas_cumprod[grid]
gain = ((1 - a) / a).sqrt()
t_cross = int(grid[gain < 1].max())
print(f"gain at t = {grid[0].item()}: {gain[0].item():.0f}; below 1 from t = {t_cross} down")

# %%
ex.check_noise_amplification(model, gain, t_cross)

# %% [markdown]
# **Discussion.** At $t = 980$ an error in $\varepsilon$ enters $P_t$ magnified 130 times; the gain falls
# below 1 only from $t = 240$ down. So at large $t$, $P_t$ is close to an average face, and only
# the late steps can settle the details.

# %% [markdown]
# ### Exercise 02.3: the DDIM sampler loop
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵🔵
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Now the whole sampler: write `ddim_loop(model, x_T, steps)` that walks
# `ll.ddim_timesteps(model, steps)` (descending) and takes exercise 02.1's step at each $t$, from $t$ to
# $t - 1000 / \text{steps}$: $\varepsilon$ = `ll.eps_of(model, x, t)`, $P_t$ clipped to $[-1, 1]$,
# $x \leftarrow \sqrt{a_\text{prev}}\,P_t + \sqrt{1 - a_\text{prev}}\,\varepsilon$. After $t = 0$ there is no
# `alphas_cumprod[t_prev]`: the scheduler's `final_alpha_cumprod` (1 here) takes its place. Return
# $x_0$. The check runs it for 10 steps from two noise images against `ll.ddim_sample`.

# %%
def ddim_loop(model, x_T, steps):
    a = model.scheduler.alphas_cumprod
    x = x_T
    for t in ll.ddim_timesteps(model, steps).tolist():
        eps = ll.eps_of(model, x, t)
        t_prev = t - model.num_train_timesteps // steps
        a_prev = a[t_prev] if t_prev >= 0 else model.scheduler.final_alpha_cumprod  # after the last step: 1
        x0_pred = ((x - (1 - a[t]).sqrt() * eps) / a[t].sqrt()).clamp(-1, 1)  # P_t, clipped
        x = a_prev.sqrt() * x0_pred + (1 - a_prev).sqrt() * eps  # + D_t
    return x


# %%
ex.check_ddim_loop(model, ddim_loop)

# %% [markdown]
# **Discussion.** Ten calls of the U-Net, each split into $P_t$ and $D_t$, are the whole sampler: every
# later edit in the course (Asyrp's, Haas's, Park's) changes one of these two terms at some steps.
# The last step lands exactly on the clipped $P_0$, since `final_alpha_cumprod` is 1.

# %% [markdown]
# ### Mini-project 02.4: how many DDIM steps does the model need?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# The course samples with 10 or 20 steps; the model was trained on 1,000. Take a few noise images,
# sample each with 5, 10 and 20 steps and with 50 as the reference, and measure how far each $x_0$ lies
# from the reference: in pixels (the RMS distance) and in what the probe reads (each attribute's
# mean $|\Delta|$ in units of its range, and whether glasses agree). Which attribute needs the most
# steps, and is 10 enough for the course's edits? One way, on 4 faces only (to stay under a minute
# of CPU), so the numbers are rough.

# %%
probe = ll.load_probe()
x_T = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(2))
reference = ll.ddim_sample(model, x_T, 50, progress=False)
read_ref = probe(reference)
for steps in (5, 10, 20):
    x0 = ll.ddim_sample(model, x_T, steps, progress=False)
    read = probe(x0)
    rms = (x0 - reference).pow(2).mean().sqrt().item()
    gap = {k: ((read[k] - read_ref[k]).abs().mean() / ll.ATTRIBUTES[k].span).item() for k in ll.ATTRIBUTES}
    worst = max(gap, key=gap.get)
    same = int(((read["glasses"] > 0.5) == (read_ref["glasses"] > 0.5)).sum())
    print(f"{steps:2d} steps: RMS to 50 steps {rms:.3f}; largest gap {worst} {gap[worst]:.3f} of its range; "
          f"glasses agree {same}/4")

# %% [markdown]
# **Discussion.** In pixels 5, 10 and 20 steps all land within about 0.06-0.09 RMS of the 50-step
# sample: the faces are the same, with small shifts. The probe tells more: the finest attribute
# (mouth opening) is off by a fifth of its range at 5 steps and under a tenth at 10, and by 20 steps
# no attribute is off by more than 5 %, so 10 steps suffice for edits measured in tenths of a range
# but not for effects of a few per cent.
