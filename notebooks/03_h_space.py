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
# # 03 · h-space and Asyrp's asymmetric step
#
# ## Key idea
#
# Kwon, Jeong and Uh ("Diffusion Models already have a Semantic Latent Space", arXiv 2210.10960,
# ICLR 2023; *Asyrp*) edit a frozen diffusion model through **h**, its U-Net's middle-block output,
# and edit only the model's guess of the clean image, $P_t$, not the direction back to $x_t$, $D_t$:
# the **asymmetric reverse process**. This lecture finds h on the faces model, asks what it knows that
# $x_t$ does not, why the step must be asymmetric, and when to edit; lecture 04 trains the editors.
# Tests, standard errors and per-setting tables are in the [lab](labs/03_h_space_lab.ipynb).

# %%
import torch

from latentlab.course.plot import lecture_style

lecture_style()
import latentlab as ll
from latentlab.course.asymmetric_step import face_outcomes, step_weights, symmetric_share
from latentlab.course.decodability import decodability_row, show_decodability
from latentlab.course.plot import show_rows, show_unet
from latentlab.course.runs import load_run, run_table, same_row

torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
smile = ll.load_editor("smile", 1.0, "f")  # Asyrp's learned smile editor (lecture 04 trains it)
S = 10  # DDIM steps of the shipped runs

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. What h is
#
# The U-Net predicts the noise $\epsilon_\theta(x_t, t)$. Its down blocks halve the resolution and
# store skip tensors; the **middle block** runs at the lowest resolution; the up blocks climb back,
# taking the skip tensors. Asyrp calls the middle block's output
# **h-space**. `ll.h_of` reads it with a forward hook on `unet.mid_block` and stops the network there;
# `ll.eps_of(..., dh=...)` replaces it by $h + \Delta h$ while the skip tensors keep their values.

# %%
show_unet(model);

