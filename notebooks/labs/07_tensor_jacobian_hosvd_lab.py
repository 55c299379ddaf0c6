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
# # Lab 07 · The Jacobian as a tensor: the measurements and the tests (optional)
#
# ## Key idea
#
# The [lecture](../07_tensor_jacobian_hosvd.ipynb), an optional research notebook, states three
# findings about the HOSVD of $J = \partial h / \partial x_t$ against its flattened SVD. This lab
# shows what each rests on, face by face, from the shipped run `data/runs/07_hosvd.json`, and
# measures face 0 (seed 0) closely:
#
# 1. energy at equal budgets on every face; at face 0 the Tucker ranks chosen per budget and HOOI
#    refining the HOSVD;
# 2. the modes: spectra over the faces and at face 0, where each $h$ position reads the image, the
#    colour factors and the row and column profiles;
# 3. the edits: per-face table, and a family of four tests against matched baselines, corrected
#    together;
# 4. face 0 up close: the top five rank-1 directions, two identities, per-attribute effects, the
#    two signs of the step, and what the row and column profiles move.
#
# Then three exercises (a HOSVD by hand; equal parameter budgets; HOOI written out) and a mini-project. Whether $v_1$ beats random smooth
# directions is tested in lecture 06's lab, not here.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

import latentlab as ll
from latentlab.course.hosvd_faces import (
    MODES,
    derivative_shares,
    edit_tests,
    energy_summary,
    hosvd_face,
    modes_for_share,
    patch_lift,
)
from latentlab.course.plot import lecture_style, show_images
from latentlab.course.runs import load_run
from latentlab.hosvd import (
    energy_table,
    jacobian_gain,
    mode_spectra,
    own_patch_share,
    profile_shape,
    rank1_directions,
    sensitivity_maps,
)
from latentlab.jacobians import pullback
from latentlab.metrics import edit_attributes
from latentlab.stats import empirical_p, signed_rank_test

lecture_style()
torch.set_num_threads(1)
run = load_run("07_hosvd")
df = pd.DataFrame(run["rows"])

# %% tags=["nbval-check-output"]
print(f"N = {run['n_faces']} faces (seeds {df.seed.min()}-{df.seed.max()})")
print(run["notes"])

# %% [markdown]
# ## 1. Energy at equal budgets, face by face
#
# `tucker_wins_to` is the largest flattened rank $k$ up to which the Tucker model captures more at
# every budget tested ($k$ = 1, 4, 16, 32, 64, 128, 256).

# %% tags=["nbval-check-output"]
summary = pd.DataFrame(energy_summary(run["rows"]))
print(summary.round(3).to_string(index=False))
print("Tucker wins up to k =", df.tucker_wins_to.value_counts().sort_index().to_dict(), "(k: faces)")
gap = pd.DataFrame({k: df[f"svd_{k}"] - df[f"tucker_{k}"] for k in (1, 32, 64, 256)})
print("SVD minus Tucker energy, min / median / max over faces:")
print(gap.describe().loc[["min", "50%", "max"]].round(3).to_string())

# %% [markdown]
# **Face 0: which Tucker ranks each budget buys**, on a finer grid of budgets. The ranks are
# $(C_h, H_h, W_h, C, H, W)$. From $k = 4$ on all 4 $h$ rows and columns are kept and the channel
# rank grows fastest, while colour stays at 1 up to $k = 64$ and the row and column ranks at a
# fraction of 32 up to $k = 256$.

# %%
model, probe = ll.load_model(), ll.load_probe()
face = hosvd_face(model, probe, 0)
J, core, factors = face.J, face.core, face.factors
fine = energy_table(J, ks=(1, 2, 4, 8, 12, 16, 24, 32, 64, 128, 256, 512), core=core)

# %% tags=["nbval-check-output"]
print(f"{'k':>4} {'budget':>9} {'SVD':>5} {'Tucker':>6}  Tucker ranks (C_h, H_h, W_h, C, H, W)")
for r in fine:
    print(f"{r['k']:4d} {r['params']:9,d} {r['svd_energy']:5.2f} {r['tucker_energy']:6.2f}  "
          f"{r['tucker_ranks']}")
