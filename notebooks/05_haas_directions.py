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
# # 05 · Haas et al.: PCA, Jacobian and supervised directions in h
#
# Asyrp (notebooks 03-04) *trains* a $\Delta h$ for a named attribute. Haas et al., *Discovering
# Interpretable Directions in the Semantic Latent Space of Diffusion Models*, look for directions in h
# without training an editor, in three ways:
#
# 1. **unsupervised, PCA**: at every timestep, the principal components of h over many of the
#    sampler's own trajectories; the edit adds $c\,\sigma_k(t)\,\mathrm{pc}_k(t)$ at every step;
# 2. **unsupervised, Jacobian**: the right singular vectors of $J = \partial\epsilon_\theta / \partial h$ at
#    one step of one sample, the shifts of h that change the predicted noise the most;
# 3. **supervised**: the mean h of the faces a classifier scores highest minus that of the lowest,
#    with or without the other attributes' directions projected out.
#
# Every edit here is Haas's: the direction is added at **every** step, and the edited $\epsilon$ goes
# into both $P_t$ and $D_t$ (the plain, **symmetric** DDIM step); section 5 compares it with Asyrp's
# asymmetric step. Every direction is measured with the probe against **random directions** edited
# the same way on the same faces.
#
# **Budget.** About a minute of one CPU core, where one U-Net call costs about 5-10 ms per sample. So:
# **10 DDIM steps** ($\eta = 0$; Haas et al.'s sampler also has 10 steps, with $\eta = 1$ and stored
# noise), **N = 128 trajectories** for the PCA and the supervised directions (the registry's `n_trajectories`;
# Haas et al. use 500),
# **16 held-out faces** for every measurement, and Jacobians of 3 faces. Counts are printed as
# *k of n*; read them with their standard errors.

# %%
# %config InlineBackend.figure_format = "png"
import dataclasses

import matplotlib.pyplot as plt
import torch
from threadpoolctl import threadpool_limits

import latentlab as ll
from latentlab.course.plot import show_rows
from latentlab.directions import random_direction
from latentlab.methods import METHODS, Workbench
from latentlab.metrics import in_range_units, leakage, read_edit, right_way, selectivity
from latentlab.stats import mcnemar

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # two cores shared with background jobs: one thread is the fastest here
threadpool_limits(1)  # the same for scikit-learn's PCA (two BLAS threads made each fit 40x slower here)

model, probe = ll.load_model(), ll.load_probe()
S, n = 10, 16  # DDIM steps; held-out faces
PCA, JAC, SUP = (METHODS[m].settings for m in ("Haas PCA", "Haas Jacobian", "Haas supervised"))  # the registry's
# The workbench samples the trajectories every h-space method is fitted on (seed 1: the held-out faces
# below are drawn with seed 1 and must not be among them).
wb = Workbench(model, steps=S, seed=1, probe=probe)
gen = lambda seed: torch.Generator().manual_seed(seed)  # noqa: E731

# %% [markdown]
# ## 1. PCA of h, one per timestep
#
# `ll.pca_directions` runs plain DDIM from N noises, keeps h at every step, and fits a PCA per
# timestep: unit components $\mathrm{pc}_k(t)$ and standard deviations $\sigma_k(t) = s_k/\sqrt{N-1}$.
# A component's sign is arbitrary at each step, so the library flips each step's components to a
# positive cosine with the previous step's.
#
# The supervised directions of section 4 need the h of the *same* trajectories, so we sample them
# once and hand them to `pca_directions` (`trajectory=`). The methods' registry (`latentlab.methods`)
# holds each method's settings (here: k = 5 components, 128 trajectories) and its `Workbench` samples
# the trajectories (`ll.h_trajectory`) and reads them with the probe, as `compare` and the widget do.

# %%
def pca_of(trajectory, k=PCA["k"]):
    return ll.pca_directions(model, None, S, k=k, trajectory=trajectory)


tr, scores = wb.trajectories()  # ll.h_trajectory of the registry's n_trajectories faces, and the probe's readings
N = len(tr.x0)
pcs = pca_of(tr)  # the same PCA as the workbench's "Haas PCA" candidates

# %%
# NBVAL_CHECK_OUTPUT
ts = pcs.timesteps.tolist()
h_norm = tr.h.flatten(2).norm(dim=2).mean(0)
print(f"{'t':>4s} | sigma_1..3          | explained by pc_1..3 | by pc_1..5 | ||h|| (mean)")
for s in (0, 3, 6, 9):
    sig, ex = pcs.sigma[s, :3].tolist(), pcs.explained[s].tolist()
    print(f"{ts[s]:4d} | {sig[0]:5.2f} {sig[1]:5.2f} {sig[2]:5.2f}  | {ex[0]:.2f} {ex[1]:.2f} {ex[2]:.2f}       | "
          f"{sum(ex):.2f}       | {h_norm[s]:.1f}")
cos = (pcs.components[1:] * pcs.components[:-1]).flatten(2).sum(-1)  # (S - 1, k): neighbouring steps
for k in range(3):
    j = int(cos[:, k].argmin())
    print(f"pc_{k + 1}: min cosine between neighbouring steps {cos[j, k]:.2f} (t = {ts[j]} -> {ts[j + 1]})")
