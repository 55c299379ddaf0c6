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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · The Jacobian as a tensor: does a higher-order SVD say more?
#
# Park et al. read the geometry of the encoder $x_t \mapsto h$ from the SVD of its Jacobian
# $J = \partial h / \partial x_t$, with both sides **flattened** into vectors. The talk closed with an
# open question: *J keeps a tensor structure (channels x height x width on both sides); could we
# keep it and do a higher-order SVD (HOSVD, a Tucker model) instead?*
#
# This notebook answers it with numbers on the bundled faces model, at one sample and $t = 600$:
#
# 1. why the flattened SVD throws the structure away, and what a Tucker model keeps;
# 2. $J$ as a tensor of shape $(C_h, H_h, W_h, C, H, W) = (128, 4, 4, 3, 32, 32)$;
# 3. the share of $\|J\|^2$ each model captures **with the same number of parameters** (HOSVD and HOOI);
# 4. what the factors of each mode are, measured: spectra, where each $h$ position reads the image,
#    the colour factors, the row and column profiles, and the rank-1 directions they build;
# 5. whether edits along those directions change a face more than random smooth directions of the
#    same norm do (120 of them), with empirical p-values corrected for every comparison made;
# 6. what HOSVD adds, what it costs here, and how it would scale.
#
# Everything here is in `latentlab.hosvd`; the HOSVD itself is tensorly's `tucker(init="svd")`.

# %%
# %config InlineBackend.figure_format = "png"
import math
import time

import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.course.plot import show_images, show_rows
from latentlab.hosvd import (
    energy_table,
    hosvd,
    jacobian_gain,
    jacobian_tensor,
    mode_spectra,
    own_patch_share,
    profile_shape,
    random_directions,
    rank1_directions,
    sensitivity_maps,
)
from latentlab.jacobians import pullback
from latentlab.metrics import edit_attributes
from latentlab.stats import empirical_p

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # the two cores are shared: one thread ran this notebook 2x faster than two

# %% [markdown]
# ## 1. What flattening throws away
#
# Flattened, $J$ is a $2048 \times 3072$ matrix $M$ (rows: the entries of $h$; columns: the pixels of
# $x_t$). Its SVD $M = U S V^\top$ does not know which columns are neighbouring pixels, or the same
# pixel in another colour channel: shuffle the pixels (and the entries of $h$) and the singular values
# do not change. A rank-$k$ SVD stores $k(m + n + 1)$ numbers.
#
# A **Tucker model** (Tucker 1966) keeps one orthonormal basis per mode and a small core $G$:
#
# $$J \approx G \times_1 U_{C_h} \times_2 U_{H_h} \times_3 U_{W_h} \times_4 U_{C} \times_5 U_{H} \times_6 U_{W},$$
#
# storing $\prod_n r_n + \sum_n d_n r_n$ numbers for ranks $r_n$ and mode sizes $d_n$. Its input-side factors are a basis of
# **colours** ($3 \times r_C$), of **rows** ($32 \times r_H$) and of **columns** ($32 \times r_W$): every
# input direction it can express is a sum of separable images *colour (x) row profile (x) column
# profile*. The **HOSVD** (De Lathauwer, De Moor & Vandewalle 2000) takes $U_n$ = the leading left
# singular vectors of the mode-$n$ unfolding and $G$ = $J$ projected on them; HOOI iterations refine
# it towards a stationary point of the fit (not necessarily the best Tucker model of those ranks).
# Neither model contains the other: the SVD has no Kronecker structure to exploit, Tucker cannot
# express directions that are not sums of few separable pieces. Which one captures more of $J$ per
# stored number is an empirical question.

# %% [markdown]
# ## 2. J at one sample, t = 600
#
# One DDIM-50 trajectory from seed 0; $x_t$ is the state at the step whose timestep is 600 (where it
# sits on the grid is printed below). The dense Jacobian costs one vector-Jacobian product per entry
# of $h$ (2,048), batched; a few seconds here (printed).

# %%
model = ll.load_model()
probe = ll.load_probe()
x_T = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
x_0, trajectory = ll.ddim_sample(model, x_T, steps=50, return_trajectory=True, progress=False)
grid = ll.ddim_timesteps(model, 50).tolist()
step = grid.index(600)
x_t = trajectory[step]
show_rows({"sample": torch.stack([x_t, x_0])}, col_titles=["x_t, t = 600", "x_0"], scale=1.4);

# %%
# NBVAL_CHECK_OUTPUT
print(f"grid {grid[0]}, {grid[1]}, ..., {grid[-1]} ({len(grid)} steps): t = 600 is entry {step} (from 0);")
print(f"{step} steps lead to it, {len(grid) - step} steps (600, 580, ..., 0) lead from it to x_0")

# %%
start = time.perf_counter()
J = jacobian_tensor(model, x_t, 600)
print(f"J computed in {time.perf_counter() - start:.0f} s")

# %%
# NBVAL_CHECK_OUTPUT
m, n = J[:, :, :, 0, 0, 0].numel(), J[0, 0, 0].numel()
print("J:", tuple(J.shape), f"= {J.shape.numel():,} entries; flattened: {m} x {n}")

# %% [markdown]
# The full HOSVD (all ranks at their maximum) is an exact rotation of $J$: its core has the same
# norm, and it is *all-orthogonal* with the slices of every mode ordered by size. Truncating it to
# ranks $r$ keeps the leading block of the core, so this one decomposition scores **every** rank
# tuple at once ($128 \cdot 4 \cdot 4 \cdot 3 \cdot 32 \cdot 32$, 6.3 million of them).

# %%
core, factors = hosvd(J, J.shape)

