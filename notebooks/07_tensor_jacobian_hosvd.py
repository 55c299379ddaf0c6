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
# 3. the share of $\|J\|^2$ each model captures **with the same number of parameters**;
# 4. what the factor of each mode means, as pictures;
# 5. whether edits built from the HOSVD's input factors change a face as much as Park's $v_1$.
#
# Everything here is in `latentlab.hosvd`; the HOSVD itself is tensorly's `tucker(init="svd")`.

# %%
# %config InlineBackend.figure_format = "png"
import time
import matplotlib.pyplot as plt
import torch
import latentlab as ll
from latentlab.geometry import pullback
from latentlab.hosvd import (jacobian_tensor, hosvd, tucker_energy, energy_table, mode_spectra,
                             rank1_directions, jacobian_gain)
from latentlab.metrics import edit_attributes
from latentlab.plot import show_images, show_rows
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
# storing $\prod_n r_n + \sum_n n_n r_n$ numbers for ranks $r_n$. Its input-side factors are a basis of
# **colours** ($3 \times r_C$), of **rows** ($32 \times r_H$) and of **columns** ($32 \times r_W$): every
# input direction it can express is a sum of separable images *colour (x) row profile (x) column
# profile*. The **HOSVD** (De Lathauwer, De Moor & Vandewalle 2000) takes $U_n$ = the leading left
# singular vectors of the mode-$n$ unfolding and $G$ = $J$ projected on them; HOOI iterations refine
# it. Neither model contains the other: the SVD has no Kronecker structure to exploit, Tucker cannot
# express directions that are not sums of few separable pieces. Which one captures more of $J$ per
# stored number is an empirical question.

# %% [markdown]
# ## 2. J at one sample, t = 600
#
# One DDIM-50 trajectory from seed 0; $x_t$ at the step whose timestep is 600 (step 19 of the
# grid 980, 960, ..., 0). The dense Jacobian costs one vector-Jacobian product per entry of $h$
# (2,048), batched with `vmap`; this is the slow cell of the notebook.

# %%
model = ll.load_model()
probe = ll.load_probe()
x_T = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(0))
x_0, trajectory = ll.ddim_sample(model, x_T, steps=50, return_trajectory=True, progress=False)
x_t = trajectory[ll.ddim_timesteps(model, 50).tolist().index(600)]
show_rows({"sample": torch.stack([x_t, x_0])}, col_titles=["x_t, t = 600", "x_0"], scale=1.4);

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
# tuple at once (6.3 million of them).

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
# empty nor all of them). The truncated HOSVD is not the best Tucker model of given ranks; HOOI is.
# So at the first budget the SVD wins we also run two HOOI sweeps: the verdict stands if HOOI adds
# less than 0.02 and stays below the SVD.

# %%
# NBVAL_CHECK_OUTPUT
wins = [r["k"] for r in rows if r["tucker_energy"] > r["svd_energy"]]
print("Tucker captures more at k =", wins)
print("one block at the small budgets:", 0 < len(wins) < len(rows) and wins == [r["k"] for r in rows[:len(wins)]])
full = [r["k"] for r in rows if r["tucker_ranks"][1:3] == tuple(J.shape[1:3])]
print("h row and h column ranks at full size (4, 4) at k =", full)
print("at every budget from k = 4 on:", full == [r["k"] for r in rows if r["k"] >= 4])

# %%
first_svd_win = rows[len(wins)]
hooi = tucker_energy(J, *hosvd(J, first_svd_win["tucker_ranks"], n_iter=2))

# %%
# NBVAL_CHECK_OUTPUT
r = first_svd_win
print(f"k = {r['k']}: HOSVD {r['tucker_energy']:.2f}, HOOI {hooi:.2f}, SVD {r['svd_energy']:.2f}")
print("HOOI adds < 0.02:", hooi - r["tucker_energy"] < 0.02, "| still below the SVD:", hooi < r["svd_energy"])

# %% [markdown]
# Look at the chosen ranks (checked above): the h-side spatial modes ($H_h$, $W_h$) are at their
# full size 4 at every budget from $k = 4$ on (at the two smallest the h row gets 3), while the
# h-channel rank grows with the budget. The next section shows why.
#
# ## 4. What each mode says
#
# The **mode spectra**: the share of $\|J\|^2$ carried by each component of each mode's factor
# (the squared mode-$n$ singular values). A mode is compressible when a few components carry most of it.

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
#   encoder mostly reads one colour combination of the channels (the swatches below);
# - **h row / h column**: incompressible: every one of the 4 components carries at least 0.1, so all
#   4 are needed for 90%. Each position of the $4 \times 4$ bottleneck reads its own part of the image;
# - **x row / x column**: 90% of the energy needs at most half of the 32 components: the spatial
#   sensitivity is smooth (the profiles below);
# - **h channel**: 90% needs more than half of the 128 channels: no small set of channels dominates.
#
# Flattening mixes a compressible side (colour, pixel rows and columns) with an incompressible one
# (the h positions and channels); that is why Tucker's advantage is confined to small budgets.

