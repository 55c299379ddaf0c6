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
# # 06 · Park et al.'s pullback: the singular directions of $\partial h / \partial x_t$
#
# ## Key idea
#
# Asyrp (lectures 03-04) found a semantic space in the U-Net's bottleneck $h$. Park, Kwon, Choi, Jo and
# Uh ("Understanding the Latent Space of Diffusion Models through the Lens of Riemannian Geometry",
# arXiv 2307.12868, NeurIPS 2023) ask which changes of the *noisy image* $x_t$ move $h$ the most. At one
# point the answer is linear algebra (lecture 01): the Jacobian $J = \partial h / \partial x_t$ and its
# SVD $J = U S V^\top$. The $v_i$ form a *local latent basis* of $x_t$ (the top eigenvectors of the
# pulled-back metric $J^\top J$), the $u_i = J v_i / s_i$ its image in $h$. Editing moves $x_t$ along a
# $v_i$ once, at one timestep.
#
# On the course's faces model, measured on 256 faces:
#
# - the basis goes **coarse to fine**: $v_1$ is smoothest at $t = 800$ and less smooth later;
# - two faces' tangent spaces **overlap most early** and drift apart in $x_t$ as $t$ falls;
# - the top $v_i$ **move faces more than random smooth directions** of the same norm, but no $v_i$ is
#   one attribute.
#
# The tests, intervals and the face-level measurements (guidance against moving, transport, the
# linearity of $h$) are in the [lab](labs/06_riemannian_pullback_lab.ipynb).

# %%
import torch

import latentlab as ll
from latentlab.course.latent_basis import (
    TIMESTEPS,
    against_random,
    by_timestep,
    latent_basis_row,
    show_basis,
    show_latent_basis,
)
from latentlab.course.plot import lecture_style, show_rows
from latentlab.course.runs import load_run, same_row
from latentlab.methods import METHODS

lecture_style()
torch.set_num_threads(1)  # small models: one thread is steadier on a shared machine

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The local latent basis, coarse to fine
#
# Two faces (pair 0 of the shipped run of section 3), sampled with 20 DDIM steps. `ll.pullback(model, x_t, t, k=8)` finds the
# top 8 triplets from products $Jv$ and $J^\top u$ alone, never the $2048 \times 3072$ matrix ($h$ is
# $128 \times 4 \times 4$, $x_t$ is $3 \times 32 \times 32$).
#
# Why a Jacobian should describe $h$ at all is **Asyrp's premise** that Park et al. build on: "$h$ is
# locally linear", so that $J$ predicts what a small step does. The lab measures how far that holds.

# %%
model, probe = ll.load_model(), ll.load_probe()
STEPS = 20
grid = ll.ddim_timesteps(model, STEPS).tolist()
x_T = torch.cat([torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(f)) for f in (0, 1)])
x_0, trajectory = ll.ddim_sample(model, x_T, STEPS, return_trajectory=True, progress=False)
x_at = {t: trajectory[grid.index(t)] for t in TIMESTEPS}  # t -> the two faces' x_t
svd = {(f, t): ll.pullback(model, x_at[t][f], t, k=8, seed=0) for f in (0, 1) for t in TIMESTEPS}

# %% [markdown] slideshow={"slide_type": "subslide"}
# Face 0's $v_1, \ldots, v_4$ at each $t$, each scaled so that its largest entry is black or white
# (mid-grey is 0):

# %%
show_basis({t: svd[(0, t)].V for t in TIMESTEPS});

# %% [markdown] slideshow={"slide_type": "subslide"}
# At $t = 800$ the $v_i$ are broad blobs; by $t = 200$ they carry finer structure. The smoothness
# measure used below is each image's correlation of a pixel with its right-hand neighbour (1: smooth;
# 0: pixel noise).
#
# ## 2. Editing along $v_1$: moving $x_t$, and x-space guidance
#
# Park et al. edit once, e.g. at $t_\text{edit} = 0.6\,T$ (one setting of their released face script),
# and let DDIM finish. Two rules, with the settings of the kit's methods registry (`METHODS`):
# **moving** $x_t + \alpha v_i$ ($\alpha = 2$), and the **x-space guidance** of their released code,
# $x_t \leftarrow x_t + \gamma\,[\varepsilon_\theta(x_t + v_i) - \varepsilon_\theta(x_t)]$ repeated
# $n = 16$ times ($\gamma = 0.1$). Both faces along their own $\pm v_1$:

