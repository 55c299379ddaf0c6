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
# # 08 · The editor: every method, one slider
#
# Notebooks 03-07 edited faces with many kinds of direction and measured them in bulk. Here they sit
# behind one widget: pick a face, a method and a direction, drag **strength**, and the edit appears
# at once, with the probe's readings of the original and the edited face beside it.
#
# | control | what it does |
# |---|---|
# | face | a **seed** (its x_T), a **rendered face**, or an **uploaded image** (resized, DDIM-inverted) |
# | method | every method of the registry `latentlab.methods.METHODS` (notebooks 03-06), random included |
# | direction | "attribute -> goal" (a method with a goal), or the index i of an unsigned direction (c < 0: -d) |
# | strength | c, in the method's own unit, printed under the slider (`METHODS[name].unit`) |
# | t_edit | h-space methods edit every step with t >= t_edit; Park's methods move x_t once, at t_edit (fixed) |
# | asymmetric | Asyrp's step (edited eps in P_t only) or the plain one (edited eps in both terms; Haas et al.'s) |
# | add to combination | keeps the current edit and adds the next one to it in h (the additivity claim) |
# | reset, save PNG | back to the original; write original / edited / difference to a file |
#
# The methods are mean difference and paired (notebook 03), Asyrp dh and f (04), Haas PCA, Jacobian
# and supervised (05), Park's pullback by guidance or by a move and transported (06), and the random
# baseline. A method with a goal (the Asyrp editors: the shipped ones; the others: each attribute
# towards the top of its range) points its direction at it; for PCA, Jacobian, pullback and random
# the sign of a direction means nothing, so c < 0 takes -d. An uploaded image is resized to 32 x 32,
# DDIM-inverted and regenerated with `clip=False`, as is a rendered face.
#
# Choosing a method sets t_edit and asymmetric as the registry says (its paper's settings: Asyrp
# from its editor's t_edit, asymmetric; Haas every step, symmetric; Park at 0.6 T). Mistakes (a file
# that is not an image, a Park edit combined with an h-space one) show as a red message.
#
# **How it stays fast on a CPU.** The widget (`latentlab.course.widget.EditWidget`) only shows; the
# computing is an `EditSession` (`latentlab.session`), which you can also call from Python. It keeps
# what no slider changes (per face: x_T, the unedited trajectory and readings; per method: its fit),
# computes on a worker thread that drops a computation as soon as a newer slider value arrives, runs
# the two U-Net passes of an asymmetric step as one batch, and shows a 5-step preview before the
# 20-step image (for Park's guidance the preview takes one step of 16 gamma instead of 16 of gamma).
#
# **The latency and what was measured.** The time goes to U-Net evaluations: everything else (the
# probe's reading, two PNGs of 32 x 32, the widget messages) costs about 2 ms per image, and the page
# in Voilà shows an image 20-41 ms after the kernel hands it over (`benchmarks/widget_browser_latency.py`).
# `benchmarks/widget_latency.py` counts the work of one slider move (one thread, batch 1; an
# asymmetric step is one U-Net pass of 2 samples) and times it, here with the 2-core machine nearly
# idle (load average 1.4-3; medians of 10 moves, from the move to the image):
#
# | methods | U-Net samples (preview + full) | preview, ms | full image, ms |
# |---|---|---|---|
# | Haas PCA, Jacobian, supervised (symmetric) | 5 + 20 | 97 | 478 (PCA) |
# | mean difference, paired, Asyrp dh and f, random (asymmetric) | 9-10 + 36-40 | 143-148 | 682-725 |
# | Park pullback (guidance), Park transported | 6 + 45 | 108 | 799 (guidance) |
# | Park pullback (move) | 4 + 13 | 74 | 324 |
# | (plain `ddim_sample`, no edit, no widget) | 5 or 20 | 87-98 | 347-421 |
#
# So the full image takes 0.9-2.2 times a plain 20-step sample: the asymmetric step evaluates the
# U-Net twice, Park's guidance 32 times more. The preview comes within 0.15 s for every method (Park's
# guidance too: its preview takes one step of 16 gamma instead of 16 steps of gamma). On a machine busy with other jobs every time grows with the load (at load 8-12, two to ten
# times longer).
#
# The editor also runs on its own as a web app, for a lecture: `voila notebooks/08_widget_editor.ipynb`.
# Voilà runs every cell before the page answers a slider, so the measurements below the editor
# are skipped there: `in_voila()` is True only in a kernel Voilà started.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.course.plot import show_rows
from latentlab.course.widget import EditWidget, in_voila
from latentlab.methods import METHODS
from latentlab.metrics import largest_changes
from latentlab.session import Edit

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # two cores shared with background jobs: one thread is the fastest here
MEASURE = not in_voila()  # the lecture demo (Voila) shows the editor only