# %% [markdown]
# ## 3. Energy captured at equal parameter budgets
#
# For each flattened rank $k$ the budget is the rank-$k$ SVD's size, $k \cdot 5121$ numbers. The Tucker
# model gets the rank tuple that captures the most energy within the same budget (an exhaustive
# search over the truncated HOSVDs). Energy = $\|\text{approximation}\|^2 / \|J\|^2$ =
# $1 - (\text{relative error})^2$.

# %%
rows = energy_table(J, ks=(1, 2, 4, 8, 12, 16, 24, 32, 64, 128, 256, 512), core=core)

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'k':>4} {'budget':>8} {'SVD':>5} {'Tucker':>6}  Tucker ranks (C_h, H_h, W_h, C, H, W)")
for r in rows:
    print(f"{r['k']:4d} {r['params']:8,d} {r['svd_energy']:5.2f} {r['tucker_energy']:6.2f}  {r['tucker_ranks']}")

# %%
budgets = [r["params"] for r in rows]
plt.figure(figsize=(5, 3.2))
plt.semilogx(budgets, [r["svd_energy"] for r in rows], "o-", label="flattened SVD, rank k")
plt.semilogx(budgets, [r["tucker_energy"] for r in rows], "s-", label="Tucker (HOSVD), best ranks")
plt.xlabel("parameters stored"); plt.ylabel("share of ||J||^2 captured"); plt.legend(fontsize=8)
plt.title("J = dh/dx_t, t = 600: energy at equal budgets", fontsize=9);

# %% [markdown]
# **Reading.** Tucker captures more of $J$ at the smallest budgets, the flattened SVD at every budget
# beyond a crossover. The check: the budgets Tucker wins form one block at the small end (neither
# empty nor all of them).

# %%
# NBVAL_CHECK_OUTPUT
wins = [r["k"] for r in rows if r["tucker_energy"] > r["svd_energy"]]
print("Tucker captures more at k =", wins)
print("one block at the small budgets:", 0 < len(wins) < len(rows) and wins == [r["k"] for r in rows[:len(wins)]])
full = [r["k"] for r in rows if r["tucker_ranks"][1:3] == tuple(J.shape[1:3])]
print("h row and h column ranks at full size (4, 4) at k =", full)
print("at every budget from k = 4 on:", full == [r["k"] for r in rows if r["k"] >= 4])

# %% [markdown]
# The truncated HOSVD is not the best Tucker model of given ranks. HOOI (alternating projections)
# improves it, but it too stops at a stationary point, not at a certified optimum, and the ranks
# were chosen for the HOSVD. So at the first budget the SVD wins and at the next two we run three
# HOOI sweeps at the same ranks: the verdict stands if HOOI stays below the SVD at all three
# budgets (three comparisons); we also check that HOOI adds less than 0.02 over the HOSVD at each.
# What this can establish is *no Tucker model we computed beats the SVD there*, not that none
# exists.

# %%
hooi_rows = energy_table(J, ks=(64, 128, 256), n_iter=3, core=core)

# %%
# NBVAL_CHECK_OUTPUT
hosvd_at = {r["k"]: r["tucker_energy"] for r in rows}
print(f"{'k':>4} {'HOSVD':>6} {'HOOI (3 sweeps)':>16} {'SVD':>6}")
for r in hooi_rows:
    print(f"{r['k']:4d} {hosvd_at[r['k']]:6.3f} {r['tucker_energy']:16.3f} {r['svd_energy']:6.3f}")
print("HOOI below the SVD at all 3 budgets:", all(r["tucker_energy"] < r["svd_energy"] for r in hooi_rows))
print("HOOI adds < 0.02 at all 3:", all(r["tucker_energy"] - hosvd_at[r["k"]] < 0.02 for r in hooi_rows))

# %% [markdown]
# HOOI adds at most 0.003 and stays 0.01 to 0.06 below the SVD (the table).
#
# Look at the chosen ranks (checked above): the h-side spatial modes ($H_h$, $W_h$) are at their
# full size 4 at every budget from $k = 4$ on (at the two smallest the h row gets 3), while the
# h-channel rank grows with the budget. The next section looks at each mode.
#
# ## 4. What each mode says
#
# The **mode spectra**: the share of $\|J\|^2$ carried by each component of each mode's factor
# (the squared mode-$n$ singular values). A component is a column of that mode's factor: for the
# h channels, a *combination* of the 128 channels, not one channel; for the colours, an RGB
# combination. A mode is compressible when a few components carry most of it.

# %%
spectra = mode_spectra(core, energy=True)
names = ["h channel", "h row", "h column", "colour", "x row", "x column"]
fig, axes = plt.subplots(1, 6, figsize=(11, 2.2), gridspec_kw={"width_ratios": [4, 1, 1, 1, 2, 2]})
for ax, name, s in zip(axes, names, spectra):
    ax.bar(range(1, len(s) + 1), s.numpy(), width=0.8)
    ax.set_title(f"{name} ({len(s)})", fontsize=8); ax.tick_params(labelsize=7)
fig.tight_layout();

# %%
# NBVAL_CHECK_OUTPUT
for name, s in zip(names, spectra):
    needed = int((s.cumsum(0) < 0.9).sum()) + 1
    print(f"{name:9s} size {len(s):3d}: first {s[0]:.2f}, smallest {s.min():.2f}, {needed:3d} components for 90%")

