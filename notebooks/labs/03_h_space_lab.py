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
# # Lab 03 · h-space: the measurements behind the lecture
#
# The apparatus behind [lecture 03](../03_h_space.ipynb): the read-out of h against $x_t$ with its
# standard errors and its dependence on the number of renders, the asymmetric step per timestep and
# in full, Asyrp's rule for $t_\text{edit}$ and $t_\text{boost}$ timestep by timestep, and (part B)
# the untrained h-space directions of the method registry, measured against Asyrp's properties of
# h-space (homogeneity, linearity, additivity), the claims of the course's talk *Interpretable Latent
# Directions in DPMs*. Every table is read from a shipped run in `data/runs/`; each run's file holds the
# command that rebuilds it.

# %%
import textwrap

import numpy as np
import pandas as pd

from latentlab.course.plot import lecture_style

lecture_style()
import latentlab as ll
from latentlab.course.asymmetric_step import step_weights
from latentlab.course.decodability import show_decodability
from latentlab.course.runs import load_run, run_table
from latentlab.methods import METHODS
from latentlab.stats import bootstrap_interval, mcnemar, signed_rank_test

pd.set_option("display.width", 100)
model = ll.load_model()

# %% [markdown]
# ## A1. Decodability: every attribute, every N, with standard errors
#
# Each row: `n` renders (seed 123) noised to `t`, a ridge read-out of every attribute from h or from
# $x_t$, the mean held-out $R^2$ over 5 folds and its standard error (the fold-to-fold spread over
# $\sqrt 5$). The folds share three quarters of their training faces, so the standard errors
# understate the uncertainty somewhat: read "more than 2 combined standard errors apart" as a screen,
# not a test.

# %%
dec = load_run("03_decodability")
table = run_table("03_decodability")
print(dec["command"])
names = list(ll.ATTRIBUTES)

# %% tags=["nbval-check-output"]
for t in (200, 500):
    sub = table[table.t == t]
    print(f"t = {t}: R^2 from h / from x_t")
    out = pd.DataFrame({"n": sub.n[sub.space == "h"].values})
    for a in names:
        h, x = sub[sub.space == "h"][a].values, sub[sub.space == "x_t"][a].values
        out[a[:10]] = [f"{u:.2f}/{v:.2f}" for u, v in zip(h, x)]
    print(out.iloc[:, :6].to_string(index=False))
    print(out.iloc[:, [0] + list(range(6, out.shape[1]))].to_string(index=False))

# %% [markdown]
# The standard errors, and where h beats $x_t$ by more than 2 combined standard errors (one-sided
# screen; 22 comparisons per row):

# %% tags=["nbval-check-output"]
for n in sorted(table.n.unique()):
    for t in (200, 500):
        h = table[(table.n == n) & (table.t == t) & (table.space == "h")].iloc[0]
        x = table[(table.n == n) & (table.t == t) & (table.space == "x_t")].iloc[0]
        better = [a for a in names if h[a] - x[a] > 2 * (h[f"{a}_se"] ** 2 + x[f"{a}_se"] ** 2) ** 0.5]
        se = max(max(h[f"{a}_se"], x[f"{a}_se"]) for a in names)
        print(f"n = {n:4d}, t = {t}: largest SE {se:.2f}; h better for {len(better)} of 11")
        print(textwrap.fill(", ".join(better), 96, initial_indent="    ", subsequent_indent="    "))

# %% [markdown]
# How the score grows with the number of renders (the ridge learns more from more faces): smile, eye
# size and glasses from h at $t = 200$.

# %% tags=["nbval-check-output"]
sub = table[(table.t == 200) & (table.space == "h")]
print(sub[["n", "smile", "smile_se", "eye_size", "eye_size_se", "glasses", "glasses_se"]].to_string(index=False))

# %%
show_decodability(dec["rows"], t=500, n=dec["n_faces"]);

# %% [markdown]
# ## A2. The asymmetric step in full
#
# The step weights per timestep of the 10-step grid: how a shift of $\epsilon$ moves $x_{t-1}$
# through $P_t$ ($w_P$) and through $D_t$ ($w_D$), and the share of the asymmetric shift the symmetric
# one keeps at that step. At the last step $a_{t-1} = 1$, so $w_D = 0$ and the share is 1 by
# construction.

