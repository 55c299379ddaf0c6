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
# The exercises at the end of `../03_h_space.ipynb` (03.1, 03.2) and of `../labs/03_h_space_lab.ipynb` (03.3 and
# mini-project 03.4), each with a worked solution and its check. Only the setup the exercises need is
# repeated here; the notebooks explain the ideas.

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
# ### Exercise 03.1: the asymmetric step, written out
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
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
# **Discussion.** The edit moves $x_{400}$ by 1.90 asymmetrically and by 0.77 symmetrically: in the
# symmetric step $D_t$ carries the edited $\epsilon$ too and undoes part of what $P_t$ gained. That is
# why Asyrp keeps $D_t$ unedited.

# %% [markdown]
# ### Exercise 03.2: when is glasses decided?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Section 4 swept $t_\text{edit}$ for smile; now glasses, on the 20-step grid ($t$ = 0, 50, ..., 950).
# Add `glasses_dh` only at $t \ge t_\text{edit}$ (`ll.ddim_sample(model, x_T_ex, 20, dh=glasses_dh,
# t_edit=...)`) to the 6 faces `x_T_ex` (none has glasses unedited; glasses is
# `probe(x0)["glasses"] > 0.5`). Find `t_half`, the largest $t_\text{edit}$ from which the edit still
# adds glasses to at least 3 of them. Each try takes seconds: bisect between 0 (most faces get
# glasses) and 1000 (no edit). Is glasses decided earlier or later than smile?
#
# One way: bisect over the grid's indices, keeping `lo` where the edit works on at least half and
# `hi` where it does not (start: index 0, $t = 0$, and one past the end, no edit).

# %%
x_T12 = torch.randn(12, *model.sample_shape, generator=torch.Generator().manual_seed(0))
unedited = probe(ll.ddim_sample(model, x_T12, 20, progress=False))["glasses"] > 0.5
x_T_ex = x_T12[~unedited][:6]  # 6 faces without glasses

# %%
grid = ll.ddim_timesteps(model, 20).flip(0).tolist()  # ascending: 0, 50, ..., 950
lo, hi = 0, len(grid)  # the edit from grid[lo] works on >= half; from grid[hi] (or no edit) it does not
while hi - lo > 1:
    mid = (lo + hi) // 2
    x0 = ll.ddim_sample(model, x_T_ex, 20, dh=glasses_dh, t_edit=grid[mid], progress=False)
    added = int((probe(x0)["glasses"] > 0.5).sum())
    print(f"t_edit = {grid[mid]}: glasses added to {added} of {len(x_T_ex)}")
    lo, hi = (mid, hi) if 2 * added >= len(x_T_ex) else (lo, mid)
t_half = grid[lo]

# %%
ex.check_glasses_t_half(model, x_T_ex, t_half, editor=glasses_dh, probe=probe)

# %% [markdown]
# **Discussion.** Four runs instead of twenty: editing only the steps $t \ge 600$ still gives half the
# faces glasses, from 650 a third, from 750 one face. Glasses is decided earlier than smile: the
# lecture's section 4 table has the smile editor, restricted to $t \ge 600$, moving only about a quarter
# of the faces the right way. Bisection assumes the count falls as $t_\text{edit}$ rises, which held
# here (the counts 5, 3, 2, 1 fall) but need not hold face by face.

