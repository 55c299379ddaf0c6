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
# # 10 · Which method finds the best direction?
#
# Notebooks 03-06 built edit directions with ten methods from three papers: a **mean difference** of
# the sampler's own h and a **paired** ground-truth direction (notebook 03), Asyrp's **learned
# editors**, raw $\Delta h_t$ and the implicit $f_t(h_t)$ (Kwon et al., notebook 04), Haas et al.'s
# **PCA**, **Jacobian** and **supervised** directions (notebook 05), and Park et al.'s **pullback**
# $v_i$, applied by x-space guidance or by moving $x_t$, and **transported** from a reference face
# (notebook 06). Each paper shows its own method on its own examples. None compares methods on
# ground truth, because on real faces there is none. The faces world has it: the probe reads every
# attribute of every sample.
#
# **The protocol** (`latentlab.compare`), the same for every method:
# 1. *Choose* on a calibration set of 16 samples: each method offers its candidates (its components,
#    its $\pm v_i$, its editor); each candidate is scaled to a common **pixel budget**, an RMS change
#    of 0.15 (pixels in [-1, 1]), and the one that moves the attribute furthest towards the goal at
#    that size is kept. That is what a user of the method would do: look at what each component does
#    and keep the best. (Comparing candidates at the same size matters: a method's "strength 1" is
#    about 0.3 % of the budget for Haas's Jacobian directions and about twice the budget for Park's
#    $x_t + v_i$.)
# 2. *Scale* the chosen one until its pixel change on the calibration set is within 2 % of the
#    budget, so that no method wins by simply editing more.
# 3. *Measure* it on 64 held-out samples that the choice never saw: the change towards the goal, the
#    fraction of the faces that can move which moved the right way, the leakage into the other
#    attributes, the on-manifold error, and the wall time.
#
# A **random** method is in the comparison as the baseline: ten candidates ($\pm$ five Gaussian
# h-directions), as many as Haas PCA offers, chosen and scaled by the same rule. A method that does
# not beat it has shown nothing. It edits h asymmetrically at every step, like the mean difference,
# the paired direction and the Asyrp editors; Haas's methods use the symmetric step and Park's edit
# $x_t$ once, so for those it is matched in size and in the choice among ten candidates, not in the
# sampling process. A p-value "against random" is against this one draw of random directions.
#
# **Budget.** The comparison takes about half an hour of one CPU core per run (the three
# pullback-based Park methods about a third of it, the random baseline's ten candidates about a
# sixth), too long for a notebook. So it was run twice, with
# different seeds (calibration faces, held-out faces, and the methods' own random draws), by
# `python benchmarks/compare_methods.py --seed S` (the command is in `data/compare/README.md`); this
# notebook reads the shipped results and re-runs one row live at the end.

# %%
# %config InlineBackend.figure_format = "png"
import time
import matplotlib.pyplot as plt
import pandas as pd
import torch
from scipy.stats import spearmanr
import latentlab as ll
from latentlab.compare import (compare_methods, intervals, manifold_shift, paired_test, shipped_results,
                               standard_methods)
from latentlab.plot import show_comparison
plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # two cores shared with background jobs: one thread is the fastest here
pd.set_option("display.width", 160)
fmt_p = lambda p: "< 1e-4" if p < 1e-4 else f"{p:.4f}"  # noqa: E731

runs = {seed: shipped_results(seed) for seed in (0, 1)}  # seed -> (table, per-sample measurements)
table, samples = runs[0]

# %% [markdown]
# ## 1. The table
#
# One row per attribute and method (run 1, seed 0): which candidate the method chose (`choice`), the
# strength that met the budget (`c`, in each method's own units), the mean change of the attribute
# towards the goal over the held-out faces that can move (`change`, attribute units: smile in
# [-1, 1], glasses a probability, hair colour in [0, 1]), the right-way fraction `k / n_movable`, the
# worst leakage (the other attribute that moved most, mean |change| as a fraction of its range), the
# pixel change reached on the held-out set (the budget is 0.15), the on-manifold error after the edit
# as a multiple of the unedited faces' (medians; 1 = as close to the faces world as before), and the
# seconds the method took.