# %% tags=["nbval-check-output"]
w = step_weights(model, 10)
print(pd.DataFrame({"t": w["timesteps"].numpy(), "w_P": w["w_P"].numpy(), "w_D": w["w_D"].numpy(),
                    "share": ((w["w_P"] + w["w_D"]).abs() / w["w_P"].abs()).numpy()}).round(3).to_string(index=False))

# %% [markdown]
# The shipped rows of the smile editor (`Asyrp f`, goal +1) on 256 faces, every column: faces that
# can move (read more than 0.1 below the goal), the fraction moved the right way with its binomial
# standard error, the mean change and its spread, the attribute that leaked most, the RMS pixel change,
# and the on-manifold error (the probe's reading re-rendered, median squared distance).

# %% tags=["nbval-check-output"]
asy = run_table("03_asymmetric_step")
asy["se"] = (asy.right_way * (1 - asy.right_way) / asy.n_movable) ** 0.5
print(asy[["mode", "t_edit", "n_movable", "right_way", "se", "change", "spread"]].round(3).to_string(index=False))
print(asy[["mode", "t_edit", "worst_leak_attr", "worst_leak", "pixel_change", "manifold_before",
           "manifold_after"]].to_string(index=False))

# %% [markdown]
# The asymmetric and symmetric edits act on the same faces, so they are compared face by face. The
# per-face run (`03_face_outcomes`: the same 256 faces, both edits from $t_\text{edit} = 200$)
# gives McNemar's exact test of the right-way outcomes, Wilcoxon's signed-rank test of the
# per-face changes (asymmetric minus symmetric), and a 95 % bootstrap interval (faces resampled,
# seed 0) of the change ratio and the pixel ratio, symmetric over asymmetric, against the step
# weights' 0.50.

# %% tags=["nbval-check-output"]
a = asy[(asy["mode"] == "asymmetric") & (asy.t_edit == 200)].iloc[0]
s = asy[asy["mode"] == "symmetric"].iloc[0]
print(f"256 faces: change ratio {s.change / a.change:.2f}, pixel ratio {s.pixel_change / a.pixel_change:.2f}")
fo = pd.DataFrame(load_run("03_face_outcomes")["rows"])
mv = fo[fo.movable]
p = mcnemar(*(mv[c].to_numpy().copy() for c in ("right_way_asym", "right_way_sym")))
print(f"{len(fo)} faces, {len(mv)} movable: right way asymmetric {mv.right_way_asym.sum()}, "
      f"symmetric {mv.right_way_sym.sum()}; McNemar p = {p:.2g}")
print(f"signed-rank p (change, asymmetric - symmetric) = {signed_rank_test(mv.change_asym - mv.change_sym):.2g}")
ratio = lambda u, v: u.mean(1) / v.mean(1)  # noqa: E731
rng = np.random.default_rng
for col, sub in (("change", mv), ("pixel", fo)):
    u, v = sub[f"{col}_sym"].to_numpy(), sub[f"{col}_asym"].to_numpy()
    lo, hi = bootstrap_interval(ratio, u, v, generator=rng(0))
    print(f"{col} ratio symmetric / asymmetric {u.mean() / v.mean():.2f}, 95 % interval [{lo:.2f}, {hi:.2f}]")

# %% [markdown]
# The symmetric edit moves fewer faces the right way and moves each face less, far beyond chance. The
# pixel ratio's interval [0.49, 0.53] holds the step weights' 0.50; the change ratio's [0.37, 0.46]
# lies below it: smile keeps a little less of the edit than the pixels do.

# %% [markdown]
# ## A3. Asyrp's rule for $t_\text{edit}$ and $t_\text{boost}$, timestep by timestep
#
# `ll.edit_interval` on the same 256 faces: the median distance of $P_t$ and of $x_t$ from the final
# $x_0$ in the probe's feature space, in units of the median distance between two different renders
# (1 = "as far apart as two different faces"). The rule takes the first $t$ from 0 up where
# $d(P_t, x_0)$ reaches 0.33 as $t_\text{edit}$, and where $d(x_t, x_0)$ reaches 1.2 as
# $t_\text{boost}$ (0: never reached). The thresholds are Asyrp's, the scale is the kit's stand-in, so
# the pick is a starting point to check against the edit itself (the lecture's sweep).