model, probe = ll.load_model(), ll.load_probe()

# %% [markdown]
# ## The editor
#
# Seed 1 is a face that frowns (smile -0.8 on the probe's scale of -1 to +1) and wears glasses
# (glasses 1.00); both readings are printed below the editor. The learned smile editor (Asyrp's $f$)
# starts at half strength. Drag the strength slider (or click it and use the arrow keys), then try the
# other methods. The first use of a fitted method (mean difference, PCA, Jacobian, ...) fits it once
# (a few seconds); Park's pullback is computed once per face.

# %%
editor = EditWidget(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
session = editor.session  # the computing behind the widget, for the cells below
editor

# %% [markdown]
# The widget can be driven from Python too: set a control's value and wait for the image. Here the
# smile editor at three strengths, with the probe's smile reading of the face it shows:

# %%
# NBVAL_CHECK_OUTPUT
editor.wait()
print(f"seed 1, unedited: smile {editor.readings_before['smile']:+.1f}, "
      f"glasses {editor.readings_before['glasses']:.2f}")
for c in (0.0, 1.0, 0.5):
    editor.strength.value = c
    editor.wait()
    print(f"strength {c:.1f}: smile {editor.readings_before['smile']:+.1f} -> {editor.readings_after['smile']:+.1f}")

# %% [markdown]
# ## What strength 1 means for each method
#
# The slider's strength c scales each method's own unit, and the units differ. The registry says
# what c = 1 is for each:

# %%
for name, m in METHODS.items():
    print(f"{name:25s} {m.unit[:74]}{'...' if len(m.unit) > 74 else ''}")

# %% [markdown]
# How far c = 1 moves this face: for the h-space methods the median over the edited steps of
# $\|\Delta h\| / \|h\|$ along the face's unedited trajectory (`session.edit_size`); for Park
# $\|\Delta x\| / \|x\|$ at t_edit.

# %%
# NBVAL_CHECK_OUTPUT
ROWS = {"mean difference (smile)": ("mean difference", "smile -> +1"),
        "Asyrp dh (smile +1)": ("Asyrp dh", "smile -> +1"), "Asyrp f (smile +1)": ("Asyrp f", "smile -> +1"),
        "Haas PCA #0": ("Haas PCA", 0), "Haas Jacobian #0": ("Haas Jacobian", 0),
        "Park pullback #0": ("Park pullback (guidance)", 0)}
if MEASURE:
    size = {label: session.edit_size(Edit(method, target, 1.0)) for label, (method, target) in ROWS.items()}
    for label, v in size.items():
        print(f"{label:24s} c = 1 moves {'x_t' if label.startswith('Park') else 'h'} by {v:.2g} of its norm")
    park = session.edit_size(Edit("Park pullback (guidance)", 0, 1.0, random=0))
    print(f"{'(random unit v for Park)':24s} gamma = 0.1 moves x_t by {park:.2g} of its norm")

# %% [markdown]
# So c = 1 is not one size across methods on this face: Asyrp's editors move h by 1.4-1.5 of its norm,
# 5 to 9 times as far as the mean difference (0.16), PCA (0.27) or Jacobian (0.29) do at c = 1, and
# Park's guidance moves x_600 by 1.4 % (a random unit v with the same gamma by 2.8 %). Compare the
# rows of the sweep below with that in mind: a larger effect at the same c may only be a larger edit.
#
# ## Without a kernel: one strength sweep per method (one face, seed 1)
#
# The same face, each method at strengths -2 .. 2 (the middle column is the original), computed by
# `session.sweep`, which makes the widget's calls for all strengths and methods in a few batches.
# Mean difference and the Asyrp editors are meant to push smile; PCA, Jacobian and pullback show their
# first direction (index 0), whatever it turns out to do on this face; their sign is arbitrary (a
# singular vector or principal component is defined up to sign), so c < 0 is as meaningful as c > 0.
# Each row uses its paper's sampling process, so the rows differ in more than the direction: mean
# difference edits with the asymmetric step at every step, Asyrp at t >= 200, Haas PCA and
# Jacobian with the symmetric step at every step, Park edits x_t once at t = 600 and then samples
# plainly.
#
# The baseline: for each row, 4 random directions of the same size as its c = 2 edit at every step
# (`Edit(..., random=seed)`: a Gaussian direction with the per-step norms of the row's dh on this
# face; for Park a random unit v with the same gamma), under the same process.

# %%
STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)
RANDOM = 4  # random directions per row
if MEASURE:
    edits = [Edit(m, t, c) for m, t in ROWS.values() for c in STRENGTHS]
    edits += [Edit(m, t, 2.0, random=seed) for m, t in ROWS.values() for seed in range(RANDOM)]
    images = session.sweep(edits).split([len(STRENGTHS)] * len(ROWS) + [RANDOM] * len(ROWS))
    sweep, baseline = dict(zip(ROWS, images[:len(ROWS)])), dict(zip(ROWS, images[len(ROWS):]))
    show_rows(sweep, col_titles=[f"c = {c:g}" for c in STRENGTHS]);

