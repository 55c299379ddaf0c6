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
# # 01 · Pushforward and SVD
#
# Everything the course does with a diffusion model's latent space rests on one object: the
# **Jacobian** of a smooth map at a point. This notebook builds the intuition on maps small enough to
# draw, before the same calls are made on a U-Net.
#
# 1. The Jacobian $J = \partial\phi/\partial x$ at a point $x$ *pushes forward* tangent vectors: a small
#    step $\varepsilon v$ at $x$ becomes (to first order) the step $\varepsilon J v$ at $\phi(x)$.
# 2. Its singular value decomposition $J = U S V^\top$ names the axes of that linear map: a circle of
#    tangent vectors becomes an ellipse with semi-axes $s_i u_i$, and $v_i$ are the input directions
#    that land on them.
# 3. The same numbers describe the **pulled-back metric** $G = J^\top J$, which measures a tangent
#    vector at $x$ by the length of its image: this is where `pullback`, and the "Riemannian" of Park
#    et al.'s title, get their names.
# 4. The linearisation is only first-order: its error shrinks like $\varepsilon^2$.
# 5. In a network, $J$ is never written down. `topk_svd` finds the top singular triplets from
#    Jacobian-vector products alone, and agrees with the dense SVD; from them comes the
#    pseudo-inverse that the talk writes $J_x^{-1}$.

# %%
# %config InlineBackend.figure_format = "png"
import math

import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.jacobians import pullback
from latentlab.linalg import dense_jacobian, topk_svd

plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (4, 3.2), "font.size": 9})
torch.set_default_dtype(torch.float64)  # double precision for the small maps below


# %% [markdown]
# ## A smooth map of the plane and its Jacobian
#
# Take $\phi(x, y) = (x + 0.3 \sin y,\; y + 0.3 x^2)$, a map from $\mathbb{R}^2$ to $\mathbb{R}^2$.
# Because the plane is a vector space, the tangent space $T_p\mathbb{R}^2$ at a point $p$ is
# identified with $\mathbb{R}^2$ itself: a tangent vector at $p$ is a vector $v \in \mathbb{R}^2$,
# drawn as an arrow from $p$, and $p + \varepsilon v$ is a nearby point. The Jacobian is the matrix of
# partial derivatives,
#
# $$J(x, y) = \begin{pmatrix} 1 & 0.3\cos y \\ 0.6\,x & 1 \end{pmatrix}.$$
#
# `torch.func.jacrev` computes it by reverse-mode automatic differentiation, with no formula typed in;
# we compare it with the formula at the point $p = (0.8, 0.5)$ and require agreement to $10^{-12}$.

# %%
def phi(p):
    x, y = p
    return torch.stack([x + 0.3 * torch.sin(y), y + 0.3 * x**2])