full = [r["k"] for r in fine if r["tucker_ranks"][1:3] == (4, 4)]
print("h row and column ranks at full size (4, 4) at k =", full)

# %% [markdown]
# The truncated HOSVD is not the best Tucker model of its ranks. HOOI (higher-order orthogonal
# iteration) re-fits each factor in turn with the others fixed; it refines the HOSVD towards a
# stationary point of the fit, not a certified optimum. At face 0, three sweeps at the ranks chosen
# for each of the three largest budgets of the run: if HOOI stays below the SVD there, "the SVD
# wins beyond the crossover" holds at face 0 for every Tucker model we computed. On the other 25
# faces the claim rests on the truncated HOSVD only.

# %%
hooi = energy_table(J, ks=(64, 128, 256), n_iter=3, core=core)

# %% tags=["nbval-check-output"]
row0 = run["rows"][0]
print(f"{'k':>4} {'HOSVD':>6} {'HOOI, 3 sweeps':>15} {'SVD':>6}")
for r in hooi:
    k = r["k"]
    print(f"{k:4d} {row0[f'tucker_{k}']:6.3f} {r['tucker_energy']:15.3f} {r['svd_energy']:6.3f}")
print("HOOI below the SVD at all three:", all(r["tucker_energy"] < r["svd_energy"] for r in hooi))

# %% [markdown]
# ## 2. The modes
#
# Components that carry 90 % of $\|J\|^2$, per mode, over the faces; the first colour component's
# energy; the own-patch share (median over the 16 $h$ positions; an even spread gives 0.06).

# %% tags=["nbval-check-output"]
modes = df[[f"n90_{m}" for m in MODES] + ["colour0_share", "own_patch_median"]]
modes.columns = list(MODES) + ["colour 0", "own patch"]
print(modes.describe().loc[["min", "50%", "max"]].round(2).to_string())
print("first colour component of one sign (a brightness) on", int(df.colour0_one_sign.sum()), "of",
      len(df), "faces")

# %% [markdown]
# **Face 0's spectra in numbers**: each mode's first and smallest component's share of
# $\|J\|^2$, and how many components carry 90 %.

# %% tags=["nbval-check-output"]
spectra = mode_spectra(core, energy=True)
for name, s in zip(MODES, spectra):
    print(f"{name:9s} size {len(s):3d}: first {s[0]:.2f}, smallest {s.min():.3f}, "
          f"{modes_for_share(s):3d} components for 90%")

# %% [markdown]
# **Where each $h$ position reads the image**, at face 0. Position $(i, j)$'s sensitivity map sums
# $J^2$ over the 128 channels and 3 colours; the outline is its own $8 \times 8$ patch. Every map
# leans to the centre, so $1/16$ is an easy baseline; the fairer one is the same patch's average
# share over all 16 maps (the *lift*).

# %%
maps = sensitivity_maps(J)
share = own_patch_share(maps)
lift, largest = patch_lift(maps)
fig, axes = plt.subplots(4, 4, figsize=(4.8, 5.0))
for (i, j), ax in zip([(i, j) for i in range(4) for j in range(4)], axes.flat):
    ax.imshow(maps[i, j].numpy(), cmap="magma"); ax.set_xticks([]); ax.set_yticks([])
    ax.add_patch(plt.Rectangle((8 * j - 0.5, 8 * i - 0.5), 8, 8, fill=False, ec="cyan", lw=1))
    ax.set_title(f"({i}, {j}): {share[i, j]:.2f}", fontsize=7)
fig.tight_layout();

# %% tags=["nbval-check-output"]
print(f"own-patch share: min {share.min():.2f}, median {share.median():.2f}, max {share.max():.2f}")
print(f"lift over that patch's average share: min {lift.min():.1f}x, median {lift.median():.1f}x")
print(f"own patch the largest of the 16 in its map at {int(largest.sum())} of 16 positions")

# %% [markdown]
# **Face 0's colour factors.** Each colour component is an RGB direction (sign fixed so the
# largest entry is positive), drawn as mid-grey $\pm$ the direction.

