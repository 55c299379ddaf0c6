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
# # Lab 01 · Pushforward and SVD: the checks and the exercises
#
# ## Key idea
#
# The [lecture](../01_pushforward_and_svd.ipynb) states what the SVD of a Jacobian means; this lab
# checks each statement it relies on, to round-off, on maps small enough for a dense reference:
#
# 1. the pulled-back metric $G = J^\top J$ has eigenvectors $v_i$ and eigenvalues $s_i^2$, and its unit
#    sphere is what $J$ sends to unit length;
# 2. the linearisation is first order: its error shrinks like $\varepsilon^2$;
# 3. the "$J_x^{-1}$" of the talk this course follows (*Interpretable Latent Directions in DPMs*),
#    the map back from an output direction to an input direction, is the pseudo-inverse: a right
#    inverse only, and from the top-$k$ triplets alone it loses everything outside their span;
# 4. the tiny U-Net's encoder has a kernel although $m > n$, and what `topk_svd` and `pullback` cost.
#
# Then four exercises, the last one writing power iteration from products, and a mini-project.

# %%
import math

import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.course.plot import lecture_style
from latentlab.jacobians import pullback
from latentlab.linalg import dense_jacobian, topk_svd

lecture_style()
torch.set_default_dtype(torch.float64)


def phi(p):  # the lecture's map of the plane
    x, y = p
    return torch.stack([x + 0.3 * torch.sin(y), y + 0.3 * x**2])


def psi(q):  # the lecture's map R^3 -> R^2
    x, y, z = q
    return torch.stack([x + torch.sin(y * z), x * y - z])


p = torch.tensor([0.8, 0.5])
J = torch.func.jacrev(phi)(p)
U, S, Vh = torch.linalg.svd(J)
V = Vh.T

# %% [markdown]
# ## 1. The pulled-back metric
#
# From $J = U S V^\top$ follows $G = J^\top J = V S^2 V^\top$. `torch.linalg.eigh` of $G$ should return
# $V$ (up to each eigenvector's sign) and $S^2$. The unit sphere of $G$, $\{v : v^\top G v = 1\}$, is an
# ellipse with semi-axes $v_i / s_i$, and $J$ should send every point of it to unit length. All three
# to $10^{-12}$.

# %%
G = J.T @ J
eigenvalues, eigenvectors = torch.linalg.eigh(G)  # ascending
eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
signs = torch.sign((eigenvectors * V).sum(0))  # an eigenvector's sign is arbitrary
angle = torch.linspace(0, 2 * math.pi, 200)
circle = torch.stack([angle.cos(), angle.sin()])
metric_sphere = V @ (circle / S[:, None])  # {v : v^T G v = 1}

# %% tags=["nbval-check-output"]
print("S^2 =", (S**2).numpy().round(3), " eigenvalues of G =", eigenvalues.numpy().round(3))
print("eigh(G) gives S^2 and V (max errors < 1e-12):",
      (eigenvalues - S**2).abs().max().item() < 1e-12 and (eigenvectors * signs - V).abs().max().item() < 1e-12)
print("|J v| = 1 on {v : v^T G v = 1} (max error < 1e-12):",
      ((J @ metric_sphere).norm(dim=0) - 1).abs().max().item() < 1e-12)

# %% [markdown]
# The figure: at $p$, the unit circle (grey) and $G$'s unit sphere (green, axes $v_i / s_i$); at
# $\phi(p)$, their images under $J$: the circle becomes an ellipse, $G$'s unit sphere becomes the unit
# circle (green, dotted).

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2))
left.plot(*circle, color="0.4", label="|v| = 1")
left.plot(*metric_sphere, color="C2", label="v^T G v = 1")
right.plot(*(J @ circle), "--", color="k", label="J (|v| = 1)")
right.plot(*(J @ metric_sphere), ":", color="C2", lw=2, label="J (v^T G v = 1)")
left.set_title("tangent vectors at p", fontsize=8); right.set_title("their images under J", fontsize=8)
for ax in (left, right):
    ax.set_aspect("equal"); ax.legend(fontsize=6, loc="lower right")