# %% [markdown]
# What the probe reads on the sweep: the smile of each image (the original's in the middle column),
# then the three attributes that move most, each by its largest change from the original over the
# four strengths, as a signed fraction of the attribute's range (`largest_changes`), and the same for
# the 4 random directions (the largest one).

# %%
# NBVAL_CHECK_OUTPUT
if MEASURE:
    print(f"{'smile at':24s}" + "".join(f"{'c = ' + format(c, 'g'):>8s}" for c in STRENGTHS))
    for label, images in sweep.items():
        print(f"{label:24s}" + "".join(f"{v:+8.1f}" for v in probe(images)["smile"].tolist()))
    print(f"\n{'largest change, of range':24s} {'top 3 over c = -2 .. 2':48s} random, same size")
    for label, images in sweep.items():
        top = ", ".join(f"{a} {v:+.2f}" for a, v in largest_changes(probe(images), reference=2))
        (a, v), = largest_changes(probe(torch.cat([editor.x0[None], baseline[label]])), top=1)
        print(f"{label:24s} {top:48s} {a} {v:+.2f}")

# %% [markdown]
# The smile editor at c = +1 and c = -1, and the mean difference at about the size of Asyrp's $f$
# with a random direction of that size: the change of smile, then the three largest changes of the
# other attributes, each as a fraction of the attribute's range.

# %%
# NBVAL_CHECK_OUTPUT
if MEASURE:
    c_md = round(size["Asyrp f (smile +1)"] / size["mean difference (smile)"])  # the mean difference at f's size
    more = [Edit("Asyrp f", "smile -> +1", 1.0), Edit("Asyrp f", "smile -> +1", -1.0),
            Edit("mean difference", "smile -> +1", c_md), Edit("mean difference", "smile -> +1", -c_md),
            Edit("mean difference", "smile -> +1", c_md, random=0)]
    for e, x in zip(more, session.sweep(more)):
        r = probe(torch.stack([editor.x0, x]))
        top = ", ".join(f"{a} {v:+.2f}" for a, v in largest_changes(r, top=3, exclude=("smile",)))
        print(f"{e.label():48s} smile {(r['smile'][1] - r['smile'][0]).item() / 2:+.2f} | {top}")