# %% tags=["nbval-check-output"]
U_C = factors[3]
U_C = U_C * U_C.gather(0, U_C.abs().argmax(0, keepdim=True)).sign()
for i in range(3):
    print(f"colour {i}: RGB {U_C[0, i]:+.2f} {U_C[1, i]:+.2f} {U_C[2, i]:+.2f}, "
          f"{spectra[3][i]:.0%} of the energy")

# %%
fig, axes = plt.subplots(3, 3, figsize=(3.6, 3.9))
for i in range(3):
    u = U_C[:, i] / U_C[:, i].abs().max()
    for col, (label, sign) in enumerate((("-u", -1), ("mid-grey", 0), ("+u", 1))):
        axes[i, col].imshow((0.5 + 0.5 * sign * u).reshape(1, 1, 3).clamp(0, 1).numpy())
        axes[i, col].axis("off"); axes[i, col].set_title(f"colour {i}: {label}", fontsize=7)
fig.tight_layout();

# %% [markdown]
# **Face 0's row and column profiles**: the first three factors of each. Printed: sign changes and
# support over the large entries ($|u| \geq 0.2 \max|u|$), and the share of factor 0's first and
# second derivatives each holds (an even spread over 32 factors: 0.03).

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.4))
for ax, U, name in zip(axes, factors[4:], ["x row (top to bottom)", "x column (left to right)"]):
    for i in range(3):
        ax.plot(U[:, i].numpy(), label=f"factor {i}")
    ax.axhline(0, color="grey", lw=0.5); ax.set_title(name, fontsize=8); ax.legend(fontsize=7)
fig.tight_layout();

# %% tags=["nbval-check-output"]
for name, U in (("row", factors[4]), ("column", factors[5])):
    shares = derivative_shares(U)
    for i in range(3):
        changes, first, last = profile_shape(U[:, i])
        print(f"{name:6s} {i}: {changes} sign changes, over {first:2d}-{last:2d}; holds "
              f"{shares[i, 0]:.2f} of the 1st derivative, {shares[i, 1]:.2f} of the 2nd")

# %% [markdown]
# Colour 0 is a brightness, colours 1 and 2 colour contrasts. The profiles lie over the face and
# hair; the factor with one sign change holds much of factor 0's first derivative, as a shift
# would. But the shape of a profile does not say which attribute an edit along it moves: section 4
# measures the edits along these profiles at face 0.
#
# ## 3. The edits, face by face, and the tests
#
# Per face: the strongest effect (largest $|$change$|$ over the 11 attributes, fraction of a range)
# of $v_1$, of the top rank-1 HOSVD direction $V_0$ and of $\hat w$ (what $V_0$ adds to $v_1$), and
# of the face's 15 random smooth directions (blurred noise, unit norm: matched in norm and
# neighbour correlation); the per-face empirical p of $V_0$ against them, $(1 + \#\{\geq\}) / 16$,
# which can never go below $1/16$: one face cannot decide anything, so the tests pool the faces.

# %% tags=["nbval-check-output"]
rand = torch.tensor(df[[c for c in df if c.startswith("random_")]].values)
table = pd.DataFrame({
    "seed": df.seed, "V_0": df.v0_index, "v_1": df.strongest_v1, "V_0 eff": df.strongest_v0,
    "w_hat": df.strongest_what, "rand med": rand.median(1).values.numpy(),
    "rand max": rand.max(1).values.numpy(),
    "p(V_0)": [empirical_p(torch.tensor(s), r).item() for s, r in zip(df.strongest_v0, rand)],
    "attr V_0": df.attr_v0, "cos eff": df.effect_cos_v0_v1,
})
print(table.round(2).to_string(index=False))

# %% [markdown]
# **What $V_0$ is, over the faces** ($s_1 = \|J v_1\|$, the top singular value of $J$ flattened):
# $|\cos(V_0, v_1)|$, the response $\|J V_0\| / s_1$, and the share of $\|J V_0\|^2$ from $V_0$'s
# $v_1$ part, $c^2 s_1^2 / \|J V_0\|^2$. The lecture quotes their medians; the range is wide.

