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

# %%

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
# attribute of every sample. Every method runs with its paper's settings, written once in the
# registry `latentlab.methods.METHODS`.
#
# **The protocol** (`latentlab.compare`), the same for every method:
# 1. *Choose* on a calibration set of 16 samples: each method offers its candidates (its components,
#    its $\pm v_i$, its editor); each candidate is scaled to a common **pixel budget**, an RMS change
#    of 0.15 (pixels in [-1, 1]), and the one that moves the attribute furthest towards the goal at
#    that size, as the probe reads it, is kept. That is what a user of the method would do: look at
#    what each component does and keep the best. (Comparing candidates at the same size matters: a
#    method's "strength 1" is about 0.3 % of the budget for Haas's Jacobian directions and about
#    twice the budget for Park's $x_t + v_i$.)
# 2. *Scale* the chosen one until its pixel change on the calibration set is within 2 % of the
#    budget, so that no method wins by simply editing more.
# 3. *Measure* it on 64 held-out samples that the choice never saw: the change towards the goal, the
#    fraction of the faces that can move which moved the right way, the leakage into the other
#    attributes, the on-manifold error, and the wall time.
#
# **A matched random baseline.** A method that does not beat random directions has shown nothing;
# but the best of ten random pushes, chosen on the calibration faces, is a harder opponent there
# than one random push. So the random baseline is run once per number of candidates n that a method
# offers: `random (1)` for the one-candidate methods (mean difference, paired, the two editors, the
# supervised direction), `random (6)` for Haas's Jacobian and Park's three rules ($\pm$ three
# directions), `random (10)` for Haas PCA ($\pm$ five components); each is n signed Gaussian
# h-directions, chosen and scaled by the same rule. The table's `baseline` column names each
# method's match. Random edits h asymmetrically at every step, like the mean difference, the paired
# direction and the Asyrp editors; Haas's methods use the symmetric step and Park's edit $x_t$ once,
# so for those it is matched in size and in the number of candidates, not in the sampling process.
#
# **Two probes.** The probe that chooses the candidates also trained Asyrp's editors: its gradients
# were their loss, so scoring the editors with it is scoring them with their own training objective.
# A second, independent **judge** probe (another architecture, another seed, renders the probe never
# saw; `load_probe(judge=True)`) reads every held-out edit as well. It never chooses anything.
#
# **Budget.** The comparison takes over an hour of one CPU core per run (75 and 73 minutes here, the
# two runs side by side on a 2-core machine busy with other jobs), too long for a notebook. So it was
# run twice, with different seeds (calibration faces, held-out faces, and the methods' own
# random draws), by `python benchmarks/compare_methods.py --seed S` (the command is in
# `data/compare/README.md`); this notebook reads the shipped results and re-runs one row live at the
# end.

# %%
# %config InlineBackend.figure_format = "png"
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
from scipy.stats import spearmanr

import latentlab as ll
from latentlab.compare import compare_methods, read_by_judge, shipped_results
from latentlab.course.plot import show_comparison
from latentlab.methods import Workbench
from latentlab.stats import intervals, manifold_shift, paired_test

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # two cores shared with background jobs: one thread is the fastest here
pd.set_option("display.width", 100)
fmt_p = lambda p: "< 1e-4" if p < 1e-4 else f"{p:.4f}"  # noqa: E731

runs = {seed: shipped_results(seed) for seed in (0, 1)}  # seed -> (table, per-sample measurements)
table, samples = runs[0]
baseline = {(r.attr, r.method): r.baseline for r in table.itertuples() if r.baseline}  # matched random rows
judged = {s: read_by_judge(runs[s][1]) for s in runs}  # the same edits, as the judge read them

