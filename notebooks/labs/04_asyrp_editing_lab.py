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
# # Lab 04 · Asyrp's learned editors: the tests, the tables and the exercises
#
# ## Key idea
#
# The [lecture](../04_asyrp_editing.ipynb) reads Asyrp's four properties off one shipped run
# (`data/runs/04_asyrp_properties.json`, 256 held-out faces, 10 DDIM steps, edits at $t \ge 200$).
# This lab carries what the lecture leaves out:
#
# 1. homogeneity counts with their standard errors and exact binomial tests against the kit's 0.9;
# 2. every attribute's change at every strength $c$, the straight-line fits, and bootstrap
#    intervals over faces;
# 3. the robustness, consistency and additivity rows in full, with the consistency tests
#    (binomial against 0.9, McNemar against $f$ on the same faces);
# 4. a per-face table of one edit, re-run live;
# 5. the untrained directions beside the learned editors, under the methods' registry names
#    ([lecture 05](../05_haas_directions.ipynb) teaches those methods);
# 6. three exercises and a mini-project.

# %%
import math

import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.course.editor_properties import faces_noise, linearity_fit, linearity_interval
from latentlab.course.plot import lecture_style
from latentlab.course.runs import load_run, run_table
from latentlab.methods import Workbench
from latentlab.metrics import read_edit, right_way
from latentlab.stats import binomial_test, mcnemar

lecture_style()
torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
run, table = load_run("04_asyrp_properties"), run_table("04_asyrp_properties")
S, SEED = 10, run["seed"]
print(f"{len(table)} rows; N = {run['n_faces']}")
print(run["notes"].replace("; ", ";\n"))

# %% [markdown]
# ## 1. Homogeneity: counts, standard errors, tests
#
# $k$ of $n$ movable faces moved the right way. The standard error of a fraction $f$ is
# $\sqrt{f(1-f)/n}$ (0 when every face moved: then read the test). The exact binomial test says
# whether the count shows the true fraction above (or below) the kit's 0.9: $P(\ge k)$ and
# $P(\le k)$ for a true 0.9. Two one-sided tests per editor, $m$ tests in all, each read at
# $0.05 / m$ (Bonferroni). "smile +1 dh" is the raw, fixed $\Delta h$: the paper's homogeneity.

# %% tags=["nbval-check-output"]
hom = table[table.property == "homogeneity"]
m = 2 * len(hom)
alpha = 0.05 / m
print(f"{len(hom)} editors, two one-sided tests each: alpha = 0.05 / {m} = {alpha:.4f}")
print("editor         | k of n     | fraction | SE    | P(>= k) | P(<= k) | verdict")
for _, r in hom.iterrows():
    n = int(r.n_movable)
    k = round(r.right_way * n)
    f = k / n
    p_hi, p_lo = binomial_test(k, n, 0.9, "greater"), binomial_test(k, n, 0.9, "less")
    verdict = ("shown above 0.9" if p_hi < alpha else "shown below 0.9" if p_lo < alpha
               else "not told apart from 0.9")
    print(f"{r.editor:14s} | {k:3d} of {n:3d} | {f:8.3f} | {math.sqrt(f * (1 - f) / n):.3f} | "
          f"{p_hi:7.1e} | {p_lo:7.1e} | {verdict}")

# %% [markdown]
# So the lecture says "about 0.9": 0.92 and 0.95 for the $f$ editors are not told apart from 0.9.

# %% [markdown]
# ## 2. Linearity: every attribute, every strength
#
# Each row: an editor at strength $c$, the mean change of each attribute over all faces as a
# fraction of its range ($c = 0$ is the unedited sample). Then, per editor, the least-squares line
# of
# the target's change against $c$ (slope, $R^2$) and the change at $c = -1$ as a fraction of that at
# $c = +1$ ("mirror": -1 for a change odd in $c$).

# %% tags=["nbval-check-output"]
lin = table[(table.property == "linearity")
            | ((table.property == "homogeneity") & (table.c == 1.0))]
attrs = [c for c in table.columns if c.startswith("d_")]
lin = lin[lin.editor.isin(table[table.property == "linearity"].editor.unique())]
lin = lin.sort_values(["editor", "c"])
short = {a: a[2:7] for a in attrs}
print(lin[["editor", "c", *attrs]].rename(columns=short).round(2).to_string(index=False))

