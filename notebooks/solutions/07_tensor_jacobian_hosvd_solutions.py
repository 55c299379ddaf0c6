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

# %%

# %% [markdown]
# # 07 · The Jacobian as a tensor: solutions to the exercises
#
# The exercises of `../labs/07_tensor_jacobian_hosvd_lab.ipynb` (the optional lecture 07's lab), each with a worked
# solution and its check. Only the
# setup the exercises need is repeated here; the notebook explains the ideas.

# %%
import math

import torch

from latentlab.course import exercises as ex

# %% [markdown]
# ### Exercise 1: a truncated HOSVD by hand
#
# `T` is a 4 x 5 x 6 tensor: two rank-1 terms plus a little noise. For each mode $n$, unfold it
# (`T.movedim(n, 0).reshape(T.shape[n], -1)`) and take the top 2 left singular vectors as the columns of
# the factor $A_n$ (shape `(T.shape[n], 2)`). The core is $T \times_1 A_1^\top \times_2 A_2^\top \times_3 A_3^\top$;
# give `energy`, the share of $\|T\|^2$ it keeps, $\|\text{core}\|^2/\|T\|^2$.

# %%
g = torch.Generator().manual_seed(71)
draw = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # in the notebook's order
a, b = draw(4), draw(4)
T = (torch.einsum("i,j,k->ijk", a, draw(5), draw(6)) + 0.5 * torch.einsum("i,j,k->ijk", b, draw(5), draw(6))
     + 0.3 * draw(4, 5, 6))

factors = [torch.linalg.svd(T.movedim(n, 0).reshape(T.shape[n], -1), full_matrices=False).U[:, :2] for n in range(3)]
core = torch.einsum("ijk,ia,jb,kc->abc", T, *factors)
energy = (core.norm() ** 2 / T.norm() ** 2).item()
print(f"the (2, 2, 2) core keeps {energy:.1%} of |T|^2")

# %%
ex.check_hosvd_energy(T, (2, 2, 2), factors, energy)

# %% [markdown]
# ### Exercise 2: equal parameter budgets
#
# The Jacobian $\partial h/\partial x_t$ of the bundled model is a tensor of shape `J_shape` below. How many
# numbers does a Tucker model with ranks `(16, 4, 4, 3, 8, 8)` store (core plus factor matrices)? And
# what is the largest rank $k$ of a flattened SVD of the $2048 \times 3072$ matrix, which stores
# $k\,(m + n + 1)$ numbers, that stays within the same budget?

# %%
J_shape, ranks = (128, 4, 4, 3, 32, 32), (16, 4, 4, 3, 8, 8)

n_tucker = math.prod(ranks) + sum(n * r for n, r in zip(J_shape, ranks))
m, n = math.prod(J_shape[:3]), math.prod(J_shape[3:])
k_svd = n_tucker // (m + n + 1)
print(f"Tucker {ranks}: {n_tucker} numbers; a flattened SVD of rank {k_svd} stores {k_svd * (m + n + 1)}")

# %%
ex.check_parameter_budget(J_shape, ranks, n_tucker, k_svd)