# %% tags=["nbval-check-output"]
parts = df[["v0_cos", "v0_gain", "v0_v1_part", "effect_cos_v0_v1"]]
print(parts.describe().loc[["min", "50%", "max"]].round(2).to_string())
print(f"V_0's strongest attribute is v_1's on {int((df.attr_v0 == df.attr_v1).sum())} of {len(df)} "
      f"faces;")
print(f"w_hat's strongest effect below V_0's on {int((df.strongest_what < df.strongest_v0).sum())} "
      f"of {len(df)}")

# %% [markdown]
# **The family of four tests**, Bonferroni-corrected together ($4p < 0.05$ passes):
#
# 1. $V_0$ beats its face's random smooth directions: on how many faces its strongest effect exceeds
#    the median of its 15 baselines; under the null that it is one more baseline draw this is
#    Binomial$(N, 1/2)$ (exact, two-sided);
# 2. the same for $\hat w$;
# 3. $V_0$ against $v_1$, paired by face: Wilcoxon's signed-rank test on the differences of their
#    strongest effects (`count` = faces where $V_0$'s is larger);
# 4. $\hat w$ against $V_0$, paired by face: a sign test, Binomial$(N, 1/2)$ (`count` = faces where
#    $\hat w$'s strongest effect is smaller).

# %% tags=["nbval-check-output"]
print(pd.DataFrame(edit_tests(run["rows"])).to_string(index=False, float_format=lambda x: f"{x:.2g}"))

# %% [markdown]
# **Reading.** All four pass after correction: $V_0$ and $\hat w$ beat the median of their face's
# matched random smooth directions on all but one face, $V_0$ moves faces less than $v_1$ (`count`
# is the few faces where it moves them more), and $\hat w$ less than $V_0$.
#
# **Glasses saturate the statistic.** Glasses are drawn on or off, so an edit that flips them
# changes the attribute by its whole range both ways and its strongest effect sits at 0.5, the
# ceiling: a tie at the top that says nothing about which direction edits more. Dropping the faces
# where glasses are $v_1$'s or $V_0$'s strongest attribute:

# %% tags=["nbval-check-output"]
capped = (df.strongest_v1 >= 0.499).sum()
print(f"v_1's strongest effect at the 0.5 ceiling on {capped} of {len(df)} faces")
kept = df[(df.attr_v1 != "glasses") & (df.attr_v0 != "glasses")]
diff = (kept.strongest_v0 - kept.strongest_v1).tolist()
p = signed_rank_test(diff)
print(f"V_0 vs v_1 without them: V_0 larger on {sum(d > 0 for d in diff)} of {len(kept)} faces;")
print(f"  p {p:.2g}, corrected for the family of four {4 * p:.2g}")

# %% [markdown]
# **Lecture 06's $v_1$ against this one.** Lecture 06's run samples with 20 DDIM steps, this run
# with DDIM-50, on other faces; $v_1$'s median strongest effect differs between them (printed), so
# compare the two lectures' effect sizes only within a run.

# %% tags=["nbval-check-output"]
r06 = pd.DataFrame(load_run("06_latent_basis")["rows"])
v1_06 = pd.concat([r06.a_str_v1, r06.b_str_v1])
print("v_1's strongest effect, median:")
print(f"  lecture 06's run (20 DDIM steps, {len(v1_06)} faces) {v1_06.median():.2f}")
print(f"  this run (DDIM-50, {len(df)} faces) {df.strongest_v1.median():.2f}")

# %% [markdown]
# ## 4. Face 0 up close
#
# **The top five rank-1 directions** $(a, b, c)$ = (colour, row, column) factor, ranked by core
# energy (the squared core entries of that combination summed over the $h$ modes, which equals
# $\|J v\|^2$), beside $v_1$ from Park's `pullback`. Each image is scaled to its largest entry.

