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

# %% [markdown] slideshow={"slide_type": "slide"}
# # 08 · The editor: every method, one slider
#
# ## Key idea
#
# Every direction method of notebooks 03-06 is one entry of a registry, `latentlab.methods.METHODS`,
# and one object, `latentlab.session.EditSession`, turns any entry into an edited face: pick a face,
# a method, a direction and a strength c. The widget (`latentlab.course.widget.EditWidget`) only shows
# what the session computes, so everything the editor does can also be called from Python.
#
# The strength c is in each method's own unit. c = 1 is therefore a different size of edit for each
# method, and two methods compared at the same c are not compared at the same size.
#
# The measurements behind this lecture (the editor's latency, the sweep's side effects against
# random directions of the same size, the sizes per face) are in its
# [lab](labs/08_widget_editor_lab.ipynb). The comparison of the methods on many faces, with its
# statistics, is lecture 10 and its lab.

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display

import latentlab as ll
from latentlab.course.edit_sweeps import load_images, show_sweep, show_unit_sizes, sweep_rows, unit_size_summary
from latentlab.course.plot import lecture_style, show_images
from latentlab.course.runs import RUNS, load_run, same_row
from latentlab.course.widget import EditWidget, in_voila
from latentlab.session import Edit, Face

lecture_style()
torch.set_num_threads(1)  # the machine is shared: one thread is the steadiest
MEASURE = not in_voila()  # as a Voila web app the page shows the editor only
model, probe = ll.load_model(), ll.load_probe()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The editor
#
# | control | what it does |
# |---|---|
# | face | a seed (its x_T), a rendered face, or an uploaded image (resized to 32 px, DDIM-inverted) |
# | method | every method of the registry, the random baseline included |
# | direction | "attribute -> goal" for a method with a goal, else the index i of a direction |
# | strength | c, in the method's unit (`METHODS[name].unit`, printed under the slider) |
# | t_edit, asymmetric | set by the method's paper (Asyrp: asymmetric from its editor's t_edit; Haas: every step, symmetric; Park: x_t moved once at 0.6 T) |
# | add to combination | keeps the edit and adds the next one in h |
#
# For PCA, Jacobian, pullback and random the sign of a direction means nothing (a singular vector
# is defined up to sign), so c < 0 takes -d. The session keeps what no slider changes (per face:
# x_T, the unedited trajectory; per method: its fit), computes on a worker thread that drops a
# computation when a newer slider value arrives, and shows a 5-step preview before the 20-step image.
# As a web app for a lecture: `voila notebooks/08_widget_editor.ipynb`.
#
# Seed 1 frowns and wears glasses. The learned smile editor (Asyrp's $f$) starts at c = 0.5; drag the
# slider, then try other methods (a fitted method fits once, which takes a while on a CPU).