print("all neighbouring cosines positive after alignment:", bool((cos > 0).all()))

# %%
fig, ax = plt.subplots(1, 2, figsize=(8, 2.6))
for k in range(5):
    ax[0].plot(ts, pcs.sigma[:, k], "o-", ms=3, label=f"k = {k + 1}")
    ax[1].plot(ts, pcs.explained[:, k], "o-", ms=3)
ax[0].set(xlabel="t", ylabel=r"$\sigma_k(t)$", title="standard deviation along pc_k")
ax[1].set(xlabel="t", ylabel="share of variance", title="explained by pc_k")
ax[0].legend(fontsize=7)
for a in ax:
    a.invert_xaxis()
fig.tight_layout();

# %% [markdown]
# Read from $t = 900$ (left) to $t = 0$. The spread of h grows as the sampler settles a face:
# $\sigma_1$ rises from 5.0 to 20.3 (while $\|h\|$ goes from 74 to 55), and the first component's
# share of the variance from 0.05 to 0.22. At $t = 900$ no direction stands out (0.05, 0.04, 0.04 for
# the top three; 0.18 for the top five): the samples' h differ little from one another, as notebook
# 03 found, and in no strongly preferred direction. At $t = 0$ the top five explain 0.58, and the
# first almost twice as much as the second (0.22 against 0.12).
#
# The alignment makes every neighbouring cosine positive by construction; what it cannot choose is
# their size: at least 0.53, 0.22 and 0.26 for the top three, lowest in the middle of the trajectory
# ($t$ = 500 to 300). So $\mathrm{pc}_1(t)$ turns along the trajectory but stays recognisably the
# previous step's, while $\mathrm{pc}_2$ and $\mathrm{pc}_3$ turn sharply between $t = 400$ and 300.

# %% [markdown]
# Are the components a property of the model or of these 128 trajectories? The same PCA on two
# disjoint halves of 64, and $|\cos|$ between the halves' $\mathrm{pc}_k(t)$ (each half's signs are
# aligned on its own, so the sign between halves is arbitrary). For scale, two random directions in
# 2,048 dimensions have $|\cos|$ of about $1/\sqrt{2048} = 0.02$.

# %%
halves = [pca_of(tr._replace(h=tr.h[i::2], x0=tr.x0[i::2])) for i in (0, 1)]

# %%
# NBVAL_CHECK_OUTPUT
split = (halves[0].components * halves[1].components).flatten(2).sum(-1).abs()  # (S, k)
for s in (0, 3, 6, 9):
    print(f"t = {ts[s]:3d}: |cos| between the halves' pc_1..5:", [round(v, 2) for v in split[s].tolist()])
print("pc_1 at t = 0 agrees between halves (> 0.9):", bool(split[-1, 0] > 0.9))

# %% [markdown]
# Only late in the trajectory are the components the model's, and not all of them: at $t = 0$ the
# halves agree on the first (0.90) and partly on the others (0.55-0.76). At $t = 900$ they agree
# weakly on the first two (0.46, 0.31) and not on the rest (0.09-0.17): there the components are
# mostly the sampling noise of 64 trajectories. In between, the first agrees fairly (0.61 at
# $t = 600$, 0.77 at $t = 300$) and the others partly or not at all (0.02-0.61), which is what
# components with close variances (14.7, 12.7, 11.7 at $t = 300$ on all 128) do: they mix, and this
# many samples cannot tell them apart. So an edit along $\mathrm{pc}_2(t)$ or $\mathrm{pc}_3(t)$ is a
# well-defined direction only at the last steps, if there; at the earlier ones it is partly a direction
# of this sample of trajectories. Since $\sigma_k(t)$ is small early, that part of the edit is also the
# smallest.

# %% [markdown]
# ## 2. The components as edits
#
# Haas et al. edit with $c$ from -5 to 5 times $\sigma_k(t)\,\mathrm{pc}_k(t)$. With $\sigma_1(0) = 20$
# and $\|h\| = 55$ at $t = 0$, $c = 5$ is a large shift at the last steps: 1.8 times h's norm.
# Two held-out faces, the top three components, $c$ = -5, -2.5, 0, 2.5, 5 (the middle column of each
# face is unedited):

# %%
xs = torch.randn(n, *model.sample_shape, generator=gen(1))  # held-out faces, not among the N above
base = ll.ddim_sample(model, xs, S, progress=False)


def edit(d, asymmetric=False, **options):
    """The held-out faces edited by d with Haas's step (symmetric, every step), read by the probe."""
    return ll.measure_edit(model, xs, d, steps=S, asymmetric=asymmetric, probe=probe, base=base, **options)


pc_runs = {f"pc_{k + 1}, c = 5": edit(pcs.direction(k, 5.0)) for k in range(3)}  # all 16 faces, measured below