# %% tags=["nbval-check-output"]
zero = table[(table.property == "linearity") & (table.c == 0.0)].iloc[0]
for name, g in lin.groupby("editor"):
    attr = "d_" + name.split()[0]
    pts = g[["c", attr]].values.tolist()
    if not (g.c == 0).any():
        pts.append([0.0, zero[attr]])
    if len(pts) >= 3:
        fit = linearity_fit([p[0] for p in pts], [p[1] for p in pts])
        print(f"{name:13s}: {len(pts)} strengths, slope {fit['slope']:+.3f}, R^2 {fit['r2']:.2f}, "
              f"mirror {fit['mirror']:+.2f}")

# %% [markdown]
# The run keeps mean changes only. Re-run live on the 8 faces of the lecture's live row: each
# attribute's mean $|\Delta|$ (a fraction of its range) at $c = -1, 1, 2$, and bootstrap intervals
# over those 8 faces for the slope and the mirror ratio of smile (wide: 8 faces).

# %% tags=["nbval-check-output"]
editor = ll.load_editor("smile", 1.0, "f")
x8 = faces_noise(model, 8, SEED)
base = ll.ddim_sample(model, x8, S, progress=False)
reads = {c: read_edit(base, ll.ddim_sample(model, x8, S, dh=lambda t, h, c=c: c * editor(t, h),
                                           t_edit=editor.t_edit, progress=False), probe=probe)
         for c in (-1.0, 1.0, 2.0)}
print("c    | " + " ".join(f"{a[:5]:>5s}" for a in ll.ATTRIBUTES))
for c, r in reads.items():
    print(f"{c:+4.0f} | " + " ".join(f"{(r.delta[a].abs().mean() / ll.ATTRIBUTES[a].span):5.2f}"
                                     for a in ll.ATTRIBUTES))
span = ll.ATTRIBUTES["smile"].span
ci = linearity_interval({c: r.delta["smile"] / span for c, r in reads.items()})
print(f"8 faces: slope in [{ci['slope'][0]:.2f}, {ci['slope'][1]:.2f}], "
      f"mirror in [{ci['mirror'][0]:+.2f}, {ci['mirror'][1]:+.2f}] (95 % bootstrap)")

# %% [markdown]
# ## 3. Robustness, consistency across timesteps, additivity
#
# The rows in full: pixel change (root mean square, pixels in $[-1, 1]$), the on-manifold error
# before and after (median, x 1000), and for the pair of editors the share of the squared residual
# $\|D_{ab} - (D_a + D_b)\|^2$ that each attribute carries.

# %% tags=["nbval-check-output"]
rest = table[table.property.isin(["robustness", "consistency", "additivity"])]
print(rest[["property", "editor", "c", "n_movable", "right_way", "change", "spread"]]
      .round(3).to_string(index=False))
print(rest[["editor", "c", "worst_leak", "worst_leak_attr", "pixel_change", "manifold_after"]]
      .round(3).to_string(index=False))
print(f"unedited: manifold {rest.manifold_before.iloc[0]:.3f}")
res = rest[rest.property == "additivity"]
if len(res):
    shares = {c[9:]: v for c, v in res.iloc[0].items() if c.startswith("residual_")}
    top = sorted(shares, key=shares.get, reverse=True)[:4]
    print("largest shares of the additivity residual:",
          ", ".join(f"{a} {shares[a]:.2f}" for a in top))

# %% [markdown]
# Consistency, tested. The global $\Delta h$'s count against the kit's 0.9 (one-sided), and against
# the per-face $f$ on the same faces: McNemar's exact test on the faces only one of them moved,
# from `data/runs/04_asyrp_faces.json` (the first 128 of the held-out faces, face by face).
#
# Robustness has no baseline here: the paper sets random shifts of h beside shifts of $\epsilon$;
# the kit has not measured a matched-norm $\epsilon$ or $x$ perturbation, so the lab carries only
# "random shifts of h keep the on-manifold error at the unedited level", not "h is more robust".

