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
# # Lab 11 · After the papers: the statistics
#
# The apparatus behind [lecture 11](../11_after_the_papers.ipynb): every measured row of its shipped
# runs, with intervals on the right-way fractions, the matched random comparisons and the count of
# tests. Everything here reads shipped files: it runs in seconds.
#
# - `data/runs/11_loco.json`: LOCO Edit, Park's pullback and a random direction on 64 faces
#   (`benchmarks/lecture_11_loco.py`, rows from `latentlab.course.local_edits.loco_rows`);
# - `data/runs/11_sae_features.json`: the SAE's detection (512 held-out faces) and steering (16
#   faces);
# - `data/runs/11_slider_properties.json`: the sliders on 128 faces; `04_asyrp_properties.json`:
#   Asyrp's editors on 256 faces (lecture 04);
# - `data/compare/`: lecture 10's comparison, with the three new methods.
#
# Right way, leakage, the outside change and the pixel budget are this kit's operationalisations of
# a good edit, not the papers' own.

# %%
import math
import textwrap

import pandas as pd
from scipy.stats import fisher_exact

from latentlab.course.plot import lecture_style

lecture_style()

from latentlab.compare import shipped_results  # noqa: E402
from latentlab.course.comparison import leakage_tests, matched_tests  # noqa: E402
from latentlab.course.local_edits import loco_summary, loco_tests, right_way_interval  # noqa: E402
from latentlab.course.runs import load_run, run_table  # noqa: E402
from latentlab.slider import load_slider  # noqa: E402
from latentlab.stats import paired_test, signed_rank_test  # noqa: E402

fmt_p = lambda p: "< 1e-4" if p < 1e-4 else f"{p:.4f}"  # noqa: E731

# %% [markdown]
# ## 1. LOCO Edit against Park's pullback and a random direction
#
# Per attribute, method and use, the rows of both signs: `k/n` faces moved the right way of those
# that can move, with Wilson's 95 % interval. `loco_summary` keeps the sign with the larger
# fraction, for every method alike (the random rows too), so the choice of sign favours no method.
# The random direction is matched on the step in $x_t$ (8 along a unit vector), not on the change of
# the image: its `leak` is far below LOCO's and Park's.

# %% tags=["nbval-check-output"]
rows = load_run("11_loco")["rows"]
loco = pd.DataFrame(rows)
per_sign = (loco.groupby(["attr", "method", "use", "sign"])
            .agg(k=("moved", "sum"), n=("movable", "sum"), outside=("outside", "mean"), leak=("leak", "mean"))
            .reset_index())
ci = [right_way_interval(int(k), int(n)) for k, n in zip(per_sign.k, per_sign.n)]
per_sign["right_way"] = per_sign.k / per_sign.n
per_sign["lo"], per_sign["hi"] = [c[0] for c in ci], [c[1] for c in ci]
print(per_sign.round(2).to_string(index=False))

# %% [markdown]
# **The tests**, each method at its chosen sign: right way against the random direction (one-sided)
# and LOCO against Park (two-sided). Every method edits the same 64 faces, so these are paired: on the
# faces movable under both signs, McNemar's exact test (only the faces one method moved and the other
# did not count). Where the two signs share no face (glasses: +1 acts on the faces without glasses,
# -1 on those with), the groups are disjoint and the test is Fisher's exact test; `by` says which.
# Those Fisher rows compare different goals (one method adds glasses, the other removes them): not
# like for like. Then, on the same faces, the outside change of LOCO against Park and the leak of each
# against random (Wilcoxon's signed-rank test; `diff`: median of the first minus the second). Every
# test is counted: significant means p below 0.05 over their number (Bonferroni). On smile the
# verdicts against random rest on one face (22 against 6 discordant faces for Park, 22 against 7 for
# LOCO); Holm's step-down correction, as strict for the family, would pass LOCO's p = 0.0041 too.

# %% tags=["nbval-check-output"]
tests = pd.DataFrame(loco_tests(rows))
tests["p"] = tests.p.map(fmt_p)
print(f"{len(tests)} tests, each at 0.05 / {len(tests)} = {0.05 / len(tests):.4f}")
print(tests.drop(columns=["k_a", "k_b"]).round(3).to_string(index=False))

# %% [markdown]
# **What each edit moved most besides its target** (`leak_attr` of each face, at the chosen sign,
# own directions, 64 faces): the two most frequent attributes and on how many faces.

