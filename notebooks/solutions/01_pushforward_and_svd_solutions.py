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
# ### Exercise 01.1: the SVD of a 2 x 2 map, by hand
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
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
# **Discussion.** $A$ is triangular, so its eigenvalues (3 and 5) sit on its diagonal, but they are not
# its singular values ($\sqrt{45} = 6.71$ and $\sqrt 5 = 2.24$): only for a symmetric matrix do the two
# agree. The product $s_1 s_2 = 15 = |\det A|$ is the area factor both share.

# %% [markdown]
# ### Exercise 01.2: the same from products only, with `topk_svd`
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
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
# **Discussion.** `topk_svd` saw $M$ only through $Mv$ and $M^\top u$, yet matched the dense SVD: the same
# call works for a Jacobian far too large to store. Swapping the two products decomposes $M^\top$ instead,
# whose right singular vectors are $M$'s left ones.

# %% [markdown]
# ### Exercise 01.3: a direction the map cannot see
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵⚪⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# The lecture's $\psi: \mathbb{R}^3 \to \mathbb{R}^2$ has a 2 x 3 Jacobian. At $q_2 = (1, 0.5, -0.4)$ find
# a unit vector $v$ with $J v = 0$: a step that changes $\psi$ by nothing to first order, and that $G$
# gives length 0. (Which right singular vector is it?)

# %%
J2 = torch.func.jacrev(psi)(torch.tensor([1.0, 0.5, -0.4], dtype=torch.float64))  # (2, 3)

v_kernel = torch.linalg.svd(J2, full_matrices=True).Vh[2]  # beyond rank J = 2: the kernel

# %%
ex.check_kernel_direction(J2, v_kernel)

# %% [markdown]
# **Discussion.** A wide Jacobian ($m < n$) always has a kernel of dimension at least $n - m$: here one
# direction along which $\psi$ does not change to first order. The same happens in the U-Net's encoder
# (lab section 4), where the downsampler, not the count of dimensions, makes the kernel.

# %% [markdown]
# ### Exercise 01.4: power iteration from products
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Write `power_iteration(jvp, vjp, v0, iters)`: start from `v0 / |v0|`, repeat `iters` times
# $v \leftarrow J^\top J v$ and normalise, and return $(s_1, v_1)$ with $s_1 = |J v_1|$.

# %%
def power_iteration(jvp, vjp, v0, iters):
    v = v0 / v0.norm()
    for _ in range(iters):
        v = vjp(jvp(v))  # G v = J^T (J v): one jvp and one vjp
        v = v / v.norm()  # else |v| grows by s_1^2 per iteration
    return jvp(v).norm(), v


# %%
ex.check_power_iteration(power_iteration)

# %% [markdown]
# **Discussion.** The loop is `topk_svd`'s core with one vector instead of a block and without the
# Krylov basis; normalising is what keeps it finite (without it $|v|$ grows by $s_1^2 = 9$ per
# iteration). Swapping jvp and vjp would iterate $J J^\top$ and return the output direction $u_1$.

# %% [markdown]
# ### Mini-project 01.5: what sets the speed of power iteration?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# Does the error in $v_1$ shrink by $(s_2/s_1)^2$ per iteration? One way: three $8 \times 8$ matrices
# with $s_1 = 1$, $s_2 \in \{0.5, 0.8, 0.95\}$ and the rest halving from $s_2$; 60 single
# iterations of `power_iteration` from a random start; the error $\sin\angle(v, v_1) = |v - (v^\top
# v_1) v_1|$ after each; the rate is the exponential of the slope of $\log$ error against the
# iteration, fitted from iteration 5 on while the error is above $10^{-12}$ (round-off below).

# %%
gen = torch.Generator().manual_seed(0)
for s2 in (0.5, 0.8, 0.95):
    U = torch.linalg.qr(torch.randn(8, 8, generator=gen, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(8, 8, generator=gen, dtype=torch.float64))[0]
    s = torch.tensor([1.0, s2] + [s2 * 0.5**k for k in range(1, 7)], dtype=torch.float64)
    Ms = U @ torch.diag(s) @ V.T
    v, err = torch.randn(8, generator=gen, dtype=torch.float64), []
    for _ in range(60):
        _, v = power_iteration(lambda x: Ms @ x, lambda u: Ms.T @ u, v, 1)
        err.append((v - (v @ V[:, 0]) * V[:, 0]).norm().item())
    err = torch.tensor(err, dtype=torch.float64)
    fit = (err > 1e-12) & (torch.arange(60) >= 5)
    k = torch.arange(1, 61, dtype=torch.float64)[fit]
    slope = torch.linalg.lstsq(torch.stack([k, torch.ones_like(k)], 1), err[fit].log()[:, None]).solution[0, 0]
    print(f"s2/s1 = {s2}: fitted rate {slope.exp().item():.3f} per iteration, (s2/s1)^2 = {s2**2:.3f}; "
          f"error after 10 iterations {err[9].item():.1e}")
print(f"s2/s1 = 0.86 needs {math.log(1e-3) / math.log(0.86**2):.0f} iterations for an error of 1e-3")

# %% [markdown]
# **Discussion.** The fitted rates are $(s_2/s_1)^2$ to three digits for gaps of 0.5 and 0.8; at 0.95
# the fit (0.910 against 0.903) still carries the start's transient after 60 iterations. A gap of 0.86,
# as the eps Jacobian has at $t = 700$ in lecture 05, needs about 23 iterations for three digits:
# why `topk_svd` builds a Krylov basis instead of iterating one vector, and why exercise 05.3 asks for 30.