# %% tags=["nbval-check-output"]
h = ll.h_of(model, torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(7)), 500)
print("h:", tuple(h.shape), "per batch; x_t:", tuple(model.sample_shape), "per face")
print(f"numbers per face: h {h[0].numel():,}, x_t {torch.Size(model.sample_shape).numel():,}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# On the kit's 32 px faces h is $128 \times 4 \times 4$ (2,048 numbers); on the paper's 256 px models
# it is $512 \times 8 \times 8$ (32,768). The skip connections carry the rest: h is not a code the
# image is decoded from, only the part the edit reaches.
#
# ## 2. What h knows, against x_t
#
# A linear read-out: renders with known attributes are noised to $t$; a ridge regression predicts
# each attribute from h and from $x_t$; the score is the held-out $R^2$ (5 folds). The shipped run
# (`benchmarks/lecture_03_h_space.py`) uses 256 to 4,000 renders.

# %%
dec = load_run("03_decodability")
show_decodability(dec["rows"], t=200, n=dec["n_faces"]);

# %% tags=["nbval-check-output"]
table = run_table("03_decodability")
cols = ["t", "space", "n", "smile", "eye_size", "glasses", "hair_length", "face_size", "hair_color"]
print(table[table.t == 200][cols].round(2).to_string(index=False))

# %% [markdown] slideshow={"slide_type": "subslide"}
# One row re-run live (256 renders, $t = 200$, from h), checked against the shipped one:

# %% tags=["nbval-check-output"]
live = decodability_row(model, 200, "h", 256)
shipped = table[(table.t == 200) & (table.space == "h") & (table.n == 256)].iloc[0].to_dict()
print("live row equals the shipped row:", same_row(live, shipped, atol=2e-3))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What h knows.** At 2,000 renders and $t = 200$, h beats $x_t$ on every attribute printed. The largest
# gaps are hair length (0.90 against 0.53), face size (0.96 against 0.62) and eye size (0.40 against
# 0.08); smile (0.28 against 0.07) and glasses (0.76 against 0.58) gain less. Hair colour is read well
# from both. The read-out needs about a thousand faces: at 256 renders smile scores 0.03; at 1,000
# it scores 0.23. No non-linear read-out was fitted. Linear decodability is not editability:
# whether *adding* a direction to h moves the face is what an edit measures.
#
# ## 3. The asymmetric reverse process
#
# A DDIM step (lecture 02) is $x_{t-1} = \sqrt{a_{t-1}}\,P_t(\epsilon) + D_t(\epsilon)$, with
# $P_t(\epsilon) = (x_t - \sqrt{1 - a_t}\,\epsilon)/\sqrt{a_t}$ and $D_t(\epsilon) = \sqrt{1 - a_{t-1}}\,\epsilon$.
# Asyrp shifts h in the pass that feeds $P_t$ only:
#
# $$x_{t-1} = \sqrt{a_{t-1}}\;P_t\big(\epsilon_\theta(x_t \mid h_t + \Delta h_t)\big) + D_t\big(\epsilon_\theta(x_t \mid h_t)\big).$$
#
# **Why asymmetric.** A change $d$ of $\epsilon$ moves $x_{t-1}$ by $w_P\,d$ through $P_t$ and by
# $w_D\,d$ through $D_t$, with $w_P = -\sqrt{a_{t-1}(1 - a_t)/a_t} < 0$ and $w_D = \sqrt{1 - a_{t-1}} > 0$.
# Put the edited $\epsilon$ in both terms (symmetric) and the two partly cancel. The share the
# symmetric edit keeps, $\sum|w_P + w_D| / \sum|w_P|$ over a grid:

# %% tags=["nbval-check-output"]
for steps in (10, 20, 50, 1000):
    print(f"{steps:4d} steps: the symmetric edit keeps {symmetric_share(model, steps):.2f} of the shift")
w = step_weights(model, S)
print("10 steps, t:", w["timesteps"].tolist())

# %% [markdown] slideshow={"slide_type": "subslide"}
# Asyrp's learned smile editor, added from its own $t_\text{edit} = 200$ up: six faces unedited, with
# the asymmetric edit, and with the editor in both terms.

# %%
x_T = torch.randn(6, *model.sample_shape, generator=torch.Generator().manual_seed(1))
base = ll.ddim_sample(model, x_T, S, progress=False)
asym = ll.ddim_sample(model, x_T, S, dh=smile, t_edit=smile.t_edit, progress=False)
sym = ll.ddim_sample(model, x_T, S, dh=smile, t_edit=smile.t_edit, asymmetric=False, progress=False)
show_rows({"unedited": base, "asymmetric": asym, "symmetric": sym}, scale=1.0);

# %% [markdown] slideshow={"slide_type": "subslide"}
# The shipped run makes the same edits on 256 faces, the six above first. Per edit: `n_movable` counts the faces whose smile the probe reads more than
# 0.1 below the goal +1 (smile runs from -1 to 1), `right_way` is the fraction of those whose smile rose
# by more than 0.1, `change` their mean rise of smile, and `pixel_change` the mean RMS pixel change
# (pixels in $[-1, 1]$).

# %% tags=["nbval-check-output"]
asy = run_table("03_asymmetric_step")
cols = ["mode", "t_edit", "n", "n_movable", "right_way", "change", "pixel_change"]
pair = asy[asy.t_edit == smile.t_edit]
print(pair[cols].to_string(index=False))
a, s = pair.iloc[0], pair.iloc[1]
print(f"symmetric / asymmetric: change {s.change / a.change:.2f}, pixels {s.pixel_change / a.pixel_change:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The six faces re-run live, checked face by face against the shipped run:

# %% tags=["nbval-check-output"]
live = face_outcomes(model, x_T, smile, attr="smile", goal=1.0, steps=S, t_edit=smile.t_edit, probe=probe)
shipped = load_run("03_face_outcomes")["rows"][:6]
print("live faces equal the shipped ones:", all(same_row(u, v, atol=2e-3) for u, v in zip(live, shipped)))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The finding.** The step weights predict that the symmetric edit keeps 0.50 of the shift at 10
# steps; measured, it keeps 0.42 of the mean change of smile and 0.52 of the pixel change, and moves
# smile the right way for 0.71 of the faces against 0.88. With many small steps the cancellation is
# almost complete (0.01 at 1,000 steps), which is why Asyrp's step keeps $D_t$ unedited.
#
# ## 4. When to edit: $t_\text{edit}$ and $t_\text{boost}$
#
# Asyrp edits only in an interval $[t_\text{edit}, T]$ and, below a second timestep $t_\text{boost}$,
# samples stochastically to repair quality. Their rule reads both off LPIPS distances to the final
# image; `ll.edit_interval` puts the probe's features in LPIPS's place. The same editor
# from five values of $t_\text{edit}$:

# %%
rows = {f"t_edit {t}": base if t is None else ll.ddim_sample(model, x_T, S, dh=smile, t_edit=t, progress=False)
        for t in (None, 800, 600, 400, 0)}
show_rows(rows, scale=1.0);

# %% tags=["nbval-check-output"]
cols = ["t_edit", "n", "n_movable", "right_way", "change", "pixel_change"]
print(asy[asy["mode"] == "asymmetric"][cols].to_string(index=False))
iv = run_table("03_edit_interval")
print("rule (probe features for LPIPS): t_edit =", iv.t_edit_rule[0], ", t_boost =", iv.t_boost_rule[0])

# %% [markdown] slideshow={"slide_type": "subslide"}
# The later the edit starts (the larger $t_\text{edit}$), the fewer steps it acts on: on 256 faces the
# right-way fraction falls from 0.95 ($t_\text{edit} = 0$) through 0.88, 0.74 and 0.26 to 0.03
# ($t_\text{edit} = 800$). The rule's thresholds are Asyrp's but its distance is the kit's stand-in,
# so the sweep, not the rule, says where this editor works; boosting is not tested here.
#
# ## 5. The paper says, the toy shows, why they may differ
#
# **What the paper claims and shows.** The abstract: Asyrp "discovers the semantic latent space in
# frozen pretrained diffusion models", h-space, with four properties (lecture 04), and a design of the
# generative process by "editing strength of an interval and quality deficiency at a timestep", on
# DDPM++, iDDPM and ADM models of CelebA-HQ, AFHQ-dog, LSUN-church, LSUN-bedroom and METFACES.
# Figure 1(a-c) sets existing approaches (image guidance, classifier guidance, fine-tuning) beside
# Asyrp in the same figure. h-space is not the intermediate $x_t$. The paper proves that shifting $\epsilon$ in both $P_t$ and $D_t$ leaves
# $x_{t-1}$ nearly unchanged, the cancellation of section 3 here, and sets $t_\text{edit}$ and
# $t_\text{boost}$ by LPIPS thresholds, 0.33 and 1.2 in the official code's README
# (github.com/kwonminki/Asyrp_official).
#
# | | the paper | the toy |
# |---|---|---|
# | h | $512 \times 8 \times 8$, 256 px faces | $128 \times 4 \times 4$, 32 px faces |
# | editing through h | semantic edits on frozen models | the learned smile editor moves smile |
# | asymmetric step | shifting $\epsilon$ in both terms barely moves $x_{t-1}$ | at 10 steps 0.42 survives |
# | when to edit | LPIPS rule for $t_\text{edit}$, $t_\text{boost}$ | the probe stands in for LPIPS |
#
# **Why they may differ.** h is 16 times smaller; the faces are 32 px, so a mouth is a few pixels;
# smile is decodable from h only at $R^2$ 0.28 ($t = 200$, 2,000 renders); the kit's attributes are
# independent, unlike in photographs; every reading comes from the kit's probe, the instrument, not
# the truth; and with 10 DDIM steps the symmetric step keeps more than with many.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# Fill in each `# YOUR CODE HERE` (replace every `None`), then run the check below it; worked
# solutions are in `solutions/03_h_space_solutions.ipynb`. Exercise 03.3 (Asyrp's sampler loop, yours)
# and mini-project 03.4 are in the [lab](labs/03_h_space_lab.ipynb).

# %%
from latentlab.course import exercises as ex

glasses_dh = ll.load_editor("glasses", 1.0, kind="dh")  # Asyrp's learned raw dh: one dh per timestep

# %% [markdown] slideshow={"slide_type": "subslide"}
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
# YOUR CODE HERE: x_400, the same shape as x_500
x_400 = None

# %%
ex.check_asymmetric_step(model, x_500, 500, dh_500, x_400)

# %% [markdown] slideshow={"slide_type": "subslide"}
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

# %%
x_T12 = torch.randn(12, *model.sample_shape, generator=torch.Generator().manual_seed(0))
unedited = probe(ll.ddim_sample(model, x_T12, 20, progress=False))["glasses"] > 0.5
x_T_ex = x_T12[~unedited][:6]  # 6 faces without glasses
# YOUR CODE HERE: t_half, a timestep of the 20-step grid
t_half = None

# %%
ex.check_glasses_t_half(model, x_T_ex, t_half, editor=glasses_dh, probe=probe)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to remember
#
# - h is the U-Net's middle-block output, read and shifted by a hook on `unet.mid_block`; the skip
#   connections keep their values.
# - At $t = 200$ h knows more than $x_t$ about every attribute, most about hair length, face size
#   and eye size; a linear read-out needs about a thousand faces to show it.
# - Asyrp's step edits $P_t$ only; in both terms the edit partly cancels (0.42 of the change
#   survives at 10 steps), completely in the limit of small steps.
# - Edits act from $t_\text{edit}$ up; an editor's own sweep beats a rule with borrowed thresholds.
# - The untrained directions (mean difference, paired) are measured in the lab and taught in
#   lecture 05.