# %%
# NBVAL_CHECK_OUTPUT
cols = ["method", "choice", "c", "change", "right_way", "k", "n_movable", "worst_leak", "worst_leak_attr",
        "pixel_change", "manifold", "seconds"]
shown = table.assign(manifold=table.manifold_after / table.manifold_before)
for attr, t in shown.groupby("attr", sort=False):
    print(f"--- {attr} (goal {ll.ATTRIBUTES[attr].high:g})")
    print(t.sort_values("change", ascending=False)[cols].round(3).to_string(index=False), "\n")

# %% [markdown]
# ## 2. The figure: changes with their uncertainty, in both runs
#
# Each dot is a method's mean change towards the goal over the movable held-out faces, with a 95 %
# bootstrap interval over those faces (2,000 resamples); the two markers are the two runs (seed 0 is
# run 1, seed 1 run 2: other faces, other draws). The grey band is the random baseline's interval in the first run. The
# intervals are each method's own; two methods are measured on the same faces, so their difference
# is judged by the paired tests below, not by whether their intervals overlap.

# %%
iv = pd.concat([intervals(runs[s][1]).assign(seed=s) for s in runs], ignore_index=True)
show_comparison(iv, baseline="random", scale=1.25);

# %% [markdown]
# ## 3. Which methods beat the random baseline, and does it replicate?
#
# On the same held-out faces, each method against the random baseline (`paired_test`, two-sided):
# for smile and hair colour Wilcoxon's signed-rank test on the per-face change towards the goal; for
# glasses, a binary attribute whose "change" is a probability, McNemar's exact test on the faces that
# moved the right way (a rank test there can pass on many tiny nudges of the probability without a
# single face gaining glasses). There are 10 methods for smile and glasses and 8 for hair colour (no
# editor is shipped for it), so **28 tests** in the first run, and a method counts as a *discovery*
# only at $p < 0.05 / 28$ (Bonferroni) with a positive difference. The second run, on other faces
# with every method's draws made again, then tests **only the discoveries**, each at
# $0.05 / (\text{number of discoveries})$: a discovery that does not pass there is not replicated.
# The right-way counts (method vs random, of the movable faces) are printed beside.

# %%
# NBVAL_CHECK_OUTPUT
tests = [(attr, m) for attr in table.attr.unique() for m in table[table.attr == attr].method if m != "random"]
res = {(attr, m): [paired_test(runs[s][1], attr, m, "random") for s in runs] for attr, m in tests}
alpha = 0.05 / len(tests)
found = [key for key, (r0, _) in res.items() if r0["p"] < alpha and r0["mean_diff"] > 0]
alpha2 = 0.05 / len(found)
print(f"run 1: {len(tests)} tests at alpha = 0.05 / {len(tests)} = {alpha:.4f}: {len(found)} discoveries; "
      f"run 2 tests those at 0.05 / {len(found)} = {alpha2:.4f}\n")
print(f"{'attribute':10s} {'method':25s} | test     | run 1: change - random, p, right way | run 2: the same | verdict")
for (attr, m), (r0, r1) in res.items():
    if (attr, m) in found:
        verdict = "replicated" if r1["p"] < alpha2 and r1["mean_diff"] > 0 else "NOT replicated"
    else:
        verdict = "-"
    print(f"{attr:10s} {m:25s} | {r0['test']:8s} | {r0['mean_diff']:+.3f} {fmt_p(r0['p']):>7s} {r0['k_a']:2d} vs "
          f"{r0['k_b']:2d} of {r0['n']} | {r1['mean_diff']:+.3f} {fmt_p(r1['p']):>7s} {r1['k_a']:2d} vs {r1['k_b']:2d} "
          f"of {r1['n']} | {verdict}")

# %% [markdown]
# ## 4. Is the winner better than the runner-up?
#
# Per attribute, the two methods with the largest change in run 1 are named there and compared on
# run 2's faces (the test as above), so that the pair is not picked and tested on the same data:
# three tests, each at $0.05 / 3$.

