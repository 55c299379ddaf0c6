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

# %% [markdown] slideshow={"slide_type": "slide"}
# # 01 · Pushforward and SVD
#
# ## Key idea
#
# Every latent direction in this course is a singular vector of a Jacobian. At a point $x$, the
# Jacobian $J = \partial\phi/\partial x$ of a smooth map $\phi$ *pushes forward* a small step: $x +
# \varepsilon v$ goes to $\phi(x) + \varepsilon J v$, to first order. Its singular value decomposition
# $J = U S V^\top$ names the axes of that linear map:
#
# - the **right** singular vectors $v_i$ (columns of $V$) live in the **input** space: the directions
#   of a step at $x$;
# - the **left** singular vectors $u_i$ (columns of $U$) live in the **output** space: where those
#   steps land, $J v_i = s_i u_i$, stretched by $s_i$.
#
# A U-Net's Jacobian is far too large to write down, but its top few triplets $(s_i, u_i, v_i)$ can be
# found from Jacobian-vector products alone (`topk_svd`). That is how `pullback` finds the directions
# of Park et al. (arXiv 2307.12868, NeurIPS 2023; lecture 06) for the U-Net's encoder $x_t \mapsto h$,
# the map from a noisy image $x_t$ to $h$, the U-Net's bottleneck activation (lecture 02).
#
# The checks this lecture leaves out (the pulled-back metric's eigenvectors, the first-order error,
# the pseudo-inverse, the U-Net's rank) and the exercises, power iteration from products among them,
# are in its [lab](labs/01_pushforward_and_svd_lab.ipynb).

# %%
import math

import torch

import latentlab as ll
from latentlab.course.plot import lecture_style, show_kernel, show_pushforward, show_singular_values
from latentlab.jacobians import pullback
from latentlab.linalg import dense_jacobian, topk_svd

lecture_style()
torch.set_default_dtype(torch.float64)  # double precision for the small maps; the U-Net runs in float32


# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The Jacobian and its SVD, drawn
#
# Take a map of the plane, $\phi(x, y) = (x + 0.3 \sin y,\; y + 0.3 x^2)$, whose Jacobian is
#
# $$J(x, y) = \begin{pmatrix} 1 & 0.3\cos y \\ 0.6\,x & 1 \end{pmatrix}.$$
#
# `torch.func.jacrev` computes it by automatic differentiation, with no formula typed in; at
# $p = (0.8, 0.5)$ it agrees with the formula to $10^{-12}$.

# %%
def phi(p):
    x, y = p
    return torch.stack([x + 0.3 * torch.sin(y), y + 0.3 * x**2])

p = torch.tensor([0.8, 0.5])
J = torch.func.jacrev(phi)(p)
by_hand = torch.tensor([[1.0, 0.3 * math.cos(0.5)], [0.6 * 0.8, 1.0]])
U, S, Vh = torch.linalg.svd(J)
V = Vh.T  # columns v_i

# %% tags=["nbval-check-output"]
print("J =", J.numpy().round(4).tolist(), " S =", S.numpy().round(3).tolist())
print("J equals the formula (max error < 1e-12):", (J - by_hand).abs().max().item() < 1e-12)
print("J v_i = s_i u_i (max error < 1e-12):", (J @ V - U * S).abs().max().item() < 1e-12)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The picture of the SVD: on the left, tangent vectors at $p$ of length $r = 0.4$ (a circle) and the
# right singular vectors; on the right, where they go. The linearisation $\phi(p) + J v$ maps the
# circle to an **ellipse** (dashed) whose semi-axes are $r s_i u_i$; $\phi$ itself (solid) bends it a
# little, the error of the first-order picture.

# %%
show_pushforward(phi, p, r=0.4);

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The metric it pulls back.** Measuring a step $v$ at $x$ by the length of its image gives
# $\|Jv\|^2 = v^\top G v$ with $G = J^\top J = V S^2 V^\top$: the output's inner product *pulled back*
# to the input. The $v_i$ are $G$'s eigenvectors and $s_i^2$ its eigenvalues. A $G(x)$ at every point
# is a Riemannian metric: this is the geometry of Park et al.'s title and the reason for the name
# `pullback`.
#
# **A note on names.** The course, `latentlab`, Park et al.'s paper and their code use the standard
# convention: the columns of $V$ live in the input, those of $U$ in the output. The talk this course
# follows (*Interpretable Latent Directions in DPMs*) uses the letters the other way round: its $u_i$
# are a basis of the input's tangent space $T_x M$ and its $v_i$ of the output's $T_{\phi(x)} N$.
# Haas et al.'s code (lecture 05) also calls the input directions `u`: the kit's
# `eps_jacobian(...).V`, the directions in $h$ of the noise prediction's Jacobian with respect to
# $h$, are their `u`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Wide maps have a kernel
#
# For $\phi: \mathbb{R}^n \to \mathbb{R}^m$ the Jacobian is $m \times n$. When $m < n$, at least
# $n - m$ input directions change nothing to first order: the right singular vectors beyond the rank
# span this **kernel**, and $G$ gives them length 0.
#
# Which side is bigger depends on the model. In the 256 px pixel model (CelebA-HQ) the encoder
# $x_t \mapsto h$ has $n = 3 \cdot 256 \cdot 256 = 196{,}608$ and $m = 512 \cdot 8 \cdot 8 = 32{,}768$, so
# its kernel has dimension at least 163,840. In Stable Diffusion the input is the latent,
# $n = 4 \cdot 64 \cdot 64 = 16{,}384$, and $h$ has $m = 1280 \cdot 8 \cdot 8 = 81{,}920 > n$: no kernel is
# forced. The talk states the Jacobian's size with the pixel model's $n$ and Stable Diffusion's $m$,
# numbers from two different models; as with $U$ and $V$, take both from the same model.
#
# A small wide map, $\psi: \mathbb{R}^3 \to \mathbb{R}^2$, shows the kernel. The figure draws its three
# right singular vectors at $q$ (left) and their images $J v_i = s_i u_i$ (right): $v_1$ and $v_2$
# land on two orthogonal arrows, $v_3$ lands on 0.