# %% tags=["nbval-check-output"]
g = rest[rest.editor == "smile +1 f (global)"].iloc[0]
k, n = round(g.right_way * g.n_movable), int(g.n_movable)
print(f"global dh: {k} of {n} moved, P(<= k | 0.9) = {binomial_test(k, n, 0.9, 'less'):.1e}")
faces = run_table("04_asyrp_faces")
mov = faces[faces.movable]
print(f"{len(faces)} faces, {len(mov)} movable: f moved {int(mov.ok_f.sum())}, "
      f"global dh {int(mov.ok_global.sum())}; only f {int((mov.ok_f & ~mov.ok_global).sum())}, "
      f"only global {int((mov.ok_global & ~mov.ok_f).sum())}")
p_mc = mcnemar(torch.tensor(mov.ok_f.values), torch.tensor(mov.ok_global.values))
print(f"McNemar p = {p_mc:.1e}")

# %% [markdown]
# ## 4. One edit, face by face
#
# The lecture's live row: the smile +1 $f$ editor at $c = 1$ on 8 held-out faces. Per face: the
# smile reading before and after, whether it could move and did, and the largest other change (as
# a fraction of that attribute's range).

# %% tags=["nbval-check-output"]
r = read_edit(base, ll.ddim_sample(model, x8, S, dh=editor, t_edit=editor.t_edit, progress=False),
              attr="smile", goal=1.0, probe=probe)
movable, ok = right_way(r.before["smile"], r.after["smile"], "smile", 1.0)
print("face | smile before | after | movable | moved | largest other change")
for i in range(len(x8)):
    other = {a: (d[i] / ll.ATTRIBUTES[a].span).item() for a, d in r.delta.items() if a != "smile"}
    top = max(other, key=lambda a: abs(other[a]))
    print(f"{i:4d} | {r.before['smile'][i]:+12.2f} | {r.after['smile'][i]:+5.2f} | "
          f"{bool(movable[i])!s:7s} | "
          f"{bool(ok[i])!s:5s} | {top} {other[top]:+.2f}")

# %% [markdown]
# ## 5. Untrained directions beside the learned editors
#
# The methods' registry holds two directions built without training: "mean difference" (the mean h
# of the sampler's faces above the middle of the range minus that below, per step) and "paired" (the
# mean change of h between renders that differ in the attribute only). Lecture 05 teaches them; here
# they edit the same 16 held-out faces as "Asyrp f" and "Asyrp dh", all at the registry's $c = 1$
# with the same asymmetric step. The sizes differ (see the pixel change), so each untrained direction
# also runs at the $c$ that gives it the raw editor's mean norm over the edited steps ("norm-matched").
# Building the mean difference
# samples 128 trajectories, so this cell is skipped by the notebook tests; its outputs are those of
# the last full run.

# %% tags=["nbval-skip"]
wb = Workbench(model, steps=S, seed=0, probe=probe)
x16 = faces_noise(model, 16, SEED)
base16 = ll.ddim_sample(model, x16, S, progress=False)
print("attribute | method          |    c | right way | change | spread | worst leak        "
      "| pixels")
for attr in ("smile", "glasses"):
    raw = ll.load_editor(attr, 1.0, "dh")
    edited_t = raw.timesteps[raw.timesteps >= raw.t_edit]
    raw_norm = torch.stack([raw(int(t), torch.zeros(raw.h_shape)).norm() for t in edited_t]).mean()
    for name in ("mean difference", "paired", "Asyrp dh", "Asyrp f"):
        (cand,) = wb.candidates(name, attr, 1.0).values()
        scales = [1.0]
        if name in ("mean difference", "paired"):
            d = cand.direction
            d_norm = torch.stack([d.at(int(t)).norm() for t in edited_t]).mean()
            scales.append((raw_norm / d_norm).item())
        for c in scales:
            e = read_edit(base16, cand(x16, c), attr=attr, goal=1.0, probe=probe)
            leak = e.leakage()
            worst = max(leak, key=leak.get)
            print(f"{attr:9s} | {name:15s} | {c:4.1f} | {e.right_way:9.2f} | {e.change:+6.2f} | "
                  f"{e.spread:6.2f} | "
                  f"{worst:12s} {leak[worst]:.2f} | {e.pixel_change:6.3f}")

# %% [markdown]
# On these 16 faces, at a size matched in h, the untrained smile directions move fewer faces the
# right way than the editors (0.31 and 0.69 against 1.00) while changing the pixels more (about 0.21
# against 0.12-0.13); for glasses the paired direction comes closest (0.86). With 16 faces these
# are descriptions, not
# tests: lecture 05 measures the untrained methods on more faces.
#
# ## Exercises
#
# Fill in each cell marked `# YOUR CODE HERE` (replace every `None`), then run the check below it.
# Worked solutions: `../solutions/04_asyrp_editing_solutions.ipynb`.