p = torch.tensor([0.8, 0.5])
J = torch.func.jacrev(phi)(p)
by_hand = torch.tensor([[1.0, 0.3 * math.cos(0.5)], [0.6 * 0.8, 1.0]])
formula_err = (J - by_hand).abs().max().item()
print(f"max |J - formula| = {formula_err:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("J =", J.numpy().round(4).tolist())
print("max |J - formula| < 1e-12:", formula_err < 1e-12)

# %% [markdown]
# ## The SVD of $J$
#
# With $J = U S V^\top$ ($U$, $V$ orthogonal, $S$ diagonal and descending), $J v_i = s_i u_i$: the
# columns $v_i$ of $V$ are directions in the input (tangent vectors at $p$), the columns $u_i$ of $U$
# directions in the output (tangent vectors at $\phi(p)$), and $s_i$ the factor by which $J$ stretches
# $v_i$.

# %%
U, S, Vh = torch.linalg.svd(J)
V = Vh.T  # columns v_i
svd_err = (J @ V - U * S).abs().max().item()
print(f"max |J V - U S| = {svd_err:.1e}")

# %% [markdown]
# ## Why `pullback`: the metric pulled back by $J$
#
# Measure a tangent vector $v$ at $p$ by the length of its image: $\|Jv\|^2 = v^\top J^\top J\, v = v^\top G\, v$
# with $G = J^\top J$. $G$ is the Euclidean inner product of the output space **pulled back** through
# $J$ to the input space: the *pulled-back metric*. It is symmetric and positive semi-definite, and
# from $J = U S V^\top$ follows $G = V S^2 V^\top$: **the $v_i$ are the eigenvectors of $G$ and the
# $s_i^2$ its eigenvalues**. So $v_1$ is the unit tangent vector that $G$ measures longest, with
# length $s_1$.
#
# $G$ depends on the point, $G(x) = J(x)^\top J(x)$; an inner product on every tangent space that
# varies smoothly with the point is a *Riemannian metric*, the "Riemannian geometry" of Park et al.'s
# title, where $J$ is the Jacobian of the U-Net's encoder $x_t \mapsto h$ and `pullback` computes the
# top $v_i$ and $s_i$. (There $G$ is singular: the vectors in the kernel of $J$, met below, have length
# 0, so strictly it is a degenerate metric.)
#
# The unit sphere of $G$, $\{v : v^\top G v = 1\}$ (the boundary of its unit ball
# $\{v : v^\top G v \le 1\}$), is an ellipse with semi-axes $v_i / s_i$: the tangent vectors that $J$
# sends to unit length. We check both statements to $10^{-12}$: `torch.linalg.eigh`
# of $J^\top J$ returns $V$ and $S^2$ (up to the sign of each eigenvector), and $\|Jv\| = 1$ on that
# ellipse.

# %%
G = J.T @ J  # the pulled-back metric at p
eigenvalues, eigenvectors = torch.linalg.eigh(G)  # ascending
eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)  # descending, as S
signs = torch.sign((eigenvectors * V).sum(0))  # an eigenvector's sign is arbitrary
eig_err = (eigenvalues - S**2).abs().max().item()
vec_err = (eigenvectors * signs - V).abs().max().item()

angle = torch.linspace(0, 2 * math.pi, 200)
unit_circle = torch.stack([angle.cos(), angle.sin()])  # (2, 200) unit tangent vectors
metric_sphere = V @ (unit_circle / S[:, None])  # {v : v^T G v = 1}, semi-axes v_i / s_i
sphere_err = ((J @ metric_sphere).norm(dim=0) - 1).abs().max().item()
print(f"eigh(J^T J) against S^2: max error {eig_err:.1e}; against V: max error {vec_err:.1e}")
print(f"on {{v : v^T G v = 1}}: max | |J v| - 1 | = {sphere_err:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("S =", S.numpy().round(3), " S^2 =", (S**2).numpy().round(3), " eigenvalues of G =", eigenvalues.numpy().round(3))
print("J V = U S (max error < 1e-12):", svd_err < 1e-12)
print("eigh(J^T J) gives S^2 and V (max errors < 1e-12):", eig_err < 1e-12 and vec_err < 1e-12)
print("|J v| = 1 on {v : v^T G v = 1} (max error < 1e-12):", sphere_err < 1e-12)

# %% [markdown]
# ## The SVD draws the pushforward
#
# Both panels draw tangent vectors at the scale $r = 0.4$ (the point $p + r v$ for a tangent vector
# $v$), small enough for $\phi$ to stay close to its linearisation: over the circle $\|v\| = 1$, the
# largest distance between $\phi(p + r v)$ and $\phi(p) + J(r v)$ is under a quarter of the dashed
# ellipse's shortest semi-axis $r s_2$ (checked below the figure). On the left, at $p$: the unit
# circle $\|v\| = 1$ (grey), the unit sphere of the pulled-back metric $v^\top G v = 1$ (green, semi-axes
# $v_i / s_i$) and the right singular vectors $v_i$ (arrows). On the right, at $\phi(p)$: $\phi$ carries
# the circle to a closed curve (grey, solid); the linearisation $\phi(p) + J(r v)$ maps it to an
# **ellipse** (dashed) with semi-axes $r s_i u_i$ (arrows), and maps the green ellipse to a circle
# (green, dotted): $G$'s unit sphere is exactly what $J$ sends to unit length.

# %%
r = 0.4
image = torch.stack([phi(p + r * c) for c in unit_circle.T]).T
linearised = phi(p)[:, None] + J @ (r * unit_circle)

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6))
left.plot(*(p[:, None] + r * unit_circle), color="0.4", label="|v| = 1")
left.plot(*(p[:, None] + r * metric_sphere), color="C2", label="v^T G v = 1 (axes v_i / s_i)")
right.plot(*image, color="0.4", label="phi(p + r v), |v| = 1")
right.plot(*linearised, "--", color="k", label="linearised")
right.plot(*(phi(p)[:, None] + J @ (r * metric_sphere)), ":", color="C2", label="J (G's unit sphere)")
for i, colour in enumerate(["C0", "C1"]):
    left.arrow(*p, *(r * V[:, i]), color=colour, width=0.008, length_includes_head=True, label=f"v{i + 1}")
    right.arrow(*phi(p), *(r * S[i] * U[:, i]), color=colour, width=0.008, length_includes_head=True,
                label=f"s{i + 1} u{i + 1}")
