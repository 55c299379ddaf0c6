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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11 · After the papers: LOCO Edit, SAE features, Concept Sliders. Solutions
#
# The exercises of [lab 11](../labs/11_after_the_papers_lab.ipynb), each with a worked solution, its
# check and a short discussion; only the setup they need (face 0 of the LOCO run at $t = 0.6\,T$).

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.course.local_edits import face_noise
from latentlab.loco import LOCO_SETTINGS, face_mask, loco_directions, posterior_mean_products
from latentlab.methods import nearest_timestep

torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
grid = ll.ddim_timesteps(model, 20).tolist()
t = nearest_timestep(grid, LOCO_SETTINGS["t_edit"] * model.num_train_timesteps)
x0, traj = ll.ddim_sample(model, face_noise(model, [0]), 20, return_trajectory=True, progress=False)
x_t, mask = traj[grid.index(t)][0], face_mask(probe, x0, "mouth")[0]  # face 0 at t, its mouth mask
d = loco_directions(model, x_t, t, mask)

# %% [markdown]
# ### Exercise 11.1: the null-space projection
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# Remove from $v$ its part in the span of $V_{out}$'s rows, then normalise.

# %%
def null_project(v, V_out):
    p = v - V_out.T @ (V_out @ v)  # V_out's rows are orthonormal: V_out^T V_out projects onto their span
    return p / p.norm()


# %%
ex.check_null_project(null_project, d)
v, V_out = d.V_in[0].flatten(), d.V_out.flatten(1)
kept = (v - V_out.T @ (V_out @ v)).norm() / v.norm()
print(f"the projection keeps {kept:.2f} of v's length")

# %% [markdown]
# **Discussion.** On this face the projection keeps only about a fifth of $v$'s length (0.19,
# printed above): the direction that changes the mouth most also moves the predicted image
# elsewhere, along the outside's top directions. What is left is orthogonal to those five, not to
# everything outside the mask.

# %% [markdown]
# ### Mini-project 11.2: does the null space keep the outside?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# $J v$ for both directions, split by the mask on every channel.

# %%
jvp, _ = posterior_mean_products(model, x_t, t)
M = mask.float().expand(*model.sample_shape)
ratios = []
for v in (d.V_in[0], d.V[0]):
    Jv = jvp(v)
    ratios.append(float(((1 - M) * Jv).norm() / (M * Jv).norm()))
ratio_raw, ratio_projected = ratios
print(f"first order, outside over inside: {ratio_raw:.2f} before the projection, {ratio_projected:.2f} after")

# %%
ex.check_null_space_effect(model, x_t, t, mask, d, ratio_raw, ratio_projected)

# %% [markdown]
# **Discussion.** The projection lowers the first-order outside change, from about 1.3 to 0.9 of the
# inside's, but does not remove it: five directions of $J_{out}$ are projected out, and the rest
# still acts on $v$. Section 1's `outside` column is measured after the whole move of 8 and DDIM's
# remaining steps, where the map is no longer linear and the sampler can spread or undo the change;
# the first-order ratio is only the start of that story.