# %%
T_EDIT = 600
move, guide = METHODS["Park pullback (move)"].settings, METHODS["Park pullback (guidance)"].settings
x_e = x_at[T_EDIT]
v1 = torch.stack([svd[(f, T_EDIT)].V[0] for f in (0, 1)])
edits = {"guidance -v_1": ll.x_space_guidance(model, x_e, T_EDIT, -v1, gamma=guide["gamma"], n=guide["n"]),
         "x_t - 2 v_1": x_e - move["alpha"] * v1, "unedited": x_e, "x_t + 2 v_1": x_e + move["alpha"] * v1,
         "guidance +v_1": ll.x_space_guidance(model, x_e, T_EDIT, v1, gamma=guide["gamma"], n=guide["n"])}
done = ll.ddim_sample(model, torch.cat(list(edits.values())), STEPS, t_start=T_EDIT, progress=False)
show_rows({f"face {f}": done[f::2] for f in (0, 1)}, col_titles=list(edits), scale=1.0);

# %% [markdown] slideshow={"slide_type": "subslide"}
# Moving along $\pm 2 v_1$ changes hair colour and length on both faces, and $+2v_1$ also shrinks face
# 0; guidance along the same $v_1$ changes less here. The lab sets the two rules side by side at
# matched step size. A direction found at one face can be carried to another by Park et al.'s **parallel transport**,
# $v' = V'(U'^\top u_i)$ normalised; the lab's exercise 06.1 builds it by hand, and the lab tests whether it
# carries meaning further than reusing the raw $v_i$.
#
# ## 3. What 256 faces show
#
# The shipped run (`benchmarks/lecture_06_latent_basis.py`, command below) measures, on 128 pairs of
# faces, at $t$ = 800, 600, 400, 200: $v_1$'s smoothness, and how much the two faces' top-8 spaces
# overlap (the mean squared cosine of their principal angles: 1 the same space, 0 orthogonal; two
# random 8-dimensional spaces of smooth images share what the `random smooth` column shows). The cell
# below re-runs pair 0 live and checks it against the shipped row.

# %% tags=["nbval-check-output"]
run = load_run("06_latent_basis")
print(f"N = {run['n_faces']} faces; rebuilt by:\n   {run['command']}")
print("pair 0 re-run live equals the shipped row:",
      same_row(latent_basis_row(model, probe, 0, seed=run["seed"]), run["rows"][0], atol=1e-3))
print(" t    v_1 smoothness (quartiles)   overlap in x_t   in h   random smooth in x_t")
for r in by_timestep(run["rows"]):
    print(f"{r['t']:4d}   {r['nc_v1']:.2f} ({r['nc_v1_q1']:.2f}-{r['nc_v1_q3']:.2f})"
          f"{r['sim_V']:19.2f}{r['sim_U']:8.2f}{r['sim_Vr']:13.2f}")

# %%
show_latent_basis(run["rows"]);

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Coarse to fine.** $v_1$'s smoothness falls from 0.94 at $t = 800$ to 0.75 at $t = 200$, and so
# does the mean over $v_1, \ldots, v_8$. **Shared early.** Two faces' top-8 spaces overlap most at
# $t = 800$ (0.48 in $x_t$, 0.40 in $h$) and much less late (0.11 and 0.20 at $t = 200$), always
# well above what a face shares with random smooth directions (0.07 or less).
#
# **Stronger than random smooth directions.** Each face is also edited at $t = 600$ along $+2v_i$ and
# along $+2r_i$, $r_i$ a random unit direction blurred by 2 px drawn for that face. The statistic is the
# **strongest change**: the largest change the probe reads over the 11 attributes, in units of each
# attribute's range. On how many faces does $v_i$ beat its matched random direction?