# %% [markdown]
# **Reading, with the thresholds checked below.**
# - **colour**: the first colour component carries at least half of the energy ($\geq 0.5$): the
#   encoder mostly reads one colour combination (named below);
# - **h row / h column**: incompressible: every one of the 4 components carries at least 0.1, so all
#   4 are needed for 90%. The spectra do not say *why*; the sensitivity maps below test the obvious
#   guess, that each position reads its own part of the image;
# - **x row / x column**: 90% of the energy needs at most half of the 32 components. A low rank
#   here can come from smooth profiles, or from localisation alone: a sensitivity confined to the
#   rows and columns of the face needs few components even if it is not smooth. The spectra cannot
#   tell the two apart; the profiles below show both;
# - **h channel**: 90% needs more than half of the 128 channel combinations: no small set of
#   combinations dominates.

# %%
# NBVAL_CHECK_OUTPUT
need = {name: int((s.cumsum(0) < 0.9).sum()) + 1 for name, s in zip(names, spectra)}
print("colour: first component >= 0.5:", bool(spectra[3][0] >= 0.5))
print("h row and h column: every component >= 0.1:", bool(spectra[1].min() >= 0.1 and spectra[2].min() >= 0.1))
print("x row and x column: 90% with <= 16 of 32:", need["x row"] <= 16 and need["x column"] <= 16)
print("h channel: 90% needs > 64 of 128:", need["h channel"] > 64)

# %% [markdown]
# **Where each h position reads the image.** For each of the $4 \times 4$ positions of $h$, its
# **sensitivity map** sums $J^2$ over the 128 h channels and the 3 colours: a $32 \times 32$ image of
# how strongly that position responds to each pixel. If each position read its own $8 \times 8$
# patch (outlined), the map would sit inside the outline. The title gives the **own-patch share**, the
# fraction of the map's sum inside the outline; a map spread evenly over the image scores
# $64 / 1024 = 1/16 \approx 0.06$.

# %%
maps = sensitivity_maps(J)  # (4, 4, 32, 32)
share = own_patch_share(maps)  # (4, 4)
patch = J.shape[4] // J.shape[1]  # 8 pixels
fig, axes = plt.subplots(4, 4, figsize=(4.8, 5.0))
for (i, j), ax in zip([(i, j) for i in range(4) for j in range(4)], axes.flat):
    ax.imshow(maps[i, j].numpy(), cmap="magma"); ax.set_xticks([]); ax.set_yticks([])
    ax.add_patch(plt.Rectangle((patch * j - 0.5, patch * i - 0.5), patch, patch, fill=False, ec="cyan", lw=1))
    ax.set_title(f"h ({i}, {j}): {share[i, j]:.2f}", fontsize=7)
fig.suptitle("sensitivity of each h position (sum of J^2 over h channels and colours)", fontsize=8)
fig.tight_layout();

# %%
# NBVAL_CHECK_OUTPUT
uniform = 1 / share.numel()
print(f"own-patch share over the 16 positions: min {share.min():.2f}, median {share.median():.2f}, "
      f"max {share.max():.2f}; spread evenly: {uniform:.2f}")
print("above the even spread at all 16 positions:", bool((share > uniform).all()))
print("below 0.25 at all 16 (at least three quarters of each map outside its own patch):", bool((share < 0.25).all()))
# a harder baseline than 1/16: every map leans to the centre, so compare each patch's share in its own
# position's map with that patch's average share over all 16 maps
P = (maps / maps.sum((-2, -1), keepdim=True)).reshape(4, 4, 4, patch, 4, patch).sum((3, 5))  # (map i, j, patch i, j)
avg = P.mean((0, 1))  # each patch's average share over the 16 maps
lift = share / avg
largest = sum(int(P[i, j].argmax()) == 4 * i + j for i in range(4) for j in range(4))
print(f"own share / that patch's average share over all 16 maps: min {lift.min():.1f}x, median {lift.median():.1f}x")
print(f"own patch the largest of the 16 patches in its map: at {largest} of 16 positions")

# %% [markdown]
# So the locality is **weak but real**: at least three quarters of every map lies outside its own
# patch (the maps), and every map leans towards the centre of the image. The even spread, $1/16$, is
# therefore an easy baseline; the fairer one is the same patch's average share over all 16 maps.
# Against it every position still reads its own patch more than the average map does (by the factor
# printed, about 2x at least), and for most positions (the count printed) its own patch is the largest
# of the 16 in its map.
# "Each position reads its own part of the image" would over-read the spectra: the four h rows (and
# columns) are different, mostly global, views of the same image. (A flat mode spectrum says the
# four positions respond differently, not that they respond locally.)
#
# **The colour factor.** Each column $u$ of $U_C$ is an RGB direction. Below, each is drawn as
# mid-grey $\pm u$ (scaled so the largest channel reaches black or white); a factor's sign is arbitrary,
# so it is fixed here to make the largest entry positive. The names come from the checks printed
# first.

# %%
# NBVAL_CHECK_OUTPUT
U_C = factors[3]
U_C = U_C * U_C.gather(0, U_C.abs().argmax(0, keepdim=True)).sign()  # sign: largest entry positive
R, G, B = U_C
for i in range(3):
    print(f"colour factor {i}: RGB {R[i]:+.2f} {G[i]:+.2f} {B[i]:+.2f}, {spectra[3][i]:.0%} of the energy")
print("0: all three of one sign, smallest / largest >= 0.7 (brightness):",
      bool((U_C[:, 0] > 0).all() and U_C[:, 0].min() / U_C[:, 0].max() >= 0.7))
print("1: R and B of opposite signs, |G| < 0.1 (red against blue):", bool(R[1] * B[1] < 0 and G[1].abs() < 0.1))
print("2: G opposite to R and to B (green against magenta):", bool(G[2] * R[2] < 0 and G[2] * B[2] < 0))
colour_names = ["brightness", "red-blue", "green-magenta"]

