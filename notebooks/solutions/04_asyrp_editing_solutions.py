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
# # 04 · Asyrp: learned editors in h-space: solutions to the exercises
#
# The exercises at the end of `../labs/04_asyrp_editing_lab.ipynb`, each with a worked solution and its check.
# Only the setup the exercises need is repeated here; the [lecture](../04_asyrp_editing.ipynb) explains the ideas.

# %%
import torch

import latentlab as ll
from latentlab.course import exercises as ex

torch.set_num_threads(1)
model = ll.load_model()
smile_f, glasses_f = ll.load_editor("smile", 1.0, "f"), ll.load_editor("glasses", 1.0, "f")
smile_dh = ll.load_editor("smile", 1.0, "dh")

# %% [markdown]
# ### Exercise 1: scale and add two editors
#
# An editor is a function $(t, h) \mapsto \Delta h$. Linearity says that scaling $\Delta h$ scales the
# edit and adding two $\Delta h$ adds the edits. Write `mix`, the function
# $(t, h) \mapsto 1.5\,f^\text{smile}_t(h) + 0.5\,f^\text{glasses}_t(h)$ that `ll.ddim_sample(model, x_T, S,
# dh=mix, t_edit=200)` would take.

# %%
mix = lambda t, h: 1.5 * smile_f(t, h) + 0.5 * glasses_f(t, h)

# %%
ex.check_editor_mix(smile_f, glasses_f, mix)

# %% [markdown]
# ### Exercise 2: does the edit depend on the face?
#
# `h_two` is the bottleneck of two different noisy inputs at $t = 500$. Evaluate the smile editor in both
# forms, `smile_f` (the function $f_t(h)$) and `smile_dh` (the raw $\Delta h$), on `h_two`, and give for each
# the cosine similarity between the $\Delta h$ of face 0 and that of face 1 (flatten each first). Which
# form can adapt its edit to the face?

# %%
h_two = ll.h_of(model, torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(41)), 500)

cosine = torch.nn.functional.cosine_similarity
d_f, d_dh = smile_f(500, h_two).flatten(1), smile_dh(500, h_two).flatten(1)
cos_f, cos_dh = cosine(d_f[0], d_f[1], dim=0).item(), cosine(d_dh[0], d_dh[1], dim=0).item()
print(f"f: {cos_f:.3f}, raw dh: {cos_dh:.3f}")

# %%
ex.check_editor_dependence(smile_f, smile_dh, h_two, 500, cos_f, cos_dh)
