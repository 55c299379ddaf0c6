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
# # Lab 08 · The editor: latency, sizes, side effects
#
# The lab of [lecture 08](../08_widget_editor.ipynb). It measures what the lecture states: what one
# slider move costs, how large c = 1 is for each method (the full table, with Park's random
# baseline), what each row of the lecture's sweep moves against random directions of the same size,
# and the smile editor next to the mean difference at matched size. Every statement is about the
# shipped runs' faces (`benchmarks/lecture_08_editor.py`) or, where it says so, about face seed 1.

# %%
import statistics
import time

import torch
from IPython.display import display

import latentlab as ll
from latentlab.course.edit_sweeps import sweep_changes, unit_size_summary
from latentlab.course.plot import lecture_style
from latentlab.course.runs import load_run
from latentlab.course.widget import EditWidget
from latentlab.metrics import largest_changes
from latentlab.session import Edit, Face

lecture_style()
torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()

# %% [markdown]
# ## 1. What one slider move costs
#
# The time of a move goes to U-Net evaluations; the probe's reading, two 32 px PNGs and the widget's
# messages cost a few milliseconds. A counter on the U-Net counts the samples one move evaluates
# (the 5-step preview, then the 20-step image; an asymmetric step evaluates 2 samples per step, one
# guidance step 2), and a clock times the move to its full image, next to a plain 20-step
# `ddim_sample`. The counts are exact; the times depend on this machine and its load (not checked by
# nbval). `benchmarks/widget_latency.py` times every method with medians over many moves, and
# `benchmarks/widget_browser_latency.py` the page in a browser.