# %%
fig, axes = plt.subplots(3, 3, figsize=(3.6, 3.9))
for i in range(3):
    u = U_C[:, i] / U_C[:, i].abs().max()
    for c, (label, sign) in enumerate((("-u", -1), ("grey", 0), ("+u", 1))):
        axes[i, c].imshow((0.5 + 0.5 * sign * u).reshape(1, 1, 3).clamp(0, 1).numpy()); axes[i, c].axis("off")
        axes[i, c].set_title(f"{i}: {colour_names[i]}, {label}" if c != 1 else "mid-grey", fontsize=7)
fig.tight_layout();

# %% [markdown]
# **The row and column factors.** The first three profiles of each, over the 32 pixel rows (top to
# bottom) and columns (left to right). What each one is, measured: its number of sign changes and
# its support, both read over its large entries ($|u| \geq 0.2 \max|u|$, so that sign flips in the
# near-zero tails do not count); and whether it looks like a derivative of factor 0. The 32 factors
# of a mode form an orthonormal basis, so the derivative $d$ of factor 0 (finite differences)
# splits over them: factor $i$ holds the share $(u_i^\top d)^2 / \|d\|^2$ of it, and an even spread
# would give each $1/32 \approx 0.03$. The same for the second derivative.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.4))
for ax, U, name in zip(axes, factors[4:], ["x row (top to bottom)", "x column (left to right)"]):
    for i in range(3):
        ax.plot(U[:, i].numpy(), label=f"factor {i}")
    ax.axhline(0, color="grey", lw=0.5); ax.set_title(name, fontsize=8); ax.legend(fontsize=7)
fig.tight_layout();

# %%
# NBVAL_CHECK_OUTPUT
for name, U in (("row", factors[4]), ("column", factors[5])):
    d1 = torch.gradient(U[:, 0])[0]  # the derivative of factor 0
    d2 = torch.gradient(d1)[0]  # its second derivative
    for i in range(3):
        changes, first, last = profile_shape(U[:, i])
        on1, on2 = ((U[:, i] @ d) ** 2 / d.square().sum() for d in (d1, d2))
        print(f"{name:6s} factor {i}: {changes} sign changes, large over {name}s {first:2d}-{last:2d}; "
              f"holds {on1:.2f} of factor 0's 1st derivative, {on2:.2f} of its 2nd")
print(f"an even spread over the 32 factors: {1 / 32:.2f} each")

# %% [markdown]
# **Reading.** Row factor 0 and column factor 0 are one-signed: broad profiles over rows 11-28 and
# columns 4-27 with no zero crossing, closer to a plateau than to a peaked bump (the plot). The next
# factors change sign 1, then 2 times over the rows, but 2, then 1 times over the columns. The
# factor with one sign change holds a large share of factor 0's derivative (0.39 over the rows, 0.25
# over the columns, against 0.03 for an even spread). The factor with two sign changes holds 0.02 of
# the second derivative over the rows (no more than an even spread) but 0.14 over the columns (4.5x
# an even spread, though less than row factor 0 itself holds, 0.15). So "a plateau, its derivative,
# its second derivative" holds for the first derivative in part, and for the second derivative over
# the columns only, weakly. All six profiles lie over the face (supports within rows 4-28, columns
# 3-27: the face and hair of the sample), so the low x-row and x-column ranks come at least in part
# from localisation; whether the profiles are also smooth we have not measured (sign changes over
# the large entries are not a smoothness measure), so the spectra's two readings stay unseparated. Whether a profile with one sign change *acts* like a derivative, that is shifts the face,
# is a question for the edits: section 5 measures it.
#
# **Rank-1 images.** Combining one colour, one row and one column factor gives a separable unit image
# $v = u_C \otimes u_H \otimes u_W$, an editing direction in x-space. `rank1_directions` ranks the
# combinations by the core energy they carry, which is $\|J v\|^2$: how strongly $h$ responds to a
# unit step along $v$. Each title gives the **factor indices (colour, row, column)**, counted from 0
# as in the swatches and profiles above: (0, 2, 0) is brightness (x) row factor 2 (x) column
# factor 0. For comparison, Park's $v_1$ from `pullback` (the top right singular vector of the
# flattened $J$, found matrix-free), with the largest response any direction can have, $s_1$.

# %%
svd, info = pullback(model, x_t, 600, k=1, return_info=True)
V, index = rank1_directions(core, factors, k=5)
gains = jacobian_gain(J, V)

# %%
# NBVAL_CHECK_OUTPUT
print(f"pullback: {info['products']} Jacobian products; "
      f"the dense J took {J[:, :, :, 0, 0, 0].numel():,} (one per entry of h)")
print("rank-1 directions (colour, row, column):", index)

# %%
images = torch.cat([svd.V, V])
show_images(images / images.abs().amax(dim=(1, 2, 3), keepdim=True), nrow=6, scale=1.3,
            titles=[f"v_1\n|Jv| = {svd.S[0]:.2f}"] + [f"{i}\n|Jv| = {g:.2f}" for i, g in zip(index, gains)]);

# %% [markdown]
# Checks: `pullback`'s $s_1^2 / \|J\|^2$ equals the flattened SVD's rank-1 energy (table, $k = 1$) to 0.001
# in absolute terms, on an energy of about 0.09, so to about 1% relative (both printed): the tensor and
# the matrix-free pullback agree to that precision. The best rank-1 image, (0, 2, 0), responds at least
# half as strongly as $v_1$ (ratio $\geq 0.5$), and it is not $v_1$ (cosine below 0.9).