# %%
def psi(q):
    x, y, z = q
    return torch.stack([x + torch.sin(y * z), x * y - z])

q = torch.tensor([0.3, -0.7, 1.2])
Jq = torch.func.jacrev(psi)(q)  # (2, 3)
Uq, Sq, Vqh = torch.linalg.svd(Jq)  # full SVD: Vqh is 3 x 3

# %% tags=["nbval-check-output"]
print("J is", tuple(Jq.shape), "of rank", torch.linalg.matrix_rank(Jq).item(), "; S =", Sq.numpy().round(3))
print("v_3 spans the kernel (|J v_3| < 1e-12):", (Jq @ Vqh[2]).norm().item() < 1e-12)

# %%
show_kernel(Jq);

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Matrix-free: the top-k SVD from products only
#
# `topk_svd(jvp, vjp, in_shape, k)` asks for two functions, `jvp(v)` $= Jv$ (one forward-mode pass)
# and `vjp(u)` $= J^\top u$ (one reverse-mode pass). It never forms $J$ or $G$: a block power (Krylov)
# iteration on $G = J^\top J$, each product $G q = J^\top (J q)$ costing one of each. The top
# eigenvectors of $G$ within the span of $q, Gq, G^2 q, \ldots$ are the top $v_i$.
#
# On a small tanh network $\mathbb{R}^{40} \to \mathbb{R}^{30}$ the dense $30 \times 40$ Jacobian is
# available to check against: the top five singular values agree to $10^{-8}$ (relative) and the top-5
# input subspaces to $10^{-6}$ rad.

# %%
gen = torch.Generator().manual_seed(0)
W1, b1 = torch.randn(64, 40, generator=gen) / 40**0.5, torch.randn(64, generator=gen)
W2 = torch.randn(30, 64, generator=gen) / 64**0.5

def mlp(x):
    return W2 @ torch.tanh(W1 @ x + b1)

x0 = torch.randn(40, generator=gen)
_, vjp_fn = torch.func.vjp(mlp, x0)
svd = topk_svd(lambda v: torch.func.jvp(mlp, (x0,), (v,))[1], lambda u: vjp_fn(u)[0], (40,), k=5,
               dtype=torch.float64, tol=1e-10)
dense = torch.linalg.svd(dense_jacobian(mlp, x0), full_matrices=False)
S_err = ((svd.S - dense.S[:5]).abs() / dense.S[:5]).max().item()
V_top = dense.Vh[:5]
angle = torch.linalg.matrix_norm(svd.V - (svd.V @ V_top.T) @ V_top, ord=2).clamp(max=1).asin().item()

# %% tags=["nbval-check-output"]
print("top-5 singular values:", svd.S.numpy().round(3))
print("equal to the dense SVD's (relative error < 1e-8):", S_err < 1e-8)
print("same top-5 input subspace (largest angle < 1e-6 rad):", angle < 1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The same call on a U-Net.** `pullback(model, x_t, t, k)` runs this iteration on the encoder
# $x_t \mapsto h$ of a U-Net, with forward- and reverse-mode passes through the network: `.V` are
# directions in image space (Park et al.'s editing directions), `.U` where they go in $h$. Here on a
# tiny random U-Net; lecture 06 calls it on the trained faces model. The figure sets its
# singular values against those of the dense Jacobian, which takes one product per input pixel.

# %%
torch.set_default_dtype(torch.float32)
model = ll.tiny_model()
x_t = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
directions, info = pullback(model, x_t, t=600, k=3, return_info=True)
with ll.forward_ad(model):  # forward-mode AD through the U-Net on the CPU
    J_unet = dense_jacobian(lambda v: ll.h_of(model, v[None], 600).flatten(), x_t, mode="fwd", chunk_size=128)
s_dense = torch.linalg.svdvals(J_unet)
n_pixels = math.prod(model.sample_shape)
show_singular_values(s_dense, directions.S, jvps=n_pixels, products=info["products"],
                     title=f"J: {tuple(J_unet.shape)}, the encoder x_t -> h of a tiny U-Net");

# %% tags=["nbval-check-output"]
top_err = ((directions.S - s_dense[:3]).abs() / s_dense[:3]).max().item()
print("V:", tuple(directions.V.shape), " U:", tuple(directions.U.shape), " converged:", info["converged"])
print("pullback's top 3 match the dense J's (relative error < 1e-3):", top_err < 1e-3)
print(f"fewer products than the dense J: {info['products'] < n_pixels}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to remember
#
# - The Jacobian pushes a small step forward: $v$ at $x$ goes to $Jv$ at $\phi(x)$, to first order.
# - In $J = U S V^\top$, $V$ lives in the input and $U$ in the output, with $J v_i = s_i u_i$; the
#   $v_i$ are also the eigenvectors of the pulled-back metric $G = J^\top J$. Sources swap the names:
#   read each one's definition.
# - When $m < n$ the right singular vectors beyond the rank span directions the map cannot see.
# - The top few triplets come from products alone: `topk_svd` for any map, `pullback` for a U-Net's
#   encoder.
#
# Next: [lab 01](labs/01_pushforward_and_svd_lab.ipynb) (checks and exercises), then lecture 02, the
# faces world and DDIM.
