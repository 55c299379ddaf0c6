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
# Notebooks 03-06 built edit directions four ways, following three papers: a **mean difference** of
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
#    its $\pm v_i$, its editor), and the one that moves the attribute furthest towards the goal at
#    strength 1 is kept. That is what a user of the method would do: look at what each component
#    does and keep the best.
# 2. *Scale* it to a common **pixel budget**, an RMS change of 0.15 (pixels in [-1, 1]), so that no
#    method wins by simply editing more.
# 3. *Measure* it on 64 held-out samples that the choice never saw: the change towards the goal, the
#    fraction of the faces that can move which moved the right way, the leakage into the other
#    attributes, the on-manifold error, and the wall time.
#
# A **random** method is in the comparison as the baseline: ten candidates ($\pm$ five Gaussian
# h-directions), as many as Haas PCA offers, so that the choice on the calibration set favours it as
# much as any method. A method that does not beat it has shown nothing.
#
# **Budget.** The comparison takes about half an hour of one CPU core (the pullbacks of 80 faces and
# x-space guidance dominate), too long for a notebook. So it was run twice, with different seeds
# (calibration faces, held-out faces, and the methods' own random draws), by
# `python benchmarks/compare_methods.py --seed S` (the command is in `data/compare/README.md`); this
# notebook reads the shipped results and re-runs one row live at the end to show that they are what
# the code gives.

# %%
# %config InlineBackend.figure_format = "png"
import time
import matplotlib.pyplot as plt
import pandas as pd
import torch
from scipy.stats import spearmanr
import latentlab as ll
from latentlab.compare import compare_methods, intervals, paired_test, shipped_results, standard_methods
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
# One row per attribute and method (seed 0): which candidate the method chose (`choice`), the
# strength that met the budget (`c`), the mean change of the attribute towards the goal over the
# held-out faces that can move (`change`, attribute units: smile in [-1, 1], glasses a probability,
# hair colour in [0, 1]), the right-way fraction `k / n_movable`, the worst leakage (the other
# attribute that moved most, mean |change| as a fraction of its range), the pixel change actually
# reached on the held-out set, the on-manifold error after the edit (the probe's re-render error;
# before any edit it is printed in `manifold_before`) and the seconds the whole method took.

# %%
# NBVAL_CHECK_OUTPUT
cols = ["method", "choice", "c", "change", "right_way", "k", "n_movable", "worst_leak", "worst_leak_attr",
        "pixel_change", "manifold_after", "seconds"]
for attr, t in table.groupby("attr", sort=False):
    print(f"--- {attr} (goal {ll.ATTRIBUTES[attr].high:g}), manifold error before editing "
          f"{t.manifold_before.iloc[0]:.3f}")
    print(t.sort_values("change", ascending=False)[cols].round(3).to_string(index=False), "\n")

# %% [markdown]
# ## 2. The figure: changes with their uncertainty, in both runs
#
# Each dot is a method's mean change towards the goal over the movable held-out faces, with a 95 %
# bootstrap interval over those faces (2,000 resamples); the two markers are the two runs (other
# faces, other draws). The grey band is the random baseline's interval in the first run.

# %%
iv = pd.concat([intervals(runs[s][1]).assign(seed=s) for s in runs], ignore_index=True)
show_comparison(iv, baseline="random", scale=1.25);

# %% [markdown]
# ## 3. Which methods beat the random baseline, and does it replicate?
#
# On the same held-out faces, each method against the random baseline: Wilcoxon's signed-rank test on
# the per-face change towards the goal (two-sided; `paired_test`). There are 10 methods for smile and
# glasses and 8 for hair colour (no editor is shipped for it), so **28 tests** in the first run, and
# a method counts as a *discovery* only at $p < 0.05 / 28$ (Bonferroni) with a positive difference.
# The second run, on other faces and other draws, then tests **only the discoveries**, each at
# $0.05 / (\text{number of discoveries})$: a discovery that does not pass there is not replicated.
# The right-way counts (method vs random, of the movable faces) are printed beside, as a second look.