# %%
svd, info = pullback(model, face.x_t, 600, k=1, return_info=True)
v_1, s_1 = svd.V[0], svd.S[0]
V, index = rank1_directions(core, factors, k=5)
gains = jacobian_gain(J, V)
show_images(torch.cat([v_1[None], V]) / torch.cat([v_1[None], V]).abs().amax((1, 2, 3), keepdim=True),
            nrow=6, scale=1.3,
            titles=[f"v_1\n|Jv| = {s_1:.2f}"] + [f"{i}\n|Jv| = {g:.2f}" for i, g in zip(index, gains)]);

# %% tags=["nbval-check-output"]
cos_v1 = (V * v_1).flatten(1).sum(1)
print(f"{'direction':10s} {'||Jv||':>7} {'gain / s_1':>10} {'cos with v_1':>12} {'v_1-part share':>15}")
for i, g, cv in zip(index, gains, cos_v1):
    print(f"{str(i):10s} {g:7.2f} {g / s_1:10.2f} {cv:+12.2f} {(cv * s_1) ** 2 / g**2:15.2f}")

# %% [markdown]
# **Two identities.** `pullback`'s $s_1^2 / \|J\|^2$ must equal the rank-1 SVD energy of the dense
# $J$ (two independent computations of one number). And with $V_0 = c\,v_1 + w$, $w \perp v_1$,
# $\|J V_0\|^2 = c^2 s_1^2 + \|J w\|^2$, because $J v_1$ is orthogonal to $J w$ (right singular
# vectors map to orthogonal outputs): the $v_1$-part share is well defined.

# %% tags=["nbval-check-output"]
energy_1 = (s_1**2 / J.square().sum()).item()
print(f"pullback s_1^2 / ||J||^2 = {energy_1:.4f}; rank-1 SVD energy of the dense J "
      f"{fine[0]['svd_energy']:.4f}")
c = cos_v1[0]
w = V[0] - c * v_1
gain_w, gain_w_hat = jacobian_gain(J, torch.stack([w, w / w.norm()]))
lhs, rhs = gains[0] ** 2, (c * s_1) ** 2 + gain_w**2
print(f"||J V_0||^2 = {lhs:.3f}; c^2 s_1^2 + ||J w||^2 = {rhs:.3f} (c = {c:+.2f}, |w| = {w.norm():.2f})")
print(f"gain of w_hat: ||J w_hat|| / s_1 = {gain_w_hat / s_1:.2f}")

# %% [markdown]
# **Per-attribute effects at face 0**, with a control: $c\,v_1$, $V_0$'s $v_1$ part alone. If
# $V_0$'s effects match $c\,v_1$'s, what $V_0$ does is mostly its $v_1$ part. The four other
# rank-1 directions are edited too (for the profiles, below).

# %%
extra = edit_attributes(model, probe, face.x_t, 600, torch.cat([V[1:], (c * v_1)[None]]),
                        alphas=(-2.0, 2.0), steps=50)
names = list(ll.ATTRIBUTES)
eff_face = torch.stack([face.edits["effect"][a] for a in names], 1)  # v_1, V_0, w_hat, 15 random
eff_extra = torch.stack([extra["effect"][a] for a in names], 1)  # V_1 .. V_4, c v_1
rank1 = torch.cat([eff_face[1:2], eff_extra[:4]])  # the five rank-1 directions, in `index` order

# %% tags=["nbval-check-output"]
effects = pd.DataFrame({"v_1": eff_face[0], "c v_1": eff_extra[4], "V_0": eff_face[1],
                        "w_hat": eff_face[2]}, index=names)
print(effects.round(2).to_string())
for col in ("c v_1", "V_0", "w_hat"):
    cos = torch.nn.functional.cosine_similarity(eff_face[0], torch.tensor(effects[col].values), dim=0)
    print(f"cosine of the 11 effects, {col} against v_1: {cos:+.2f}")

# %% [markdown]
# **The two signs of the step.** The effect is half the difference between $\alpha = +2$ and
# $\alpha = -2$; a linear response would move an attribute by similar amounts both ways. Here the
# change against the unedited sample on each side, and the size of the step against the signal in
# $x_t$.

