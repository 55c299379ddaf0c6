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
model, probe = ll.load_model(), ll.load_probe()
smile_f, glasses_f = ll.load_editor("smile", 1.0, "f"), ll.load_editor("glasses", 1.0, "f")
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
mix = lambda t, h: 1.5 * smile_f(t, h) + 0.5 * glasses_f(t, h)

# %%
ex.check_editor_mix(smile_f, glasses_f, mix)

# %% [markdown]
# **Discussion.** Mixing editors is arithmetic on their outputs, never on their inputs: scaling $h$
# inside an $f$ editor gives a different $\Delta h$, since $f_t$ is not linear in $h$. Whether the mixed
# $\Delta h$ gives the mixed edit in the image is the linearity property, which the lecture measures.

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

# %% [markdown]
# **Discussion.** The raw $\Delta h$ is one vector per timestep (cosine 1.000 between faces); $f_t(h)$
# gives the two faces related but different shifts (0.904). That freedom is what Asyrp's $f_t$ buys:
# the edit can adapt to each face, where a raw $\Delta h$ pushes every face the same way.

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
    a_t = model.scheduler.alphas_cumprod[t]
    with torch.no_grad():
        eps = ll.eps_of(model, x_t, t)  # the frozen U-Net, unedited
    eps_edit = ll.eps_of(model, x_t, t, dh=dh)  # differentiable in dh
    p_edit, p = ll.P_t(x_t, eps_edit, a_t), ll.P_t(x_t, eps, a_t)  # unclipped, as train_editor
    attr_term = (probe(p_edit)["smile"] - goal).abs().mean() / 2  # smile's range is 2
    return attr_term + l1 * (p_edit - p).abs().mean()


# %%
ex.check_editor_loss(model, probe, editor_loss)

# %% [markdown]
# **Discussion.** With this loss a training step is three more lines: `opt.zero_grad()`,
# `editor_loss(...).backward()`, `opt.step()`, then the asymmetric step to the next $x_t$ with the
# edited $\epsilon$ in $P_t$, which is `train_editor`'s loop. The L1 term is what keeps a learned
# $\Delta h$ from rewriting the whole face; clipping $P_t$ inside the loss would silence the gradient
# exactly where the edit is largest.

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
# `trajectories=3`, `batch=2`: about ten seconds each). One way, small enough for
# half a minute of CPU: penalty weight 10, six faces, so the numbers are rough.

# %%
x_T6 = torch.randn(6, *model.sample_shape, generator=torch.Generator().manual_seed(1))
unedited = probe(ll.ddim_sample(model, x_T6, 10, progress=False))
for keep in (0.0, 10.0):
    small = ll.train_editor(model, "smile", 1.0, "dh", probe=probe, progress=False, steps=10, t_edit=400,
                            trajectories=3, batch=2, keep=keep)
    edited = probe(ll.ddim_sample(model, x_T6, 10, dh=small, t_edit=400, progress=False))
    change = {k: ((edited[k] - unedited[k]).abs().mean() / r.span).item() for k, r in ll.ATTRIBUTES.items()}
    leak = sum(v for k, v in change.items() if k != "smile") / (len(change) - 1)
    smile = (edited["smile"] - unedited["smile"]).mean().item()
    print(f"keep = {keep:4.1f}: smile {smile:+.3f}, leakage {leak:.4f}, leakage per unit smile {leak / smile:.2f}")

# %% [markdown]
# **Discussion.** The penalty lowers the leakage by about a fifth, but the smile change falls by more
# than half, so the leakage per unit of smile gets worse: with 18 optimiser steps the penalty mostly
# slows the edit down instead of steering it. A fair test would train both to the same smile change
# (more trajectories, or a larger learning rate for the penalised one) and compare the leakage there,
# on more than six faces.