# %%
# NBVAL_CHECK_OUTPUT
energy_1 = svd.S[0].item() ** 2 / J.square().sum().item()
gap = abs(energy_1 - rows[0]["svd_energy"])
print("pullback s_1^2 / ||J||^2 = rank-1 SVD energy to 0.001 (absolute):", gap < 1e-3)
print(f"  energy {energy_1:.2f}; relative gap below 2%: {gap / energy_1 < 0.02}")
ratio, cos = (gains[0] / svd.S[0]).item(), (V[0] * svd.V[0]).sum().item()
print(f"best rank-1 gain / s_1 = {ratio:.2f} (>= 0.5: {ratio >= 0.5})")
print(f"cos(rank-1, v_1) = {cos:+.2f} (|cos| < 0.9: {abs(cos) < 0.9})")

# %% [markdown]
# But "not $v_1$" is not "unrelated to $v_1$". Split the rank-1 direction $V_0$ into its part along
# $v_1$ and the rest: $V_0 = c\, v_1 + w$ with $c = \cos(V_0, v_1)$ and $w \perp v_1$. Then
# $J V_0 = c\, s_1 u_1 + J w$, and $J w \perp u_1$ (because $u_1^\top J w = s_1 v_1^\top w = 0$), so
# $\|J V_0\|^2 = c^2 s_1^2 + \|J w\|^2$: the share $c^2 s_1^2 / \|J V_0\|^2$ of its response comes from
# its $v_1$ part alone. The same split holds for every direction; the table gives it for the five.
# For $V_0$, $\hat w = w / \|w\|$, the normalised part orthogonal to $v_1$, is what the HOSVD adds to
# $v_1$; section 5 edits along it too.

# %%
# NBVAL_CHECK_OUTPUT
c = (V[0] * svd.V[0]).sum()
w = V[0] - c * svd.V[0]  # the part of V_0 orthogonal to v_1
w_hat = w / w.norm()
gain_w, gain_w_hat = jacobian_gain(J, torch.stack([w, w_hat]))
s_1 = svd.S[0]
print("||J V_0||^2 = c^2 s_1^2 + ||J w||^2 to 0.1%:",
      bool(((c * s_1) ** 2 + gain_w**2 - gains[0] ** 2).abs() < 1e-3 * gains[0] ** 2))
print(f"|w| = {w.norm():.2f}; gain of w_hat: |J w_hat| / s_1 = {(gain_w_hat / s_1).item():.2f}")
cos_v1 = (V * svd.V).flatten(1).sum(1)  # signed cosine of each rank-1 direction with v_1 (all unit norm)
print(f"{'direction':10s} {'gain / s_1':>10} {'cos with v_1':>12} {'share of ||Jv||^2 from the v_1 part':>36}")
for i, g, cv in zip(index, gains, cos_v1):
    print(f"{str(i):10s} {g / s_1:10.2f} {cv:+12.2f} {(cv * s_1) ** 2 / g**2:36.2f}")

# %% [markdown]
# ## 5. Do HOSVD edits change a face as much as v_1? Against what baseline?
#
# Park et al.'s first version edits one timestep: $x_t \leftarrow x_t + \alpha v$ with $v$ of unit norm
# ($\alpha$ is the step size here; the noise schedule is written $a_t$, as in notebook 02),
# then denoises. `edit_attributes` does this at $t = 600$ for $\alpha = \pm 2$ and continues DDIM-50
# from that step (`ddim_sample(..., t_start=600)` runs the remaining steps of the same grid, 31 as
# printed in section 2, exactly as `ddim_sample` would have), then reads every attribute with the
# probe. The *effect* of a direction on an attribute is half the difference between the $+\alpha$ and
# $-\alpha$ readings, as a fraction of the attribute's range. $\alpha = 2$ is small next to $\|x_t\|$
# (about 55, printed below), but at $t = 600$ the clean image enters $x_t$ scaled by
# $\sqrt{a_t} \approx 0.16$: the image's part of $x_t$, $\sqrt{a_t}\,x_0$, has norm about 3.9
# (printed), so the step is comparable to it (about half). Whether a step of this size changes the
# face *by itself*, whatever its direction, is what the baseline answers.
#
# Whether an effect is large needs a **baseline**: random unit directions, edited the same way.
# Plain Gaussian noise is an easy baseline ($J$ barely responds to pixel noise; 8 directions);
# blurred noise (Gaussian blur of 2 px, then unit norm) is the fairer one for smooth directions such
# as $v_1$: 120 of them, seeded (as many as the notebook's time allows). (An earlier version used 16 blurred
# directions and a "2x their max" rule; the max of 16 moved from 0.12 to 0.41 with the seed, so that
# rule decided nothing.) The directions under test: $v_1$, the five rank-1 directions above, and
# $\hat w$. One more edit, along $c\,v_1$ with $c = \cos(V_0, v_1)$, is not a test but a control:
# it is $V_0$'s $v_1$ part alone, so comparing its effect with $V_0$'s shows directly how much of
# $V_0$'s edit is its $v_1$ part, without the linear argument of section 4.

# %%
N_BLUR = 120  # what fits the notebook's time budget (about 0.2 s per denoised sample here)
noise = random_directions(8, model.sample_shape, generator=torch.Generator().manual_seed(1))
blurred = random_directions(N_BLUR, model.sample_shape, blur=2.0, generator=torch.Generator().manual_seed(2))
tested = torch.cat([svd.V, V, w_hat[None], c * svd.V])  # v_1, the 5 rank-1 directions, w_hat; control c v_1
start = time.perf_counter()
# in chunks of 46 directions (93 samples per ddim_sample batch): on one CPU thread, one batch of
# several hundred samples took about twice as long per sample
parts = [edit_attributes(model, probe, x_t, 600, d, alphas=(-2.0, 2.0))
         for d in torch.cat([tested, noise, blurred]).split(46)]