left.set_title("tangent vectors at p (scale r)"); right.set_title("their images at phi(p)")
for ax in (left, right):
    ax.set_aspect("equal"); ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=7)
fig.tight_layout();

# %%
# NBVAL_CHECK_OUTPUT
gap, short_axis = (image - linearised).norm(dim=0).max().item(), r * S[1].item()
print(f"largest |phi(p + r v) - phi(p) - J r v| over |v| = 1: {gap:.3f}; r s_2 = {short_axis:.3f}")
print(f"gap / (r s_2) = {gap / short_axis:.2f}; under a quarter:", gap < 0.25 * short_axis)


# %% [markdown]
# ### A note on names: which side is $U$, which is $V$?
#
# This course follows the standard convention, as does `latentlab`: **$V$ lives in the input space,
# $U$ in the output space**, and `J @ V[i] = S[i] * U[i]`. Be careful when reading the sources:
#
# - the talk's slide "SVD of the Jacobian" swaps the roles of $U$ and $V$ (it makes the $u_i$ a basis
#   of $T_x M$ and the $v_i$ a basis of $T_{\phi(x)} N$, although its last line calls the $v_i$ input
#   directions);
# - the talk's slides on Park et al.'s paper, and Park et al.'s code, use the standard convention
#   (their $v_i$ are directions in $x_t$, their $u_i = J_x v_i / s_i$ directions in $h$), so
#   `pullback(...).V` are their editing directions;
# - Haas et al.'s code names them the other way round: its `v` lives in the output (noise) space and
#   its `u` in $h$. `eps_jacobian(...).V` is what their code calls `u`.

# %% [markdown]
# ## Maps between spaces of different dimension
#
# For $\phi: \mathbb{R}^n \to \mathbb{R}^m$ the Jacobian is $m \times n$ ($m$ outputs, $n$ inputs) and has
# $\min(m, n)$ singular values. Its kernel, the input directions that change nothing to first order,
# has dimension $n - \operatorname{rank} J \geq n - m$. When $J$ has **full row rank**,
# $\operatorname{rank} J = m < n$, the right singular vectors beyond the $m$-th span exactly that kernel.
# The U-Net's encoder $x_t \mapsto h$ is a map with $m < n$: for the 256 px models $J$ is
# $m \times n = 32768 \times 196608$ ($m = 512 \cdot 8 \cdot 8$ entries of $h$, $n = 3 \cdot 256 \cdot 256$
# pixels of $x_t$), so whatever its rank its kernel has dimension at least $196608 - 32768 = 163840$.
# Here is a small one, from $\mathbb{R}^3$ to $\mathbb{R}^2$; we check that $\operatorname{rank} J = 2 = m$ and
# that $J v_3$ vanishes to $10^{-12}$.