def pc_edit(k, c):
    """The first two held-out faces edited by c sigma_k(t) pc_k(t) (c = 0 and c = 5 are sampled already)."""
    if c == 0:
        return base[:2]
    if c == 5:
        return pc_runs[f"pc_{k + 1}, c = 5"].x0_edit[:2]
    return ll.ddim_sample(model, xs[:2], S, dh=pcs.direction(k, c), asymmetric=False, progress=False)


cs = (-5.0, -2.5, 0.0, 2.5, 5.0)
grid = {f"pc_{k + 1}": torch.stack([pc_edit(k, c) for c in cs], 1).flatten(0, 1) for k in range(3)}
show_rows(grid, col_titles=[f"c = {c:g}" for c in cs] * 2, scale=0.5);

# %% [markdown]
# Each component changes several things at once: the hair's length and shade, the skin, and on the
# second face glasses appear (pc_1 and pc_3 at $c = -5$). None looks like one attribute. The probe
# says the same in numbers, on all 16 held-out faces at $c = 5$. For each edit, in units of each
# attribute's range:
#
# - **top attribute**: the one with the largest mean |change| over the faces; that mean |change|, and
#   its mean signed change;
# - **selectivity**: its mean |change| divided by the sum over all eleven attributes (1 for a pure
#   edit; 1/11 = 0.09 if everything moved alike);
# - **stability**: the faces on which that same attribute moves the most (k of 16, with the
#   binomial standard error, and whether that is more than half the faces by 2 standard errors), and
#   those on which it moves with the sign of its mean (**same sign**);
# - **vs random**: that same-sign count against each random row's own (its top attribute, its sign),
#   face by face: the exact sign test of section 4 (McNemar's) on the faces where only one of the two
#   moves with its sign, the larger p of the two random rows.
#
# **Baselines**: random Gaussian directions rescaled, at every step, to the norm of
# $5\,\sigma_1(t)\,\mathrm{pc}_1(t)$ (two seeds), edited the same way.

# %%
def what_moves(r):
    """The attribute an edit moves most (mean |change| in range units), its selectivity and its stability."""
    delta = in_range_units(r.delta)  # (faces, attributes), signed
    mean_abs = delta.abs().mean(0)
    top = int(mean_abs.argmax())
    sign = torch.sign(delta[:, top].mean())
    return {"top": list(ll.ATTRIBUTES)[top], "mean_abs": float(mean_abs[top]), "change": float(delta[:, top].mean()),
            "selectivity": float(selectivity(mean_abs)),
            "same_top": int((delta.abs().argmax(1) == top).sum()), "same_sign": int((delta[:, top] * sign > 0).sum()),
            "with_sign": delta[:, top] * sign > 0, "pixels": r.pixel_change}


sign_test = mcnemar  # exact two-sided McNemar: faces moved by one edit only, against the other only


def random_like(d, seed):
    """A Gaussian direction with the per-step norms of d."""
    return random_direction(d.timesteps, d.norms(), generator=gen(seed), h_shape=model.h_shape)


reference = pcs.direction(0, 5.0)
rand_runs = {f"random {s}, same norm": edit(random_like(reference, s)) for s in (100, 101)}


# %%
# NBVAL_CHECK_OUTPUT
def table(runs):
    """One row per edit; "vs random": its same-sign faces against each random row's own (the larger p)."""
    print(f"{'direction':22s} | pixels | top attribute |change| change | selectivity | same top "
          f"| > half, 2 SE      | same sign | vs random")
    found = {name: what_moves(r) for name, r in runs.items()}
    randoms = [w["with_sign"] for name, w in found.items() if name.startswith("random")]
    for name, w in found.items():
        p = "-" if name.startswith("random") else f"p = {max(sign_test(w['with_sign'], q) for q in randoms):.2f}"
        f = w["same_top"] / n
        se = (f * (1 - f) / n) ** 0.5
        print(f"{name:22s} | {w['pixels']:6.2f} | {w['top']:11s} {w['mean_abs']:8.2f} {w['change']:+6.2f} | "
              f"{w['selectivity']:11.2f} | "
              f"{w['same_top']:2d} of {n} | {f:.2f} ± {se:.2f} {f - 2 * se > 0.5!s:5s} | "
              f"{w['same_sign']:2d} of {n}  | {p}")


table(pc_runs | rand_runs)