# %% tags=["nbval-check-output"]
iv = run_table("03_edit_interval")
print(iv[["t", "d_P", "d_x"]].to_string(index=False))
pick = iv[iv.t == iv.t_edit_rule[0]].iloc[0]
print(f"t_edit = {pick.t} (d_P {pick.d_P:.3f}, margin over 0.33: {pick.d_P - 0.33:+.3f}); "
      f"t_boost = {iv.t_boost_rule[0]} (largest d_x {iv.d_x.max():.2f} against 1.2)")

# %% [markdown]
# # Part B · The untrained directions of the registry, against Asyrp's properties
#
# Lecture 05 teaches these methods; their measurements in h-space are here. Two
# directions from `latentlab.methods.METHODS` (each edited in Asyrp's asymmetric step at every step,
# scaled by $c = 4$, on 10 DDIM steps; smile pushed towards +1, glasses added):
#
# - **"mean difference"**: h of the 128 sampled faces whose probe reading lies above the middle of the
#   range, minus h of those below, per timestep;
# - **"paired"**: the mean change of h between 64 pairs of renders that differ only in the attribute
#   (the faces world's ground truth).
#
# Baselines on the same faces: **random** directions rescaled to each direction's norm at every
# timestep, one per face; and a **shuffled-label** mean difference (sampling noise, no attribute).
# Face-by-face comparisons are exact McNemar tests; eight are made, so one counts at
# $p < 0.05/8 = 0.006$ (Bonferroni). The targets (right way $\ge 0.9$, $R^2 \ge 0.9$, additivity
# $\le 0.2$) are the kit's operationalisations of Asyrp's properties, not the paper's numbers; the
# additivity error (relative L2 over all 11 attributes) is stricter than Asyrp's qualitative claim.

# %%
un = load_run("03_untrained_directions")
ut = run_table("03_untrained_directions")
print(textwrap.fill(un["command"], 96))
print({k: METHODS[k].settings for k in ("mean difference", "paired")})


def tab(name, cols):
    """The run's rows of one table, in the given columns."""
    return ut[ut.table == name][cols].convert_dtypes().to_string(index=False)


# %% [markdown]
# ### B0. h along the sampler's own trajectories
#
# Over the registry workbench's 128 trajectories: the cosine between one sample's $h_t$ and its final
# $h_0$ (how settled h is), the mean cosine between two different samples' $h_t$ (how much h still
# looks like "the average face"), and the mean norm of h.

# %% tags=["nbval-check-output"]
print(tab("h_trajectory", ["t", "n", "cos_to_final", "cos_between", "h_norm"]))

# %% [markdown]
# At $t = 900$ two different samples' h point almost the same way: h is close to one "average face"
# for every sample, nearly orthogonal to its own final value. It separates as $t$ falls. A direction
# that puts much of its size at large $t$ therefore acts on a nearly shared h (B6).
#
# ### B1. The asymmetric step with the paired glasses direction

# %% tags=["nbval-check-output"]
print(tab("asymmetry", ["method", "mode", "n", "n_movable", "k", "change", "pixel_change"]))

# %% [markdown]
# ### B2. Homogeneity: does the same $\Delta h$ do the same thing to every face?
#
# Per direction: faces moved the right way (k of the movable), the right-way fraction with its
# binomial standard error, the mean change and spread over the movable faces, the random and
# shuffled-label baselines on the same faces with McNemar's p, and the worst leak (mean |change| of
# another attribute as a fraction of its range).

# %% tags=["nbval-check-output"]
print(tab("homogeneity", ["method", "attr", "n_movable", "k", "right_way", "se", "change", "spread",
                          "beats_random"]))
print(tab("homogeneity", ["method", "attr", "k_random", "p_random", "k_shuffled", "p_shuffled",
                          "worst_leak_attr", "worst_leak"]))