# %%
# NBVAL_CHECK_OUTPUT
need = {name: int((s.cumsum(0) < 0.9).sum()) + 1 for name, s in zip(names, spectra)}
print("colour: first component >= 0.5:", bool(spectra[3][0] >= 0.5))
print("h row and h column: every component >= 0.1:", bool(spectra[1].min() >= 0.1 and spectra[2].min() >= 0.1))
print("x row and x column: 90% with <= 16 of 32:", need["x row"] <= 16 and need["x column"] <= 16)
print("h channel: 90% needs > 64 of 128:", need["h channel"] > 64)

# %% [markdown]
# The **colour factor** as swatches: each column $u$ of $U_C$ is an RGB direction, drawn as the colour
# $0.5 + 0.5\,u / \max|u|$ (a factor's sign is arbitrary: $-u$ is the complementary colour).

# %%
U_C = factors[3]
fig, axes = plt.subplots(1, 3, figsize=(4.5, 1.9))
for i, ax in enumerate(axes):
    u = U_C[:, i]
    ax.imshow((0.5 + 0.5 * u / u.abs().max()).reshape(1, 1, 3).numpy()); ax.axis("off")
    ax.set_title(f"{i}: {spectra[3][i]:.0%}\nRGB {u[0]:+.2f} {u[1]:+.2f} {u[2]:+.2f}", fontsize=7)
fig.tight_layout();

# %% [markdown]
# The **row and column factors** (the first three of each) are smooth profiles over the 32 pixel rows
# and columns: a bump over the middle of the face, then profiles that change sign once and twice,
# like a bump and its derivatives. A bump times a derivative is a *shift*: it moves a blob.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.4))
for ax, U, name in zip(axes, factors[4:], ["x row (top to bottom)", "x column (left to right)"]):
    for i in range(3):
        ax.plot(U[:, i].numpy(), label=f"factor {i}")
    ax.axhline(0, color="grey", lw=0.5); ax.set_title(name, fontsize=8); ax.legend(fontsize=7)
fig.tight_layout();

# %% [markdown]
# **Rank-1 images.** Combining one colour, one row and one column factor gives a separable unit image
# $v = u_C \otimes u_H \otimes u_W$, an editing direction in x-space. `rank1_directions` ranks the
# combinations by the core energy they carry, which is $\|J v\|^2$: how strongly $h$ responds to a
# unit step along $v$. For comparison, Park's $v_1$ from `pullback` (the top right singular vector
# of the flattened $J$, found matrix-free), with the largest response any direction can have, $s_1$.

# %%
svd, info = pullback(model, x_t, 600, k=1, return_info=True)
V, index = rank1_directions(core, factors, k=5)
gains = jacobian_gain(J, V)
print(f"pullback: {info['products']} Jacobian products (the dense J took {J[:, :, :, 0, 0, 0].numel():,})")

# %%
images = torch.cat([svd.V, V])
show_images(images / images.abs().amax(dim=(1, 2, 3), keepdim=True), nrow=6, scale=1.3,
            titles=[f"v_1\n|Jv| = {svd.S[0]:.2f}"] + [f"{i}\n|Jv| = {g:.2f}" for i, g in zip(index, gains)]);

# %% [markdown]
# Checks: `pullback`'s $s_1^2 / \|J\|^2$ equals the flattened SVD's rank-1 energy (table, $k = 1$) to 0.001,
# so the tensor and the matrix-free pullback agree. The best rank-1 image responds at least half as
# strongly as $v_1$ (ratio $\geq 0.5$), and it is a different direction from $v_1$ (cosine below 0.9).

# %%
# NBVAL_CHECK_OUTPUT
energy_1 = svd.S[0].item() ** 2 / J.square().sum().item()
print("pullback s_1^2 / ||J||^2 = rank-1 SVD energy:", abs(energy_1 - rows[0]["svd_energy"]) < 1e-3)
ratio, cos = (gains[0] / svd.S[0]).item(), (V[0] * svd.V[0]).sum().abs().item()
print(f"best rank-1 gain / s_1 = {ratio:.2f} (>= 0.5: {ratio >= 0.5})")
print(f"|cos(rank-1, v_1)| = {cos:.2f} (< 0.9: {cos < 0.9})")