out = {"base": parts[0]["base"], "images": torch.cat([q["images"] for q in parts])}
out |= {key: {a: torch.cat([q[key][a] for q in parts]) for a in ll.ATTRIBUTES} for key in ("delta", "effect")}
print(f"{len(out['images'])} directions, {2 * len(out['images']) + len(parts)} samples denoised from t = 600 "
      f"in {time.perf_counter() - start:.0f} s")
effects = torch.stack(list(out["effect"].values()), 1)  # (direction, attribute), signed
strongest, which = effects.abs().max(1)  # each direction's largest |effect| and its attribute
labels = ["v_1"] + [str(i) for i in index] + ["w_hat"]
baseline = {"noise": slice(8, 16), "blurred": slice(16, 16 + N_BLUR)}

# %%
strongest_blur = baseline["blurred"].start + int(strongest[baseline["blurred"]].argmax())
rows_shown = {"v_1": 0, f"rank-1\n{index[0]}": 1, "w_hat": 6, f"strongest of {N_BLUR}\nblurred noise": strongest_blur}
show_rows({k: torch.stack([out["images"][i, 0], out["base"], out["images"][i, 1]]) for k, i in rows_shown.items()},
          col_titles=["alpha = -2", "unedited", "alpha = +2"], scale=1.3);

# %%
# NBVAL_CHECK_OUTPUT
sqrt_a = model.scheduler.alphas_cumprod[600].sqrt()
print(f"|x_t| = {x_t.norm():.0f}; sqrt(a_600) = {sqrt_a:.2f}; |sqrt(a_600) x_0| = {sqrt_a * x_0.norm():.1f}: "
      f"the step alpha = 2 is {2 / (sqrt_a * x_0.norm()):.1f} of it")
print(f"c = cos(V_0, v_1) = {c:+.2f}")
print(f"{'attribute':12s} {'v_1':>6} {'c v_1':>6} {'rank-1':>6} {'w_hat':>6}")
for a, name in enumerate(ll.ATTRIBUTES):
    print(f"{name:12s} {effects[0, a]:+6.2f} {effects[7, a]:+6.2f} {effects[1, a]:+6.2f} {effects[6, a]:+6.2f}")
for i, label in ((1, "rank-1"), (7, "c v_1"), (6, "w_hat")):
    cos = torch.nn.functional.cosine_similarity(effects[0], effects[i], dim=0)
    print(f"cosine of the 11 effects, {label} against v_1: {cos:+.2f}")
d = out["delta"]  # {attribute: (direction, alpha)}: the change against the unedited sample, fraction of the range
for name in ("pos_x", "face_size", "hair_color", "skin_tone"):
    print(f"{name:10s} change at alpha = -2 / +2: v_1 {d[name][0, 0]:+.2f} / {d[name][0, 1]:+.2f}, "
          f"rank-1 {d[name][1, 0]:+.2f} / {d[name][1, 1]:+.2f}")

# %% [markdown]
# The baseline: each random direction's strongest effect (its largest $|$effect$|$ over the 11
# attributes, the same statistic as for the directions under test), and its gain $\|Jv\| / s_1$.
#
# **The tests, one family of 9.** Seven ask "is this direction's strongest effect larger than a
# smooth random step's?" ($v_1$, the five rank-1 directions, $\hat w$); two more, below, ask whether
# (0, 0, 2) moves pos_x and (0, 1, 0) moves pos_y more than a smooth random step moves that same
# attribute. Each gets the empirical p-value $(1 + \#\{\text{baseline} \geq \text{it}\}) / (N + 1)$
# against the $N = 120$ blurred directions, and Bonferroni over all 9: a test passes if $9p < 0.05$.
# **Read this limit first:** the smallest possible p is $1/(N + 1)$, so $9p < 0.05$ needs $N \geq 179$
# baseline draws. With the $N = 120$ that fit this notebook's time, $9p \geq 9/121 = 0.074$: no test
# can pass, whatever the directions do. The corrected test can only say "not shown"; the uncorrected
# p and the count of blurred directions at or above each statistic say how close each comes.

# %%
# NBVAL_CHECK_OUTPUT
for kind, sl in baseline.items():
    b, g = strongest[sl], jacobian_gain(J, torch.cat([noise, blurred])[sl.start - 8:sl.stop - 8]) / s_1
    q = b.quantile(torch.tensor([0.5, 0.95])).tolist()
    print(f"{kind:8s} ({len(b):3d}): strongest effect median {q[0]:.2f}, 95th percentile {q[1]:.2f}, max {b.max():.2f}; "
          f"gain / s_1 median {g.median():.2f}, max {g.max():.2f}")
null = strongest[baseline["blurred"]]
FAMILY = 9  # 7 strongest-effect tests here + 2 shift tests below
p_strongest = empirical_p(strongest[:7], null)
print(f"{'direction':10s} {'strongest':>22} {'blurred >= it':>13} {'p':>6} {'9p':>6}  9p < 0.05")
for i, label in enumerate(labels):
    n_ge = int((null >= strongest[i]).sum())
    print(f"{label:10s} {list(ll.ATTRIBUTES)[which[i]]:>11s} {strongest[i]:10.2f} {n_ge:13d} "
          f"{p_strongest[i]:6.3f} {min(1, FAMILY * p_strongest[i]):6.3f}  {bool(FAMILY * p_strongest[i] < 0.05)}")
print(f"c v_1 (control, not a test) strongest: {list(ll.ATTRIBUTES)[which[7]]} {strongest[7]:.2f}")

