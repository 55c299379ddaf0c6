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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · The editor: solutions to the exercises
#
# The exercises of `../labs/08_widget_editor_lab.ipynb` (lecture `../08_widget_editor.ipynb`), each with a worked
# solution and its check. Only the setup the exercises need is repeated here; the lecture explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex
from latentlab.course.widget import EditWidget
from latentlab.session import Edit

torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
editor = EditWidget(model, probe=probe, seed=1, method="Asyrp f", target="smile -> +1", strength=0.5)
session = editor.session  # the computing behind the widget

# %% [markdown]
# ### Exercise 1: set the strength from Python
#
# With the editor as the notebook opened it (Asyrp $f$, smile -> +1, seed 1), set the strength to 1.5,
# wait for the full image, and give `smile_change`: the probe's smile reading of the edited face minus
# that of the original (in the probe's units).

# %%
editor.strength.value = 1.5
editor.wait()  # without it, the readings are those of the last image shown
smile_change = editor.readings_after["smile"] - editor.readings_before["smile"]
print(f"smile change at c = 1.5: {smile_change:+.2f}")

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
r = probe(session.sweep([Edit("Asyrp f", "smile -> +1", c) for c in GRID]))
i = next(j for j, g in enumerate(r["glasses"].tolist()) if g < 0.5)
c_off, smile_kept = GRID[i], r["smile"][i - 1].item()
print(f"glasses off from c = {c_off:g}; smile at c = {GRID[i - 1]:g}: {smile_kept:+.2f}")

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
A, B = Edit("Asyrp f", "smile -> +1", 1.0), Edit("Asyrp f", "glasses -> 0", 1.0)
x_a, x_b = session.sweep([A, B])
r = probe(torch.stack([editor.x0, x_a, x_b, session.render(A, B)]))
delta_a, delta_b, delta_ab = ({k: v[i:i + 1] - v[:1] for k, v in r.items()} for i in (1, 2, 3))
error = ll.additivity_error(delta_a, delta_b, delta_ab)
print(f"additivity error: {error:.2f}")

# %%
ex.check_additivity(model, editor.x_T, error)
