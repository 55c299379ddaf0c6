# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# 3. The linearisation is only first-order: its error shrinks like $\varepsilon^2$.
# 4. In a network, $J$ is never written down. `topk_svd` finds the top singular triplets from
#    Jacobian-vector products alone, and agrees with the dense SVD.

# %%
# %config InlineBackend.figure_format = "png"
import math

import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.geometry import dense_jacobian, pullback, topk_svd

plt.rcParams.update({"figure.dpi": 72, "figure.figsize": (4, 3.2), "font.size": 9})
torch.set_default_dtype(torch.float64)  # exact arithmetic for the small maps below


# %% [markdown]
# ## A smooth map of the plane and its Jacobian
#
# Take $\phi(x, y) = (x + 0.3 \sin y,\; y + 0.3 x^2)$. Its Jacobian is the matrix of partial derivatives,
#
# $$J(x, y) = \begin{pmatrix} 1 & 0.3\cos y \\ 0.6\,x & 1 \end{pmatrix}.$$
#
# `torch.func.jacrev` computes it by reverse-mode automatic differentiation, with no formula typed in;
# we compare it with the formula at the point $p = (0.8, 0.5)$.

# %%
def phi(p):
    x, y = p
    return torch.stack([x + 0.3 * torch.sin(y), y + 0.3 * x**2])

p = torch.tensor([0.8, 0.5])
J = torch.func.jacrev(phi)(p)
by_hand = torch.tensor([[1.0, 0.3 * math.cos(0.5)], [0.6 * 0.8, 1.0]])
print(J)
print("matches the formula:", torch.allclose(J, by_hand))

# %% [markdown]
# ## The SVD draws the pushforward
#
# With $J = U S V^\top$ ($U$, $V$ orthogonal, $S$ diagonal and descending), $J v_i = s_i u_i$. A circle of
# tangent vectors of radius $r$ at $p$ (left) is carried by $\phi$ to a closed curve around $\phi(p)$
# (right, solid). The linearisation $\phi(p) + J(r c)$ maps it to an **ellipse** (dashed) whose
# semi-axes are $r s_i u_i$; the input directions $v_i$ (left, arrows) are the ones that go to them.

# %%
U, S, Vh = torch.linalg.svd(J)
V = Vh.T  # columns v_i
print("singular values S:", S.numpy().round(3))
print("J v_i = s_i u_i:", torch.allclose(J @ V, U * S))

# %%
r = 0.4
angle = torch.linspace(0, 2 * math.pi, 200)
circle = r * torch.stack([angle.cos(), angle.sin()])  # (2, 200) tangent vectors
image = torch.stack([phi(p + c) for c in circle.T]).T
ellipse = phi(p)[:, None] + J @ circle

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2))
left.plot(*(p[:, None] + circle), color="0.4")
for i, colour in enumerate(["C0", "C1"]):
    left.arrow(*p, *(r * V[:, i]), color=colour, width=0.008, length_includes_head=True, label=f"r v{i + 1}")
    right.arrow(*phi(p), *(r * S[i] * U[:, i]), color=colour, width=0.008, length_includes_head=True,
                label=f"r s{i + 1} u{i + 1}")
right.plot(*image, color="0.4", label="phi(circle)")
right.plot(*ellipse, "--", color="k", label="linearised")
left.set_title("tangent vectors at p"); right.set_title("their images at phi(p)")
for ax in (left, right):
    ax.set_aspect("equal"); ax.legend(loc="lower right", fontsize=7)
fig.tight_layout();


# %% [markdown]
# ### A note on names: which side is $U$, which is $V$?
#
# This course follows the standard convention, as does `latentlab`: **$V$ lives in the input space,
# $U$ in the output space**, and `J @ V[i] = S[i] * U[i]`. Be careful when reading the sources:
#
# - the talk's slide "SVD of the Jacobian" swaps the roles of $U$ and $V$;
# - Park et al.'s slides and code use the standard convention (their $v_i$ are directions in $x_t$,
#   their $u_i$ directions in $h$) — so `pullback(...).V` are their editing directions;
# - Haas et al.'s code names them the other way round: its `v` lives in the output (noise) space and
#   its `u` in $h$. `eps_jacobian(...).V` is what their code calls `u`.