# %% [markdown]
# **The decoder listens to the components.** pc_1 at $c = 5$ changes the pixels by 0.19 (RMS, pixels
# in [-1, 1]); random directions with the same per-step norms by 0.03-0.04, five times less, and the
# attribute they move most moves by 0.04 of its range on average, which is hardly measurable. (pc_2 and
# pc_3 have 25-30 % smaller norms, $\sigma$ of 15.0 and 14.1 against 20.3 at $t = 0$, and change the
# pixels by 0.13 and 0.15: pc_3 more than pc_2, so the pixel change does not follow $\sigma$ alone.)
# h's directions of largest variance are directions the U-Net's decoder responds to.
#
# **But no component is one attribute, nor more selective than a random direction.** Selectivity is
# 0.19-0.21 (0.09 if everything moved alike): the other ten attributes together move about four
# times as much as the top one. The random directions in the same table score 0.21 and 0.16 (and the
# large ones of section 3 0.15 and 0.17), so the components are no more selective than random
# directions. The top attribute is the one that moves most on 3 to 9 of the 16 faces (0.19-0.56,
# each ± 0.10-0.12), never more than half by 2 standard errors.
#
# **Nor is their direction of change more consistent than chance shows.** pc_1, pc_2 and pc_3 move
# their top attribute (horizontal position, hair length, vertical position) one way on all 16 faces
# (by 0.24-0.26 of the range on average), but the same-norm random direction 100 also moves its top
# attribute, hair length, one way on 13 of 16, by a mere 0.04. Against the random rows the sign test
# gives p = 0.25 for each (the larger of two): on 16 faces these counts do not beat the baseline.
#
# Nine rows are compared with the threshold of one half (five here, four in section 3). The rule
# $f - 2\,\mathrm{SE} > 0.5$, with the Wald SE computed from the observed $f$, passes from 12 of 16
# faces on, and $P(X \ge 12)$ = 0.038 for $X \sim \mathrm{Bin}(16, 0.5)$: each row has about a 4 %
# one-sided false-positive rate, so about 0.35 false passes are expected over nine rows. None passes.
#
# How far to trust the names: with 128 trajectories, which attribute a component moves is itself not
# settled. Section 1's split halves agree on the components at $t = 0$ and only partly in the middle
# steps, and the edit adds them at every step; a PCA of a different 128 trajectories could name
# different attributes here.

# %% [markdown]
# ## 3. Jacobian directions
#
# `ll.jacobian_directions(model, x_T, S, k=3, t_index=i)` follows one face's DDIM trajectory, takes
# the top-3 SVD of $J = \partial\epsilon_\theta/\partial h$ at every step (`ll.eps_jacobian`, matrix-free),
# keeps the right singular vectors $v_k$ of step $i$ and every step's singular values $s_k(t)$; the
# edit adds $c\,s_k(t)\,v_k$ at every step. (Haas et al.'s code names the two sides the other way
# round; notebook 01 explains the convention.) We take $t = 700$ (`t_index = 2`) on the first held-out
# face. The registry's `tol` for this method, 1e-2 (the SVD's stopping residual, relative to $s_1$;
# default 1e-4), halves the cost; on face 0 at $t = 700$ and $t = 400$ (a check not shown here), its
# $v_1$-$v_3$ have $|\cos|$ 0.99997-1.0 with the default's. Other faces were not checked.

# %%
jd = ll.jacobian_directions(model, xs[0], S, k=JAC["k"], t_index=2, tol=JAC["tol"], progress=False)

# %%
fig, ax = plt.subplots(figsize=(4, 2.6))
for k in range(3):
    ax.plot(ts, jd.S[:, k], "o-", ms=3, label=f"$s_{k + 1}(t)$")
ax.set(xlabel="t", ylabel="singular value", yscale="log", title=r"$\partial\epsilon/\partial h$, face 0")
ax.invert_xaxis()
ax.legend(fontsize=7)
fig.tight_layout();

# %% [markdown]
# Is $v_1$ a property of the model or of the face? The same SVD for the first three held-out faces at
# $t = 700$ and at $t = 400$ (at the $x_t$ of each face's own trajectory), and $|\cos|$ between
# different faces' $v_1$ (a singular vector's sign is arbitrary; two random directions: about 0.02).

# %%
_, traj = ll.ddim_sample(model, xs[:3], S, return_trajectory=True, progress=False)
svd = {(s, j): ll.eps_jacobian(model, traj[s][j], ts[s], JAC["k"], tol=JAC["tol"]) for s in (2, 5) for j in range(3)}

# %%
# NBVAL_CHECK_OUTPUT
print("s_1(t) of face 0:", [round(v, 3) for v in jd.S[:, 0].tolist()])
print("s_2(t) / s_1(t):", [round(v, 2) for v in (jd.S[:, 1] / jd.S[:, 0]).tolist()])
for s in (2, 5):
    V = torch.stack([svd[s, j].V[0].flatten() for j in range(3)])
    c = (V @ V.T).abs()
    print(f"t = {ts[s]}: s_1 of faces 0, 1, 2: {', '.join(f'{svd[s, j].S[0]:.3f}' for j in range(3))}; "
          f"|cos| between their v_1: 0-1 {c[0, 1]:.2f}, 0-2 {c[0, 2]:.2f}, 1-2 {c[1, 2]:.2f}")
print("jacobian_directions' v_1 is the SVD's v_1 of face 0 at t = 700:",
      bool((jd.V[0].flatten() @ svd[2, 0].V[0].flatten()).abs() > 0.99))