fig.tight_layout();

# %% [markdown]
# ## 2. The linearisation is first order
#
# The remainder $\|\phi(p + \varepsilon v) - \phi(p) - \varepsilon J v\|$ shrinks like $\varepsilon^2$
# (Taylor), a line of slope 2 on a log-log plot. We fit the slope over $\varepsilon \in [10^{-4},
# 10^{-1}]$ and require it within 0.1 of 2.
#
# The same holds for the U-Net's encoder: a direction found at $x_t$ describes small steps from $x_t$.
# Park et al.'s released edit keeps $v_i$ fixed: at one timestep it repeats $x_t \leftarrow x_t +
# \gamma\,(\varepsilon_\theta(x_t + v_i) - \varepsilon_\theta(x_t))$ 16 times with $\gamma = 0.1$ for
# their CelebA-HQ model (`--x_space_guidance_scale 0.1`, `--x_space_guidance_num_step 16` in
# `src/scripts/main_celeba_hf_local_encoder_pullback.sh` of github.com/enkeejunior1/Diffusion-Pullback;
# the loop in `src/modules/edit.py` keeps $v_i$ fixed), without recomputing the Jacobian. The talk
# proposes a different loop for several edits in a row: edit, recompute the tangent space at the
# edited point, carry the $h$-direction over to it, edit again. That loop is the talk's, not their
# code.

# %%
v = torch.tensor([0.6, -0.8])
steps = torch.logspace(-4, -1, 13)
remainder = torch.stack([(phi(p + e * v) - phi(p) - e * (J @ v)).norm() for e in steps])
design = torch.stack([steps.log10(), torch.ones(13)], 1)
slope = torch.linalg.lstsq(design, remainder.log10()[:, None]).solution[0, 0].item()

fig, ax = plt.subplots(figsize=(4, 2.8))
ax.loglog(steps, remainder, "o-", label="remainder")
ax.loglog(steps, 4 * remainder[-1] * (steps / steps[-1]) ** 2, "--", color="0.5", label="slope 2 (shifted)")
ax.set_xlabel("step size eps"); ax.set_ylabel("first-order error"); ax.legend(fontsize=7);

# %% tags=["nbval-check-output"]
print(f"fitted slope {slope:.2f}; within 0.1 of 2: {abs(slope - 2) < 0.1}")

# %% [markdown]
# ## 3. The talk's $J_x^{-1}$: the pseudo-inverse
#
# To edit along a chosen output direction $u$ (a direction in $h$), the talk finds the input step
# that produces it "using $J_x^{-1}$", the inverse of the Jacobian at $x$. An $m \times n$ Jacobian
# with $m < n$ has no inverse; what is meant is the pseudo-inverse
# $J^+ = V S^{-1} U^\top$. It sends $u_i$ to $v_i / s_i$, and it is only a *right* inverse: with full
# row rank $J J^+ = I_m$, while $J^+ J = V V^\top$ projects onto the row space.
#
# From the top-$k$ triplets alone, $J_k^+ = V_k S_k^{-1} U_k^\top$ first projects $u$ onto
# $\operatorname{span}(u_1, \ldots, u_k)$ and sends the rest to 0. (When Park et al.'s code carries an
# $h$-direction $u$ to a new point it uses $V'(U'^\top u)$, normalised: $J_k^+$ without the $S^{-1}$.)
#
# Checks on a tanh network $\mathbb{R}^{40} \to \mathbb{R}^{30}$ (the lecture's), each to $10^{-8}$.

# %%
gen = torch.Generator().manual_seed(0)
W1, b1 = torch.randn(64, 40, generator=gen) / 40**0.5, torch.randn(64, generator=gen)
W2 = torch.randn(30, 64, generator=gen) / 64**0.5


def mlp(x):
    return W2 @ torch.tanh(W1 @ x + b1)