# %%
# NBVAL_CHECK_OUTPUT
for attr, t in table.groupby("attr", sort=False):
    first, second = t.sort_values("change", ascending=False).method.iloc[:2]
    r = paired_test(runs[1][1], attr, first, second)
    print(f"{attr:10s} {first} vs {second}, on run 2's faces: change difference {r['mean_diff']:+.3f} (n = {r['n']}), "
          f"right way {r['k_a']} vs {r['k_b']}, {r['test']} p {fmt_p(r['p'])} -> "
          f"{'shown' if r['p'] < 0.05 / 3 else 'not shown'} at 0.05 / 3")

# %% [markdown]
# ## 5. Does a second run rank the methods alike?
#
# The second run draws other calibration faces, other held-out faces, and other random draws inside
# the methods (trajectories for PCA, mean difference and supervised directions, the paired renders,
# the face whose Jacobian Haas's directions come from, the reference face of the pullback, the random
# directions). Spearman's rank correlation of the methods' changes between the two runs, with and
# without the two learned editors (which dominate smile and glasses), the winner in each run, and how
# often a method with several candidates chose the same one in both runs (a label such as "+pc_1" is
# the same rule, not the same vector: the draws behind it differ):

# %%
# NBVAL_CHECK_OUTPUT
t0, t1 = (runs[s][0].set_index(["attr", "method"]) for s in runs)
multi = ["Haas PCA", "Haas Jacobian", "Park pullback (guidance)", "Park pullback (move)", "Park transported", "random"]
for attr in table.attr.unique():
    a, b = t0.loc[attr], t1.loc[attr].reindex(t0.loc[attr].index)
    rho = spearmanr(a.change, b.change).statistic
    rest = ~a.index.str.startswith("Asyrp")
    rho_rest = spearmanr(a.change[rest], b.change[rest]).statistic
    same = sum(a.choice[m] == b.choice[m] for m in multi)
    print(f"{attr:10s} rank correlation {rho:+.2f} over {len(a)} methods, {rho_rest:+.2f} over the {rest.sum()} "
          f"without the editors; winner {a.change.idxmax()} / {b.change.idxmax()}; "
          f"same candidate in {same} of {len(multi)} multi-candidate methods")

# %% [markdown]
# ## 6. The cost: leakage, the manifold, and time
#
# A larger change is only better if it does not buy itself with leakage into other attributes or by
# leaving the data manifold. Per method, in both runs: the worst leakage averaged over the attributes
# it was run on, and its faces' on-manifold error after the edit as a multiple of before (each face
# counted once, its log ratio averaged over the attributes; the median over the faces), with
# Wilcoxon's test of after against before
# (11 methods per run, each at $0.05 / 22$; "higher" = the edit moved faces away from the faces
# world). The seconds (run 1) are the whole method on one core of
# a busy machine (its candidates, the choice, the scaling and the held-out edits; the mean per
# attribute; work shared between attributes, such as the trajectories, is charged to the first
# attribute run, smile); the same work took up to twice as long in one place as in another, so read
# them to a factor of 2.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for s in runs:
    t, smp = runs[s]
    leak = t.groupby("method", sort=False).worst_leak.mean().rename(f"leak run {s + 1}")
    man = manifold_shift(smp).set_index("method")
    rows += [leak, man.median_ratio.rename(f"manifold run {s + 1}"),
             man.apply(lambda r: "-" if r.p >= 0.05 / 22 else "higher" if r.median_ratio > 1 else "lower",
                       axis=1).rename(f"shift run {s + 1}")]
cost = pd.concat(rows + [table.groupby("method", sort=False).seconds.mean().rename("seconds run 1")], axis=1)
print(cost.round(2).sort_values("seconds run 1").to_string())

# %% [markdown]
# ## 7. One row, re-run live
#
# One row of the table, re-run here with the same seeds: Asyrp's learned $f_t$ for smile, chosen and
# scaled on the same 16 calibration faces and measured on the first 16 of the same held-out faces
# (all 64 would take too long here). Its strength and each face's change must equal the shipped ones.
# (The two Asyrp editors are the only methods with no random draws of their own; the others' draws
# are seeded the same way, but are not re-run here.)