# %% [markdown]
# Read the tables with the sweep; every statement is about this one face (seed 1):
#
# - **The Asyrp editors** raise smile on this face from -0.8 to +0.4 (dh) and +0.0 (f) at c = 1, and
#   to +1.1 and +0.8 at c = 2: for c > 0 smile rises monotonically. Negative c is outside the
#   editors' training (they learned to add a smile, at c = 1): at c = -1, $f$ changes smile by only
#   -0.09 of its range, but eye size by -0.44 and hair length by +0.29. Their largest change over
#   c = -2 .. 2 is not smile but the glasses: both take them off (glasses -1.00 of its range; exercise 2
#   finds the strength). Even at c = 1, $f$ moves eye size (-0.45) about as much as smile (+0.42).
#   Random directions of the same size also move eye size most (-0.57 and -0.77), so that side effect
#   may be what any push of this size does to this face; their largest change is not smile or glasses.
# - **Smile readings below -1** (-1.5 for Asyrp dh at c = -2) lie outside the range the probe was
#   trained on (-1 to +1): it extrapolates there, and such readings are not calibrated.
# - **The mean difference** (the registry's: the mean h of the 128 faces above the middle of smile's
#   range minus that below, asymmetric at every step) does not move smile on this face at these
#   strengths (-0.8 throughout); its largest changes are hair length (-0.29) and hair colour (+0.18),
#   more than its random baseline (+0.02). At about Asyrp's size (c = ±10, 10 x 0.16 of h's norm, near
#   $f$'s 1.5) smile changes by only +0.04 and -0.04 of its range (a random direction of that size:
#   +0.01), while hair length moves by +0.39 and, at c = -10, y position by -0.65. On this face the
#   direction labelled smile is mostly something else; notebook 10 measures it on many faces.
# - **The unsupervised directions** (PCA, Jacobian, pullback; their sign is arbitrary) move what their
#   first component encodes on this face, not smile. Top two: PCA hair length (-0.17) and hair colour
#   (+0.13); Jacobian face size (-0.14) and hair colour (-0.09); pullback eye size (-0.28) and hair
#   colour (-0.22). Random directions of the same size move no attribute by more than 0.02 of its
#   range in these rows, so on this face these changes are larger than chance.
# - **The rows differ in process too**: Haas's rows edit every step symmetrically, the mean difference
#   every step and Asyrp t >= 200 asymmetrically, Park's row x_600 once; the random baselines share
#   each row's process, the comparison between rows does not.
#
# Notebooks 04-06 and 10 measure these claims on many faces with random baselines; the editor is for
# looking, one face at a time.

# %% [markdown]
# ## Exercises
#
# Three exercises on the editor as a measuring instrument: drive it from Python, find where an edit's
# side effect sets in, and test whether two edits add. Fill in each cell marked `# YOUR CODE HERE`
# (replace every `None`), then run the check below it: it says what is right, or what is wrong and
# what to try. The checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/08_widget_editor_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

# %% [markdown]
# ### Exercise 1: set the strength from Python
#
# With the editor as the notebook opened it (Asyrp $f$, smile -> +1, seed 1), set the strength to 1.5,
# wait for the full image, and give `smile_change`: the probe's smile reading of the edited face minus
# that of the original (in the probe's units).

# %%
# YOUR CODE HERE: editor.strength.value = ...; editor.wait(); then read editor.readings_before / readings_after
smile_change = None

# %%
ex.check_strength_reading(editor, smile_change)

# %% [markdown]
# ### Exercise 2: when does the smile edit take the glasses off?
#
# The sweep showed the smile editors removing the glasses at large strengths. On the grid `GRID` below,
# find `c_off`, the smallest strength at which the edited face's glasses reading falls below 0.5, and
# `smile_kept`, the smile reading at the strength just below `c_off` (the most smile this editor gives
# this face with the glasses kept). `session.sweep([Edit("Asyrp f", "smile -> +1", c) for c in GRID])`
# makes the images in one call; `probe(images)` reads them.

# %%
GRID = tuple(0.25 * i for i in range(1, 13))  # 0.25, 0.5, ..., 3.0
# YOUR CODE HERE: c_off (a strength of GRID) and smile_kept (a smile reading)
c_off = None
smile_kept = None

# %%
ex.check_glasses_off(model, editor.x_T, c_off, smile_kept)

# %% [markdown]
# ### Exercise 3: are two edits additive?
#
# Edit A is the smile editor at c = 1 (`Edit("Asyrp f", "smile -> +1", 1.0)`), edit B the
# glasses-removing editor at c = 1 (`Edit("Asyrp f", "glasses -> 0", 1.0)`). Make the face edited
# by A alone, by B alone, and by both together (`session.render(A, B)` adds their dh in h, as the
# widget's "add to combination" does), read all three and the original with `probe`, and give
# `error = ll.additivity_error(delta_a, delta_b, delta_ab)`, where each delta is the dict of changes
# (edited minus original, one-element tensors). 0 means the two edits add exactly.

# %%
# YOUR CODE HERE: delta_a, delta_b, delta_ab, then error
error = None

# %%
ex.check_additivity(model, editor.x_T, error)