# %% [markdown]
# ## 1. The table
#
# One row per attribute and method (run 1, seed 0): how many candidates the method offered (`n`),
# which one it chose, the strength that met the budget (`c`, in each method's own units), the mean
# change of the attribute towards the goal over the held-out faces that can move (`change`, attribute
# units: smile in [-1, 1], glasses a probability, hair colour in [0, 1]) and how many of them moved
# the right way (`k/n`), first as the probe reads it, then as the judge does (its own reading decides
# which faces can move, so its `n` may differ); then the worst leakage (the other attribute that
# moved most, mean |change| as a fraction of its range, by the probe), the pixel change reached on
# the held-out set (the budget is 0.15), and the on-manifold error after the edit as a multiple of
# the unedited faces' (medians; 1 = as close to the faces world as before).

# %%
# NBVAL_CHECK_OUTPUT
def kn(k, n):
    return f"{k}/{n}"


shown = pd.DataFrame({
    "attr": table.attr, "method": table.method, "n": table.candidates,
    "choice": table.choice.where(table.candidates > 1, "-"), "c": table.c,
    "change": table.change, "k/n": [kn(*x) for x in zip(table.k, table.n_movable)],
    "judge": table.judge_change, "k/n ": [kn(*x) for x in zip(table.judge_k, table.judge_n_movable)],
    "leak": table.worst_leak, "pixels": table.pixel_change,
    "manifold": table.manifold_after / table.manifold_before})
for attr, t in shown.groupby("attr", sort=False):
    print(f"--- {attr} (goal {ll.ATTRIBUTES[attr].high:g})")
    print(t.drop(columns="attr").sort_values("change", ascending=False).round(3).to_string(index=False), "\n")

# %% [markdown]
# ## 2. The figure: changes with their uncertainty, in both runs
#
# Each dot is a method's mean change towards the goal over the movable held-out faces, read by the
# probe, with a 95 % bootstrap interval over those faces (2,000 resamples); the two markers are the
# two runs (seed 0 is run 1, seed 1 run 2: other faces, other draws). The grey band is the
# one-candidate random baseline's interval in the first run, the match of five of the ten methods.
# The intervals are each method's own; two methods are measured on the same faces, so their
# difference is judged by the paired tests below, not by whether their intervals overlap.

# %%
iv = pd.concat([intervals(runs[s][1]).assign(seed=s) for s in runs], ignore_index=True)
show_comparison(iv, baseline="random (1)", scale=1.25);

# %% [markdown]
# ## 3. Which methods beat their matched random baseline, and does it replicate?
#
# On the same held-out faces, each method against the random row with as many candidates
# (`paired_test`, two-sided): for smile and hair colour Wilcoxon's signed-rank test on the per-face
# change towards the goal; for glasses, a binary attribute whose "change" is a probability,
# McNemar's exact test on the faces that moved the right way (a rank test there can pass on many tiny
# nudges of the probability without a single face gaining glasses). There are 10 methods for smile
# and glasses and 8 for hair colour (no editor is shipped for it), so **28 tests** in the first
# run, and a method counts as a *discovery* only at $p < 0.05 / 28$ (Bonferroni) with a positive
# difference. The second run, on other faces with every method's draws made again, then tests
# **only the discoveries**, each at $0.05 / (\text{number of discoveries})$: a discovery that does
# not pass there is not replicated. Per run: the change minus the baseline's, p, and the right-way
# counts (method vs baseline, of the movable faces); `n` is the number of candidates of the method
# and of its baseline.

# %%
# NBVAL_CHECK_OUTPUT
def discoveries(readings):
    """Section 3's scheme on per-sample readings {seed: samples}: run 1's tests, run 2's replications."""
    res = {key: [paired_test(readings[s], *key, b) for s in readings] for key, b in baseline.items()}
    found = [key for key, (r0, _) in res.items() if r0["p"] < 0.05 / len(res) and r0["mean_diff"] > 0]
    verdict = {key: "-" if key not in found else "replicated" if r1["p"] < 0.05 / len(found)
               and r1["mean_diff"] > 0 else "NOT replicated" for key, (_, r1) in res.items()}
    return res, found, verdict


def line(r):
    return f"{r['mean_diff']:+.3f} {fmt_p(r['p']):>7s} {r['k_a']:2d} vs {r['k_b']:2d}"