# %% [markdown]
# **No direction is homogeneous** by the kit's target of 0.9; the best add glasses to about half the
# faces without them. Random directions of each direction's own size, one per face, move almost
# nothing, so every count above the random one is the direction's; only the tests marked
# `beats_random` pass the corrected level. The shuffled-label mean difference is the sharper test for
# the mean differences: a mean difference of about 64 faces against 64 is largely sampling noise along
# the ways faces vary (B5), and such a shift moves the smile reading of some faces whatever the labels.
#
# ### B3. Scaling: does $c$ set the size of the change?
#
# Mean change (signed towards the goal, over movable faces) at $c$ = 2 and 4 on the first 16 faces,
# with standard errors; the ratio (2.0 for a change proportional to $c$) with a 95 % bootstrap
# interval (faces resampled, the same faces at both scales); and the $R^2$ of a line through
# $c$ = 0, 2, 4 (a weak test: three points through the origin usually score high).

# %% tags=["nbval-check-output"]
print(tab("scaling", ["method", "attr", "n_movable", "change_c2", "se_c2", "change_c4", "se_c4"]))
print(tab("scaling", ["method", "attr", "ratio", "ratio_lo", "ratio_hi", "r2"]))

# %% [markdown]
# Every $R^2$ passes, as three points usually do. The ratios' intervals are wide at this N: for smile
# they hold 0, 2 and more (no growth, proportional growth and faster growth are all compatible). For
# glasses the paired direction's interval [1.0, 5.0] excludes shrinking; the mean difference's
# [0.6, 6917] settles nothing: whether a larger $c$ gives it a larger change stays open at this N.
#
# ### B4. Additivity: smile + glasses together against each alone
#
# `ll.additivity_error` $= \|D_{ab} - (D_a + D_b)\| / \|D_a + D_b\|$ over faces and all 11 attributes
# (each in units of its range); for scale, the error if the pair had done only the smile edit, and
# 1.0 if it had done nothing. Then the share of $\|D_a + D_b\|^2$ in smile and glasses, and the
# right-way counts alone and together.

# %% tags=["nbval-check-output"]
print(tab("additivity", ["method", "n", "error", "error_if_only_smile", "share_in_targets", "smile_movable",
                         "glasses_movable"]))
print(tab("additivity", ["method", "smile_alone", "smile_both", "glasses_alone", "glasses_both"]))

# %% [markdown]
# ### B5. When to edit: the paired glasses direction from $t_\text{edit}$ up

# %% tags=["nbval-check-output"]
print(tab("t_edit", ["method", "t_edit", "n_movable", "k", "change", "manifold_before", "manifold_after"]))

# %% [markdown]
# Glasses need the late steps on this model: the edit adds them to fewer faces as $t_\text{edit}$
# rises, and the on-manifold error stays near the unedited level throughout, so nothing argues for a
# later start.
#
# ### B6. Why the untrained directions fall short
#
# **(a) Group imbalance.** The mean difference subtracts two groups of samples, which differ in more
# than the attribute that defined them: each group's own gap and the three largest gaps in other
# attributes (units of each range); and whether the smile direction adds glasses (the leak the
# imbalance would predict), against the shuffled-label and random directions.

# %% tags=["nbval-check-output"]
imb = ut[ut.table == "imbalance"]
print(imb[imb.leak.isna()][["method", "attr", "n_above", "n_below", "own_gap", "other_gaps"]]
      .convert_dtypes().to_string(index=False))
print(imb[imb.leak.notna()][["method", "attr", "leak", "n_movable", "k", "k_shuffled", "p_shuffled", "k_random",
                             "p_random"]].convert_dtypes().to_string(index=False))

# %% [markdown]
# **(b) Too few samples, (c) the wrong timesteps.** Per timestep: the cosine between mean differences
# computed on two random halves of the 128 trajectories (near 1 if the direction is mostly signal);
# the norm of a shuffled-label mean difference over the real one (sampling noise alone); the cosine
# between the mean difference and the paired direction, against the 95th percentile of $|\cos|$ for 20
# shuffled-label mean differences (chance); and each direction's norm. The last two columns: the
# share of each direction's squared norm at $t \ge 600$.