x0 = torch.randn(40, generator=gen)
_, vjp_fn = torch.func.vjp(mlp, x0)
svd, info = topk_svd(lambda v: torch.func.jvp(mlp, (x0,), (v,))[1], lambda u: vjp_fn(u)[0], (40,), k=5,
                     dtype=torch.float64, tol=1e-10, return_info=True)
Jd = dense_jacobian(mlp, x0)
dense = torch.linalg.svd(Jd, full_matrices=False)
J_plus = dense.Vh.T @ torch.diag(1 / dense.S) @ dense.U.T


def pinv_top(u):  # J_5^+ u from topk_svd's triplets only
    return svd.V.T @ ((svd.U @ u) / svd.S)


u = torch.randn(30, generator=gen)
u_out = u - svd.U.T @ (svd.U @ u)  # the part of u outside span(u_1..u_5)
checks = {
    "V S^-1 U^T = pinv(J)": (J_plus - torch.linalg.pinv(Jd)).abs().max().item(),
    "J J^+ = I_30": (Jd @ J_plus - torch.eye(30)).abs().max().item(),
    "J_5^+ u_1 = v_1 / s_1": (pinv_top(svd.U[0]) - svd.V[0] / svd.S[0]).abs().max().item(),
    "J_5^+ sends u outside the top-5 span to 0": pinv_top(u_out).norm().item(),
    "J J_5^+ u = u's part in the top-5 span": (Jd @ pinv_top(u) - (u - u_out)).abs().max().item(),
    "J V[i] = S[i] U[i] (topk_svd)": (Jd @ svd.V.T - svd.U.T * svd.S).abs().max().item(),
}

# %% tags=["nbval-check-output"]
print("rank J =", torch.linalg.matrix_rank(Jd).item(), "(full row rank)")
for name, err in checks.items():
    print(f"{name} (error < 1e-8): {err < 1e-8}")
left_gap = torch.linalg.matrix_norm(J_plus @ Jd - torch.eye(40), ord=2).item()
print(f"||J^+ J - I_40||_2 = {left_gap:.2f}: not a left inverse")
print(f"J_5^+ keeps |U_5^T u| / |u| = {(svd.U @ u).norm().item() / u.norm().item():.2f} of this random u")

# %% [markdown]
# What `topk_svd` cost here, at a tolerance of $10^{-10}$, against the 30 vjps of the dense
# Jacobian (one per output): on a map this small the dense route is cheaper. The matrix-free route
# pays when $J$ is huge and $k$ small.

# %%
print(f"topk_svd: {info['jvps']} jvps and {info['vjps']} vjps in {info['iterations']} iterations; dense: 30 vjps")

# %% [markdown]
# ## 4. The tiny U-Net's kernel
#
# The lecture's tiny U-Net has $h$ of $m = 16 \cdot 8 \cdot 8 = 1024$ entries and $x_t$ of
# $n = 3 \cdot 16 \cdot 16 = 768$ pixels: $m > n$, so counting dimensions forces no kernel, and $J$
# cannot have full row rank ($J J^+ \neq I_m$). It has a kernel all the same: on its way to $h$ the
# image passes through the first block's downsampler, 8 channels at $8 \times 8$, 512 numbers, so
# $\operatorname{rank} J \le 512$. The dense $J$ (768 jvps) shows it; `pullback` prints its own
# convergence.

# %%
torch.set_default_dtype(torch.float32)
model = ll.tiny_model()
x_t = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
directions, info = pullback(model, x_t, t=600, k=3, return_info=True)
with ll.forward_ad(model):
    J_unet = dense_jacobian(lambda v: ll.h_of(model, v[None], 600).flatten(), x_t, mode="fwd", chunk_size=128)
s_unet = torch.linalg.svdvals(J_unet)
rank_unet = (s_unet > 1e-4 * s_unet[0]).sum().item()  # the rest are float32 round-off
m, n = J_unet.shape