# %% [markdown]
# $s_1(t)$ grows 19-fold from $t = 900$ to $t = 0$ (0.013 to 0.249): late in the trajectory, a
# shift of h moves the predicted noise much more, and since the edit is scaled by $s_1(t)$, Haas's
# Jacobian edit acts mostly at the last steps, as the PCA edit does. $s_2$ is 0.48-0.96 of $s_1$
# (0.74-0.96 from $t = 700$ on): the top directions are not far apart in strength, so $v_1$ is one of
# a few comparable directions rather than a single dominant one.
#
# At $t = 700$ the three faces' $v_1$ point roughly the same way ($|\cos|$ 0.49-0.60, against 0.02
# by chance): early on, the direction that moves $\epsilon$ most is largely shared by the faces. At $t = 400$
# they are far less related (0.00-0.15; the largest is still several times the chance level, but with
# three faces that is one number): there it belongs mostly to the face. A direction found at $t = 400$ on
# face 0 and added to other faces is therefore not "their" Jacobian direction; what it does to them is
# an empirical question, measured next.
#
# **The edits, at a comparable size.** $s_k(t)$ is small (0.01-0.25), so the scale $c$ must be large
# (Haas et al.: 50-100 on their model; here it comes out at 492). The rule used for every direction
# from here on: scale it so that its size in h, the root-sum-square of its per-step norms, equals that
# of $5\,\sigma_1(t)\,\mathrm{pc}_1(t)$. That keeps each direction's own profile over $t$ and needs no
# extra sampling; the pixel change it gives is printed beside every edit, to check that it is
# comparable to the PCA edits' 0.13-0.19. Random directions are the exception: at the same size they
# change the pixels five times less (section 2), so they are scaled up by the ratio of pixel changes
# measured there (0.19 / theirs), to compare like with like. Below: $v_1$ of $t = 700$, and $v_1$ of
# $t = 400$ (the same face's, with the same $s_1(t)$), both with $c > 0$.

# %%
size = lambda d: float(d.norms().pow(2).sum().sqrt())  # noqa: E731 (root-sum-square of the per-step norms)
target = pc_runs["pc_1, c = 5"].pixel_change
jd400 = dataclasses.replace(jd, t_index=5, V=svd[5, 0].V)  # face 0's directions at t = 400, same s_k(t)
jac = {"jacobian v_1, t = 700": jd, "jacobian v_1, t = 400": jd400}
scale = {name: size(reference) / size(j.direction(0, 1.0)) for name, j in jac.items()}
rand_big = {f"random {s}, x {target / r.pixel_change:.1f}": (target / r.pixel_change) * random_like(reference, s)
            for s, r in zip((100, 101), rand_runs.values())}
jac_runs = {name: edit(j.direction(0, scale[name])) for name, j in jac.items()}
jac_runs |= {name: edit(d) for name, d in rand_big.items()}

# %%
shown = list(jac_runs)[:3]  # the two Jacobian edits and the first large random one
show_rows({"unedited": base[:6]} | {name.replace(",", ""): jac_runs[name].x0_edit[:6] for name in shown}, scale=0.5);

# %%
# NBVAL_CHECK_OUTPUT
print("scale c of the Jacobian directions:", {k: round(v) for k, v in scale.items()})
table(jac_runs)

# %% [markdown]
# The scale is $c = 492$ for both (the same face's $s_1(t)$, unit $v_1$), and the pixel changes, 0.14
# and 0.15, are close to the PCA edits' (0.13-0.19); the random directions, scaled up 6.0 and 4.5
# times, reach 0.14 and 0.12, short of the 0.19 aimed at: the pixel change grows more slowly than the
# scale. In the pictures, $v_1$ of $t = 400$ crops the hair to a cap (faces 4-6), and the random
# direction takes the glasses off the third face and turns dark hair a lighter brown.
#
# - **$v_1$ of $t = 700$** behaves like a principal component: longer hair on 14 of 16 faces, but hair
#   length is the top change on only 4 (selectivity 0.15), and the random rows below are as
#   consistent (15 and 14 of 16; p = 1.00).
# - **$v_1$ of $t = 400$**, face 0's own direction, shortens the hair on all 16 faces, by 0.32 of the
#   range on average, the largest mean change and the highest selectivity (0.24) in sections 2-3.
#   Hair length is the top change on 9 of 16 faces (0.56 ± 0.12), which does not clear one half by 2
#   standard errors. Its 16 of 16 against the random rows' 15 and 14 of 16 gives p = 1.00: on 16 faces it is
#   not shown to be more consistent than a random direction of the same pixel change. A direction
#   specific to one face by its cosines does edit the others alike, with no more consistency than
#   16 faces can tell from chance, and it is not pure.
# - **The large random directions are not neutral.** They move their top attribute (glasses, eye
#   size) one way on 15 and 14 of 16 faces, and one has eye size as the top change on as many faces (9 of 16) as $v_1$ of $t = 400$ has
#   hair length. So "the same attribute moves most, or moves one way, on many faces" is not, alone,
#   evidence of a meaningful direction; it must beat this baseline, and in sections 2-3 no count does
#   (the "vs random" column: p = 0.25 at best). What the random shifts do is visible above and
#   measurable:

# %%
# NBVAL_CHECK_OUTPUT
corr = lambda b, a: torch.corrcoef(torch.stack([b, a - b]))[0, 1]  # noqa: E731 (reading before vs its change)
unedited = probe(base)
print(f"before any edit: glasses on {int(unedited['glasses'].gt(0.5).sum())} of {n} faces, "
      f"smile < 0 (a frown) on {int(unedited['smile'].lt(0).sum())} of {n}")
