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
# # 05 · Haas et al.: PCA and supervised directions: solutions to the exercises
#
# The exercises at the end of `../05_haas_directions.ipynb`, each with a worked solution and its check. Only the setup
# the exercises need is repeated here; the notebook explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex

torch.set_num_threads(1)
model = ll.load_model()
faces_ex, truth_ex = ll.render_faces(64, seed=51)
h_ex = ll.h_of(model, ll.q_sample(model, faces_ex, 500, generator=torch.Generator().manual_seed(51)), 500)

# %% [markdown]
# ### Exercise 1: the first principal direction, by hand
#
# `h_ex` holds h at $t = 500$ for 64 noised renders. Without `ll.pca_directions`: centre the samples
# (subtract their mean), take the SVD of the centred $64 \times 2048$ matrix, and give `pc1`, the top
# principal direction reshaped to one h's shape (unit norm), and `explained`, its share of the variance,
# $\sigma_1^2 / \sum_k \sigma_k^2$.

# %%
X = h_ex.flatten(1)
_, sigma, Vh = torch.linalg.svd(X - X.mean(0), full_matrices=False)
pc1 = Vh[0].reshape(h_ex.shape[1:])
explained = (sigma[0] ** 2 / (sigma ** 2).sum()).item()
print(f"the first component explains {explained:.1%} of the variance")

# %%
ex.check_pca_direction(h_ex, pc1, explained)

# %% [markdown]
# ### Exercise 2: a supervised direction for hair colour
#
# Haas et al.'s supervised direction is the mean h of the highest-scored samples minus that of the
# lowest (Eq. 11); the kit takes 10 % at each end (the registry's `top`). Here the score is the renderer's ground truth,
# `truth_ex["hair_color"]` (0 black, 1 blond). Compute `d_hair` for `h_ex` (6 faces at each end).

# %%
order = truth_ex["hair_color"].argsort()
n = round(0.1 * len(order))
d_hair = h_ex[order[-n:]].mean(0) - h_ex[order[:n]].mean(0)

# %%
ex.check_supervised_direction(h_ex, truth_ex["hair_color"], d_hair)