# %% tags=["nbval-check-output"]
for a in ("smile", "glasses"):
    sub = ut[(ut.table == "timesteps") & (ut.attr == a)]
    print(a, "| share of norm^2 at t >= 600: mean difference", sub.share_md_t600.iloc[0],
          ", paired", sub.share_paired_t600.iloc[0])
    print(sub[["t", "split_half_cos", "shuffled_norm_ratio", "cos_with_paired", "chance_95", "norm_md",
               "norm_paired"]].convert_dtypes().to_string(index=False))

# %% [markdown]
# For smile the two halves barely agree and a shuffled-label direction is nearly as large as the real
# one: at 128 faces most of the smile mean difference's size is sampling noise, although its cosine
# with the paired direction stays above chance at most steps (a real smile component, a small share of
# the direction). For glasses the halves agree partly and the mean difference points the paired
# direction's way at every step. Both mean differences put about a fifth of their size at
# $t \ge 600$, where the paired direction is nearly zero. The paired smile direction itself is weak:
# smile is linearly decodable from h only weakly ($R^2$ 0.28 at 2,000 renders, A1). That is a limit of these *untrained*
# directions, not of fixed shifts as such: Asyrp's learned editors (lecture 04) move smile for nearly
# every face.

# %% [markdown]
# ## Exercises
#
# Exercises 03.1 and 03.2 are at the end of the [lecture](../03_h_space.ipynb); here the sampler
# loop they lead to, and a mini-project. Fill in each cell marked `# YOUR CODE HERE`, then run the
# check below it. Worked solutions are in `../solutions/03_h_space_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

glasses_dh = ll.load_editor("glasses", 1.0, kind="dh")  # Asyrp's learned raw dh: one dh per timestep

# %% [markdown]
# ### Exercise 03.3: Asyrp's sampler loop
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵🔵
#
# You should spend up to 20-30 minutes on this exercise.
# ```
#
# Lecture 03's exercise 03.1 wrote one asymmetric step; now the whole reverse process. Write
# `asyrp_sample(model, x_T, steps, editor, t_edit)`: DDIM's loop (exercise 02.3) over
# `ll.ddim_timesteps(model, steps)` where every step with $t \ge t_\text{edit}$ takes Asyrp's step
# (its asymmetric step): $\Delta h$ = `editor(t, ll.h_of(model, x, t))`, the edited $\tilde\epsilon$ =
# `ll.eps_of(model, x, t, dh=dh)` in $P_t$ (clipped to $[-1, 1]$), the unedited $\epsilon$ in $D_t$;
# the steps below $t_\text{edit}$ are plain DDIM. Each step goes from $t$ to $t - T/\text{steps}$
# ($T$ = 1000, `T // steps`); the last step starts at $t = 0$, and its "previous" $\bar\alpha$ (at
# $t < 0$) is `model.scheduler.final_alpha_cumprod`. Return $x_0$. The check runs it with the glasses
# editor, 10 steps and $t_\text{edit} = 500$ against `ll.ddim_sample(model, x_T, 10, dh=editor,
# t_edit=500)`, and names the usual slips (the symmetric step, edits below $t_\text{edit}$, no clip).

# %%
def asyrp_sample(model, x_T, steps, editor, t_edit):
    # YOUR CODE HERE: DDIM's loop; at t >= t_edit, P_t from the edited eps, D_t from the unedited one
    return None


# %%
ex.check_asyrp_loop(model, asyrp_sample, glasses_dh, t_edit=500)

# %% [markdown]
# ### Mini-project 03.4: does the symmetric step's cancellation grow with the number of steps?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# The lecture says that putting the edited $\epsilon$ into both terms cancels part of the edit, and
# all of it in the limit of small steps. Test that on whole trajectories: for a few faces, sample
# with the glasses editor ($t_\text{edit} = 200$) asymmetrically and symmetrically (`asymmetric=False`)
# at 5, 10 and 20 steps, and measure how far each moves $x_0$ from the unedited sample. Does the
# symmetric share shrink with more steps, and does the probe still see glasses? There is no check:
# one way, with its numbers, is in the solutions.

# %%
# YOUR CODE HERE