for name in rand_big:
    b, a = jac_runs[name].before, jac_runs[name].after
    print(f"{name}: glasses left on {int(a['glasses'].gt(0.5).sum())}; mean eye size {b['eye_size'].mean():.2f} -> "
          f"{a['eye_size'].mean():.2f}; hair colour spread {b['hair_color'].std():.2f} -> {a['hair_color'].std():.2f}, "
          f"corr(before, change) {corr(b['hair_color'], a['hair_color']):.2f}; "
          f"smile spread {b['smile'].std():.2f} -> {a['smile'].std():.2f}, corr {corr(b['smile'], a['smile']):.2f}")

# %% [markdown]
# A large random shift of h washes detail out of the face: glasses are left on 2 and 3 of the 6 faces
# that had them, eyes shrink (mean 0.38 to 0.21 and 0.24), and hair colour is pulled towards the
# middle of its range: its spread over the faces falls from 0.27 to 0.17 and 0.19. That fall is the
# evidence. The change is strongly anti-correlated with the starting colour (-0.91 and -0.89), but a
# correlation of this sign is expected anyway: regression to the mean alone, an after-reading
# unrelated to the before-reading with the same spread, gives $-1/\sqrt{2} = -0.71$; the spread
# falling is what takes it beyond that. Smile's spread falls much less (0.58 to 0.51 and 0.55), and
# its correlations (-0.59 and -0.53) are within the reference, so the pull on smile is weak at most.
# A random direction at this size is a "make it more generic" edit, and every baseline comparison below inherits this.

# %% [markdown]
# ## 4. Supervised directions
#
# The probe reads the 128 faces of section 1; for an attribute, the direction at each step is the
# mean h of the top 10 % (13 faces, the registry's `top`) minus that of the bottom 10 % (`ll.supervised_direction`, not
# normalised). With `project_out`, the other ten attributes' directions are projected out at every
# step (InterFaceGAN-style conditioning). Each is brought to the same size as above and pushed towards
# the top of its attribute's range (smile towards +1, glasses added, hair towards blond).

# %%
sup = {a: ll.supervised_direction(tr.h, scores[a], top=SUP["top"]) for a in ll.ATTRIBUTES}
goals = {"smile": 1.0, "glasses": 1.0, "hair_color": 1.0}
sup_dirs = {}
for a in goals:
    others = [sup[b] for b in ll.ATTRIBUTES if b != a]
    sup_dirs[a, "plain"] = ll.StepDirection(tr.timesteps, sup[a])
    sup_dirs[a, "others out"] = ll.StepDirection(tr.timesteps, ll.supervised_direction(tr.h, scores[a], top=SUP["top"],
                                                                                        project_out=others))
sup_scale = {key: size(reference) / size(d) for key, d in sup_dirs.items()}
sup_runs = {key: edit(sup_scale[key] * d, attr=key[0], goal=goals[key[0]]) for key, d in sup_dirs.items()}

# %% [markdown]
# Six faces without glasses (so that the glasses edits can show), unedited and with each supervised
# edit (the large random direction's row is in section 3's figure, on other faces):

# %%
no_glasses = unedited["glasses"] < 0.5
show_rows({"unedited": base[no_glasses][:6]}
          | {f"{a}, {kind}": r.x0_edit[no_glasses][:6] for (a, kind), r in sup_runs.items()}, scale=0.5);

# %% [markdown]
# In the pictures, the glasses directions add glasses to two (plain) and three (projected) of these
# six faces; the hair-colour directions lighten the hair, most visibly on the second face, and add no
# glasses.
#
# The table: each direction's scale $c$ (from the size rule), the share of its norm at $t = 0$ left
# after projecting the others out, the pixel change, the faces that can move and moved towards the
# goal (k of m: a face with glasses cannot gain them, a smile within 0.1 of +1 cannot grow), the mean
# change towards the goal over those faces, the target's **share** of all change (section 2's
# selectivity, for the target), and the mean and the worst leak (mean |change| of another attribute,
# in units of its range). The two large random directions are read against the same goals.
# "vs random": the exact sign test on the faces that one edit moved the right way and the other did
# not, against each random direction (the larger p of the two); 6 directions, so one counts at
# $p < 0.05/6 = 0.008$ (Bonferroni). With 16 faces that needs at least 8 such faces, all one way.

# %%
# NBVAL_CHECK_OUTPUT
def reread(r, attr, goal):
    """An edit already sampled, read against another goal."""
    return read_edit(base, r.x0_edit, attr=attr, goal=goal, probe=probe)


def share(r, attr):
    """The target's mean |change| as a fraction of all attributes' (each in units of its range)."""
    return float(selectivity(in_range_units(r.delta).abs().mean(0), attr))