# %%
# NBVAL_CHECK_OUTPUT
tests = [(attr, m) for attr in table.attr.unique() for m in table[table.attr == attr].method if m != "random"]
res = {(attr, m): [paired_test(runs[s][1], attr, m, "random") for s in runs] for attr, m in tests}
alpha = 0.05 / len(tests)
found = [key for key, (r0, _) in res.items() if r0["p_wilcoxon"] < alpha and r0["mean_diff"] > 0]
alpha2 = 0.05 / len(found)
print(f"run 1: {len(tests)} tests at alpha = 0.05 / {len(tests)} = {alpha:.4f}: {len(found)} discoveries; "
      f"run 2 tests those at 0.05 / {len(found)} = {alpha2:.4f}\n")
print(f"{'attribute':10s} {'method':25s} | run 1: change - random, p, right way | run 2: the same | verdict")
for (attr, m), (r0, r1) in res.items():
    if (attr, m) in found:
        verdict = "replicated" if r1["p_wilcoxon"] < alpha2 and r1["mean_diff"] > 0 else "NOT replicated"
    else:
        verdict = "-"
    print(f"{attr:10s} {m:25s} | {r0['mean_diff']:+.3f} {fmt_p(r0['p_wilcoxon']):>7s} {r0['k_a']:2d} vs {r0['k_b']:2d} "
          f"of {r0['n']} | {r1['mean_diff']:+.3f} {fmt_p(r1['p_wilcoxon']):>7s} {r1['k_a']:2d} vs {r1['k_b']:2d} of "
          f"{r1['n']} | {verdict}")

# %% [markdown]
# ## 4. Is the winner shown to be better than the runner-up?
#
# Per attribute, the method with the largest change against the second: three more tests, each at
# $0.05 / 3$.

# %%
# NBVAL_CHECK_OUTPUT
for attr, t in table.groupby("attr", sort=False):
    first, second = t.sort_values("change", ascending=False).method.iloc[:2]
    r = paired_test(samples, attr, first, second)
    p = r["p_wilcoxon"]
    print(f"{attr:10s} {first} vs {second}: change difference {r['mean_diff']:+.3f} (n = {r['n']}), Wilcoxon p "
          f"{fmt_p(p)} -> {'shown' if p < 0.05 / 3 else 'not shown'} at 0.05 / 3")

# %% [markdown]
# ## 5. Does a second run agree?
#
# The second run draws other calibration faces, other held-out faces, and other random draws inside
# the methods (trajectories for PCA, mean difference and supervised directions, the paired renders,
# the reference face of the pullback, the random baseline). If the ranking were noise, the two runs
# would not agree. Spearman's rank correlation of the methods' changes between the two runs, and the
# winner in each:

# %%
# NBVAL_CHECK_OUTPUT
t0, t1 = (runs[s][0].set_index(["attr", "method"]) for s in runs)
for attr in table.attr.unique():
    a, b = t0.loc[attr], t1.loc[attr].reindex(t0.loc[attr].index)
    rho = spearmanr(a.change, b.change).statistic
    same = (a.choice == b.choice).sum()
    print(f"{attr:10s} rank correlation {rho:+.2f} over {len(a)} methods; winner {a.change.idxmax()} / "
          f"{b.change.idxmax()}; same candidate chosen by {same} of {len(a)} methods")

# %% [markdown]
# ## 6. The cost: leakage, the manifold, and time
#
# A larger change is only better if it does not buy itself with leakage into other attributes or by
# leaving the data manifold. Per method, averaged over the attributes it was run on (seed 0): the
# worst leakage, the pixel change actually reached (the budget is 0.15), the on-manifold error after
# the edit as a multiple of the unedited faces' (1 = as close to the faces world as before), and the
# seconds the whole method took on one busy core (its candidates, the choice, the scaling and the
# held-out edits; work shared between attributes, such as the trajectories, is charged to the first).

# %%
# NBVAL_CHECK_OUTPUT
cost = table.assign(manifold_ratio=table.manifold_after / table.manifold_before).groupby("method", sort=False).agg(
    worst_leak=("worst_leak", "mean"), pixel_change=("pixel_change", "mean"),
    manifold_ratio=("manifold_ratio", "mean"), seconds=("seconds", "mean")).round(2)
