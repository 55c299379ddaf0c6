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
# # 03 · h-space: solutions to the exercises
#
# The exercises at the end of `../03_h_space.ipynb`, each with a worked solution and its check. Only the setup the
# exercises need is repeated here; the notebook explains the ideas.

# %%
import torch

from latentlab.course.plot import lecture_style

lecture_style()
import latentlab as ll
from latentlab.course import exercises as ex

torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
glasses_dh = ll.load_editor("glasses", 1.0, kind="dh")  # Asyrp's learned raw dh: one dh per timestep

# %% [markdown]
# ### Exercise 1: the asymmetric step, written out
#
# `x_500` holds four renders noised to $t = 500$ (the next step of the 10-step grid is 400) and
# `dh_500` is the learned glasses edit there. Write
# $x_{400} = \sqrt{a_{400}}\,\mathrm{clip}\big((x_{500} - \sqrt{1 - a_{500}}\,\tilde\epsilon)/\sqrt{a_{500}}\big)
# + \sqrt{1 - a_{400}}\,\epsilon$, with the **edited** noise $\tilde\epsilon$ =
# `ll.eps_of(model, x_500, 500, dh=dh_500)`, the **unedited** $\epsilon$ = `ll.eps_of(model, x_500,
# 500)`, clip to $[-1, 1]$ and $a$ = `model.scheduler.alphas_cumprod`.

# %%
faces_ex, _ = ll.render_faces(4, seed=31)
x_500 = ll.q_sample(model, faces_ex, 500, generator=torch.Generator().manual_seed(31))
dh_500 = glasses_dh(500, ll.h_of(model, x_500, 500))  # (4, 128, 4, 4)

a = model.scheduler.alphas_cumprod
eps, eps_edit = ll.eps_of(model, x_500, 500), ll.eps_of(model, x_500, 500, dh=dh_500)
x0_edit = ((x_500 - (1 - a[500]).sqrt() * eps_edit) / a[500].sqrt()).clamp(-1, 1)  # P_t(eps_edit)
x_400 = a[400].sqrt() * x0_edit + (1 - a[400]).sqrt() * eps  # D_t(eps): unedited

# %%
ex.check_asymmetric_step(model, x_500, 500, dh_500, x_400)

# %% [markdown]
# ### Exercise 2: when does a glasses edit stop working?
#
# Section 4 swept $t_\text{edit}$ for the smile editor; now the glasses editor. Add `glasses_dh` only
# at the steps $t \ge t_\text{edit}$ (`ll.ddim_sample(model, x_T, 10, dh=glasses_dh, t_edit=...)`) to
# the 6 faces `x_T_ex` (none has glasses unedited); read glasses as `probe(x0)["glasses"] > 0.5`.
# Find `t_stop`, the smallest $t_\text{edit}$ among 0, 200, 400, 600, 800 from which the edit adds
# glasses to none of them. Is glasses decided earlier or later than smile?

# %%
x_T12 = torch.randn(12, *model.sample_shape, generator=torch.Generator().manual_seed(0))
unedited = probe(ll.ddim_sample(model, x_T12, 10, progress=False))["glasses"] > 0.5
x_T_ex = x_T12[~unedited][:6]  # 6 faces without glasses

t_stop = None
for t_edit in (800, 600, 400, 200, 0):
    x0 = ll.ddim_sample(model, x_T_ex, 10, dh=glasses_dh, t_edit=t_edit, progress=False)
    added = int((probe(x0)["glasses"] > 0.5).sum())
    print(f"t_edit = {t_edit}: glasses added to {added} of {len(x_T_ex)}")
    if added > 0:
        break
    t_stop = t_edit

# %%
ex.check_glasses_t_edit(model, x_T_ex, t_stop, editor=glasses_dh, probe=probe)
