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
# # 05 · Haas et al.: PCA, supervised and Jacobian directions: solutions to the exercises
#
# The exercises at the end of `../labs/05_haas_directions_lab.ipynb`, each with a worked solution and its check.
# Only the setup the exercises need is repeated here; the [lecture](../05_haas_directions.ipynb) explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.jacobians import jacobian_products

torch.set_num_threads(1)
model = ll.load_model()
faces_ex, truth_ex = ll.render_faces(64, seed=51)
h_ex = ll.h_of(model, ll.q_sample(model, faces_ex, 500, generator=torch.Generator().manual_seed(51)), 500)

# %% [markdown]
# ### Exercise 05.1: the first principal direction, by hand
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
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
# **Discussion.** One component of 2,048 carries about a tenth of the variance of h at $t = 500$, seven
# times the average share. The average is over the components with non-zero variance, 63 of them (64
# centred samples span at most 63 directions), so it is 1/63 = 1.6 %, not 1/2,048: even among those few,
# h's variation over faces is concentrated in a handful of directions. Forgetting
# to centre finds the direction of the mean h instead, which is not a direction of variation at all.

# %% [markdown]
# ### Exercise 05.2: a supervised direction for hair colour
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
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

# %% [markdown]
# **Discussion.** Twelve of 64 faces define the direction; it is not normalised, so its size carries
# how far apart the two groups' h lie. It averages over everything else that differs between the
# groups, which on 64 faces is a good deal (lab 03's group-imbalance table, B6, shows it for smile).

# %% [markdown]
# ### Exercise 05.3: Haas's directions by power iteration
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵🔵
#
# You should spend up to 20-30 minutes on this exercise.
# ```
#
# Haas et al.'s Jacobian directions are the top right singular vectors of $J = \partial\epsilon/\partial h$
# at one $x_t$. `jvp(V)` gives $J v$ for a block of directions in h, `vjp(U)` gives $J^\top u$ for a
# block in eps (`jacobian_products` builds both from autograd for the map $\Delta h \mapsto$
# `ll.eps_of(model, x_t, t, dh=dh)`: $J v$ by forward mode, here at 32 px the double-backward trick, a
# second backward pass through the first; $J^\top u$ by a backward pass). Extend exercise 01.4's power
# iteration to a block of $k = 2$: start from a seeded random `V` of shape `(2, *h_shape)`, repeat
# `V <- vjp(jvp(V))` and orthonormalise the block (`Q, _ = torch.linalg.qr(W.flatten(1).T)`, then
# `V = Q.T.reshape(V.shape)`), 30 times; then $s_i = |J v_i|$. Here $x_t$ is face 0's state at
# $t = 700$ of its 10-step trajectory. The check compares with `ll.eps_jacobian` (a block Krylov SVD).

# %%
x_T0 = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
x_700 = ll.ddim_sample(model, x_T0, 10, return_trajectory=True, progress=False)[1][2]  # face 0 at t = 700
jvp, vjp, h_shape = jacobian_products(model, x_700, 700, which="eps")  # blocks (b, *h_shape) <-> (b, 3, 32, 32)


def power_directions(jvp, vjp, h_shape, k=2, iters=30, seed=0):
    V = torch.randn(k, *h_shape, generator=torch.Generator().manual_seed(seed))
    for _ in range(iters):
        W = vjp(jvp(V))  # J^T J V: k jvps and k vjps
        Q, _ = torch.linalg.qr(W.flatten(1).T)  # orthonormal columns, the first along W[0]
        V = Q.T.reshape(k, *h_shape)
    return jvp(V).flatten(1).norm(dim=1), V


S_haas, V_haas = power_directions(jvp, vjp, h_shape)

# %%
ex.check_haas_power_iteration(model, x_700, 700, S_haas, V_haas)

# %% [markdown]
# **Discussion.** Sixty jvps and sixty vjps found what `eps_jacobian`'s Krylov iteration finds; with
# $s_2/s_1 = 0.90$ here each iteration shrinks $v_1$'s error only by 0.81, which is why 30 are needed
# (mini-project 01.5). Without the QR both rows converge to $v_1$; with it the block finds $v_1$ and
# $v_2$ at once.

# %% [markdown]
# ### Mini-project 05.4: does face 0's $v_1$ at $t = 700$ transfer to other faces?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 45-60 minutes on this mini-project.
# ```
#
# Haas et al. find a Jacobian direction on one sample and apply it to others. Take face 0's $v_1$ from
# 05.3 and six other faces: compute each face's own $v_1$ at its $t = 700$ (`ll.eps_jacobian(model,
# x_t, 700, k=1)`), compare it with face 0's ($|\cos|$, against $1/\sqrt{2048} = 0.022$ for random
# directions), and edit each face with both (`ll.ddim_sample(..., dh=c * v, asymmetric=False)`, same
# size $c$). Does face 0's direction change the same attributes as each face's own? One way, on 6 faces
# (about half a minute of CPU), with $c = 10$:

# %%
probe = ll.load_probe()
v0 = V_haas[0]
x_T6 = torch.randn(6, *model.sample_shape, generator=torch.Generator().manual_seed(1))
_, traj6 = ll.ddim_sample(model, x_T6, 10, return_trajectory=True, progress=False)
own = torch.stack([ll.eps_jacobian(model, traj6[2][i], 700, k=1).V[0] for i in range(6)])
cos = (own.flatten(1) @ v0.flatten()) / own.flatten(1).norm(dim=1)
own = own * cos.sign()[:, None, None, None]  # a singular vector's sign is free: align with face 0's
base = probe(traj6[-1])


def change(dh):  # each attribute's change in units of its range, (6 faces, 11 attributes)
    read = probe(ll.ddim_sample(model, x_T6, 10, dh=dh, asymmetric=False, progress=False))
    return torch.stack([(read[k] - base[k]) / r.span for k, r in ll.ATTRIBUTES.items()], 1)


by_own, by_face0 = change(10 * own), change(10 * v0)
agree = torch.nn.functional.cosine_similarity(by_own, by_face0, dim=1)
names = list(ll.ATTRIBUTES)
print("|cos| of each face's v_1 with face 0's (random: about 0.02), and the cosine between the")
print("attribute changes of the two edits")
for i in range(6):
    j = by_own[i].abs().argmax().item()
    print(f"face {i + 1}: |cos| {cos[i].abs():.2f}, changes agree {agree[i]:+.2f}; own v_1 moves {names[j]} most "
          f"({by_own[i, j]:+.2f}), face 0's {by_face0[i, j]:+.2f}")

# %% [markdown]
# **Discussion.** Every face's own $v_1$ at $t = 700$ leans towards face 0's ($|\cos|$ 0.30-0.66,
# against 0.02 for random directions), yet the edit transfers on only half of them: on three faces the
# two edits change the attributes alike (cosine 0.72-0.82), on the other three they do not, and there
# the face's own $v_1$ moves something face 0's leaves alone (glasses off, eye size, the background). A shared
# direction is not a shared edit; six faces are far too few to say how often each happens (the lab's
# section 1 measures the sharing of $v_1$ on 256 faces).