# %% tags=["nbval-check-output"]
d = face.edits["delta"]  # {attribute: (direction, alpha)}
print(f"{'attribute':10s} {'v_1 at -2 / +2':>16} {'V_0 at -2 / +2':>16}")
for name in ("pos_x", "face_size", "hair_color", "skin_tone"):
    print(f"{name:10s} {d[name][0, 0]:+7.2f} / {d[name][0, 1]:+.2f} {d[name][1, 0]:+8.2f} / "
          f"{d[name][1, 1]:+.2f}")
sqrt_a = model.scheduler.alphas_cumprod[600].sqrt()
signal = sqrt_a * face.x_0.norm()
print(f"|x_t| = {face.x_t.norm():.0f}; sqrt(a_600) = {sqrt_a:.2f}; |sqrt(a_600) x_0| = {signal:.1f}: "
      f"the step alpha = 2 is {2 / signal:.1f} of it")

# %% [markdown]
# **What the row and column profiles move.** A column profile with one sign change looks like a
# horizontal shift, a row profile with one like a vertical one. Each rank-1 direction's effect on
# pos_x and pos_y, then $(0, 0, 2)$ on pos_x and $(0, 1, 0)$ on pos_y against the same attribute's
# $|$effect$|$ under the face's 15 random smooth directions. One face's 15 draws allow no p below
# $1/16$: this is descriptive, not a test.

# %% tags=["nbval-check-output"]
px, py = names.index("pos_x"), names.index("pos_y")
print(f"{'direction':10s} {'sign changes':>12} {'pos_x':>6} {'pos_y':>6}  strongest")
for (a, b, col), e in zip(index, rank1):
    ch = (profile_shape(factors[4][:, b])[0], profile_shape(factors[5][:, col])[0])
    print(f"{str((a, b, col)):10s} {str(ch):>12} {e[px]:+6.2f} {e[py]:+6.2f}  "
          f"{names[int(e.abs().argmax())]} {e.abs().max():.2f}")
for label, att, direction in (("pos_x", px, (0, 0, 2)), ("pos_y", py, (0, 1, 0))):
    e = rank1[index.index(direction), att].abs()
    null = eff_face[3:, att].abs()
    print(f"{direction} moves {label} by {e:.2f}; random smooth: max {null.max():.2f}, "
          f"{int((null >= e).sum())} of {len(null)} >= it; empirical p {empirical_p(e, null):.3f}")

# %% [markdown]
# The column profile with one sign change, $(0, 0, 2)$, moves pos_x more than any of the face's 15
# random smooth steps; the row profile with one sign change, $(0, 1, 0)$, leaves pos_y where it
# was and moves eye size most. Two profiles of the same shape, two different outcomes: the shape
# of a profile does not say which attribute an edit along it moves. And $v_1$'s and $V_0$'s
# position changes are one-sided (the table of the two signs above), so a position change may be
# a switch that the step sets off rather than a linear shift.

# %% [markdown]
# ## Exercises
#
# Three exercises and a mini-project: a truncated HOSVD by hand, equal parameter budgets, HOOI
# written out, and where Tucker's advantage comes from. Each gives its difficulty, its importance and a
# time to spend on it, in ARENA's form. Fill in each cell marked `# YOUR CODE HERE` (replace every
# `None`, or complete the function), then run the check below it. Worked solutions:
# `../solutions/07_tensor_jacobian_hosvd_solutions.ipynb`.
#
# ### Exercise 07.1: a truncated HOSVD by hand
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# `T` is a 4 x 5 x 6 tensor: two rank-1 terms plus a little noise. For each mode $n$, unfold it
# (`T.movedim(n, 0).reshape(T.shape[n], -1)`) and take the top 2 left singular vectors as the
# columns of the factor $A_n$ (shape `(T.shape[n], 2)`). The core is
# $T \times_1 A_1^\top \times_2 A_2^\top \times_3 A_3^\top$; give `energy`, the share of $\|T\|^2$
# it keeps, $\|\text{core}\|^2/\|T\|^2$.

# %%
from latentlab.course import exercises as ex