# %% [markdown]
# ## 5. Do HOSVD edits change a face as much as v_1?
#
# Park et al.'s first version edits one timestep: $x_t \leftarrow x_t + \alpha v$ with $v$ of unit norm,
# then denoises. `edit_attributes` does this at $t = 600$ for $\alpha = \pm 2$ and continues DDIM-50
# from that step (`ddim_sample(..., t_start=600)` runs the remaining 30 steps of the same grid, exactly as
# `ddim_sample` would have), then reads every attribute with the probe. The *effect* of a direction
# on an attribute is half the difference between the $+\alpha$ and $-\alpha$ readings, as a fraction
# of the attribute's range. $\alpha = 2$ is small next to $\|x_t\|$ (about $\sqrt{3072} \approx 55$
# for a noisy $x_t$), but at $t = 600$ the image enters $x_t$ scaled by $\sqrt{\bar\alpha_t} \approx 0.16$,
# so it is a clear edit.

# %%
out = edit_attributes(model, probe, x_t, 600, torch.stack([svd.V[0], V[0]]), alphas=(-2.0, 2.0))

# %%
show_rows({"v_1": torch.stack([out["images"][0, 0], out["base"], out["images"][0, 1]]),
           "rank-1": torch.stack([out["images"][1, 0], out["base"], out["images"][1, 1]])},
          col_titles=["alpha = -2", "unedited", "alpha = +2"], scale=1.3);

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'attribute':12s} {'v_1':>6} {'rank-1':>6}")
for name, e in out["effect"].items():
    print(f"{name:12s} {e[0]:+6.2f} {e[1]:+6.2f}")

# %% [markdown]
# **Reading.** We compare each direction's *strongest* effect (its largest $|$effect$|$ over the
# attributes) and its *selectivity* (that strongest effect as a share of the sum of all $|$effects$|$).
# On this sample the two edits act alike, attribute by attribute (same signs, similar sizes; the
# table above): the rank-1 edit moves the same strongest attribute, at least half as far as $v_1$
# (the ratio is checked below), and neither is more selective than the other by more than 0.05.
# Both mix several attributes.

# %%
# NBVAL_CHECK_OUTPUT
effects = torch.stack(list(out["effect"].values()), 1).abs()  # (direction, attribute)
strongest, which = effects.max(1)
selectivity = strongest / effects.sum(1)
for label, s, w, q in zip(["v_1", "rank-1"], strongest, which, selectivity):
    print(f"{label:6s} strongest: {list(ll.ATTRIBUTES)[w]} {s:.2f}; selectivity {q:.2f}")
ratio = (strongest[1] / strongest[0]).item()
print(f"rank-1 / v_1 strongest effect = {ratio:.1f} (>= 0.5: {ratio >= 0.5}; > 1, stronger than v_1: {ratio > 1})")
print("same strongest attribute:", bool(which[0] == which[1]))
print("selectivities within 0.05:", bool((selectivity[1] - selectivity[0]).abs() <= 0.05))

# %% [markdown]
# ## What HOSVD adds, and what it does not
#
# **It adds** a readable account of *where* $J$'s structure is. The mode spectra say the input side is
# compressible (one colour combination carries most of the energy; smooth row and column profiles,
# bumps and their derivatives) while the $4 \times 4$ bottleneck positions and the 128 channels are
# not. At tiny budgets the Tucker model stores $J$ better than the flattened SVD (section 3). Its factors
# build separable edit directions, colour (x) row (x) column, that respond at least half as strongly
# as $v_1$ (section 4) and, on this sample, change the face's attributes much as $v_1$ does: the
# same strongest attribute, a similar size, no cleaner (section 5).
#
# **It does not** compress $J$ better at useful budgets: from the crossover on, the flattened SVD
# captures more energy per stored number (HOOI does not change that at the first such budget),
# because $J$'s strongest directions are not sums of a few separable pieces. It does not replace
# $v_1$ as the direction of largest response (no direction beats $s_1$). And it needs the *dense* $J$
# (2,048 backward passes here, the slow cell), where `pullback` needs the few dozen matrix-free
# products printed in section 4; at the size of the talk's Stable Diffusion example
# ($8 \cdot 8 \cdot 1280 = 81{,}920$ by $256 \cdot 256 \cdot 3 = 196{,}608$) the dense tensor would
# take 64 GB in float32. All of this is one sample at one timestep: the single-sample edit
# comparison is an observation, not a law.