# %% tags=["nbval-check-output"]
for i in (1, 2, 3):
    r = against_random(run["rows"], i)
    print(f"v_{i}: stronger than its matched random smooth direction on {r['wins']} of {r['n']} faces; "
          f"median {r['median_v']:.2f} against {r['median_r']:.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# That is the finding: the directions $h$ responds to most are directions that change the face, by
# several times what a random smooth step of the same norm does. They are not *selective*: the lab shows
# that each moves several attributes at once and that "the $i$-th direction" changes meaning from face to
# face.
#
# ## 4. What the paper claims and shows
#
# The paper's claims, from its abstract (its figures are described without numbers): the local latent basis edits images without training by moving $x_t$
# along $v_i$ once, at one timestep; the geometry evolves over $t$: the model attends to **low
# frequencies early and high frequencies late**; **at early timesteps different samples share similar
# tangent spaces**; the simpler the data set, the more consistent the tangent spaces; in Stable
# Diffusion similar prompts give similar tangent spaces and the text matters less at later timesteps.
# The authors' code (github.com/enkeejunior1/Diffusion-Pullback) adds, for faces: the paper used
# SDEdit's CelebA-HQ DDPM, the released script `google/ddpm-ema-celebahq-256` with 100 DDIM steps,
# edits at $0.6\,T$ to $T$, and $k = 50$ singular triplets.
#
# A later paper measured the locality of these edits. LOCO Edit (Chen, Zhang, Guo, Lu, Wang, Qu,
# "Exploring Low-Dimensional Subspaces in Diffusion Models for Controllable Image Editing", arXiv
# 2409.02374, NeurIPS 2024), Table 1: in a human evaluation on CelebA-HQ (an edit succeeds if only one
# feature changes) Park's pullback scores a local edit success rate of 0.32, their masked Jacobian of the
# posterior mean 0.80. Strong but global: what the toy finds too.
#
# ## 5. The paper says / the toy shows / why they may differ
#
# | the paper says | the toy shows (N = 256) | why they may differ |
# |---|---|---|
# | moving $x_t$ along $v_i$ edits semantically | $v_i$ change faces more than random smooth directions, several attributes at once | 32 px faces; $h$ is $128 \times 4 \times 4$ against $512 \times 8 \times 8$; the probe reads 11 attributes drawn independently, so "one semantic change" means one of these 11 |
# | coarse to fine over $t$ | $v_1$'s smoothness 0.94 at $t = 800$, 0.75 at $t = 200$ | neighbour correlation is one crude frequency measure; 20 DDIM steps, not their code's 100 |
# | samples share tangent spaces early | overlap of two faces' top-8 spaces 0.48 at $t = 800$, 0.11 at $t = 200$ | top 8 directions only; faces drawn from one simple generator |
# | data set and prompt change the geometry | not measurable: one data set, no text | the toy has neither |
#
# The semantic reading of $h$ is also weaker here: smile is linearly decodable from $h$ at only
# $R^2 = 0.28$ at $t = 200$ (lecture 03), and the probe is the instrument for every "meaning" above.
#
# **Exercises** are at the end of the [lab](labs/06_riemannian_pullback_lab.ipynb): transport by hand,
# whether it keeps its meaning, x-space guidance written out, and a mini-project on coarse to fine.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to remember
#
# - Park's directions are the SVD of $\partial h / \partial x_t$ at one point: the changes of $x_t$
#   that $h$ responds to most. Their use rests on Asyrp's premise that $h$ is locally linear.
# - Measured on 256 faces: coarse to fine over $t$, tangent spaces shared most early, and the top
#   $v_i$ move faces more than random smooth directions, though not one attribute at a time.
# - LOCO Edit's human evaluation agrees: the pullback's edits are strong but rarely local (0.32).