print(f"{'direction':22s} | scale c | norm kept | pixels | right way       | vs random | change | share | leak | worst")
for a, g in goals.items():
    randoms = [reread(jac_runs[name], a, g) for name in rand_big]
    moved = lambda r: right_way(r.before[a], r.after[a], a, g)[1]  # noqa: E731
    for kind in ("plain", "others out", "random 100", "random 101"):
        r = sup_runs[a, kind] if (a, kind) in sup_runs else randoms[kind == "random 101"]
        leak = r.leakage()
        worst, mean_leak = max(leak, key=leak.get), float(leakage(r.delta, a).mean())
        k, m = round(r.right_way * r.n_movable), r.n_movable
        if (a, kind) in sup_runs:
            kept = sup_dirs[a, kind].norms()[-1] / sup_dirs[a, "plain"].norms()[-1]
            cols = f"{sup_scale[a, kind]:7.2f} | {kept:9.2f}"
            p = f"p = {max(sign_test(moved(r), moved(q)) for q in randoms):.3f}"
        else:
            cols, p = f"{'-':>7s} | {'-':>9s}", "-"
        print(f"{a + ', ' + kind:22s} | {cols} | {r.pixel_change:6.2f} | {k:2d} of {m:2d} = {k / m:.2f} | {p:9s} | "
              f"{r.change:+6.2f} | {share(r, a):5.2f} | {mean_leak:.2f} | {worst} {leak[worst]:.2f}")

# %% [markdown]
# At comparable pixel changes (0.09-0.18, against the random directions' 0.12-0.14):
#
# - **Smile means nothing measurable.** The supervised smile directions move 5 (plain) and 3
#   (projected) of 16 faces towards +1 (mean change +0.20 and -0.02 of the range), no more than the
#   random directions (11 and 6 of 16; p = 1.0 and 0.25).
#   The random edits' count is most likely section 3's washing out, weak as it is for smile (its
#   spread falls from 0.58 to 0.51 under random 100, the one with 11): 11 of the 16 faces frown, and
#   a pull of the mouth towards the average counts as "towards +1" for most of them. This agrees with
#   notebook 03, where the smile mean difference of 61 against 67 faces was mostly sampling noise; 13
#   against 13 is no better.
# - **Glasses**: the plain direction adds glasses to 4 of the 10 faces without them, the projected one
#   to 5 of 10, each random direction to none. Neither difference passes the corrected test (p = 0.125
#   and 0.062); with 10 faces that can gain glasses, passing would take 8 gaining them. Projecting the
#   others out keeps 0.60 of the direction's norm at $t = 0$: the plain glasses direction was partly
#   made of the other attributes' directions. Brought back to the same size, the projected direction
#   does about as much for glasses in count (5 against 4 of 10; untested, and not testable at this
#   size), with a larger share (0.22 against 0.18), a slightly smaller pixel change (0.16 against
#   0.18) and the same mean leak (0.11; worst 0.24 against 0.22).
# - **Hair colour** moves towards blond on all 16 faces, plain and projected, by 0.21 of the range;
#   the random directions do so on 13 and 12 of 16, by 0.11-0.14 (p = 0.25, not significant). The
#   random directions score this high because they pull dark hair towards the middle of the range.
# - **Leakage** is about that of the random directions (mean 0.06-0.12 against 0.10-0.13); the worst
#   leaks (0.15-0.25) are in hair length and face size. For smile, projection lowers the mean leak
#   (0.11 to 0.06) along with the target's count (5 to 3); for hair colour it keeps the mean leak
#   (0.12) and lowers the worst (0.25 to 0.19).
#
# So at N = 128 and this size, glasses (4 and 5 of 10, against 0) and hair colour (16 of 16, against
# 12-13) do more than random directions of comparable pixel change *in count*, smile does not; none
# of these differences is significant (p = 0.062 at best, against 0.008 after correcting for six
# tests, and not 0.05 uncorrected), so 16 faces cannot confirm that any supervised direction beats a
# random one.

# %% [markdown]
# ## 5. The symmetric step (Haas) against the asymmetric one (Asyrp)
#
# The same plain supervised glasses direction, at the same scale, now with the edited $\epsilon$ in
# $P_t$ only (`asymmetric=True`), against the symmetric run of section 4.

# %%
sym = sup_runs["glasses", "plain"]
asym = edit(sup_scale["glasses", "plain"] * sup_dirs["glasses", "plain"], attr="glasses", goal=1.0, asymmetric=True)

# %%
# NBVAL_CHECK_OUTPUT
for name, r in (("symmetric", sym), ("asymmetric", asym)):
    k, m = round(r.right_way * r.n_movable), r.n_movable
    leak = r.leakage()
    print(f"{name:10s}: glasses added to {k} of {m}, change {r.change:+.2f}, pixels {r.pixel_change:.2f}, "
          f"mean leak {leakage(r.delta, r.attr).mean():.2f}, worst leak {max(leak.values()):.2f}")
print(f"asymmetric / symmetric pixel change: {asym.pixel_change / sym.pixel_change:.2f}")
print("the asymmetric step changes the pixels more:", asym.pixel_change > 1.2 * sym.pixel_change)