# %%
smile_f, glasses_f = editor, ll.load_editor("glasses", 1.0, "f")
smile_dh = ll.load_editor("smile", 1.0, "dh")

# %% [markdown]
# ### Exercise 04.1: scale and add two editors
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# An editor is a function $(t, h) \mapsto \Delta h$. Linearity says that scaling $\Delta h$ scales the
# edit and adding two $\Delta h$ adds the edits. Write `mix`, the function
# $(t, h) \mapsto 1.5\,f^\text{smile}_t(h) + 0.5\,f^\text{glasses}_t(h)$ that `ll.ddim_sample(model, x_T, S,
# dh=mix, t_edit=200)` would take.

# %%
# YOUR CODE HERE: mix = lambda t, h: ...
mix = None

# %%
ex.check_editor_mix(smile_f, glasses_f, mix)

# %% [markdown]
# ### Exercise 04.2: does the edit depend on the face?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# `h_two` is the bottleneck of two different noisy inputs at $t = 500$. Evaluate the smile editor in
# both forms, `smile_f` ($f_t(h)$) and `smile_dh` (the raw $\Delta h$), on `h_two`, and give for each
# the cosine similarity between face 0's $\Delta h$ and face 1's (flatten each first). Which form can
# adapt its edit to the face?

# %%
x_two = torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(41))
h_two = ll.h_of(model, x_two, 500)
# YOUR CODE HERE: cos_f and cos_dh, two numbers
cos_f = None
cos_dh = None

# %%
ex.check_editor_dependence(smile_f, smile_dh, h_two, 500, cos_f, cos_dh)

# %% [markdown]
# ### Exercise 04.3: the loss of one Asyrp training step
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 20-25 minutes on this exercise.
# ```
#
# `ll.train_editor` trains an editor one step per timestep $t \ge t_\text{edit}$, on the loss of
# Asyrp's training with the probe in CLIP's place: the probe's distance from the goal on the edited
# prediction, plus an L1 term that keeps it near the unedited one,
# $$L = \frac{|\mathrm{smile}(P_t(\tilde\epsilon)) - \text{goal}|}{2} + \lambda_1
# \,\mathrm{mean}\,|P_t(\tilde\epsilon) - P_t(\epsilon)|,$$
# averaged over the batch, with $\tilde\epsilon$ = `ll.eps_of(model, x_t, t, dh=dh)`, the unedited
# $\epsilon$ = `ll.eps_of(model, x_t, t)`, $P_t$ unclipped (`ll.P_t(x_t, eps, a_t)`, $a_t$ =
# `model.scheduler.alphas_cumprod[t]`) and 2 the range of smile (from $-1$ to 1). Write
# `editor_loss(model, probe, x_t, t, dh, goal, l1)` returning $L$ as a tensor that the optimiser can
# differentiate with respect to `dh`. The check compares its value and its gradient with the package's.

# %%
def editor_loss(model, probe, x_t, t, dh, goal, l1):
    # YOUR CODE HERE: |smile(P_t(eps_edit)) - goal| / 2, averaged, + l1 * mean|P_t(eps_edit) - P_t(eps)|
    return None


# %%
ex.check_editor_loss(model, probe, editor_loss)

# %% [markdown]
# ### Mini-project 04.4: does a leakage penalty stop the smile editor moving other attributes?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 45-60 minutes on this mini-project.
# ```
#
# An edit *leaks* when it moves attributes it was not trained on. `train_editor(..., keep=w)` adds
# $w$ times the other attributes' mean $|\text{change}|$ (in units of each range) to the loss, the part
# of CLIP's directional loss the probe's goal lacks. Train two small raw-$\Delta h$ smile editors, one
# with `keep=0` and one with a penalty, on the same seed and budget; apply each to the same faces and
# measure the smile change and the leakage (the other ten attributes' mean $|\text{change}|$). Does the
# leakage drop, and at what cost to smile? Keep the training small (`steps=10`, `t_edit=400`,
# `trajectories=3`, `batch=2`: about ten seconds each). There is no check: one way, with its
# numbers, is in the solutions.

# %%
# YOUR CODE HERE