# %% tags=["nbval-check-output"]
chosen = {(b["attr"], b["method"], b["use"]): b["sign"] for b in loco_summary(rows)}
at_sign = loco[[chosen[a, m, u] == s for a, m, u, s in zip(loco.attr, loco.method, loco.use, loco.sign)]]
most = at_sign[at_sign.use == "own"].groupby(["attr", "method"]).leak_attr.agg(
    lambda s: ", ".join(f"{a} {n}" for a, n in s.value_counts().head(2).items()))
print(most.to_string())

# %% [markdown]
# ## 2. SAE features: detection and steering
#
# Detection on 512 held-out faces. For a Spearman correlation the 95 % interval is
# $\tanh(\operatorname{atanh}\rho \pm 1.96 \cdot 1.06/\sqrt{n-3})$ (Fieller's standard error);
# glasses is scored by AUROC (strength $2|A - 0.5|$), shown without an interval (blank). `mono`
# (`n_monosemantic`): features with strength $\ge$ 0.5 for this attribute and < 0.2 for every
# other (`latentlab.sae.MONOSEMANTIC`), in the SAE and in the random-init SAE. The run's notes
# follow: the fractions of variance unexplained (FVU) of the SAE and of its random initialisation.

# %% tags=["nbval-check-output"]
sae = run_table("11_sae_features").query("mode == 'position'").set_index("attr")
half = 1.96 * 1.06 / math.sqrt(512 - 3)
det = sae[["score", "feature_strength", "channel_strength", "entry_strength", "random_strength",
           "n_monosemantic", "n_monosemantic_random"]].copy()
spear = det.score == "Spearman"
for col, sign in (("lo", -1), ("hi", 1)):  # no interval for AUROC: a blank
    det[col] = (det.feature_strength.map(math.atanh) + sign * half).map(math.tanh).map("{:.3f}".format).where(spear, "")
short = {c: c.removesuffix("_strength").replace("n_monosemantic", "mono") for c in det}
print(det.sort_values("feature_strength", ascending=False).rename(columns=short).round(3).to_string())
print(textwrap.fill("run notes: " + load_run("11_sae_features")["notes"], 100))

# %% [markdown]
# Steering at $c = 20$ on 16 faces, against a Gaussian direction of the same norm at every step. The
# run stores fractions of the movable faces; `n` below is the smallest count of faces (at most 16)
# that gives both fractions. Fisher's exact test (one-sided), counted over the 11 attributes.

# %% tags=["nbval-check-output"]
def _count(*fracs):  # the smallest n <= 16 at which every fraction is k/n
    return next(n for n in range(1, 17) if all(abs(round(f * n) / n - f) < 6e-4 for f in fracs))


steer = []
for attr, r in sae.iterrows():
    n = _count(r.steer_right_way_c20, r.random_right_way_c20)
    k, kr = round(r.steer_right_way_c20 * n), round(r.random_right_way_c20 * n)
    p = fisher_exact([[k, n - k], [kr, n - kr]], alternative="greater")[1]
    steer.append({"attr": attr, "detect": r.feature_strength, "k/n": f"{k}/{n}", "random": f"{kr}/{n}",
                  "interval": "%.2f-%.2f" % right_way_interval(k, n), "p": p, "significant": p < 0.05 / 11})
steer = pd.DataFrame(steer).sort_values("detect", ascending=False)
print(steer.assign(p=steer.p.map(fmt_p)).round(2).to_string(index=False))

# %% [markdown]
# ## 3. Sliders against Asyrp's editors
#
# Right way with Wilson's intervals, and slider against Asyrp's $f_t$ on the same attribute and goal
# (Fisher's exact test, two-sided; different faces). The runs keep the mean leakage per row, not per
# face, so the leakage of the two is compared as numbers only, without a test.

