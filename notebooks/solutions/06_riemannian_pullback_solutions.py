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
# # 06 · Park et al.'s pullback: solutions to the exercises
#
# The exercises at the end of `../06_riemannian_pullback.ipynb`, each with a worked solution and its
# check. Only the setup the exercises need is repeated here; the lecture explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.course.plot import lecture_style

lecture_style()
torch.set_num_threads(1)
model = ll.load_model()
grid = ll.ddim_timesteps(model, 20).tolist()
x_T = torch.cat([torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(f)) for f in (0, 1)])
_, trajectory = ll.ddim_sample(model, x_T, 20, return_trajectory=True, progress=False)
x_600 = trajectory[grid.index(600)]  # faces 0 and 1 at t = 600, as in the lecture
svd_A, svd_B = (ll.pullback(model, x_600[f], 600, k=8, seed=0) for f in (0, 1))
u = svd_A.U[0]  # face 0's first h-direction

# %% [markdown]
# ### Exercise 1: transport a direction by hand
#
# Carry face 0's first h-direction `u` $= u_1^A$ to face 1 (B) as Park et al. do, without `ll.transport`:
# weights $c = U_B^\top u$ (one per singular triplet of B, on flattened tensors), then
# $v = \sum_i c_i v_i^B$, normalised to unit length. $v$ is an x-space direction at face B.

# %%
c = svd_B.U.flatten(1) @ u.flatten()  # (8,)
v_AB = (c @ svd_B.V.flatten(1)).reshape(svd_B.V.shape[1:])
v_AB = v_AB / v_AB.norm()

# %%
ex.check_transport(u, svd_B, v_AB)

# %% [markdown]
# ### Exercise 2: does it still mean the same thing?
#
# At face A, `u` is what $v_1^A$ does to h. The transported `v_AB` keeps that meaning at face B if it
# moves face B's h the same way: if $J_B v$ points along `u`. Compute `cos_meaning`, the cosine between `u`
# and $J_B v$ (from the SVD, $J_B v_i^B = s_i^B u_i^B$; or a small finite difference of `ll.h_of` at face
# B), and `keeps_meaning`: `True` if it is at least 0.7. What limits it?

# %%
Jv = (svd_B.S * (svd_B.V.flatten(1) @ v_AB.flatten())) @ svd_B.U.flatten(1)  # J_B v in h
cos_meaning = torch.nn.functional.cosine_similarity(u.flatten(), Jv, dim=0).item()
keeps_meaning = cos_meaning >= 0.7
in_span = (svd_B.U.flatten(1) @ u.flatten()).norm().item()
print(f"cos(u, J_B v) = {cos_meaning:.2f}; u keeps {in_span:.0%} of its norm in span(U_B)")

# %%
ex.check_transport_meaning(u, svd_B, v_AB, cos_meaning, keeps_meaning)