# %%
editor = EditWidget(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
session = editor.session  # the computing behind the widget
display(editor, exclude={"text/plain"})

# %% [markdown] slideshow={"slide_type": "subslide"}
# The widget driven from Python: set a control, wait for the full image, read the probe.

# %% tags=["nbval-check-output"]
editor.wait()
print(f"seed 1: smile {editor.readings_before['smile']:+.2f}, glasses {editor.readings_before['glasses']:.2f}")
for c in (0.0, 1.0, 0.5):
    editor.strength.value = c
    editor.wait()
    print(f"strength {c:.1f}: smile {editor.readings_after['smile']:+.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the widget shows, as a static figure: the face, the edit at c = 1 and their difference.

# %%
if MEASURE:
    original = session.render(face=Face(seed=1))
    edited = session.render(Edit("Asyrp f", "smile -> +1", 1.0), face=Face(seed=1))
    show_images(torch.stack([original, edited, edited - original]), nrow=3,
                titles=["original", "Asyrp f, c = 1", "difference"]);

# %% [markdown] slideshow={"slide_type": "slide"}
# ## One sweep per method
#
# The same face, each method at c = -2 .. 2 (the middle column is the original), made by
# `session.sweep` in the shipped run `data/runs/08_sweep.json` (`benchmarks/lecture_08_editor.py`,
# which fits every method). The methods with a goal push smile up; the others show their direction 0,
# whatever it does on this face. Each row uses its paper's sampling process, so rows differ in more
# than the direction.

# %%
sweep = load_run("08_sweep")
images = load_images(RUNS / "08_sweep.safetensors")
STRENGTHS = sorted({r["c"] for r in sweep["rows"]})
own = [i for i, r in enumerate(sweep["rows"]) if r["random"] < 0]
methods = list(dict.fromkeys(sweep["rows"][i]["method"] for i in own))
show_sweep(sweep["rows"], images);

# %% [markdown] slideshow={"slide_type": "subslide"}
# One row re-run now, Asyrp $f$'s, must give the shipped readings, and the smile the probe reads
# in every row:

# %% tags=["nbval-check-output"]
if MEASURE:
    live, _ = sweep_rows(session, {"Asyrp f": Edit("Asyrp f", "smile -> +1", 1.0)}, STRENGTHS, seed=1)
    shipped = [r for r in sweep["rows"] if r["method"] == "Asyrp f" and r["random"] < 0]
    print("Asyrp f, re-run:", all(same_row(a, b, atol=1e-4) for a, b in zip(live, shipped)))
print(f"{'smile at':26s}" + "".join(f"{'c = ' + format(c, 'g'):>8s}" for c in STRENGTHS))
for m in methods:
    smile = [r["smile"] for r in sweep["rows"] if r["method"] == m and r["random"] < 0]
    print(f"{m:26s}" + "".join(f"{v:+8.1f}" for v in smile))

# %% [markdown] slideshow={"slide_type": "subslide"}
# On this face only the Asyrp editors move smile: from -0.8 to +0.4 ($\Delta h$) and +0.0 ($f$) at
# c = 1, to +1.1 and +0.8 at c = 2, and down at c < 0 (readings below -1 lie outside the range the
# probe was trained on, so it extrapolates there). Both also take the glasses off at c = 2; at
# c = -2, $\Delta h$ takes them off too and $f$, used outside its training, breaks the image.
# Every other row moves smile by 0.1 at most: of the directions labelled smile, the mean difference
# moves hair, while paired and supervised barely move anything at $|c| \le 2$; PCA, Jacobian and
# pullback show whatever their first direction encodes on this face (the lab lists what each row
# moves, against random directions of the same size).
#
# ## What strength 1 means
#
# How far c = 1 moves a face: for the h-space methods the median over the edited steps of
# $\|\Delta h\| / \|h\|$ along the face's unedited trajectory (`session.edit_size`); for Park's
# x-space edits $\|\Delta x\| / \|x_t\|$ at t_edit. Per method over the faces of the shipped run
# `data/runs/08_unit_sizes.json`: the median, its quartiles, and the median's ratio to the mean
# difference's. Seed 1's Asyrp $f$ row is re-run first.

# %% tags=["nbval-check-output"]
sizes = load_run("08_unit_sizes")
if MEASURE:
    live = {"method": "Asyrp f", "seed": 1, "size": session.edit_size(Edit("Asyrp f", "smile -> +1", 1.0),
                                                                       face=Face(seed=1))}
    shipped = next(r for r in sizes["rows"] if r["method"] == "Asyrp f" and r["seed"] == 1)
    print("seed 1, Asyrp f, re-run:", same_row(live, shipped, atol=1e-5))
print(f"{'method':26s} {'faces':>5s} {'median':>8s} {'quartiles':>15s} {'/ mean diff.':>12s}")
for r in unit_size_summary(sizes["rows"], reference="mean difference"):
    space = "x_t" if r["method"].startswith("Park") else "h"
    ratio = f"{r['ratio']:12.1f}" if space == "h" else f"{'-':>12s}"
    print(f"{r['method']:26s} {r['n']:5d} {r['median']:8.3f} {r['q1']:7.3f}-{r['q3']:<7.3f} {ratio}  ({space})")

# %%
show_unit_sizes(sizes["rows"])
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# c = 1 is not one size. Over 256 faces, Asyrp's editors move h by more than its own norm (medians
# 1.371 for $\Delta h$, 1.620 for $f$), 8.8 and 10.4 times as far as the mean difference does (0.156);
# PCA, Jacobian and the supervised direction 1.5-1.9 times as far, the paired direction and the
# random baseline's unit vector far less. Park's edits act on $x_t$, another space: at c = 1 they
# move $x_{600}$ by 0.020-0.036 of its norm (64 faces). So in the sweep above a larger effect at the
# same c may only be a larger edit. The lab compares each row with random directions of its own size.
#
# ## What to remember
#
# - One registry, one session, one widget: every method of the course edits the same face through
#   the same calls, and the editor is a thin view on `EditSession`.
# - The strength c is in each method's own unit: at c = 1 the methods move h by very different
#   amounts. Before saying one method "does more" than another, match the size of the edit (the
#   lab's random baselines do).
# - A sweep of one face is for looking. What a direction does on many faces, against random
#   directions of the same size, is measured in notebooks 04-06 and in lecture 10 and its lab; this
#   lecture's [lab](labs/08_widget_editor_lab.ipynb) holds its per-row tables and its exercises.