# %%
def psi(q):
    x, y, z = q
    return torch.stack([x + torch.sin(y * z), x * y - z])

q = torch.tensor([0.3, -0.7, 1.2])
Jq = torch.func.jacrev(psi)(q)  # (2, 3)
Uq, Sq, Vqh = torch.linalg.svd(Jq)  # full SVD: Vqh is 3 x 3
kernel_norm = (Jq @ Vqh[2]).norm().item()
print(f"|J v3| = {kernel_norm:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("J is", tuple(Jq.shape), "with singular values", Sq.numpy().round(3))
print("rank J =", torch.linalg.matrix_rank(Jq).item(), "= m (full row rank)")
print("v3 spans the kernel (|J v3| < 1e-12):", kernel_norm < 1e-12)

# %% [markdown]
# ## The linearisation is first order
#
# Pushing forward is exact only in the limit. The remainder
# $\|\phi(x + \varepsilon v) - \phi(x) - \varepsilon J v\|$ shrinks like $\varepsilon^2$ (Taylor), so on a
# log-log plot it is a line of **slope 2**. We fit the slope over $\varepsilon \in [10^{-4}, 10^{-1}]$ and
# check that it lies within **0.1 of 2**.
#
# The same Taylor argument holds for any smooth map, the U-Net's encoder included: a direction $v_i$
# found at $x_t$ describes small steps from $x_t$. Park et al.'s released edit keeps $v_i$
# **fixed**: at one timestep it repeats $x_t \leftarrow x_t + \gamma\,(\varepsilon_\theta(x_t + v_i) - \varepsilon_\theta(x_t))$
# $N = 16$ times with $\gamma = 0.1$ (their face model), without recomputing the Jacobian. The loop
# "edit, recompute the tangent space at the new point, carry the chosen $h$-direction over, edit
# again" is the talk's (its "Editing" slide, steps 5 and 6), not their code.

# %%
v = torch.tensor([0.6, -0.8])  # a unit tangent vector at p
steps = torch.logspace(-4, -1, 13)
remainder = torch.stack([(phi(p + e * v) - phi(p) - e * (J @ v)).norm() for e in steps])
slope = torch.linalg.lstsq(torch.stack([steps.log10(), torch.ones(13)], 1), remainder.log10()[:, None]).solution[0, 0]

plt.figure()
plt.loglog(steps, remainder, "o-", label="remainder")
plt.loglog(steps, 4 * remainder[-1] * (steps / steps[-1]) ** 2, "--", color="0.5", label="slope 2 (shifted up)")
plt.xlabel("step size eps"); plt.ylabel("|phi(p + eps v) - phi(p) - eps J v|"); plt.legend();

# %%
# NBVAL_CHECK_OUTPUT
print(f"fitted slope: {slope.item():.2f}; |slope - 2| = {abs(slope.item() - 2):.2f}")
print("within 0.1 of 2:", abs(slope.item() - 2) < 0.1)

# %% [markdown]
# ## Matrix-free: the top-k SVD from products only
#
# A U-Net's Jacobian is far too large to write down (the 256 px encoder's is $32768 \times 196608$),
# yet we only want its top few singular triplets. `topk_svd(jvp, vjp, in_shape, k)` asks for two
# functions: `jvp(v)` $= Jv$ (one forward-mode pass, `torch.func.jvp`) and `vjp(u)` $= J^\top u$ (one
# reverse-mode pass, `torch.func.vjp`); it never forms $J$, nor $G$.
#
# **The idea in one line:** a block power (Krylov) iteration on $G = J^\top J$, where each product
# $Gq = J^\top(Jq)$ costs one jvp and one vjp; the top eigenvectors and eigenvalues of $G$ within the
# span of $q, Gq, G^2q, \ldots$ are the top $v_i$ and $s_i^2$.
#
# We check it on a small tanh network $\mathbb{R}^{40} \to \mathbb{R}^{30}$ against the dense SVD of its
# full $30 \times 40$ Jacobian: singular values within $10^{-8}$ (relative), the top-5 input subspace
# within $10^{-6}$ rad (largest principal angle), and $J v_i = s_i u_i$ within $10^{-8}$.

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
print(f"{info['jvps']} jvps and {info['vjps']} vjps, {info['iterations']} iterations")

# %%
Jd = dense_jacobian(mlp, x0)  # the full 30 x 40 matrix
dense = torch.linalg.svd(Jd, full_matrices=False)
S_err = ((svd.S - dense.S[:5]).abs() / dense.S[:5]).max().item()
V_true = dense.Vh[:5]
angle_err = torch.linalg.matrix_norm(svd.V - (svd.V @ V_true.T) @ V_true, ord=2).clamp(max=1).asin().item()
pair_err = (Jd @ svd.V.T - svd.U.T * svd.S).abs().max().item()
print(f"singular values: max relative error {S_err:.1e}")
print(f"top-5 input subspace: largest angle {angle_err:.1e} rad")
print(f"max |J V[i] - S[i] U[i]| = {pair_err:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("top-5 singular values:", svd.S.numpy().round(3))
print("singular values agree (relative error < 1e-8):", S_err < 1e-8)
print("same top-5 input subspace (largest angle < 1e-6 rad):", angle_err < 1e-6)
print("J V[i] = S[i] U[i] (max error < 1e-8):", pair_err < 1e-8)

# %% [markdown]
# On a map this small the dense Jacobian is the cheaper route (30 vjps, one per output, against the
# products counted above, at a tolerance of $10^{-10}$). The matrix-free route pays off when $J$ is
# huge and $k$ small; the U-Net section below counts both.

# %% [markdown]
# ## What the talk's $J_x^{-1}$ is: the pseudo-inverse
#
# The talk's editing slides find the input direction for a chosen output direction "using
# $J_x^{-1}$". An $m \times n$ Jacobian with $m < n$ has no inverse; what is meant is the
# **pseudo-inverse** $J^+ = V S^{-1} U^\top$. It sends $u_i$ to $v_i / s_i$, back along the direction
# $v_i$, and it is only a *right* inverse: with full row rank $J J^+ = I_m$, while
# $J^+ J = V V^\top$ projects onto the row space and sends the kernel to 0.
#
# From the top-$k$ triplets alone we get $J_k^+ = V_k S_k^{-1} U_k^\top$: it first projects $u$ onto
# $\operatorname{span}(u_1, \ldots, u_k)$ and **sends everything outside that span to 0**, so
# $J J_k^+ u$ is only the part of $u$ in the top-$k$ span. (When Park et al.'s code carries an
# $h$-direction $u$ to a new point it uses $V'(U'^\top u)$, normalised: $J_k^+$ at the new point
# without the $S^{-1}$, each $u'_i$ going to $v'_i$ unscaled.)
#
# Checks on the MLP, whose $J$ is $30 \times 40$ of rank 30 (full row rank), each error below
# $10^{-8}$: $V S^{-1} U^\top$ equals `torch.linalg.pinv(J)`; $J J^+ = I_{30}$. But $J^+ J \neq I_{40}$:
# the 10 kernel directions are lost, so $\|J^+ J - I\|_2 = 1$. With $k = 5$: $J_5^+ u_1 = v_1 / s_1$;
# $J_5^+$ sends the part of a random $u$ outside the top-5 span to 0; and $J J_5^+ u$ is the part of
# $u$ inside it.

# %%
J_plus = dense.Vh.T @ torch.diag(1 / dense.S) @ dense.U.T  # V S^-1 U^T, (40, 30)
pinv_err = (J_plus - torch.linalg.pinv(Jd)).abs().max().item()
right_err = (Jd @ J_plus - torch.eye(30)).abs().max().item()
left_gap = torch.linalg.matrix_norm(J_plus @ Jd - torch.eye(40), ord=2).item()

def pinv_top(u):  # J_k^+ u = V_k S_k^-1 U_k^T u, from topk_svd's triplets only
    return svd.V.T @ ((svd.U @ u) / svd.S)

u = torch.randn(30, generator=gen)
u_out = u - svd.U.T @ (svd.U @ u)  # the part of u outside span(u_1..u_5)
top_err = (pinv_top(svd.U[0]) - svd.V[0] / svd.S[0]).abs().max().item()
out_norm = pinv_top(u_out).norm().item()
proj_err = (Jd @ pinv_top(u) - (u - u_out)).abs().max().item()  # J J_5^+ u against u's top-5 part
print(f"max |V S^-1 U^T - pinv(J)| = {pinv_err:.1e};  max |J J^+ - I_30| = {right_err:.1e}")
print(f"max |J_5^+ u_1 - v_1 / s_1| = {top_err:.1e};  |J_5^+ (u outside the top-5 span)| = {out_norm:.1e}")
print(f"max |J J_5^+ u - (u's part in the top-5 span)| = {proj_err:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("rank J =", torch.linalg.matrix_rank(Jd).item(), f"= m (smallest singular value s_30 = {dense.S[-1].item():.3f})")
print("V S^-1 U^T = pinv(J) (max error < 1e-8):", pinv_err < 1e-8)
print("J J^+ = I_30 (max error < 1e-8):", right_err < 1e-8)
print(f"||J^+ J - I_40||_2 = {left_gap:.2f}: not a left inverse")
print("J_5^+ u_1 = v_1 / s_1 (max error < 1e-8):", top_err < 1e-8)
print("J_5^+ sends u outside the top-5 span to 0 (norm < 1e-8):", out_norm < 1e-8)
print("J J_5^+ u = u's part in the top-5 span (max error < 1e-8):", proj_err < 1e-8)
print(f"which keeps |U_5^T u| / |u| = {(svd.U @ u).norm().item() / u.norm().item():.2f} of this random u's norm")

# %% [markdown]
# ## The same call on a U-Net
#
# `pullback(model, x_t, t)` is exactly this, for the encoder $x_t \mapsto h$ of a U-Net (Park et al.):
# $V$ are directions in image space (the top eigenvectors of the pulled-back metric $G = J^\top J$, with
# eigenvalues $S^2$), $U$ where they go in $h$-space. Here on a tiny random U-Net; notebook 07 calls it
# on the trained faces model. (`eps_jacobian` does the same for $\partial\varepsilon/\partial h$, Haas et al.)
# We count its Jacobian products (at `pullback`'s default tolerance, $10^{-4}$) against the
# $\min(m, n)$ products that the dense Jacobian would take, and print whether the iteration converged.
#
# This tiny U-Net is in the other regime from the 256 px models above: its $h$ has
# $m = 16 \cdot 8 \cdot 8 = 1024$ entries and its $x_t$ has $n = 3 \cdot 16 \cdot 16 = 768$ pixels, so
# $m > n$. Counting dimensions forces no kernel here ($n - m < 0$), and $J$ cannot have full row rank:
# $J J^+$ projects onto $J$'s column space, at most 768-dimensional in $\mathbb{R}^{1024}$, so
# $J J^+ \neq I_m$, unlike for the MLP above. (This $J$ has a kernel all the same, for another reason:
# on its way to $h$ the image passes through the first block's downsampler, 8 channels at
# $8 \times 8$, 512 numbers, so $\operatorname{rank} J \le 512$ and the kernel has dimension at least
# $768 - 512 = 256$. The dense $J$, 768 jvps here, shows it after the call.)

# %%
torch.set_default_dtype(torch.float32)
model = ll.tiny_model()
x_t = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
directions, info = pullback(model, x_t, t=600, k=3, return_info=True)
m, n = math.prod(model.h_shape), math.prod(model.sample_shape)
print("V:", tuple(directions.V.shape), " U:", tuple(directions.U.shape), " S:", directions.S.numpy().round(2))
print(f"J is m x n = {m} x {n}; pullback took {info['products']} products, the dense J would take {min(m, n)}")
print(f"converged: {info['converged']}, after {info['iterations']} iterations "
      f"(residual {info['residual']:.1e} of s_1, tolerance 1e-4)")

# %%
with ll.forward_ad(model):  # forward-mode AD through the U-Net on the CPU
    J_unet = dense_jacobian(lambda v: ll.h_of(model, v[None], 600).flatten(), x_t, mode="fwd", chunk_size=128)
s_unet = torch.linalg.svdvals(J_unet)
rank_unet = (s_unet > 1e-4 * s_unet[0]).sum().item()  # the rest are float32 round-off
print(f"dense J: {tuple(J_unet.shape)}; s_512 / s_1 = {(s_unet[511] / s_unet[0]).item():.1e}, "
      f"s_513 / s_1 = {(s_unet[512] / s_unet[0]).item():.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"pullback converged: {info['converged']}, in {info['iterations']} iterations")
print(f"rank J = {rank_unet} (singular values above 1e-4 s_1); at most 8 * 8 * 8 = 512: {rank_unet <= 512}")
print(f"kernel dimension n - rank J = {n - rank_unet}; rank J < m = {m}, so J J^+ != I_m: {rank_unet < m}")

# %% [markdown]
# ## Exercises
#
# Three exercises on the SVD of a Jacobian: by hand, matrix-free, and its kernel. Fill in each cell marked `# YOUR
# CODE HERE` (replace every `None`), then run the check below it: it says what is right, or what is wrong and what to
# try. The checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/01_pushforward_and_svd_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

# %% [markdown]
# ### Exercise 1: the SVD of a 2 x 2 map, by hand
#
# Take the linear map $A = \begin{pmatrix} 3 & 0 \\ 4 & 5 \end{pmatrix}$. Its singular values are the
# square roots of the eigenvalues of $A^\top A$ (a symmetric 2 x 2 matrix: its trace and determinant
# give the two eigenvalues), largest first, and $v_1$ is the unit eigenvector of $A^\top A$ for the
# larger one. Work them out on paper and type in the numbers (`math.sqrt` is fine, `torch.linalg` is not
# the point). Which unit vector does $A$ stretch most, and by how much?

# %%
A = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)
# YOUR CODE HERE: S = [s_1, s_2] (largest first), v1 = [x, y] (unit length)
S = None
v1 = None

# %%
ex.check_svd_by_hand(A, S, v1)

# %% [markdown]
# ### Exercise 2: the same from products only, with `topk_svd`
#
# `M` below is a 6 x 4 matrix; pretend it is too big to decompose. Give `topk_svd` the two products it
# asks for, `jvp(v)` $= Mv$ and `vjp(u)` $= M^\top u$, the input shape and `k=2`, as in the MLP section
# above (there the products came from `torch.func`; here they are plain matrix products). `M` is
# float64, so pass `dtype=torch.float64` too (`topk_svd` works in float32 by default). The check
# compares your result with the dense SVD.

# %%
M = torch.randn(6, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
# YOUR CODE HERE: svd_M = topk_svd(jvp, vjp, in_shape, k=2, dtype=torch.float64)
svd_M = None

# %%
ex.check_topk_svd(M, svd_M)

# %% [markdown]
# ### Exercise 3: a direction the map cannot see
#
# The map $\psi: \mathbb{R}^3 \to \mathbb{R}^2$ of this notebook has a 2 x 3 Jacobian, so some input
# direction is lost. At the point $q_2 = (1, 0.5, -0.4)$ find a unit vector $v$ with $J v = 0$: a step
# that changes $\psi$ by nothing to first order, and that the pulled-back metric $G = J^\top J$ gives
# length 0. (Which right singular vector is it?)

# %%
J2 = torch.func.jacrev(psi)(torch.tensor([1.0, 0.5, -0.4], dtype=torch.float64))  # (2, 3)
# YOUR CODE HERE: a unit vector v of 3 numbers with J2 @ v = 0
v_kernel = None

# %%
ex.check_kernel_direction(J2, v_kernel)