# %% tags=["nbval-check-output"]
sl = run_table("11_slider_properties")
asy = run_table("04_asyrp_properties").query("property == 'homogeneity'")
out = []
for _, r in sl[sl.property == "homogeneity"].iterrows():
    k, n = round(r.right_way * r.n_movable), int(r.n_movable)
    row = {"slider": f"{r.slider} {r.c:+g}", "k/n": f"{k}/{n}", "interval": "%.3f-%.3f" % right_way_interval(k, n),
           "leak": r.worst_leak}
    a = asy[asy.editor == f"{r.slider} +1 f"]
    if r.c > 0 and len(a):
        ka, na = round(a.right_way.iloc[0] * a.n_movable.iloc[0]), int(a.n_movable.iloc[0])
        row |= {"Asyrp f": f"{ka}/{na}", "Asyrp leak": a.worst_leak.iloc[0],
                "p": fmt_p(fisher_exact([[k, n - k], [ka, na - ka]])[1])}
    out.append(row)
print(pd.DataFrame(out).round(3).astype(object).fillna("").to_string(index=False))

# %% [markdown]
# Linearity in the scale: the fitted slope of the attribute's change per unit of scale, its $R^2$,
# and the mirror (the change at scale $-1$ over that at $+1$; $-1$ is a perfect reversal), with the
# run's 95 % bootstrap intervals. Then the cost: training steps, one core's CPU seconds (`cpu s`,
# from each slider's `slider.json`) and wall-clock seconds (`train s`, with `train load`, the load
# average then), and the sampling time per face with the slider against plain DDIM (`time load`:
# the load average when it was timed).

# %% tags=["nbval-check-output"]
fit = sl[sl.property == "linearity fit"]
print(fit[["slider", "scales", "slope", "slope_lo", "slope_hi", "r2", "mirror", "mirror_lo", "mirror_hi"]]
      .round(3).to_string(index=False))
cost = sl[sl.property == "cost"]
cost = cost.rename(columns={"train_steps": "steps", "train_seconds": "train s", "train_load": "train load",
                            "adapter_parameters": "parameters", "sample_seconds_per_face": "s/face",
                            "plain_seconds_per_face": "plain s/face", "load": "time load"})
cost["cpu s"] = [load_slider(a).info.get("cpu_seconds") for a in cost.slider]
print(cost[["slider", "steps", "cpu s", "train s", "train load", "parameters", "s/face", "plain s/face",
            "time load"]].round(3).to_string(index=False))

# %% [markdown]
# ## 4. The comparison at one pixel budget
#
# The comparison's LOCO Edit is the registry's: each face's sign set by the probe's reading of
# $\hat x_0$ moving towards the goal, at the pixel budget (about 0.3 of LOCO's step: `c` below).
# Section 1's run keeps one sign for all faces and LOCO's full step. The main probe that chooses the
# sign also scores the edit; the matched random row gets no such choice. The judge probe made none.
#
# Lecture 10's paired tests against the matched random rows, in run 1 and its replication in run 2
# (`matched_tests`: Bonferroni over the tests of run 1, the replication at 0.05 over the number of
# discoveries), for the new methods beside Asyrp's $f_t$ and Park's pullback by guidance.

# %% tags=["nbval-check-output"]
wanted = ["LOCO Edit", "SAE feature", "LoRA slider", "Asyrp f", "Park pullback (guidance)"]
have = [m for m in wanted if all(m in set(shipped_results(s)[0].method) for s in (0, 1))]
runs = [shipped_results(s, methods=have) for s in (0, 1)]
for r, (tab, _) in enumerate(runs, 1):
    lo = tab[tab.method == "LOCO Edit"][["attr", "c", "k", "n_movable", "judge_k", "judge_n_movable"]]
    for a, c, k, n, jk, jn in lo.values:
        print(f"run {r}, LOCO Edit, {a}: c = {c:.3f}, right way {k}/{n}, judge {jk}/{jn}")
mt = matched_tests(runs[0][0], [runs[0][1], runs[1][1]])
mt = mt.assign(p_1=mt.p_1.map(fmt_p), p_2=mt.p_2.map(fmt_p), method=mt.method.str.replace("pullback ", ""))
print(mt[["attr", "method", "baseline", "n_1", "k_1", "kb_1", "p_1", "n_2", "k_2", "kb_2", "p_2", "verdict"]]
      .to_string(index=False))

# %% [markdown]
# Leakage against the matched random rows (`leakage_tests`: per-face mean leak, Wilcoxon, each run
# at 0.05 over the number of tests):

# %% tags=["nbval-check-output"]
lt = leakage_tests(runs[0][0], [runs[0][1], runs[1][1]])
lt = lt.assign(method=lt.method.str.replace("pullback ", ""))
print(lt[["attr", "method", "baseline", "diff_1", "shift_1", "diff_2", "shift_2", "verdict"]].round(3)
      .to_string(index=False))