# %% [markdown]
# **Reading.**
# - Not every change is linear in $\alpha$ (the last four lines of the table before, and the
#   pictures). Hair colour and skin tone move both ways (for $v_1$: hair $-0.45$ at $\alpha = -2$,
#   $+0.28$ at $+2$), but position and size are one-sided: at $-2$ neither direction moves pos_x or
#   face size by more than 0.04 of a range, at $+2$ both move the face right and shrink it (for
#   $v_1$: $+0.82$, $-0.52$). The *effect*, a half-difference, averages the two sides; for pos_x it
#   is not the slope of a linear response.
# - The baseline matters: plain noise moves no attribute by more than a few hundredths, but smooth
#   random steps of the same norm do move this face, some of them a lot (the blurred max, printed;
#   the strongest one is drawn above). A large one-sided "jump right and shrink" may be a switch in
#   this one trajectory that smooth steps in many directions can set off (a reviewer's re-run with
#   another seed found a random smooth step reproducing $v_1$'s one-sided signature).
# - Against $N = 120$ blurred directions **no tested direction passes** the corrected test, and none
#   could (the limit above). Uncorrected, $v_1$ and (0, 0, 2) beat all 120 ($p = 1/121$), while the
#   largest blurred effect is close behind $v_1$'s (the max, printed), and (0, 2, 0), (0, 0, 0) and
#   (0, 0, 1) are each matched by at least one blurred direction. So at this $x_t$ and $t = 600$,
#   **$v_1$'s effect is not distinguishable from a smooth random step's at N = 120** with all 9
#   comparisons corrected, and neither is any HOSVD direction's. (0, 0, 2) is the direction that
#   comes closest. This is one sample and one timestep.
# - The top rank-1 direction (0, 2, 0) acts like $v_1$ attribute by attribute (the cosine of the
#   two effect profiles, printed). Section 4 argued from $\|J V_0\|^2$, which is linear in the step,
#   that this is mostly its $v_1$ part; since the responses are one-sided, the control shows it
#   directly: the edit along $c\,v_1$ alone (its $v_1$ part) moves pos_x and hair colour by about as
#   much as $V_0$ and $v_1$ do (the $c\,v_1$ column, printed), and its effect profile has the same
#   direction as $v_1$'s. A step of norm $0.6 \cdot 2$ along $v_1$ does nearly what the full step does,
#   which again fits a switch more than a linear response.
# - The part the HOSVD adds, $\hat w$, is weak: its strongest effect lies within the bulk of the
#   blurred-noise distribution (its p-value, printed).
#
# **Does a profile with one sign change shift the face?** Row factor 1 and column factor 2 each
# change sign once (section 4). If "a one-signed profile times a one-sign-change profile is a
# shift" held, (0, 0, 2) (row factor 0 (x) column factor 2) would move the face sideways (pos_x),
# and (0, 1, 0) (row factor 1 (x) column factor 0) up or down (pos_y). These are tests 8 and 9 of the
# family: the $|$effect$|$ on pos_x (pos_y) against the same attribute's $|$effect$|$ for each of the
# 120 blurred directions, corrected for all 9. The table gives, for each rank-1 direction, the sign
# changes of its (row, column) profiles, and for pos_x and pos_y the effect followed by the two
# changes it averages (at $\alpha = -2$ / $+2$); a linear shift would move the two ways by similar
# amounts.

# %%
# NBVAL_CHECK_OUTPUT
px, py = list(ll.ATTRIBUTES).index("pos_x"), list(ll.ATTRIBUTES).index("pos_y")
dx, dy = out["delta"]["pos_x"], out["delta"]["pos_y"]  # (direction, alpha)
print(f"{'direction':10s} {'sign changes':>12}  {'pos_x (-2 / +2)':>22}  {'pos_y (-2 / +2)':>22}  strongest")
for k, (a, b, col) in enumerate(index):
    e, i, ch = effects[1 + k], 1 + k, (profile_shape(factors[4][:, b])[0], profile_shape(factors[5][:, col])[0])
    print(f"{str(index[k]):10s} {str(ch):>12}  {e[px]:+6.2f} ({dx[i, 0]:+.2f} / {dx[i, 1]:+.2f})"
          f"  {e[py]:+6.2f} ({dy[i, 0]:+.2f} / {dy[i, 1]:+.2f})  {list(ll.ATTRIBUTES)[which[i]]} {strongest[i]:.2f}")
for name, att, d in (("pos_x", px, (0, 0, 2)), ("pos_y", py, (0, 1, 0))):
    e = effects[1 + index.index(d), att].abs()
    null_att = effects[baseline["blurred"], att].abs()
    p = empirical_p(e, null_att)
    print(f"{str(d)} moves {name} by {e:.2f}; blurred: max {null_att.max():.2f}, {int((null_att >= e).sum())} of "
          f"{N_BLUR} >= it; p {p:.3f}, 9p {min(1, FAMILY * p):.3f}: 9p < 0.05: {bool(FAMILY * p < 0.05)}")
print("largest |pos_x| among the 5:", index[int(effects[1:6, px].abs().argmax())],
      "| second:", index[int(effects[1:6, px].abs().argsort(descending=True)[1])])
i = 1 + index.index((0, 0, 2))
others = effects[i].abs().clone(); others[px] = 0
print(f"(0, 0, 2) also moves {list(ll.ATTRIBUTES)[others.argmax()]} by {others.max():.2f} "
      f"({(others > 0.05).sum()} other attributes by more than 0.05)")
both = dx[i].abs().min() / dx[i].abs().max()
print(f"(0, 0, 2) moves the face both ways (smaller side >= half the larger, as a linear shift would): "
      f"{bool(both >= 0.5)} ({both:.2f})")