fig, ax = plt.subplots(figsize=(4.5, 2.6))
ax.semilogy(s_unet / s_unet[0], ".", ms=2)
ax.axvline(512, color="C3", lw=0.8, label="512: the downsampler's size")
ax.set_xlabel("i"); ax.set_ylabel("s_i / s_1"); ax.legend(fontsize=7);

# %% tags=["nbval-check-output"]
print(f"pullback converged: {info['converged']}, in {info['iterations']} iterations")
print(f"rank J = {rank_unet} (singular values above 1e-4 s_1); at most 512: {rank_unet <= 512}")
print(f"kernel dimension n - rank J = {n - rank_unet}; rank J < m = {m}, so J J^+ != I_m: {rank_unet < m}")

# %% [markdown]
# ## Exercises
#
# Four exercises on the SVD of a Jacobian: by hand, matrix-free, its kernel, and the power iteration
# behind the matrix-free route; then a mini-project. Fill in each cell marked `# YOUR CODE HERE`
# (replace every `None`), then run the check below it: it says what is right, or what is wrong and
# what to try. Worked solutions are in `../solutions/01_pushforward_and_svd_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

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
# YOUR CODE HERE: S = [s_1, s_2] (largest first), v1 = [x, y] (unit length)
S = None
v1 = None

# %%
ex.check_svd_by_hand(A, S, v1)

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
# YOUR CODE HERE: svd_M = topk_svd(jvp, vjp, in_shape, k=2, dtype=torch.float64)
svd_M = None

# %%
ex.check_topk_svd(M, svd_M)

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
# YOUR CODE HERE: a unit vector v of 3 numbers with J2 @ v = 0
v_kernel = None

# %%
ex.check_kernel_direction(J2, v_kernel)

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
# `topk_svd` never writes $J$ down; underneath it is a power iteration on $G = J^\top J$: each
# $v \leftarrow J^\top (J v)$ costs one jvp and one vjp and stretches $v_i$ by $s_i^2$, so the other
# directions shrink by $(s_2 / s_1)^2$ per iteration relative to $v_1$. Write
# `power_iteration(jvp, vjp, v0, iters)`: start from `v0 / |v0|`, repeat `iters` times
# $v \leftarrow J^\top J v$ and normalise, and return $(s_1, v_1)$ with $s_1 = |J v_1|$. The check runs
# it on a $5 \times 8$ map of known spectrum, given only as `jvp(v)` $= Mv$ and `vjp(u)` $= M^\top u$.

# %%
def power_iteration(jvp, vjp, v0, iters):
    # YOUR CODE HERE: v <- vjp(jvp(v)), normalised, iters times; then s1 = |jvp(v)|
    return None


# %%
ex.check_power_iteration(power_iteration)

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
# The claim above: the error in $v_1$ shrinks by $(s_2/s_1)^2$ per iteration. Test it. Build $8 \times 8$
# matrices with a chosen spectrum (random orthonormal $U$, $V$ from `torch.linalg.qr`, $s_1 = 1$ and
# $s_2 \in \{0.5, 0.8, 0.95\}$), run your power iteration one iteration at a time, record
# $\sin\angle(v, v_1)$, fit the rate per iteration on a log scale and set it against $(s_2/s_1)^2$.
# How many iterations would a gap of $s_2/s_1 = 0.86$ (the eps Jacobian of lecture 05 at $t = 700$)
# need for $\sin\angle < 10^{-3}$? There is no check: one way, with its numbers, is in the solutions.

# %%
# YOUR CODE HERE

# %% [markdown]
# ## What to remember
#
# Every statement of the lecture holds to round-off on these maps: $G$'s eigenvectors are the $v_i$,
# the first-order error has slope 2, $J^+$ is a right inverse only and $J_k^+$ drops what lies outside
# the top-$k$ span, and a U-Net's encoder can have a kernel for architectural reasons even when
# $m > n$. Back to the [lecture](../01_pushforward_and_svd.ipynb).