# %%
editor = EditWidget(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
editor.wait()
samples = {"n": 0}
hook = model.unet.register_forward_pre_hook(lambda m, a: samples.__setitem__("n", samples["n"] + len(a[0])))


def move(c):
    """Set the strength, wait for the full image: (U-Net samples evaluated, seconds)."""
    samples["n"], start = 0, time.perf_counter()
    editor.strength.value = c
    editor.wait()
    return samples["n"], time.perf_counter() - start


timings = {}
for name, target in (("Asyrp f", "smile -> +1"), ("Park pullback (move)", 0), ("Park pullback (guidance)", 0)):
    editor.method.value = name
    editor.target.value = target
    editor.wait()
    timings[name] = [move(c) for c in (1.0, 1.5, 0.5)]
samples["n"], start = 0, time.perf_counter()
ll.ddim_sample(model, editor.x_T[None], 20, progress=False)
timings["plain ddim_sample, 20 steps"] = [(samples["n"], time.perf_counter() - start)]
hook.remove()

# %% tags=["nbval-check-output"]
print(f"{'method':28s} U-Net samples per move (preview + full image)")
for name, runs in timings.items():
    print(f"{name:28s} {runs[0][0]}")

# %% tags=["nbval-ignore-output"]
print(f"{'method':28s} median seconds per move, to the full image")
for name, runs in timings.items():
    print(f"{name:28s} {statistics.median(s for _, s in runs):.2f}")

# %% [markdown]
# A move of Asyrp's $f$ evaluates 45 samples, preview and full image together, against 20 for a
# plain 20-step sample: its asymmetric step evaluates 2 samples at every edited step. Park's move
# evaluates 17 (sampling starts at t_edit = 600), Park's guidance 51 (its 16 guidance steps cost 2
# samples each; its preview takes one step of 16 gamma instead). The times need not follow the
# counts exactly: how the samples are batched matters too, and on a machine busy with other jobs
# every time grows with the load.
#
# ## 2. How large is c = 1?
#
# The shipped run `data/runs/08_unit_sizes.json`: per method and face, $\|\Delta h\| / \|h\|$ (median
# over the edited steps; Park: $\|\Delta x\| / \|x_t\|$ at t_edit) at c = 1, summarised per method
# (the goal methods push smile up, the others show direction 0).

# %% tags=["nbval-check-output"]
sizes = load_run("08_unit_sizes")
print(f"{'method':26s} {'faces':>5s} {'min':>7s} {'q1':>7s} {'median':>7s} {'q3':>7s} {'max':>7s}")
for r in unit_size_summary(sizes["rows"]):
    v = [x["size"] for x in sizes["rows"] if x["method"] == r["method"]]
    print(f"{r['method']:26s} {r['n']:5d} {min(v):7.3f} {r['q1']:7.3f} {r['median']:7.3f} {r['q3']:7.3f} "
          f"{max(v):7.3f}")

# %% [markdown]
# Park's guidance at c = 1 against a random unit direction guided with the same gamma, on seed 1.
# The random direction moves $x_t$ further (0.028 against 0.014 of its norm): guidance along $v_1$
# is not a larger push than chance, so what $v_1$ does in the sweep is not a matter of size.

# %% tags=["nbval-check-output"]
session, face = editor.session, Face(seed=1)
for r in (None, 0):
    e = Edit("Park pullback (guidance)", 0, 1.0, random=r)
    print(f"{'random unit v' if r is not None else 'v_1':14s} moves x_t by {session.edit_size(e, face=face):.3f} "
          f"of its norm")

# %% [markdown]
# ## 3. What each row of the sweep moves
#
# The shipped sweep `data/runs/08_sweep.json` (face seed 1, c = -2 .. 2): per method the three
# attributes that move most, each by its largest change from the original over the four strengths
# as a signed fraction of its range (`sweep_changes`), and the largest change of any of 4 random
# directions of the same size at c = 2, under the same sampling process.

# %% tags=["nbval-check-output"]
sweep = load_run("08_sweep")["rows"]
print(f"{'method':26s} {'top 3 over c = -2 .. 2':50s} random, same size")
for m in dict.fromkeys(r["method"] for r in sweep):
    mine, rand = sweep_changes(sweep, m)
    print(f"{m:26s} {', '.join(f'{a} {v:+.2f}' for a, v in mine):50s} {rand[0]} {rand[1]:+.2f}")

# %% [markdown]
# - **The Asyrp editors'** largest change on this face is the glasses (-1.00 of its range: taken
#   off), then smile, then eye size. Random directions of the same size also move eye size most, so
#   that side effect may be what any push of this size does to this face.
# - **The mean difference, paired and supervised** smile directions, at |c| <= 2, do not move smile
#   on this face; the mean difference moves hair length and colour more than its random baseline,
#   paired and supervised barely move anything (at most 0.03 of a range; random 0.00-0.01).
# - **PCA, Jacobian and pullback** move what their first direction encodes on this face (hair, face
#   size, eye size, position), each more than its random baseline.
# - **Readings below -1** lie outside the probe's training range (-1 to +1): it extrapolates there.
#
# ## 4. The smile editor and the mean difference at matched size
#
# The shipped run `data/runs/08_matched.json` (face seed 1): Asyrp's $f$ at c = +1 and -1, and the
# mean difference at c = +-m, where m makes its size about $f$'s on this face, with a random direction
# of the mean difference's size at +m. Per image: smile's change as a fraction of its range, then
# the three largest changes of the other attributes.

# %% tags=["nbval-check-output"]
matched = load_run("08_matched")
print(matched["notes"])
rows = matched["rows"]
for r in rows:
    if r["c"] == 0:
        continue
    ref = next(x for x in rows if x["c"] == 0)  # the original face (c = 0 edits nothing)
    read = {a: torch.tensor([ref[a], r[a]]) for a in ll.ATTRIBUTES}
    top = ", ".join(f"{a} {v:+.2f}" for a, v in largest_changes(read, top=3, exclude=("smile",)))
    label = ("random like " if r["random"] >= 0 else "") + f"{r['method']} x {r['c']:+g}"
    print(f"{label:33s} smile {(r['smile'] - ref['smile']) / 2:+.2f} | {top}")

# %% [markdown]
# At c = -1, outside its training (it learned to add a smile at c = 1), $f$ barely lowers smile but
# moves eye size and hair: a usage caveat for the slider's negative half. The mean difference at
# about $f$'s size still changes smile little on this face while it moves hair and position, on
# one face and one random draw. Lecture 10 and its lab measure the methods on many faces with
# matched random baselines.

# %% [markdown]
# ## Exercises
#
# Four exercises and a mini-project, on a fresh editor as the lecture opens it: the strength from
# Python, when the smile edit takes the glasses off, whether two edits add, a strength set to a pixel
# budget by bisection, and additivity against strength. Each gives its difficulty, its importance and
# a time to spend on it, in ARENA's form. Fill in each cell marked `# YOUR CODE HERE` (replace every
# `None`, or complete the function), then run the check below it. Worked solutions:
# `../solutions/08_widget_editor_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex  # noqa: E402

editor = EditWidget(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
session = editor.session
display(editor, exclude={"text/plain"})

# %% [markdown]
# ### Exercise 08.1: set the strength from Python
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵⚪⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# With the editor as it opened (Asyrp $f$, smile -> +1, seed 1), set the strength to 1.5,
# wait for the full image, and give `smile_change`: the edited face's smile reading minus the
# original's (in the probe's units).

# %%
# YOUR CODE HERE: editor.strength.value = ...; editor.wait(); then read editor.readings_before / readings_after
smile_change = None

# %%
ex.check_strength_reading(editor, smile_change)

# %% [markdown]
# ### Exercise 08.2: when does the smile edit take the glasses off?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# On the grid `GRID`, find `c_off`, the smallest strength at which the edited face's glasses reading
# falls below 0.5, and `smile_kept`, the smile reading at the strength just below `c_off`.
# `session.sweep([Edit("Asyrp f", "smile -> +1", c) for c in GRID])` makes the images in one call;
# `probe(images)` reads them.

# %%
GRID = tuple(0.25 * i for i in range(1, 13))  # 0.25, 0.5, ..., 3.0
# YOUR CODE HERE: c_off (a strength of GRID) and smile_kept (a smile reading)
c_off = None
smile_kept = None

# %%
ex.check_glasses_off(model, editor.x_T, c_off, smile_kept)

# %% [markdown]
# ### Exercise 08.3: are two edits additive?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Edit A is `Edit("Asyrp f", "smile -> +1", 1.0)`, edit B `Edit("Asyrp f", "glasses -> 0", 1.0)`.
# Make the face edited by A, by B, and by both (`session.render(A, B)` adds their dh in h), read all
# three and the original with `probe`, and give `error = ll.additivity_error(delta_a, delta_b,
# delta_ab)`, each delta the dict of changes (edited minus original). 0: the edits add exactly.

# %%
# YOUR CODE HERE: delta_a, delta_b, delta_ab, then error
error = None

# %%
ex.check_additivity(model, editor.x_T, error)

# %% [markdown]
# ### Exercise 08.4: a strength for a pixel budget, by bisection
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Lecture 10 compares methods at one **pixel budget**: every edit is scaled until its RMS pixel
# change meets the budget, so that no method wins by simply editing more. The change grows with the
# strength $c$, so a bisection finds the $c$ that meets it: keep a bracket `[lo, hi]` whose pixel
# change at `lo` is below the budget and at `hi` above it, test its midpoint, keep the half that still
# brackets the budget, and stop when `hi - lo < tol`. Complete `strength_for_budget(pixels_at,
# budget, lo, hi, tol)`, which returns the midpoint of the last bracket, then find `c`, the smile
# edit's strength at a budget of 0.15 (lecture 10's), with `pixels_at` below (face seed 1, 10 DDIM
# steps), on `[0, 2]` with `tol = 0.02`. The check first runs your function on two curves with
# known roots, then renders the edit at your `c`.

# %%
from latentlab.metrics import pixel_change  # noqa: E402

smile_f = ll.load_editor("smile", 1.0, kind="f")
x_T1 = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(1))  # face seed 1
base_10 = ll.ddim_sample(model, x_T1, 10, progress=False)


def pixels_at(c):  # RMS pixel change of the smile edit at strength c (10 steps, asymmetric from t = 200)
    x = ll.ddim_sample(model, x_T1, 10, dh=lambda t, h: c * smile_f(t, h), t_edit=200, asymmetric=True,
                       progress=False)
    return pixel_change(x, base_10).mean().item()


def strength_for_budget(pixels_at, budget, lo, hi, tol):
    # YOUR CODE HERE: halve [lo, hi] until hi - lo < tol; return the midpoint
    return None


# YOUR CODE HERE: c, the strength whose pixel change meets 0.15
c = None

# %%
ex.check_strength_for_budget(model, x_T1, strength_for_budget, c, 0.15)

# %% [markdown]
# ### Mini-project 08.5: do two edits add better when they are small?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# Exercise 08.3 measured the additivity of the smile and glasses-off edits at $c = 1$, on one face.
# Asyrp's claim of additive $h$-space edits is a first-order one, so the error should shrink as the
# edits do. Does it, and from which strength does it grow? Measure `ll.additivity_error` at several
# strengths (the same $c$ for both edits) on a few faces, say how you would tell a trend from the
# spread between faces, and whether the probe's two attributes are the right instrument. Hint: one
# `ll.ddim_sample` call can render every face, strength and edit at once, with a `dh` that scales each
# sample's edit by its own strength. One worked way is in the solutions.