g = torch.Generator().manual_seed(71)
draw = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
a, b = draw(4), draw(4)
T = (torch.einsum("i,j,k->ijk", a, draw(5), draw(6)) + 0.5 * torch.einsum("i,j,k->ijk", b, draw(5), draw(6))
     + 0.3 * draw(4, 5, 6))
# YOUR CODE HERE: factors (a list of three matrices) and energy (a number)
factors = None
energy = None

# %%
ex.check_hosvd_energy(T, (2, 2, 2), factors, energy)

# %% [markdown]
# ### Exercise 07.2: equal parameter budgets
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# How many numbers does a Tucker model of the Jacobian (shape `J_shape`) with ranks
# `(16, 4, 4, 3, 8, 8)` store (core plus factor matrices)? And what is the largest rank $k$ of a
# flattened SVD of the $2048 \times 3072$ matrix, which stores $k\,(m + n + 1)$ numbers, within the
# same budget?

# %%
J_shape, ranks = (128, 4, 4, 3, 32, 32), (16, 4, 4, 3, 8, 8)
# YOUR CODE HERE: n_tucker and k_svd, two integers
n_tucker = None
k_svd = None

# %%
ex.check_parameter_budget(J_shape, ranks, n_tucker, k_svd)

# %% [markdown]
# ### Exercise 07.3: HOOI, the iteration that refines a HOSVD
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵⚪⚪⚪
#
# You should spend up to 20-30 minutes on this exercise.
# ```
#
# The truncated HOSVD of exercise 07.1 takes each factor from $T$ alone; it is not the best Tucker
# model of its ranks. Higher-order orthogonal iteration (HOOI; De Lathauwer, De Moor & Vandewalle
# 2000) improves it by sweeps: for each mode $n$ in turn, project $T$ on every *other* mode's current
# factor, $Y = T \times_m A_m^\top$ for all $m \neq n$, and replace $A_n$ by the top $r_n$ left
# singular vectors of $Y$'s mode-$n$ unfolding; the next mode already uses the new $A_n$. After the
# last sweep the core is $T \times_1 A_1^\top \times_2 A_2^\top \times_3 A_3^\top$. Complete
# `hooi(T, ranks, n_iter)` (`n_iter = 0`: the HOSVD). The check runs it for 0, 1 and 8 sweeps on the
# noise tensor `T3` and compares the energy its core keeps with `latentlab.hosvd.hosvd(T3, ranks,
# n_iter=...)`, the call section 1 makes on face 0's Jacobian.

# %%
T3 = torch.randn(6, 7, 8, generator=torch.Generator().manual_seed(72), dtype=torch.float64)


def hooi(T, ranks, n_iter):
    # YOUR CODE HERE: factors from the HOSVD, then n_iter sweeps; return (core, factors)
    return None


# %%
ex.check_hooi(T3, (2, 2, 2), hooi)

# %% [markdown]
# ### Mini-project 07.4: where does Tucker's advantage come from?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 45-60 minutes on this mini-project.
# ```
#
# Section 1 shows that at small budgets the Tucker model keeps more of $\|J\|^2$ than the flattened
# SVD on most faces, by different amounts. Which property of a face's Jacobian goes with a larger
# advantage? The shipped run's table `df` holds, per face, the energies at equal budgets (`svd_k`,
# `tucker_k`) and measurements of the modes: how many components reach 90 % of each mode's energy
# (`n90_*`), the first colour component's share (`colour0_share`), how much each $h$ position reads
# its own patch (`own_patch_median`). Pick a measure of the advantage, state your hypotheses before
# looking, test them over the 26 faces (a rank correlation, counted for the number of hypotheses), and
# say what a mode's structure would explain. One worked way is in the solutions.


# %% [markdown]
# ## What to remember
#
# - The crossover and the mode ranks are read on every face of the run, not on one; HOOI and the
#   chosen Tucker ranks at face 0 only.
# - One face's 15 baselines cannot make a test pass (its smallest p is 1/16); pooling the faces with
#   a sign test against each face's own baseline median can.
# - Four tests, corrected together; the $V_0$ against $v_1$ result holds with the glasses faces
#   dropped. $v_1$ against random smooth directions is lecture 06's lab.
