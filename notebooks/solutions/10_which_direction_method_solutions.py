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
# # 10 · Which method finds the best direction? Solutions
#
# The exercises of notebook 10 with worked solutions; only the setup they need (the shipped runs).

# %%
import numpy as np
from scipy.stats import spearmanr, wilcoxon

from latentlab.compare import shipped_results
from latentlab.course import exercises as ex

runs = {seed: shipped_results(seed) for seed in (0, 1)}
table, samples = runs[0]

# %% [markdown]
# **Exercise 1: an interval by hand.** Haas's PCA directions and hair colour in run 1: the mean change
# over the movable faces and a 95 % percentile bootstrap interval of that mean.

# %%
rows = samples[(samples.attr == "hair_color") & (samples.method == "Haas PCA")]
x = rows[rows.movable].change.to_numpy()
rng = np.random.default_rng(0)
means = x[rng.integers(0, len(x), (2000, len(x)))].mean(1)  # 2,000 resamples of the faces, each averaged
mean, (lo, hi) = x.mean(), np.quantile(means, [0.025, 0.975])
print(f"{len(x)} movable faces: mean {mean:+.3f}, 95 % interval [{lo:+.3f}, {hi:+.3f}]")

# %%
ex.check_bootstrap_interval(samples, "hair_color", "Haas PCA", mean, lo, hi)

# %% [markdown]
# **Exercise 2: which one-candidate methods beat random for hair colour?** Each single-candidate
# method against its matched baseline, the one-candidate random row (named `random` in `one`): the
# per-face change minus random's on the same faces, Wilcoxon's signed-rank test, Bonferroni over
# section 3's 28 tests.

# %%
single = ["mean difference", "paired", "Haas supervised"]
one = samples[(samples.attr == "hair_color") & samples.method.isin(single + ["random (1)"])].replace(
    {"method": {"random (1)": "random"}})
hair = one[one.movable.astype(bool)]
wide = hair.pivot(index="sample", columns="method", values="change")
beat_random, loose = set(), set()
for m in wide.columns.drop("random"):
    d = wide[m] - wide["random"]
    p = wilcoxon(d).pvalue
    print(f"{m:25s} mean difference {d.mean():+.3f}, p {p:.2g}")
    if d.mean() > 0 and p < 0.05 / 28:
        beat_random.add(m)
    if d.mean() > 0 and p < 0.05:
        loose.add(m)
print("at 0.05 / 28:", sorted(beat_random), "; only at an uncorrected 0.05:", sorted(loose - beat_random))

# %%
ex.check_beats_random(one, "hair_color", beat_random)

# %% [markdown]
# **Exercise 3: would one run have told you?** Spearman's rank correlation for smile between the two
# runs, without the Asyrp editors (random included), methods matched by name.

# %%
a, b = (runs[s][0].query("attr == 'smile' and not method.str.startswith('Asyrp')", engine="python")
        .set_index("method").change for s in (0, 1))
rho = spearmanr(a, b.reindex(a.index)).statistic
print(f"rho = {rho:+.2f} over {len(a)} methods")

# %%
ex.check_rank_correlation(runs[0][0], runs[1][0], "smile", rho)