# %% [markdown]
# **The weight-space slider against the h-space editor**, on the same held-out faces of each run:
# `paired_test` on the change towards the goal (Wilcoxon for smile, McNemar for glasses) and
# Wilcoxon's test on the per-face leak (slider minus $f_t$). Eight tests, each at 0.05 / 8.

# %% tags=["nbval-check-output"]
vs = []
for r, (_, smp) in enumerate(runs, 1):
    for attr in ("smile", "glasses"):
        t = paired_test(smp, attr, "LoRA slider", "Asyrp f")
        leak = {m: smp[(smp.attr == attr) & (smp.method == m)].sort_values("sample").leak.to_numpy()
                for m in ("LoRA slider", "Asyrp f")}
        d = leak["LoRA slider"] - leak["Asyrp f"]
        vs.append({"run": r, "attr": attr, "n": t["n"], "k slider": t["k_a"], "k f": t["k_b"],
                   "change diff": t["mean_diff"], "p change": t["p"], "leak diff": d.mean(),
                   "p leak": signed_rank_test(d)})
vs = pd.DataFrame(vs)
vs["sig change"], vs["sig leak"] = vs["p change"] < 0.05 / 8, vs["p leak"] < 0.05 / 8
print(vs.assign(**{c: vs[c].map(fmt_p) for c in ("p change", "p leak")}).round(3).to_string(index=False))

# %% [markdown]
# ## Exercises
#
# An exercise and a mini-project on the first face of section 1's run: LOCO's null-space projection
# written out, and what it does to the predicted image outside the mask. Each gives its difficulty,
# its importance and a time to spend on it, in ARENA's form. Fill in each `None` (or the function
# body), then run the check below it; worked solutions are in
# `../solutions/11_after_the_papers_solutions.ipynb`.

# %%
import torch  # noqa: E402

import latentlab as ll  # noqa: E402
from latentlab.course import exercises as ex  # noqa: E402
from latentlab.course.local_edits import face_noise  # noqa: E402
from latentlab.loco import LOCO_SETTINGS, face_mask, loco_directions, posterior_mean_products  # noqa: E402,F401
from latentlab.methods import nearest_timestep  # noqa: E402

torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
grid = ll.ddim_timesteps(model, 20).tolist()
t = nearest_timestep(grid, LOCO_SETTINGS["t_edit"] * model.num_train_timesteps)
x0, traj = ll.ddim_sample(model, face_noise(model, [0]), 20, return_trajectory=True, progress=False)
x_t, mask = traj[grid.index(t)][0], face_mask(probe, x0, "mouth")[0]  # face 0 at t, its mouth mask
d = loco_directions(model, x_t, t, mask)  # d.V_in: before the projection, d.V_out: the outside's top 5

# %% [markdown]
# ### Exercise 11.1: the null-space projection
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# LOCO removes from the top inside direction $v$ its components along the outside directions
# $V_{out}$ (orthonormal rows), then normalises: $v \leftarrow (I - V_{out}^\top V_{out})\,v$,
# $v \leftarrow v / |v|$. Write `null_project(v, V_out)` for a flat `v` of $n$ entries and `V_out`
# of shape $(k, n)$; the check calls it on `d` flattened and on a small case.

# %%
def null_project(v, V_out):
    # YOUR CODE HERE: the unit direction left after removing v's part in the span of V_out's rows
    return None


# %%
ex.check_null_project(null_project, d)

# %% [markdown]
# ### Mini-project 11.2: does the null space keep the outside?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# To first order the edit changes the predicted image by $J v$,
# $J = \partial \hat x_0 / \partial x_t$. Compute `ratio_raw` $= |(1 - M) J v| / |M J v|$ for
# $v$ = `d.V_in[0]` (before the projection) and `ratio_projected` for $v$ = `d.V[0]` (after it),
# with `jvp, _ = posterior_mean_products(model, x_t, t)` and the mask on every channel. Then
# compare with section 1's `outside` column (after the whole edit and DDIM's remaining steps): why
# can the two differ?

# %%
# YOUR CODE HERE: ratio_raw and ratio_projected (numbers)
ratio_raw = None
ratio_projected = None

# %%
ex.check_null_space_effect(model, x_t, t, mask, d, ratio_raw, ratio_projected)
