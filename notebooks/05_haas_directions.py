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
# # 05 · Haas et al.: PCA, Jacobian and supervised directions in h
#
# ## Key idea
#
# Asyrp (lectures 03-04) *trains* an editor. Haas et al. find directions in h **without training**:
# principal components of h over many samples, top singular vectors of
# $J = \partial\epsilon_\theta/\partial h$ at one sample, and the mean h of the faces a classifier
# scores highest minus the lowest. Each is added to h at every step, with the edited $\epsilon$ in
# both terms of the DDIM step (the symmetric step). Home of the registry's untrained h directions
# (`latentlab.methods.METHODS`): mean difference, paired, Haas's three. On the faces model:
#
# - PCA components are the model's late in the trajectory; early, only the first;
# - the Jacobian's $v_1$ is shared by the faces early, mostly each face's own late;
# - the paired direction adds glasses and the supervised one turns hair blond, beating random
#   directions in both comparison runs; no untrained direction edits smile.
#
# Tests, intervals, baselines: [lab](labs/05_haas_directions_lab.ipynb).

# %%
import torch

import latentlab as ll
from latentlab.course.direction_agreement import jacobian_v1, sharing_row, show_sharing, show_split_halves
from latentlab.course.plot import lecture_style, show_rows
from latentlab.course.runs import load_run, run_table, same_row
from latentlab.methods import METHODS, THREE_PAPERS, Workbench

lecture_style()
torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
S = 10  # the kit's DDIM grid (eta = 0); the paper samples with eta = 1 unless stated
wb = Workbench(model, steps=S, seed=1, probe=probe)  # fits each method once, as the comparison does
run = load_run("05_haas_structure")
shipped = run_table("05_haas_structure")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What the paper claims and shows
#
# Haas, Huberman-Spiegelglas, Mulayoff, Graßhof, Brandt and Michaeli, *Discovering Interpretable
# Directions in the Semantic Latent Space of Diffusion Models*, arXiv 2303.11073, IEEE FG 2024; model
# `google/ddpm-ema-celebahq-256`, h of 512 × 8 × 8 (supplementary Sec. A).
#
# 1. **PCA** (Sec. IV-A): components of h edit pose, smile, gender, age (Fig. 3); random directions
#    of the same norm change the face little, then degrade it (Fig. 4).
# 2. **Jacobian** (Sec. IV-B, Alg. 1): top right singular vectors of $\partial\epsilon/\partial h$
#    at one image and timestep give *image-specific*, localised directions (eyes, eyebrows, mouth;
#    Fig. 5), applied at every timestep and transferable to other samples (Fig. 5, lower); a mask
#    restricts them to a region (Fig. 6).
# 3. **Supervised** (Sec. V-b, Eq. 11): mean h of the samples a classifier scores highest minus the
#    lowest, per attribute (Fig. 7); projecting out other attributes' directions disentangles it
#    (Eq. 12, Fig. 9).
#
# Evidence: mostly edited faces (Figs. 1-9); Table I measures disentanglement with CLIP
# zero-shot (100 samples, 10 seeds). Figure 2 shows h's swap and arithmetic properties; supplementary
# Sec. B (Figs. 11-12): Asyrp's asymmetric step amplifies an edit, and rescaling gives similar edits
# without it.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Five untrained directions, one registry
#
# A `Workbench` fits each registry method once on 128 sampled trajectories (PCA, mean difference,
# supervised), 64 render pairs (paired) or one reference face (Jacobian). Four of them (paired: section
# 4) are brought to one size in h (root-sum-square of per-step norms), that of
# $5\,\sigma_1(t)\,\mathrm{pc}_1(t)$, pushed towards blond hair where they have a sign, and edited
# with their registry step.

# %%
names = ["mean difference", "paired", "Haas PCA", "Haas Jacobian", "Haas supervised"]
for name in names:
    m = METHODS[name]
    print(f"{name:16s} | {'symmetric' if not m.asymmetric else 'asymmetric'} | sign: {m.sign:4s} | "
          f"{dict(m.settings)}")

# %%
pick = {"mean difference": "mean difference", "Haas PCA": "+pc_1",
        "Haas Jacobian": "+v_1", "Haas supervised": "supervised", "random": "+r_1"}
cands = {n: wb.candidates(n, "hair_color", 1.0, **({"n": 1} if n == "random" else {}))[label]
         for n, label in pick.items()}
size = lambda d: float(d.norms().pow(2).sum().sqrt())  # noqa: E731
ref = size(cands["Haas PCA"].direction * 5.0)
x = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(7))  # held-out faces
base = ll.ddim_sample(model, x, S, progress=False)
edits = {n: c(x, ref / size(c.direction)) for n, c in cands.items()}
show_rows({"unedited": base} | edits, scale=0.9);