# %% [markdown]
# The asymmetric step changes the pixels 1.43 times as much (0.25 against 0.18). That is the direction
# notebook 03's step weights predict: with 10 steps, the symmetric step keeps 0.39-1.0 of the
# asymmetric one's first-order effect on $x_{t-1}$, depending on the step (1.0 at the last, $t = 0$,
# where $D_t$ vanishes); the plain average over the ten steps is 0.58, a ratio of about 1.7. The
# measured 1.43 is on the final images, after clipping and ten steps of feedback, and the edit's size
# differs from step to step, so the two numbers agree only in direction. Here the extra change does
# not go to the target: glasses are added to the same 4 of 10 faces, and the leaks grow (mean 0.17
# against 0.11, worst 0.31 against 0.22). With 10 faces that can move and one direction, "no gain for
# the target" is all this shows; it is not a verdict on the asymmetric step.

# %% [markdown]
# ## 6. Summary
#
# - **PCA** (128 trajectories, 10 steps): $\sigma_k(t)$ and the explained variance grow towards
#   $t = 0$ (pc_1: 5.0 to 20.3, 0.05 to 0.22 of the variance); the first component is reproducible
#   across halves of the data late in the trajectory ($|\cos|$ 0.90 at $t = 0$, the others 0.55-0.76)
#   and none is early (0.09-0.46 at $t = 900$). As edits at $c = 5$, pc_1 changes the pixels five
#   times as much as random directions of the same norm, but no component moves one attribute:
#   selectivity 0.19-0.21, no higher than random directions' (0.15-0.21), the top attribute the
#   largest change on 3-9 of 16 faces. Each moves its top attribute (position, hair length) one way
#   on 16 of 16 faces, along with much else, but a same-norm random direction moves hair length one
#   way on 13 of 16 (p = 0.25).
# - **Jacobian**: $v_1$ is shared across faces at $t = 700$ ($|\cos|$ 0.49-0.60) and specific to the
#   face at $t = 400$, mostly (0.00-0.15); $s_1(t)$ grows 19-fold towards $t = 0$. Face 0's $v_1$ of $t = 400$,
#   applied to all 16 faces, shortens the hair on every one (by 0.32, selectivity 0.24), but random
#   directions of the same pixel change move their top attribute one way on 14-15 of 16 (p = 1.00): a
#   large, one-way edit, not shown to be more consistent than a random one, and not a pure one.
# - **Supervised**, at comparable pixel change: smile means nothing measurable; glasses (4 and 5 of
#   10, the projected direction one more, untested) and hair colour (16 of 16) beat the random
#   directions (0 of 10, 12-13 of 16) in count, not significantly at 16 faces (p = 0.062 at best).
#   Projecting the other attributes out kept 0.60 of the glasses direction's norm at $t = 0$ (the part
#   removed, orthogonal to what is kept, has $\sqrt{1 - 0.60^2} = 0.80$ of the original norm) and
#   raised the target's share of the change (0.22 against 0.18).
# - **Baselines**: a random direction of the same norm changes almost nothing; one scaled up to the
#   same pixel change washes the face out (glasses off, smaller eyes, hair colour to the middle), which
#   inflates "right way" counts whenever the goal lies towards the middle.
# - **Symmetric vs asymmetric**: the asymmetric step moves the pixels 1.43 times as much, for the
#   same glasses count (4 of 10) and more leakage.
#
# Everything here rests on 16 faces (standard errors 0.11-0.12 on fractions near one half) and one
# draw of trajectories and faces; the numbers say what this model does at this budget, not what Haas et al.
# found with 500 trajectories on CelebA-HQ.

# %% [markdown]
# ## Exercises
#
# Two exercises: a principal direction of h and a supervised direction, each by hand. Fill in each cell marked `# YOUR
# CODE HERE` (replace every `None`), then run the check below it: it says what is right, or what is wrong and what to
# try. The checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/05_haas_directions_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

faces_ex, truth_ex = ll.render_faces(64, seed=51)
h_ex = ll.h_of(model, ll.q_sample(model, faces_ex, 500, generator=gen(51)), 500)  # (64, 128, 4, 4) at t = 500

# %% [markdown]
# ### Exercise 1: the first principal direction, by hand
#
# `h_ex` holds h at $t = 500$ for 64 noised renders. Without `ll.pca_directions`: centre the samples
# (subtract their mean), take the SVD of the centred $64 \times 2048$ matrix, and give `pc1`, the top
# principal direction reshaped to one h's shape (unit norm), and `explained`, its share of the variance,
# $\sigma_1^2 / \sum_k \sigma_k^2$.

# %%
# YOUR CODE HERE: pc1 (one h's shape, unit norm) and explained (a number in [0, 1])
pc1 = None
explained = None

# %%
ex.check_pca_direction(h_ex, pc1, explained)

# %% [markdown]
# ### Exercise 2: a supervised direction for hair colour
#
# Haas et al.'s supervised direction is the mean h of the top 10 % of samples by an attribute's score
# minus the mean h of the bottom 10 %. Here the score is the renderer's ground truth,
# `truth_ex["hair_color"]` (0 black, 1 blond). Compute `d_hair` for `h_ex` (6 faces at each end).

# %%
# YOUR CODE HERE: d_hair, one h's shape
d_hair = None

# %%
ex.check_supervised_direction(h_ex, truth_ex["hair_color"], d_hair)