# %% [markdown]
# Neither passes the corrected test (none could at $N = 120$). (0, 0, 2) moves the face sideways, by
# the most of the five (and more than $v_1$ does), further than any of the 120 smooth random steps
# moves pos_x (uncorrected $p = 1/121$); but only one way: at $+2$ it jumps right, at $-2$ it does not
# move (the smaller side is 0.01 of the larger, printed), which is not what a linear shift does, and
# a one-sided jump may be a switch that random steps can set off too. (0, 1, 0) leaves pos_y where it was
# (most blurred directions move pos_y more). The second-largest sideways move comes from (0, 2, 0),
# whose profiles have no left-right structure at all (a row profile times the one-signed column
# factor 0): the shape of a factor does not predict which attribute moves. None of the five is a
# single-attribute edit: (0, 0, 2) also moves other attributes (printed).

# %% [markdown]
# ## 6. What HOSVD adds, what it does not, and how it would scale
#
# **It adds** a readable account of *where* $J$'s structure is. The input side is compressible: one
# colour combination, brightness, carries 86% of the energy; the row and column factors are broad,
# profiles over the face. The $4 \times 4$ bottleneck positions and the 128 channel
# combinations are not compressible, and the positions read the image with only weak locality
# (15-24% of each one's sensitivity in its own patch; about 2x or more that patch's average share over
# all positions, section 4). At tiny
# budgets (up to $k = 32$ here) the Tucker model stores $J$ better than the flattened SVD (section 3).
# (Whether the row and column profiles are smooth, beyond being bounded to the face, we did not
# measure.)
#
# **It does not** compress $J$ better at useful budgets: from the crossover on, the flattened SVD
# captures more energy per stored number, and three HOOI sweeps do not change that at $k$ = 64, 128,
# 256 (HOOI stops at a stationary point, so this is "no Tucker model we computed", not a proof).
#
# **Edits: a negative result, with a limit.** Against 120 smooth random steps of the same norm,
# with the 9 comparisons of section 5 corrected together, neither Park's $v_1$ nor any rank-1 HOSVD
# direction is shown to change the face more than chance, at this one sample and $t = 600$; with 120
# draws no corrected test could have passed (that needs at least 179), so this is "not shown", not
# "shown to be chance". Uncorrected, $v_1$ and (0, 0, 2) beat all 120 random steps, with the
# strongest random step close behind $v_1$; the one-sided "jump right and shrink" they produce is
# one that random smooth steps can reach as well (one of 120 came within 0.02 of $v_1$): it may be a
# switch in this trajectory rather than a property of one direction. The top rank-1 direction's edit is its $v_1$ part (the
# $c\,v_1$ control edits like it), what HOSVD adds to $v_1$ ($\hat w$) edits like noise, and neither
# shift-like rank-1 direction shifts the face in a way the test can separate from chance. The
# factors are not "a bump and its derivatives" (the first derivative shows in part, the second
# weakly over the columns only). What would settle it: more baseline draws ($N \geq 179$), more
# samples and timesteps (this is one of each), and smaller steps, where the responses might be
# linear rather than switch-like.
#
# **Cost.** *This code* needs the dense $J$: one vector-Jacobian product per entry of $h$ (2,048
# here), where `pullback` needed the 16 products printed in section 4. That is a
# limit of the code, not of HOSVD: randomized and sketched Tucker methods (Minster, Saibaba & Kilmer
# 2020, *Randomized algorithms for low-rank tensor decompositions in the Tucker format*, SIMODS;
# Sun, Guo, Luo, Tropp & Udell 2020, *Low-rank Tucker approximation of a tensor from streaming data*,
# SIMODS) build the factors and the core from products of the tensor with random test matrices;
# with test matrices that are Kronecker/Khatri-Rao products of small ones per mode, every such
# product of $J$ is a $Jv$ or a $J^\top u$, the same products `pullback` uses. That is how the talk's
# question would be answered at full scale, where the dense tensor costs tens of thousands of
# vector-Jacobian products and gigabytes of memory (computed from the shapes below; this notebook
# does not implement a sketched Tucker model).

# %%
# NBVAL_CHECK_OUTPUT
for label, h_shape, x_shape in (("this notebook's J", model.h_shape, model.sample_shape),
                                ("SD-2.1-base (latent 4x64x64, h 1280x8x8)", (1280, 8, 8), (4, 64, 64)),
                                ("Park's CelebA-HQ DDPM, 256 px (h 512x8x8)", (512, 8, 8), (3, 256, 256))):
    m, n = math.prod(h_shape), math.prod(x_shape)
    print(f"{label:42s} {m:6,d} x {n:7,d} = {m * n:13,d} entries: {4 * m * n / 1e9:6.2f} GB in float32, "
          f"{m:,} vector-Jacobian products")

# %% [markdown]
# ## Exercises
#
# Two exercises: a HOSVD by hand on a small tensor, and the parameter budgets that notebook compares. Fill in each
# cell marked `# YOUR CODE HERE` (replace every `None`), then run the check below it: it says what is right, or what
# is wrong and what to try. The checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/07_tensor_jacobian_hosvd_solutions.ipynb`.

# %%
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
a, b = (torch.randn(n, generator=g, dtype=torch.float64) for n in (4, 4))
T = (torch.einsum("i,j,k->ijk", a, torch.randn(5, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
     + 0.5 * torch.einsum("i,j,k->ijk", b, torch.randn(5, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64))
     + 0.3 * torch.randn(4, 5, 6, generator=g, dtype=torch.float64))
# YOUR CODE HERE: factors (a list of three matrices) and energy (a number)
factors = None
energy = None

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
# YOUR CODE HERE: n_tucker and k, two integers
n_tucker = None
k_svd = None

# %%
ex.check_parameter_budget(J_shape, ranks, n_tucker, k_svd)