print(cost.sort_values("seconds").to_string())

# %% [markdown]
# ## 7. The shipped numbers are what the code gives
#
# One row of the table, re-run live with the same seeds: Asyrp's learned $f_t$ for smile, chosen and
# scaled on the same 16 calibration faces and measured on the first 16 of the same held-out faces
# (all 64 would take too long here). The strength it finds and each face's change must equal the
# shipped ones.

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
# run 1 has 27-60 movable held-out faces per attribute, run 2 33-63):
#
# - **Where a learned editor exists, it wins, by far.** Smile: Asyrp f and dh change it by +0.77 and
#   +0.73 in run 1 (+0.57 and +0.61 in run 2), the next method by +0.16 (run 1) or +0.02 (run 2);
#   glasses: dh 0.96 and f 0.93 (run 2: 0.91 and 0.88) against 0.63 (0.58) for the paired direction. All four
#   beat the random baseline in both runs. Between the two editors: for glasses dh beats f in run 1
#   (+0.037, p = 0.0013), for smile the two are not told apart (p = 0.46). **Caveat:** the editors
#   were trained on this probe's gradients, so the instrument that scores them is their training
#   loss; the held-out faces are new, the probe is not. The other methods use the probe at most to
#   label samples (mean difference, supervised) or to pick a candidate. And their training (about 75
#   s per editor on an idle core, `tools/train_editors.sh`) is not in the seconds column.
# - **Glasses, a large local object, is found by many methods:** six of ten beat random in both runs,
#   the paired and mean-difference directions and both of Park's pullback rules among them (right
#   way 4-19 of 27-33 faces, against 0-1 for random). Haas's PCA and Jacobian directions are not
#   discoveries.
# - **Hair colour, a global colour change, is easy even for random directions:** the best of ten
#   random directions moves it the right way on 38 of 60 (42 of 61) faces. The paired and supervised
#   directions beat that in both runs; the mean difference did in run 1 and just missed in run 2
#   (p = 0.0046 against 0.0038). No unsupervised direction (Haas PCA and Jacobian, Park's three)
#   beats random for hair colour; in run 2 Haas's Jacobian and Park's guidance directions are even
#   *worse* than random (p < 1e-4 and 0.0002).
# - **Smile, a 2-pixel local shape, defeats every unlearned method.** Haas's Jacobian and PCA
#   directions were discoveries in run 1 (p = 0.0008 and 0.0007) and vanished in run 2 (p = 0.08 and
#   0.27): with 28 tests, 16 calibration faces and a choice among up to 10 candidates, a single run
#   is not enough, which is why this notebook counts a method only when a second run on other faces
#   confirms it. The paired and supervised directions move smile the wrong way in both runs (change
#   -0.16 and -0.09 in run 1, -0.12 and -0.05 in run 2).
# - **No method is more selective than a random push of the same size.** The worst leakage into
#   another attribute (run 1, averaged over the attributes) is 0.17-0.23 of its range for every
#   method and 0.15 for the random one; the edits stay about as close to the faces world as the
#   unedited samples (on-manifold error 1.0-1.2 times, random 0.9), except Haas's supervised
#   directions (2.1 times).
# - **The ranking is stable, the chosen component is not.** Rank correlations between the runs are
#   0.77-0.92 and the winner is the same method family for every attribute; but the candidate a
#   method chooses differs between runs for about half of the methods (e.g. Park's $v_1$ in one run,
#   $v_3$ in the other): for unsupervised methods, "the component that means glasses" is not a
#   stable notion on this model.
#
# **What this comparison cannot show.** The budget is met only approximately (pixel change 0.08-0.19
# where 0.15 was asked; Haas supervised reached 0.09 for glasses in run 2 and Haas Jacobian 0.08 for
# hair in run 2, so their changes are understated there); one budget, one probe and a 4 x 4
# bottleneck are not the papers' 256 px models; 16 calibration faces give each method one choice;
# and a method a user would tune by eye (the papers' figures) may do better than the rule used here.
# `python benchmarks/compare_methods.py --n-test 256 --seed 2` measures at larger n.
