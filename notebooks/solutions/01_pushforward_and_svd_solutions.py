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
# # 01 · Pushforward and SVD: solutions to the exercises
#
# The exercises of `../labs/01_pushforward_and_svd_lab.ipynb`, each with a worked solution and its check.
# Only the setup the exercises need is repeated here; the lecture, `../01_pushforward_and_svd.ipynb`,
# explains the ideas.

# %%
import math

import torch

import latentlab as ll
from latentlab.course import exercises as ex


def psi(q):  # the lecture's map R^3 -> R^2
    x, y, z = q
    return torch.stack([x + torch.sin(y * z), x * y - z])

# %% [markdown]
# ### Exercise 1: the SVD of a 2 x 2 map, by hand
#
# Take $A = \begin{pmatrix} 3 & 0 \\ 4 & 5 \end{pmatrix}$. Its singular values are the square roots of
# the eigenvalues of $A^\top A$ (its trace and determinant give them), largest first, and $v_1$ is the
# unit eigenvector of $A^\top A$ for the larger one. Work them out on paper and type in the numbers.
# Which unit vector does $A$ stretch most, and by how much?

# %%
A = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)

# A^T A = [[25, 20], [20, 25]]: trace 50, determinant 225, so eigenvalues 45 and 5
S = [math.sqrt(45), math.sqrt(5)]
# (A^T A - 45 I) v = 0: [[-20, 20], [20, -20]] v = 0, so v is along (1, 1)
v1 = [1 / math.sqrt(2), 1 / math.sqrt(2)]

# %%
ex.check_svd_by_hand(A, S, v1)

# %% [markdown]
# ### Exercise 2: the same from products only, with `topk_svd`
#
# `M` below is a 6 x 4 matrix; pretend it is too big to decompose. Give `topk_svd` the two products,
# `jvp(v)` $= Mv$ and `vjp(u)` $= M^\top u$, the input shape and `k=2`, as in the lecture's section 3 (there the
# products came from `torch.func`; here they are plain matrix products). `M` is float64, so pass
# `dtype=torch.float64` too. The check compares your result with the dense SVD.

# %%
M = torch.randn(6, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

svd_M = ll.topk_svd(lambda v: M @ v, lambda u: M.T @ u, (4,), k=2, dtype=torch.float64)

# %%
ex.check_topk_svd(M, svd_M)

# %% [markdown]
# ### Exercise 3: a direction the map cannot see
#
# The lecture's $\psi: \mathbb{R}^3 \to \mathbb{R}^2$ has a 2 x 3 Jacobian. At $q_2 = (1, 0.5, -0.4)$ find
# a unit vector $v$ with $J v = 0$: a step that changes $\psi$ by nothing to first order, and that $G$
# gives length 0. (Which right singular vector is it?)

# %%
J2 = torch.func.jacrev(psi)(torch.tensor([1.0, 0.5, -0.4], dtype=torch.float64))  # (2, 3)

v_kernel = torch.linalg.svd(J2, full_matrices=True).Vh[2]  # beyond rank J = 2: the kernel

# %%
ex.check_kernel_direction(J2, v_kernel)