res, found, verdict = discoveries({s: runs[s][1] for s in runs})
print(f"run 1: {len(res)} tests at 0.05 / {len(res)} = {0.05 / len(res):.4f}: {len(found)} discoveries; "
      f"run 2 tests those at 0.05 / {len(found)} = {0.05 / len(found):.4f}")
for attr in table.attr.unique():
    r0, r1 = next(r for (a, _), r in res.items() if a == attr)
    print(f"\n--- {attr}: {r0['test']}, {r0['n']} and {r1['n']} movable faces")
    print(f"{'method':24s}  n | {'run 1':23s} | {'run 2':23s} | verdict")
    for (a, m), (r0, r1) in res.items():
        if a == attr:
            n = baseline[a, m].split("(")[1][:-1]
            print(f"{m:24s} {n:>2s} | {line(r0)} | {line(r1)} | {verdict[a, m]}")

# %% [markdown]
# **The judge's reading.** The same edits, read by the judge: each method's change as both probes
# read it, and their ratio (judge / probe; none where the probe reads less than 0.02), then the
# scheme above again on the judge's readings (its own movable faces, its own right-way counts),
# verdict beside verdict. Where the two probes agree, the finding belongs to the edit; where only
# the probe sees it, it may belong to the probe.

# %%
# NBVAL_CHECK_OUTPUT
res_j, found_j, verdict_j = discoveries(judged)
tables = [runs[s][0].set_index(["attr", "method"]) for s in runs]
print(f"judge: {len(found_j)} discoveries in run 1 (probe: {len(found)})\n")
ratio = lambda p, j: f"{j / p:5.2f}" if abs(p) >= 0.02 else "    -"  # noqa: E731  (no ratio of ~0)
short = {"replicated": "R", "NOT replicated": "N", "-": "-"}
print("verdict, probe / judge: R a replicated discovery, N a discovery not replicated, - no discovery")
for attr in table.attr.unique():
    print(f"--- {attr:20s} | run 1: probe  judge ratio | run 2: probe  judge ratio | verdict")
    for (a, m) in res:
        if a == attr:
            (p0, j0), (p1, j1) = ((t0.loc[(a, m), "change"], t0.loc[(a, m), "judge_change"]) for t0 in tables)
            print(f"{m:24s} | {p0:+.3f} {j0:+.3f} {ratio(p0, j0)} | {p1:+.3f} {j1:+.3f} {ratio(p1, j1)} | "
                  f"{short[verdict[a, m]]} / {short[verdict_j[a, m]]}")

# %% [markdown]
# ## 4. Is the winner better than the runner-up?
#
# Per attribute, the two methods with the largest change in run 1 are named there and compared on
# run 2's faces (the test as above), so that the pair is not picked and tested on the same data:
# three tests, each at $0.05 / 3$, read by the probe and by the judge.

# %%
# NBVAL_CHECK_OUTPUT
for attr, t in table.groupby("attr", sort=False):
    first, second = t.sort_values("change", ascending=False).method.iloc[:2]
    print(f"{attr}: {first} vs {second}, on run 2's faces")
    for who, smp in (("probe", runs[1][1]), ("judge", judged[1])):
        r = paired_test(smp, attr, first, second)
        print(f"  {who}: change difference {r['mean_diff']:+.3f} (n = {r['n']}), right way {r['k_a']} vs "
              f"{r['k_b']}, {r['test']} p {fmt_p(r['p'])} -> {'shown' if r['p'] < 0.05 / 3 else 'not shown'}")

# %% [markdown]
# ## 5. Does a second run rank the methods alike?
#
# The second run draws other calibration faces, other held-out faces, and other random draws inside
# the methods (trajectories for PCA, mean difference and supervised directions, the paired renders,
# the face whose Jacobian Haas's directions come from, the reference face of the pullback, the random
# directions). Spearman's rank correlation of the methods' changes between the two runs (the three
# random rows included), with and without the two learned editors (which dominate smile and
# glasses), the winner in each run, and how often a method with several candidates chose the same
# one in both runs (a label such as "+pc_1" is the same rule, not the same vector: the draws behind
# it differ):