# %% tags=["nbval-check-output"]
before = probe(base)["hair_color"]
for n, e in edits.items():
    rms = (e - base).pow(2).mean().sqrt()
    print(f"{n:16s}: RMS pixel change {rms:.2f}, hair colour change (mean of 4) "
          f"{(probe(e)['hair_color'] - before).mean():+.2f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# At one size in h the pixels move from 0.05 (random) to 0.20 ($\mathrm{pc}_1$): the decoder
# listens to some directions far more than others. (The mean difference uses Asyrp's asymmetric step:
# section 5.) Random directions barely change the face, as in Fig. 4. The two signed directions
# lighten the hair (+0.12, +0.29); $\mathrm{pc}_1$ and $v_1$ have no sign for hair colour.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. PCA: components the model owns, late in the trajectory
#
# `ll.pca_directions` fits a PCA of h at every timestep: unit components $\mathrm{pc}_k(t)$ and
# standard deviations $\sigma_k(t)$; the edit adds $c\,\sigma_k(t)\,\mathrm{pc}_k(t)$ at every step.
# Are the components the model's or the sample's? The shipped run
# (`benchmarks/lecture_05_haas_structure.py`) fits the PCA on the even and the odd of 256
# trajectories and compares the halves' components ($|\cos|$; chance about 0.02).

# %%
pcs = ll.pca_directions(model, None, S, k=5, trajectory=wb.trajectories()[0], progress=False)
half = shipped[shipped.measure == "pca split halves"]
show_split_halves(shipped, n_faces=run["n_faces"]);

# %% tags=["nbval-check-output"]
print(half[["t", "pc_1", "pc_2", "pc_3", "pc_4", "pc_5"]].round(2).to_string(index=False))
print(f"sigma_1(t) on the 128 trajectories: {pcs.sigma[0, 0]:.1f} at t = 900, "
      f"{pcs.sigma[-1, 0]:.1f} at t = 0")

# %% [markdown] slideshow={"slide_type": "subslide"}
# At $t = 0$ the halves find the same five components ($|\cos|$ 0.57-0.92, chance 0.02): the late
# components are the model's. From $t = 900$ to 700 they agree on the first (0.68-0.87) and little else
# (0.01-0.33): early h's spread is small ($\sigma_1$ grows four-fold towards $t = 0$) and 128
# samples do not pin down the later components. At $t$ = 600-300 agreement is mixed (0.17-0.92).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Jacobian: found on one face, shared early
#
# `ll.eps_jacobian` takes the top singular vectors $v_i$ of $\partial\epsilon/\partial h$ at one
# face's $x_t$; the edit adds $c\,s_i(t)\,v_i$ at every step. "Image-specific" means found from one
# image; Fig. 5 transfers such directions. Would each face find the same one? The shipped run takes
# $v_1$ of 256 faces at $t = 700$ and 400 and the $|\cos|$ of every pair; three faces live, checked:

# %%
jac = METHODS["Haas Jacobian"].settings
faces = torch.randn(run["n_faces"], *model.sample_shape, generator=torch.Generator().manual_seed(run["seed"]))
V = jacobian_v1(model, faces[:3], S, [2], k=jac["k"], tol=jac["tol"], progress=False)
live = sharing_row(V[:, 0], 700)

# %% tags=["nbval-check-output"]
jrows = shipped[shipped.measure.isin(["jacobian v_1 across faces", "random directions"])].astype({"n_faces": int})
row = jrows[(jrows.t == 700) & (jrows.n_faces == 3)].dropna(axis=1).iloc[0].to_dict()
print("the live row equals the shipped one:", same_row(live, row, atol=2e-3))
cols = ["measure", "t", "n_faces", "q10", "median", "q90", "max"]
print(jrows[jrows.n_faces == run["n_faces"]][cols].round(2).to_string(index=False))
tol = shipped[shipped.measure == "tol 1e-2 against 1e-4"][["t", "n_faces", "v_1_min", "v_2_min", "v_3_min"]]
tol = tol.astype({"n_faces": int})
print("the registry's tol 1e-2 against the default 1e-4, min |cos| over faces:")
print(tol.round(4).to_string(index=False))

# %%
show_sharing(shipped, n_faces=run["n_faces"]);

# %% [markdown] slideshow={"slide_type": "subslide"}
# At $t = 700$ the faces' $v_1$ largely agree (median $|\cos|$ 0.66 over 32,640 pairs; 90 % above
# 0.33, while no random pair reaches 0.10): one face's direction is nearly any other's, as in the
# paper's transfer (Fig. 5). At $t = 400$ the median falls to 0.12 and a tenth of the pairs are at
# chance (0.02): each face finds mostly its own. The registry's looser SVD tolerance leaves $v_1$
# unchanged to four decimals on 16 faces, $v_3$ within 0.008.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Supervised, mean difference and paired: which attributes they edit
#
# The method comparison's shipped runs (lecture 10; two seeds, 64 held-out faces, 20 DDIM steps)
# choose each method's candidate and strength on 16 calibration faces at RMS pixel change 0.15, then
# count held-out faces moved the right way (k) of those movable (`n_movable`: not already at the goal
# end), against a random baseline with as many candidates. Rebuild: `benchmarks/compare_methods.py`.

# %% tags=["nbval-check-output"]
import pandas as pd

from latentlab.compare import shipped_results

t = pd.concat([shipped_results(s, THREE_PAPERS)[0].assign(seed=s) for s in (0, 1)])
rand = t[["attr", "method", "seed", "k", "n_movable"]].set_axis(["attr", "baseline", "seed", "kr", "mr"], axis=1)
t = t[t.method.isin(names)].merge(rand, on=["attr", "baseline", "seed"])
t["cell"] = [f"{r.k}/{r.n_movable} vs {r.kr}/{r.mr}" for r in t.itertuples()]
print(t.pivot(index=["attr", "method"], columns="seed", values="cell")
      .rename(columns=lambda s: f"seed {s}: method vs random").reset_index().to_string(index=False))
top = METHODS["Haas supervised"].settings["top"]
print(f"supervised: fitted on the {round(top * 128)} faces at each end of 128 (top = {top})")

# %%
share = t.assign(direction=t.k / t.n_movable, random=t.kr / t.mr)
share = share.groupby(["attr", "method"])[["direction", "random"]].mean()
ax = share.plot.barh(figsize=(5.5, 4.2))
ax.set(xlabel="right way, share of movable faces (mean of 2 runs)", ylabel="")
ax.figure.tight_layout();

# %% [markdown] slideshow={"slide_type": "subslide"}
# In both runs the **paired** direction adds glasses (19/27 and 22/33, random 2/27 and 2/33) and
# **Haas's supervised** direction turns hair blond (59/60 and 58/61, random 27/60 and 39/61), the
# mean difference and paired close behind. For glasses the supervised direction (10-12 against 2)
# misses the lab's corrected threshold in both runs. No untrained direction moves smile reliably: the
# Jacobian's 38/58 in one run is 7/63 in the other.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The symmetric step against the asymmetric one
#
# Section 1's supervised hair direction, with the edited $\epsilon$ in $P_t$ only (Asyrp) instead of
# both terms (Haas):

# %% tags=["nbval-check-output"]
sup = cands["Haas supervised"]
d = sup.dh(ref / size(sup.direction))
asym = ll.ddim_sample(model, x, S, dh=d, asymmetric=True, progress=False)
rms = {k: float((e - base).pow(2).mean().sqrt()) for k, e in (("symmetric", edits["Haas supervised"]),
                                                             ("asymmetric", asym))}
print(f"RMS pixel change: symmetric {rms['symmetric']:.2f}, asymmetric {rms['asymmetric']:.2f}")

# %%
show_rows({"unedited": base, "symmetric": edits["Haas supervised"], "asymmetric": asym}, scale=0.9);

# %% [markdown] slideshow={"slide_type": "subslide"}
# The asymmetric step moves the pixels more for the same $\Delta h$. With
# $x_{t-1} = \sqrt{\alpha_{t-1}}\,P_t(\epsilon) + D_t(\epsilon)$, a change of $\epsilon$ enters $P_t$ with
# weight $-\sqrt{\alpha_{t-1}(1-\alpha_t)/\alpha_t}$ and $D_t$ with $+\sqrt{1-\alpha_{t-1}}$; the
# symmetric step lets them partly cancel. This agrees with supplementary Sec. B.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The paper says / the toy shows / why they may differ
#
# | | the paper says | the toy shows |
# |---|---|---|
# | PCA | semantic edits (Fig. 3) | halves agree late, only on $\mathrm{pc}_1$ early |
# | random | minor change (Fig. 4) | a quarter of $\mathrm{pc}_1$'s pixel change |
# | Jacobian | transferable (Fig. 5) | $v_1$ shared at $t = 700$; own at 400 |
# | supervised | per attribute (Fig. 7) | hair yes; glasses short; smile no |
# | projection | disentangles (Fig. 9, Table I) | not tested |
# | Asyrp's step | amplifies (Supp. Sec. B) | larger pixel change |
#
# Why they may differ:
#
# - **h is small**: 128 × 4 × 4 = 2,048 numbers against 512 × 8 × 8 = 32,768 in the paper; a 4 × 4
#   grid cannot separate eyes from mouth, so "image-specific" here means the face, not a region.
# - **32 px faces**: smile is linearly decodable from h only at $R^2$ 0.28 at $t = 200$ (lecture 03);
#   an averaged h direction cannot carry what h does not hold linearly.
# - **independent attributes**: no correlation (age with glasses, say) shapes a component as
#   CelebA-HQ's would.
# - **the instrument**: the toy counts a probe's readings; the paper's Table I reads CLIP scores, its
#   figures what people see. The kit's targets (right way, thresholds) are its own.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercises
#
# At the end of the [lab](labs/05_haas_directions_lab.ipynb): 05.1 the first principal direction by
# hand, 05.2 a supervised direction, 05.3 Haas's directions by power iteration, and mini-project 05.4.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to remember
#
# - Haas et al.'s untrained directions in h: principal components, Jacobian singular vectors,
#   supervised mean differences, added at every step (symmetric step).
# - On the faces model the PCA components are the model's late in the trajectory.
# - A Jacobian direction found on one face early is nearly every face's: the paper's transfer.
# - The paired direction adds glasses; supervised, paired and mean difference turn hair blond far
#   better than random; nothing untrained edits smile.
# - The [lab](labs/05_haas_directions_lab.ipynb) carries the tests, intervals and baselines.