# %%
# NBVAL_CHECK_OUTPUT
model, probe = ll.load_model(), ll.load_probe()
x_calib = torch.randn(16, *model.sample_shape, generator=torch.Generator().manual_seed(11))
x_test = torch.randn(64, *model.sample_shape, generator=torch.Generator().manual_seed(999))[:16]
methods = standard_methods(model, probe=probe, steps=20, seed=0)
start = time.perf_counter()
live, live_samples = compare_methods(model, {"Asyrp f": methods["Asyrp f"]}, {"smile": 1.0}, x_calib, x_test,
                                     probe=probe, samples=True, progress=False)
shipped = table[(table.attr == "smile") & (table.method == "Asyrp f")].iloc[0]
ship = samples[(samples.attr == "smile") & (samples.method == "Asyrp f") & (samples["sample"] < 16)]
gap = (live_samples.change.to_numpy() - ship.change.to_numpy())
print(f"strength c: live {live.c.iloc[0]:.3f}, shipped {shipped.c:.3f}")
print(f"per-face change of the first 16 held-out faces equals the shipped one (to 0.001): {bool(abs(gap).max() < 1e-3)}")
print(f"right way, same faces: live {int(live_samples.right_way.sum())}, shipped {int(ship.right_way.sum())} of "
      f"{int(ship.movable.sum())} movable")