# %%
# NBVAL_CHECK_OUTPUT
t0, t1 = (runs[s][0].set_index(["attr", "method"]) for s in runs)
for attr in table.attr.unique():
    a, b = t0.loc[attr], t1.loc[attr].reindex(t0.loc[attr].index)
    rho = spearmanr(a.change, b.change).statistic
    rest = ~a.index.str.startswith("Asyrp")
    rho_rest = spearmanr(a.change[rest], b.change[rest]).statistic
    multi = a.index[a.candidates > 1]
    same = sum(a.choice[m] == b.choice[m] for m in multi)
    print(f"{attr:10s} rank correlation {rho:+.2f} over {len(a)} rows, {rho_rest:+.2f} over the {rest.sum()} "
          f"without the editors;\n{'':10s} winner {a.change.idxmax()} / {b.change.idxmax()}; "
          f"same candidate in {same} of {len(multi)} multi-candidate rows")

# %% [markdown]
# ## 6. The cost: leakage, the manifold, and time
#
# A larger change is only better if it does not buy itself with leakage into other attributes or by
# leaving the data manifold. Per method, in both runs: the worst leakage averaged over the attributes
# it was run on, and its faces' on-manifold error after the edit as a multiple of before (each face
# counted once, its log ratio averaged over the attributes; the median over the faces), with
# Wilcoxon's test of after against before (13 rows per run, each at $0.05 / 26$; "higher" = the edit
# moved faces away from the faces world). The seconds (run 1) are the whole method on one core of a
# busy machine (its candidates, the choice, the scaling and the held-out edits; the mean per
# attribute; work shared between attributes, such as the trajectories, is charged to the first
# attribute run, smile); read them to a factor of 2.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for s in runs:
    t, smp = runs[s]
    leak = t.groupby("method", sort=False).worst_leak.mean().rename(f"leak {s + 1}")
    man = manifold_shift(smp).set_index("method")
    rows += [leak, man.median_ratio.rename(f"manifold {s + 1}"),
             man.apply(lambda r: "-" if r.p >= 0.05 / 26 else "higher" if r.median_ratio > 1 else "lower",
                       axis=1).rename(f"shift {s + 1}")]
cost = pd.concat(rows + [table.groupby("method", sort=False).seconds.mean().rename("seconds 1")], axis=1)
print(cost.round(2).sort_values("seconds 1").to_string())

# %% [markdown]
# ## 7. One row, re-run live
#
# One row of the table, re-run here with the same seeds: Asyrp's learned $f_t$ for smile, chosen and
# scaled on the same 16 calibration faces and measured on the first 16 of the same held-out faces
# (all 64 would take too long here), read by both probes. Its strength and each face's change must
# equal the shipped ones. (The two Asyrp editors are the only methods with no random draws of their
# own; the others' draws are seeded the same way, but are not re-run here.)

# %%
# NBVAL_CHECK_OUTPUT
model, probe, judge = ll.load_model(), ll.load_probe(), ll.load_probe(judge=True)
x_calib = torch.randn(16, *model.sample_shape, generator=torch.Generator().manual_seed(11))
x_test = torch.randn(64, *model.sample_shape, generator=torch.Generator().manual_seed(999))[:16]
start = time.perf_counter()
live, live_samples = compare_methods(Workbench(model, probe=probe, steps=20, seed=0), {"smile": 1.0}, x_calib,
                                     x_test, methods=["Asyrp f"], judge=judge, samples=True, progress=False)
shipped = table[(table.attr == "smile") & (table.method == "Asyrp f")].iloc[0]
ship = samples[(samples.attr == "smile") & (samples.method == "Asyrp f") & (samples["sample"] < 16)]
print(f"strength c: live {live.c.iloc[0]:.3f}, shipped {shipped.c:.3f}")
for col in ("change", "judge_change"):
    gap = abs(live_samples[col].to_numpy() - ship[col].to_numpy()).max()
    print(f"per-face {col} of the first 16 held-out faces equals the shipped one (to 0.001): {bool(gap < 1e-3)}")