# %% [markdown]
# ### Exercise 03.3: Asyrp's sampler loop
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵🔵🔵
#
# You should spend up to 20-30 minutes on this exercise.
# ```
#
# Lecture 03's exercise 03.1 wrote one asymmetric step; now the whole reverse process. Write
# `asyrp_sample(model, x_T, steps, editor, t_edit)`: DDIM's loop (exercise 02.3) over
# `ll.ddim_timesteps(model, steps)` where every step with $t \ge t_\text{edit}$ takes Asyrp's step
# (its asymmetric step): $\Delta h$ = `editor(t, ll.h_of(model, x, t))`, the edited $\tilde\epsilon$ =
# `ll.eps_of(model, x, t, dh=dh)` in $P_t$ (clipped to $[-1, 1]$), the unedited $\epsilon$ in $D_t$;
# the steps below $t_\text{edit}$ are plain DDIM. Each step goes from $t$ to $t - T/\text{steps}$
# ($T$ = 1000, `T // steps`); the last step starts at $t = 0$, and its "previous" $\bar\alpha$ (at
# $t < 0$) is `model.scheduler.final_alpha_cumprod`. Return $x_0$. The check runs it with the glasses
# editor, 10 steps and $t_\text{edit} = 500$ against `ll.ddim_sample(model, x_T, 10, dh=editor,
# t_edit=500)`, and names the usual slips (the symmetric step, edits below $t_\text{edit}$, no clip).

# %%
def asyrp_sample(model, x_T, steps, editor, t_edit):
    a = model.scheduler.alphas_cumprod
    x = x_T
    for t in ll.ddim_timesteps(model, steps).tolist():
        eps = ll.eps_of(model, x, t)
        eps_edit = ll.eps_of(model, x, t, dh=editor(t, ll.h_of(model, x, t))) if t >= t_edit else eps
        t_prev = t - model.num_train_timesteps // steps
        a_prev = a[t_prev] if t_prev >= 0 else model.scheduler.final_alpha_cumprod
        x0_pred = ((x - (1 - a[t]).sqrt() * eps_edit) / a[t].sqrt()).clamp(-1, 1)  # P_t(edited eps)
        x = a_prev.sqrt() * x0_pred + (1 - a_prev).sqrt() * eps  # D_t(unedited eps)
    return x


# %%
ex.check_asyrp_loop(model, asyrp_sample, glasses_dh, t_edit=500)

# %% [markdown]
# **Discussion.** The loop differs from DDIM's in one line: which $\epsilon$ enters $P_t$ at the edited
# steps. Whole trajectories show the same cancellation as the single step of 03.1: the symmetric
# version moves $x_0$ less than the asymmetric one.

# %% [markdown]
# ### Mini-project 03.4: does the symmetric step's cancellation grow with the number of steps?
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# The lecture says that putting the edited $\epsilon$ into both terms cancels part of the edit, and
# all of it in the limit of small steps. Test that on whole trajectories: for a few faces, sample
# with the glasses editor ($t_\text{edit} = 200$) asymmetrically and symmetrically (`asymmetric=False`)
# at 5, 10 and 20 steps, and measure how far each moves $x_0$ from the unedited sample. Does the
# symmetric share shrink with more steps, and does the probe still see glasses? One way, on 2 faces
# (to keep it under half a minute of CPU): the share of the asymmetric edit's change of $x_0$
# that the symmetric edit keeps.

# %%
x_T2 = torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(3))
for steps in (5, 10, 20):
    plain = ll.ddim_sample(model, x_T2, steps, progress=False)
    moved = {}
    for asym in (True, False):
        x0 = ll.ddim_sample(model, x_T2, steps, dh=glasses_dh, t_edit=200, asymmetric=asym, progress=False)
        moved[asym] = (x0 - plain).flatten(1).norm(dim=1)
        glasses = (probe(x0)["glasses"] > 0.5).int().tolist()
    kept = ", ".join(f"{k:.2f}" for k in (moved[False] / moved[True]).tolist())
    print(f"{steps:2d} steps: asymmetric moves x_0 by {', '.join(f'{m:.1f}' for m in moved[True].tolist())}; "
          f"symmetric keeps {kept} of it; its glasses {glasses}")

# %% [markdown]
# **Discussion.** On face 0 the symmetric share falls steadily with more steps (0.68, 0.45, 0.31), as
# the lecture's limit argument predicts; on face 1 it barely moves (0.94, 0.95, 0.87) over this range,
# so how fast the cancellation sets in depends on the face. The asymmetric change grows with the steps,
# since more steps are edited, and with a glasses $\Delta h$ this strong the symmetric remainder still
# gives both faces glasses: two faces only, so a hint, not a measurement.
