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
# # 08 · The editor: every method, one slider
#
# Notebooks 03-06 edited faces with four kinds of direction and measured them in bulk. Here they sit
# behind one widget: pick a face, a method and a direction, drag **strength**, and the edit appears
# at once, with the probe's readings of the original and the edited face beside it.
#
# | control | what it does |
# |---|---|
# | sample | a **seed** (x_T drawn from it), a **rendered face** with the attributes you set, or an **uploaded image** (resized to 32 x 32, DDIM-inverted, regenerated with `clip=False`) |
# | method | **mean difference** of h (notebook 03), **Asyrp dh** and **Asyrp f**, the learned editors (04), **Haas PCA** and **Haas Jacobian** (05), **Park pullback** v_i with x-space guidance (06) |
# | direction / index | the attribute (mean difference, Asyrp) or the component index (PCA, Jacobian, pullback; k = 3 are computed) |
# | strength | c: `c * d(t)` for the h-space methods (PCA: `c * sigma_i(t) * pc_i(t)`; Jacobian: `100 c * s_i(t) * v_i`), `gamma = 0.1 abs(c)` along `sign(c) v_i` for Park |
# | t_edit | h-space methods edit every step with t >= t_edit; Park edits x_t once, at t_edit |
# | asymmetric | Asyrp's step (edited eps in P_t only) or the plain one (edited eps in both terms; Haas et al.'s) |
# | add to combination | keeps the current edit and adds the next one to it in h (the additivity claim) |
# | reset, save PNG | back to the original; write original / edited / difference to a file |
#
# Choosing a method sets t_edit and asymmetric as its paper does (Asyrp: t >= 200, asymmetric; Haas:
# every step, symmetric; Park: t = 600). Mistakes (an index past the k directions a method found,
# a file that is not an image) show as a red message in the widget.
#
# **How it stays fast on a CPU.** Every image is a call of the package's own functions
# (`ddim_sample(dh=...)`, `x_space_guidance`); the widget only caches and schedules. Per sample it
# keeps what no slider changes (x_T, the unedited trajectory, the directions found for that face);
# a worker thread drops a computation as soon as a newer slider value arrives (the sampler's
# `callback` checks a generation counter); the two U-Net passes of an asymmetric step run as one
# batch (`ddim_sample(fused=True)`); and a 5-step preview is shown before the 20-step image.
# `python benchmarks/widget_latency.py` measures the delay from a slider move to the image.
#
# The editor also runs on its own as a web app, for a lecture: `voila notebooks/08_widget_editor.ipynb`.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch
import latentlab as ll
from latentlab.plot import show_rows
from latentlab.widgets import Edit, Editor
plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # two cores shared with background jobs: one thread is the fastest here

model, probe = ll.load_model(), ll.load_probe()

# %% [markdown]
# ## The editor
#
# Seed 1 is a face that frowns a little; the learned smile editor (Asyrp's $f$) starts at half
# strength. Drag the strength slider (or click it and use the arrow keys), then try the other
# methods. The first use of mean difference or PCA fits them on 64 trajectories (a few seconds,
# once); the Jacobian and the pullback are computed per face (a few seconds, once per face).

# %%
editor = Editor(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
editor

# %% [markdown]
# The widget can be driven from Python too: set a control's value and wait for the image. Here the
# smile editor at three strengths, with the probe's smile reading of the face it shows:

# %%
# NBVAL_CHECK_OUTPUT
for c in (0.0, 1.0, 0.5):
    editor.strength.value = c
    editor.wait()
    print(f"strength {c:.1f}: smile {editor.readings_before['smile']:+.1f} -> {editor.readings_after['smile']:+.1f}")

# %% [markdown]
# ## Without a kernel: one strength sweep per method
#
# The same face, each method at strengths -2 .. 2 (the middle column is the original), computed by
# `editor.render`, which reuses the editor's cached directions and makes the same calls as the
# widget. Mean difference and the Asyrp editors push smile; PCA, Jacobian and pullback show their
# first direction (index 0), whatever it turns out to do on this face.

# %%
STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)
ROWS = {"mean difference (smile)": ("mean difference", "smile"), "Asyrp dh (smile +1)": ("Asyrp dh", "smile -> +1"),
        "Asyrp f (smile +1)": ("Asyrp f", "smile -> +1"), "Haas PCA #0": ("Haas PCA", ""),
        "Haas Jacobian #0": ("Haas Jacobian", ""), "Park pullback #0": ("Park pullback", "")}
sweep = {label: torch.stack([editor.render(Edit(method, target, 0, c)) for c in STRENGTHS])
         for label, (method, target) in ROWS.items()}
show_rows(sweep, col_titles=[f"c = {c:g}" for c in STRENGTHS]);

# %% [markdown]
# What the probe reads on the sweep: the smile of each image (the original's in the middle column),
# and the attribute that moves most from c = -2 to c = 2, as a fraction of its range.

# %%
# NBVAL_CHECK_OUTPUT
readings = {label: probe(images) for label, images in sweep.items()}
print(f"{'':26s}" + "".join(f"{'c = ' + format(c, 'g'):>9s}" for c in STRENGTHS) + "   moves most")
for label, r in readings.items():
    span = {a: abs(r[a][-1] - r[a][0]).item() / (hi - lo) for a, (lo, hi) in ll.ATTRIBUTES.items()}
    top = max(span, key=span.get)
    print(f"{label:26s}" + "".join(f"{v:+9.1f}" for v in r["smile"].tolist()) + f"   {top} ({span[top]:.1f})")

# %% [markdown]
# Read the table with the sweep: only the learned editors move smile, and steadily with c (both
# signs: at c < 0 the smile editor deepens the frown). The mean difference of h between the more and
# the less smiling half of 64 samples barely moves it on this face (it moves hair length more):
# notebook 03 found such directions mostly sampling noise at this size. The unsupervised directions
# (PCA, Jacobian, pullback) move whatever their first component encodes at this face, here hair
# length, hair colour and eye size, not smile.
# Notebooks 04-06 measure these claims on many faces with random baselines; the editor is for
# looking, one face at a time.