print(f"right way, same faces: live {int(live_samples.right_way.sum())}, shipped {int(ship.right_way.sum())} of "
      f"{int(ship.movable.sum())} movable")

# %%
print(f"live run: {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## 8. Reading
#
# What the numbers above show, and no more (one model, two probes, 32 px faces, one pixel budget;
# 27-60 movable held-out faces per attribute in run 1, 33-63 in run 2; 11 discoveries of 28 tests in
# run 1, 8 of them replicated in run 2; the judge finds the same 11 and replicates the same 8):
#
# - **Where a learned editor exists, it wins, by far.** Smile: Asyrp f and dh change it by +0.76 and
#   +0.72 in run 1 (+0.53 and +0.57 in run 2); the best unlearned method by +0.16 (run 1, Haas
#   Jacobian) or +0.08 (run 2, Haas PCA). Glasses: dh 0.96 and f 0.93 (run 2: 0.91 and 0.88) against
#   0.70 (0.67) for the paired direction. All four are replicated discoveries against their matched
#   random row. Between the two editors nothing is shown (run 2's faces: glasses p = 1.0, smile
#   p = 0.06).
# - **The judge reads the editors as the probe does.** The editors were trained on the probe's
#   gradients, so they could have learned what fools it. The judge, which they never saw, reads
#   their changes within 0.01 of the probe's in run 1 (smile +0.76 and +0.72 by both) and slightly
#   *larger* for glasses in run 2 (0.93 and 0.90 against 0.91 and 0.88); over every row of both
#   runs, the judge's change is within -0.013 to +0.035 of the probe's, and the verdicts of
#   section 3 are the same. On this evidence the editors' lead belongs to the edits, not to the
#   instrument. (Their training, under 2 minutes per editor on 2 cores, `tools/train_editors.sh`,
#   is not in the seconds column.)
# - **Glasses:** of the unlearned methods only the paired direction is a replicated discovery (19 of
#   27 and 22 of 33 faces gain glasses, against 2 and 2 for the one-candidate random row). The mean
#   difference and Haas's supervised direction add glasses to 10-12 faces in both runs, but with 27
#   movable faces their run-1 p = 0.0078 misses the 0.0018 bar, so by this notebook's rule they are
#   not shown; Park's three rules, matched with six random candidates, add glasses to 3-8 faces
#   (p >= 0.06).
# - **Hair colour, a global colour change, is moved even by random directions:** the one-candidate
#   random row moves it the right way on 27 of 60 (39 of 61) faces, the six-candidate row on 36 of
#   60 (38 of 61). Six methods were discoveries in run 1; the three one-candidate directions
#   replicated: Haas's supervised direction (+0.17 and +0.11 above random (1); 59 of 60 and 58 of 61
#   faces), the paired direction and the mean difference (+0.16 and +0.09, +0.14 and +0.09). Park
#   transported (p = 0.03 in run 2), Haas Jacobian and Haas PCA, each against a random row with as
#   many candidates, did not replicate.
# - **Smile, a 2-pixel local shape, defeats every unlearned method:** none is a discovery in run 1
#   (the smallest p with a positive difference, Haas Jacobian's against random (6), is 0.0021
#   against 0.0018; the paired and supervised directions are significantly *worse* than random (1),
#   p < 1e-4 and < 1e-4). Haas PCA beats random (10) in run 2 (p = 0.0005) with another component
#   (-pc_3 instead of -pc_1): one run's result, not a replication. The paired direction moves smile
#   the wrong way in run 1 (-0.19; 8 of 58 faces the right way). The ranking of the unlearned
#   methods and the random rows for smile shows no sign of carrying over between runs (rank
#   correlation -0.23 over 11 rows).
# - **The matched random rows are nested:** random (6) offers the first six of random (10)'s
#   candidates, random (1) the first; where the larger one picks one of the smaller one's candidates
#   the rows are the same: random (6) and (10) in four of the six attribute-runs, all three for
#   smile in run 2. More candidates do not always make a stronger baseline on the held-out faces:
#   for smile in run 1 random (1) changes it by +0.04, random (6) and (10) by +0.00.
# - **Leakage is no smaller for any method than for random.** Averaged per method, the worst leakage
#   into another attribute is 0.17-0.29 of its range in run 1 (0.15-0.27 in run 2); the three random
#   rows sit at 0.17 in run 1 and 0.17-0.21 in run 2: no method is shown to be more selective than
#   a random push of the same size.
# - **Leaving the faces world:** counting each face once, only Haas's supervised direction raises the
#   on-manifold error in both runs at 0.05 / 26 (2.2 and 1.15 times the unedited faces'); the
#   Jacobian (1.17 and 1.09, p = 0.003 and 0.004) and paired (1.16 and 1.15, p = 0.014 and 0.004)
#   directions raise it too, but that is not shown at this bar; the random rows *lower* it a little
#   (0.84-0.89, p >= 0.019), and for the editors, the mean difference and Park's three methods no
#   shift is shown.
# - **The choice of component is not stable.** The rank correlation of all rows between the runs is
#   0.83 for glasses and 0.93 for hair colour, 0.26 for smile; but the rows that choose among
#   candidates chose the same label in both runs in 2 of 21 cases (2 of 15 without the random rows;
#   both for smile, Park's two pullback rules): with the draws redone, which candidate a method
#   picks does not carry over from one run to the next.
#
# **What this comparison cannot show.** The budget is met on the calibration faces (within 2 %), and
# reached 0.133-0.183 on the held-out faces in run 1 and 0.113-0.170 in run 2, so some rows edit up
# to a quarter more or less than the budget (the largest 1.6 times the smallest); the random
# baseline is matched in the number of candidates, but in process only to the asymmetric h-space
# methods, and it is one set of draws; the judge is a second probe of the same rendered world, so
# it guards against an editor that fools one network, not against what both share; one budget and
# a 4 x 4 bottleneck are not the papers' 256 px models; 16 calibration faces give each method one
# choice; and a method a user would tune by eye (the papers' figures) may do better than the rule
# used here. `python benchmarks/compare_methods.py --n-test 256 --seed 2` measures at larger n.

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

from latentlab.course import exercises as ex

rows = samples[(samples.attr == "hair_color") & (samples.method == "Haas PCA")]
# YOUR CODE HERE: the mean change over the movable faces, and the bootstrap interval
mean, lo, hi = None, None, None

# %%
ex.check_bootstrap_interval(samples, "hair_color", "Haas PCA", mean, lo, hi)

# %% [markdown]
# **Exercise 2: which one-candidate methods beat random for hair colour?** Redo section 3's test
# for the methods of hair colour that offer a single candidate (mean difference, paired, Haas
# supervised), each against its matched baseline, the one-candidate random row. `one` holds their
# rows of run 1, with that baseline named `random`: for each method, the per-face change minus
# random's on the same faces, Wilcoxon's signed-rank test (`scipy.stats.wilcoxon`); keep the methods
# with a positive mean difference and $p < 0.05 / 28$ (section 3's 28 tests). Which ones would you
# have kept at an uncorrected 0.05?

# %%
single = ["mean difference", "paired", "Haas supervised"]
one = samples[(samples.attr == "hair_color") & samples.method.isin(single + ["random (1)"])].replace(
    {"method": {"random (1)": "random"}})
# YOUR CODE HERE: a set of method names
beat_random = None

# %%
ex.check_beats_random(one, "hair_color", beat_random)

# %% [markdown]
# **Exercise 3: would one run have told you?** Section 5 correlates the two runs' rankings. For smile,
# compute Spearman's rank correlation of the methods' `change` between run 1 (`runs[0][0]`) and run 2
# (`runs[1][0]`) *without* the two Asyrp editors (the three random rows included, as in section 5),
# matching the methods by name. What does the number say about choosing an unlearned method for
# smile from a single run?

# %%
# YOUR CODE HERE
rho = None

# %%
ex.check_rank_correlation(runs[0][0], runs[1][0], "smile", rho)
