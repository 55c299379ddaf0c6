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
# ### Exercise 1: one DDIM step by hand
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
# ### Exercise 2: how much does $P_t$ amplify an error in $\varepsilon$?
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