# %%
print(f"live run: {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## 8. Reading
#
# What the numbers above show, and no more (one model, one probe, 32 px faces, one pixel budget;
# 27-60 movable held-out faces per attribute in run 1, 33-63 in run 2; 11 discoveries of 28 tests in
# run 1, 6 of them replicated in run 2):
#
# - **Where a learned editor exists, it wins, by far.** Smile: Asyrp f and dh change it by +0.76 and
#   +0.72 in run 1 (+0.53 and +0.57 in run 2); the best unlearned method by +0.16 (run 1, Haas
#   Jacobian) or +0.08 (run 2, Haas PCA). Glasses: dh 0.96 and f 0.93 (run 2: 0.91 and 0.88) against
#   0.70 (0.67) for the paired direction. All four are replicated discoveries against random. Between
#   the two editors nothing is shown (run 2's faces: glasses p = 1.0, smile p = 0.06). **Caveat:** the
#   editors were trained on this probe's gradients, so the instrument that scores them is their
#   training loss; the held-out faces are new, the probe is not. The other methods use the probe at
#   most to label samples (mean difference, supervised) or to pick a candidate. Their training (under
#   2 minutes per editor on 2 cores, `tools/train_editors.sh`) is not in the seconds column.
# - **Glasses:** of the unlearned methods only the paired direction is a replicated discovery (19 of
#   27 and 22 of 33 faces gain glasses, against 1 and 0 for random). The mean difference and Haas's
#   supervised direction add glasses to 10-12 faces in both runs, but with 27 movable faces their run-1
#   p = 0.0039 misses the 0.0018 bar, so by this notebook's rule they are not shown; Park's pullback
#   rules add glasses to 3-6 faces (p >= 0.03).
# - **Hair colour, a global colour change, is moved even by random directions:** the best of ten moves
#   it the right way on 38 of 60 (39 of 61) faces. Six methods were discoveries in run 1; only Haas's
#   supervised direction replicated (+0.14 and +0.07 above random; 59 of 60 and 58 of 61 faces). The
#   paired and mean-difference directions stayed above random in run 2 (+0.04, p = 0.02 and 0.02), but
#   their p-values do not clear the replication bar (0.0045); Park transported, Haas Jacobian and Haas
#   PCA fell to or below random in mean change. In run 2 Park's two pullback rules are even below random (p = 0.0003 and 0.002, outside
#   the discovery scheme, so exploratory).
# - **Smile, a 2-pixel local shape, defeats every unlearned method:** none is a discovery in run 1
#   (the smallest p with a positive difference, Haas Jacobian's, is 0.0098 against 0.0018; the paired
#   and supervised directions are significantly *worse* than random, p < 1e-4 and 0.0001). Haas PCA beats random in run 2
#   (p = 0.0001) with another component (-pc_3 instead of -pc_1): one run's result, not a replication.
#   The paired direction moves smile the wrong way in run 1 (-0.19; 8 of 58 faces the right way).
#   The ranking of the unlearned methods and random for smile shows no sign of carrying over between
#   runs (rank correlation -0.21 over 9 methods; with 9 methods that is compatible with anything from
#   about -0.8 to +0.5).
# - **Leakage is no smaller for any method than for random.** Averaged per method, the worst leakage
#   into another attribute is 0.15-0.29 of its range; the random baseline sits at 0.16 in run 1 (the
#   lowest of all) and 0.23 in run 2 (among the highest): the runs disagree, and no method is shown to
#   be more selective than a random push of the same size.
# - **Leaving the faces world:** counting each face once, only Haas's supervised direction raises the
#   on-manifold error in both runs at 0.05 / 22 (2.2 and 1.15 times the unedited faces'); the
#   Jacobian (1.17 and 1.08, p = 0.003 and 0.004) and paired (1.16 and 1.15, p = 0.014 and 0.004)
#   directions raise it too, but that is not shown at this bar; for the editors, the mean difference
#   and Park's three methods no shift is shown.
# - **The choice of component is not stable.** The rank correlation of all methods between the runs is
#   0.92 for glasses and 0.85 for hair colour, 0.33 for smile; but the six methods that choose among
#   candidates chose the same label in both runs in 2 of 18 cases (2 of 15 without random; both for
#   smile, Park's two pullback rules): with the draws redone, which candidate a method picks does not
#   carry over from one run to the next.
#
# **What this comparison cannot show.** The budget is met on the calibration faces (within 2 %), and
# reached 0.11-0.18 on the held-out faces, so some rows edit up to a quarter more or less than the
# budget (the largest 1.6 times the smallest); the
# random baseline is matched in process only to the asymmetric h-space methods, and it is one draw;
# one probe, one budget and a 4 x 4 bottleneck are not the papers' 256 px models; 16 calibration
# faces give each method one choice; and a method a user would tune by eye (the papers' figures) may
# do better than the rule used here. `python benchmarks/compare_methods.py --n-test 256 --seed 2`
# measures at larger n.

# %% [markdown]
# ## Exercises
#
# Each exercise ends with a check that says what is right, or gives a hint.
#
# **Exercise 1: an interval by hand.** Section 2's figure draws each method's mean change with a 95 %
# bootstrap interval. Compute one yourself, for Haas's PCA directions and hair colour in run 1
# (`samples`): the mean `change` over the faces that can move (`movable`), then resample those faces
# with replacement 2,000 times, average each resample, and take the 2.5 % and 97.5 % quantiles of the
# averages. Does the interval exclude 0?

# %%
from latentlab import exercises as ex
import numpy as np
rows = samples[(samples.attr == "hair_color") & (samples.method == "Haas PCA")]
# YOUR CODE HERE: the mean change over the movable faces, and the bootstrap interval
mean, lo, hi = None, None, None

# %%
ex.check_bootstrap_interval(samples, "hair_color", "Haas PCA", mean, lo, hi)

# %% [markdown]
# **Exercise 2: which methods beat random for hair colour?** Redo section 3's test for one attribute
# yourself: for every method of hair colour in run 1, the per-face change minus random's on the same
# faces, Wilcoxon's signed-rank test (`scipy.stats.wilcoxon`), and keep the methods with a positive
# mean difference and $p < 0.05 / 28$. Which ones would you have kept at an uncorrected 0.05?

# %%
from scipy.stats import wilcoxon
# YOUR CODE HERE: a set of method names
beat_random = None

# %%
ex.check_beats_random(samples, "hair_color", beat_random)

# %% [markdown]
# **Exercise 3: would one run have told you?** Section 5 correlates the two runs' rankings. For smile,
# compute Spearman's rank correlation of the methods' `change` between run 1 (`runs[0][0]`) and run 2
# (`runs[1][0]`) *without* the two Asyrp editors (random included, as in section 5), matching the
# methods by name. What does the number
# say about choosing an unlearned method for smile from a single run?

# %%
# YOUR CODE HERE
rho = None

# %%
ex.check_rank_correlation(runs[0][0], runs[1][0], "smile", rho)