# %% [markdown]
# ## Maps between spaces of different dimension
#
# For $\phi: \mathbb{R}^n \to \mathbb{R}^m$ the Jacobian is $m \times n$ and has $\min(n, m)$ singular values.
# With $n > m$ some input directions change nothing: the right singular vectors beyond the $m$-th span
# the **kernel** of $J$. The U-Net's encoder $x_t \mapsto h$ is such a map (for the 256 px models,
# $n = 3 \cdot 256^2$ and $m = 512 \cdot 8^2$). Here is one from $\mathbb{R}^3$ to $\mathbb{R}^2$.

# %%
def psi(q):
    x, y, z = q
    return torch.stack([x + torch.sin(y * z), x * y - z])

q = torch.tensor([0.3, -0.7, 1.2])
Jq = torch.func.jacrev(psi)(q)  # (2, 3)
Uq, Sq, Vqh = torch.linalg.svd(Jq)  # full SVD: Vqh is 3 x 3
print("J is", tuple(Jq.shape), "with singular values", Sq.numpy().round(3))
print("|J v3| =", f"{(Jq @ Vqh[2]).norm().item():.1e}", "(v3 spans the kernel)")

# %% [markdown]
# ## The linearisation is first order
#
# Pushing forward is exact only in the limit. The remainder
# $\|\phi(x + \varepsilon v) - \phi(x) - \varepsilon J v\|$ shrinks like $\varepsilon^2$ (Taylor), so on a
# log-log plot it is a line of **slope 2**. We fit the slope over $\varepsilon \in [10^{-4}, 10^{-1}]$ and
# check that it lies within **0.1 of 2**. (For the U-Net this is why directions are only meaningful
# for small steps, and why Park et al. recompute the Jacobian after moving.)

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
print(f"fitted slope: {slope.item():.1f}")
print("within 0.1 of 2:", abs(slope.item() - 2) < 0.1)

# %% [markdown]
# ## Matrix-free: the top-k SVD from products only
#
# A U-Net's Jacobian is far too large to write down (the 256 px encoder's has $196608 \times 32768$
# entries), yet we only want its top few singular triplets. `topk_svd(jvp, vjp, in_shape, k)` asks for
# two functions: `jvp(v)` $= Jv$ (one forward-mode pass, `torch.func.jvp`) and `vjp(u)` $= J^\top u$ (one
# reverse-mode pass, `torch.func.vjp`); it never forms $J$. We check it on a small tanh network
# $\mathbb{R}^{40} \to \mathbb{R}^{30}$ against the dense SVD of its full Jacobian.

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
dense = torch.linalg.svd(dense_jacobian(mlp, x0))  # the full 30 x 40 matrix, then its SVD
S_err = ((svd.S - dense.S[:5]).abs() / dense.S[:5]).max().item()
V_true = dense.Vh[:5]
angle = torch.linalg.matrix_norm(svd.V - (svd.V @ V_true.T) @ V_true, ord=2).asin().item()

# %%
# NBVAL_CHECK_OUTPUT
print("singular values agree (relative error < 1e-8):", S_err < 1e-8)
print("same top-5 input subspace (largest angle < 1e-6 rad):", angle < 1e-6)
print("J V[i] = S[i] U[i]:", torch.allclose(dense_jacobian(mlp, x0) @ svd.V.T, svd.U.T * svd.S))

# %% [markdown]
# On a map this small the dense Jacobian is the cheaper route (30 vjps, one per output, against the
# products counted above, at a tolerance of $10^{-10}$). The matrix-free route pays off when $J$ is
# huge and $k$ small: the dense Jacobian of the 256 px encoder would take 32768 vjps, one per entry of
# $h$, while its top 3 triplets take a few dozen products (see `benchmarks/jacobian_svd.py`).

# %% [markdown]
# ## The same call on a U-Net
#
# `pullback(model, x_t, t)` is exactly this, for the encoder $x_t \mapsto h$ of a U-Net (Park et al.):
# $V$ are directions in image space, $U$ where they go in $h$-space. Here on a tiny random U-Net;
# notebook 02 uses the trained faces model. (`eps_jacobian` does the same for $\partial\varepsilon/\partial h$,
# Haas et al.)

# %%
torch.set_default_dtype(torch.float32)
model = ll.tiny_model()
x_t = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
directions = pullback(model, x_t, t=600, k=3)
print("V:", tuple(directions.V.shape), " U:", tuple(directions.U.shape), " S:", directions.S.numpy().round(2))
