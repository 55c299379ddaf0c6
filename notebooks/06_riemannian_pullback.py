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
# # 06 · The pullback of h (Park et al.): its singular directions, editing with them, and what they mean
#
# Park et al. read the latent space of a diffusion model through the Jacobian of the U-Net's encoder,
# $J = \partial h / \partial x_t$ at one timestep, and its SVD $J = U S V^\top$ (notebook 01: $V$ lives in
# $x_t$, $U$ in $h$, $J v_i = s_i u_i$). Each section below measures one of the talk's statements about
# them, on the bundled faces model, with the attribute probe as the instrument:
#
# 1. **The spectrum and the directions.** $s_i$ at four timesteps for two faces; $v_i$ as images, $u_i$ as maps over $h$'s positions.
# 2. **Editing.** The talk's two rules at $t_\text{edit} = 0.6\,T$: Park et al.'s released *x-space guidance*
#    and the first version's $x_t + \alpha v_i$, on three faces.
# 3. **Do the $v_i$ mean something?** Which attribute each moves, how selectively, how stably across faces
#    and timesteps; tested against random directions of the same norm.
# 4. **Transport and the multi-edit loop.** Carry $u_i$ to another face's tangent space: does it still do
#    the same thing? And the talk's loop (edit, recompute, transport, edit) against one edit of the same size.
# 5. **"H is locally linear, X is not."** A numerical test of the claim, and what it can and cannot show.
#
# Every number is a measurement on 1 to 3 faces (and one fresh face, D, in section 3) at one to four
# timesteps; read each as that.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.course.plot import show_images, show_rows
from latentlab.hosvd import random_directions
from latentlab.jacobians import jacobian_products
from latentlab.methods import METHODS, nearest_timestep
from latentlab.metrics import edit_attributes, in_range_units, read_edit, selectivity
from latentlab.quality import neighbour_correlation
from latentlab.stats import empirical_p

plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(1)  # the models here are small: one thread is steadier on a small or shared machine
cos = torch.nn.functional.cosine_similarity

# %% [markdown]
# ## 0. Three faces and where they are edited
#
# Three samples of the bundled model (faces A, B, C; DDIM with 20 steps, so that the notebook runs in
# about a minute; Park et al. use 100). We keep their whole trajectories: $x_t$ at $t$ = 800, 600, 400
# and 200 is where the Jacobians are taken, and $t_\text{edit} = 600 = 0.6\,T$ (one of Park et al.'s
# settings for faces, and the methods' registry's for Park's edits) is where the edits happen; from
# there 13 of the 20 steps remain (printed).
# The probe's readings of the three finished faces are printed for reference (each attribute in its own
# range, `ll.ATTRIBUTES`; glasses is a probability).

# %%
model = ll.load_model()
probe = ll.load_probe()
STEPS = 20
grid = ll.ddim_timesteps(model, STEPS).tolist()
x_T = torch.randn(3, *model.sample_shape, generator=torch.Generator().manual_seed(0))
x_0, trajectory = ll.ddim_sample(model, x_T, STEPS, return_trajectory=True, progress=False)
# Park's edits (registry): x_t moved once at the grid step nearest t_edit T, then plain DDIM
park = METHODS["Park pullback (guidance)"]
T_EDIT = nearest_timestep(grid, park.t_edit * model.num_train_timesteps)  # 600 on this grid
K = METHODS["Park transported"].settings["k_transport"]  # singular triplets per pullback (transport needs them)
TS = (800, T_EDIT, 400, 200)  # where the Jacobians are taken
x_at = {t: trajectory[grid.index(t)] for t in TS}  # t -> (3, C, H, W): faces A, B, C at timestep t
FACES = "ABC"
names = list(ll.ATTRIBUTES)
show_rows({f"face {f}": torch.stack([x_at[t][i] for t in TS] + [x_0[i]]) for i, f in enumerate(FACES)},
          col_titles=[f"x_t, t = {t}" for t in TS] + ["x_0"], scale=0.85);

# %%
# NBVAL_CHECK_OUTPUT
print(f"{STEPS}-step grid {grid[0]}, {grid[1]}, ..., {grid[-1]}; steps from t = 800 / {T_EDIT} to x_0: "
      f"{len(grid) - grid.index(800)} / {len(grid) - grid.index(T_EDIT)}")
readings = probe(x_0)
for i, f in enumerate(FACES):
    print(f"face {f}: " + ", ".join(f"{k} {v[i]:+.2f}" for k, v in readings.items()))

# %% [markdown]
# ## 1. The spectrum of $J = \partial h / \partial x_t$
#
# `ll.pullback(model, x_t, t, k=8)` finds the top 8 singular triplets from products with $J$ and
# $J^\top$ alone ($J v$ and $J^\top u$, never the whole matrix): a randomized block Krylov method
# (notebook 01), about a second each here. $J$ is $2048 \times 3072$ ($h$ is $128 \times 4 \times 4$,
# $x_t$ is $3 \times 32 \times 32$). Faces A and B at the four timesteps, and face C at $t = 600$ for
# the edits.

# %%
svds = {(f, t): ll.pullback(model, x_at[t][f], t, k=K, seed=0) for f in (0, 1) for t in TS}
svds[(2, T_EDIT)] = ll.pullback(model, x_at[T_EDIT][2], T_EDIT, k=K, seed=0)

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 2.6), sharey=True)
for f, ax in enumerate(axes):
    for t in TS:
        ax.plot(range(1, 9), svds[(f, t)].S.numpy(), "o-", label=f"t = {t}")
    ax.set_title(f"face {FACES[f]}: top singular values of dh/dx_t", fontsize=9); ax.set_xlabel("i")
axes[0].set_ylabel("s_i"); axes[1].legend(fontsize=7);

# %%
# NBVAL_CHECK_OUTPUT
ratio = {c: (s.S[0] / s.S[7]).item() for c, s in svds.items() if c[0] < 2}
for f in (0, 1):
    for t in TS:
        print(f"face {FACES[f]} t = {t}: s = {svds[(f, t)].S.numpy().round(2)}; s_1 / s_8 = {ratio[(f, t)]:.2f}")
print("s_1 at t = 200 at least twice s_1 at t = 800, both faces:",
      all(svds[(f, 200)].S[0] >= 2 * svds[(f, 800)].S[0] for f in (0, 1)))
print("s_1 / s_8 between 1.4 and 3 at all 8 (face, t):", all(1.4 < r < 3 for r in ratio.values()))

# %% [markdown]
# **Reading.** The response grows as $t$ falls: $s_1$ is about 5 at $t = 800$ and 13-17 at $t = 200$, so
# a unit step in $x_t$ moves $h$ further late in the trajectory. And the spectrum is **flat**: over the top
# 8, $s_i$ falls only by a factor of 1.5 to 2.4. No single direction dominates: $s_1$ leads $s_2$ by 1 %
# to 25 % (face A: 5.09 against 5.05 at $t = 800$, 16.87 against 13.48 at $t = 200$).
#
# **The directions as pictures.** Each $v_i$ is a unit image; it is drawn scaled so that its largest
# entry reaches black or white (mid-grey is 0). First $v_1, \ldots, v_4$ of face A at $t = 600$, then
# $v_1$ of face A at each timestep.

# %%
sA = svds[(0, T_EDIT)]
vis = torch.cat([sA.V[:4], torch.stack([svds[(0, t)].V[0] for t in TS])])
show_images(vis / vis.abs().amax((1, 2, 3), keepdim=True), nrow=8, scale=1.1,
            titles=[f"v_{i + 1}, t = {T_EDIT}" for i in range(4)] + [f"v_1, t = {t}" for t in TS]);

# %% [markdown]
# Each $u_i$ lives in $h$: 128 channels at $4 \times 4$ positions. Its norm over the channels at each
# position shows *where* in $h$ it points (bright: a large share of $u_i$).

# %%
fig, axes = plt.subplots(1, 4, figsize=(5.2, 1.8))
for i, ax in enumerate(axes):
    ax.imshow(sA.U[i].norm(dim=0).numpy(), cmap="magma", vmin=0); ax.axis("off")
    ax.set_title(f"u_{i + 1}", fontsize=8)
fig.suptitle(f"face A, t = {T_EDIT}: norm of u_i over the 128 channels at each of the 4 x 4 positions", fontsize=8);

# %% [markdown]
# Two measurements of what the pictures suggest: how smooth each $v_i$ is (the correlation of each pixel
# with its right-hand neighbour: about 0 for pixel noise, near 1 for a smooth image), against Gaussian
# noise blurred by 2 px; and how concentrated each $u_i$ is over $h$'s 16 positions (the share of
# $\|u_i\|^2$ in its 4 largest positions; an even spread gives 0.25). For the second, the fair reference
# is not an even spread but what $J$ does to *any* input: the same share for $J r$, $r$ 20 blurred and
# 20 plain random unit directions at the same point, and for random vectors in $h$ itself.

# %%
# NBVAL_CHECK_OUTPUT
smooth = neighbour_correlation(torch.cat([sA.V[:4], torch.stack([svds[(0, t)].V[0] for t in TS])]))
blur_ref = random_directions(8, model.sample_shape, blur=2.0, generator=torch.Generator().manual_seed(5))
plain_ref = random_directions(8, model.sample_shape, generator=torch.Generator().manual_seed(6))
print(f"neighbour correlation of v_1..v_4 (face A, t = {T_EDIT}):", smooth[:4].numpy().round(2))
print("                 of v_1 at t = 800, 600, 400, 200:", smooth[4:].numpy().round(2))
print(f"blurred noise (2 px), median of 8: {neighbour_correlation(blur_ref).median():.2f}; "
      f"plain noise: {neighbour_correlation(plain_ref).median().abs():.2f} (absolute value)")
top4 = [sA.U[i].square().sum(0).flatten().sort(descending=True).values[:4].sum().item() for i in range(4)]
print("share of |u_i|^2 in its 4 largest of 16 positions, i = 1..4:", [round(s, 2) for s in top4])
share4 = lambda u: (u.square().sum(-3).flatten(-2).sort(-1, descending=True).values[..., :4].sum(-1)
                    / u.square().sum((-3, -2, -1)))  # (n, 128, 4, 4) -> (n,)
r_jr = torch.cat([random_directions(20, model.sample_shape, blur=2.0, generator=torch.Generator().manual_seed(3)),
                  random_directions(20, model.sample_shape, generator=torch.Generator().manual_seed(4))])
jr_share = share4(jacobian_products(model, x_at[T_EDIT][0], T_EDIT)[0](r_jr).detach())
h_share = share4(torch.randn(20, *sA.U.shape[1:], generator=torch.Generator().manual_seed(9)))
for label, sh in (("J r, 20 blurred r", jr_share[:20]), ("J r, 20 plain r", jr_share[20:]), ("20 random vectors in h", h_share)):
    print(f"   same share for {label:22s}: median {sh.median():.2f}, range {sh.min():.2f}-{sh.max():.2f}")
print("every v_i above 0.75, every u_i above 0.35:", bool(smooth.min() > 0.75), all(s > 0.35 for s in top4))

# %% [markdown]
# So the $v_i$ are smooth images (0.84-0.95; 2-px blurred noise 0.94; pixel noise 0.00): the directions
# the encoder responds to most are smooth changes. This is why section 3 compares them with **blurred** random directions
# and not only with plain noise. The $u_i$ look concentrated, but mostly because $J$ is: their 4 largest
# positions hold 0.43-0.48 of $\|u_i\|^2$, and $J r$ for random unit directions $r$ already holds
# 0.36-0.47 there (median 0.41 blurred, 0.40 plain), against 0.29 for random vectors in $h$ and 0.25 for
# an even spread. Which positions of $h$ respond to $x_t$ at all is a property of $J$ at this point; the
# singular directions add little to it (the $u_i$ sit at the top of $J r$'s range, $u_1$ just above it).
#
# ## 2. The talk's two editing rules, at $t_\text{edit} = 0.6\,T$
#
# An edit changes $x_t$ at one timestep, then DDIM continues from the changed $x_t$. Park et al. continue
# with $\eta = 0$ down to $0.2\,T$ and $\eta = 1$ below (`t_boost=200`); every run here gets the same
# seeded noise, so an edited and an unedited face differ by the edit alone.
# (`ll.edit_and_denoise` does both steps in one call; here they are apart so that the edited $x_t$ can
# be measured.)
#
# - **x-space guidance** (Park et al.'s released code, the talk's "new version"):
#   $x_t \leftarrow x_t + \gamma\,[\varepsilon_\theta(x_t + v_i) - \varepsilon_\theta(x_t)]$, repeated
#   $n = 16$ times with $v_i$ fixed, $\gamma = 0.1$ (their face setting, read from the registry). `ll.x_space_guidance`.
# - **moving along $v_i$** (the paper's first version): $x_t + \alpha v_i$. `ll.move_along`.
#
# Guidance does not step along $v_i$ itself but along the change of the noise prediction that $v_i$
# causes. How far, and in which direction, is measured below. We take $\alpha = 1$ for the second rule,
# close to the size of the guidance step (printed), so that the two rules are compared at about the same
# step size. Each face is edited along its own $v_1$, both ways.

# %%
MOVE = 1.0
x_e = x_at[T_EDIT]  # (3, C, H, W)
v1 = torch.stack([svds[(f, T_EDIT)].V[0] for f in range(3)])  # (3, C, H, W): each face's own v_1
x_edit = {("guidance", s): ll.x_space_guidance(model, x_e, T_EDIT, s * v1, gamma=park.settings["gamma"],
                                                n=park.settings["n"]) for s in (-1, 1)}
x_edit |= {("move", s): ll.move_along(x_e, s * v1, MOVE) for s in (-1, 1)}
noise = lambda: torch.Generator().manual_seed(7)  # the same eta = 1 noise below t = 200 in every run
denoise = lambda x: ll.ddim_sample(model, x, STEPS, t_start=T_EDIT, t_boost=200, generator=noise(), progress=False)
base = denoise(x_e)
edited = {c: denoise(x) for c, x in x_edit.items()}

# %%
cols = {"guidance -v_1": ("guidance", -1), "x_t - v_1": ("move", -1), "unedited": None,
        "x_t + v_1": ("move", 1), "guidance +v_1": ("guidance", 1)}
show_rows({f"face {f}": torch.stack([base[i] if c is None else edited[c][i] for c in cols.values()])
           for i, f in enumerate(FACES)}, col_titles=list(cols), scale=0.95);

# %% [markdown]
# The probe reads every attribute of the edited and the unedited faces (`read_edit`); a change is in
# units of the attribute's range (1 = the whole range). For each edit the two attributes that changed
# most, and for each face the cosine between the 11 changes made by the two rules (1: the same change).

# %%
# NBVAL_CHECK_OUTPUT
step = (x_edit[("guidance", 1)] - x_e).flatten(1)
print("guidance +v_1: |x_t' - x_t| per face", step.norm(dim=1).numpy().round(2),
      "; cosine with v_1", cos(step, v1.flatten(1)).numpy().round(2))
change = {c: in_range_units(read_edit(base, x0, probe=probe).delta) for c, x0 in edited.items()}  # (face, attribute)
agree = []
for i, f in enumerate(FACES):
    for c, d in change.items():
        top = d[i].abs().argsort(descending=True)[:2]
        print(f"face {f} {c[0]:8s} {'+' if c[1] > 0 else '-'}v_1: " + ", ".join(f"{names[j]} {d[i, j]:+.2f}" for j in top))
    agree += [cos(change[("guidance", s)][i], change[("move", s)][i], dim=0).item() for s in (-1, 1)]
    print(f"   cosine guidance / move, -v_1 and +v_1: {agree[-2]:+.2f} {agree[-1]:+.2f}")
print(f"cosine above 0.9 in {sum(a > 0.9 for a in agree)} of 6 (face, sign)")

# %% [markdown]
# **Reading.** The guidance step has norm 0.84-1.34 and points mostly along $v_1$ (cosine 0.74-0.95),
# so at this size the two rules are close relatives, and on faces B and C they agree (cosines 0.95-0.99,
# 4 of the 6 above 0.9). That agreement between the two rules is what is shown here, not a meaning for
# $v_1$: the changes on B (hair colour) and C (face size), 0.08-0.18 of the range at a step of about 1,
# are of the size that random smooth directions produce. Section 3 measures that reference: 100 blurred
# random directions, at twice this step (2), change the most-changed attribute by a median of 0.08 and
# at most 0.17 on face A (0.07 and 0.19 on a fresh face D). Face A is different: $x_t + v_1$ moves the face sideways and shrinks it (pos_x +0.70,
# face size -0.50) while guidance along $+v_1$ changes the smile and eyes by less than 0.2, and
# $-v_1$ changes hair colour by -0.25 under one rule and by +0.02 under the other. Face A's $x_t$
# looks as if it sits near a switch that one rule trips and the other does not; one-sided jumps of
# this kind show up again in section 3.
#
# ## 3. Do the top singular directions mean something?
#
# **What each $v_i$ moves.** `edit_attributes` edits $x_t \leftarrow x_t \pm 2 v_i$ at one timestep
# (the first rule: it costs no extra U-Net calls, so the random baselines below can be edited the same
# way), continues DDIM ($\eta = 0$) and reads the probe. Step 2, twice the size of section 2, so that
# changes stand well above what a random step of pixel noise does (at most 0.04, measured below). Four contexts: faces A and B at $t$ = 600 and 800;
# $v_1, v_2, v_3$ in each. For each signed edit the table gives the attribute that changed most, by how
# much, and its **selectivity**: that change's share of the sum of all 11 $|$changes$|$ (1: only one
# attribute moved; 0.09: all moved alike).

# %%
ALPHA = METHODS["Park pullback (move)"].settings["alpha"]  # x_t + alpha v_i
contexts = [(f, t) for t in (T_EDIT, 800) for f in (0, 1)]
table = {c: edit_attributes(model, probe, x_at[c[1]][c[0]], c[1], svds[c].V[:3], alphas=(-ALPHA, ALPHA), steps=STEPS)
         for c in contexts}

# %%
# NBVAL_CHECK_OUTPUT
D = {c: torch.stack([out["delta"][a] for a in names], -1) for c, out in table.items()}  # (v_i, -/+, attribute)

def top_of(d):  # d: the 11 changes of one edit -> (attribute, its change, selectivity)
    j = int(d.abs().argmax())
    return names[j], float(d[j]), float(selectivity(d))

print(f"{'face':4s} {'t':>4s} {'dir':4s} {'x_t - 2 v: largest change':>34s} {'x_t + 2 v: largest change':>34s}")
sel = []
for c in contexts:
    for i in range(3):
        row = [top_of(D[c][i, a]) for a in (0, 1)]
        sel += [s for _, _, s in row]
        print(f"{FACES[c[0]]:4s} {c[1]:4d} v_{i + 1}  " + "  ".join(f"{n:>12s} {d:+.2f} (sel {s:.2f})" for n, d, s in row))
print(f"selectivity of the 24 edits: median {torch.tensor(sel).median():.2f}, range {min(sel):.2f}-{max(sel):.2f}")

# %%
show_rows({f"{FACES[f]}, t = {t}, v_{i + 1}": torch.stack([table[(f, t)]["images"][i, 0], table[(f, t)]["base"],
                                                         table[(f, t)]["images"][i, 1]])
           for f, t in ((0, T_EDIT), (1, 800)) for i in range(3)},
          col_titles=["x_t - 2 v_i", "unedited", "x_t + 2 v_i"], scale=0.95);

# %% [markdown]
# Every edit changes some attribute by 0.15 to 1.00 of its range; but few are about one
# attribute: the median selectivity is about 0.3 (the table's last line), so the largest change is
# typically under a third of everything that moved. Several responses are asymmetric: face A's $v_1$ at
# $t = 600$ changes hair colour one way and position the other.
#
# **How stable is the meaning of "$v_i$"?** $v_i$ is defined at each point separately; if "the $i$-th
# direction" meant one thing, faces A and B (or one face at two timesteps) would change the same
# attributes along their own $v_i$. We compare the two contexts' *effects*, half the difference between
# the $+2$ and $-2$ changes (11 numbers; flipping $v_i$'s sign, which the SVD leaves arbitrary, flips the
# effect, so we use $|$cosine$|$). As a reference, the same $|$cosine$|$ between $v_i$ and $v_j$,
# $i \neq j$ (6 pairs), which should be low if the index carries meaning.

# %%
# NBVAL_CHECK_OUTPUT
effect = {c: torch.stack([out["effect"][a] for a in names], -1) for c, out in table.items()}  # (v_i, attribute)
pairs_of = {f"faces A, B at t = {T_EDIT}": ((0, T_EDIT), (1, T_EDIT)), "faces A, B at t = 800": ((0, 800), (1, 800)),
            f"t = {T_EDIT}, 800 for face A": ((0, T_EDIT), (0, 800)), f"t = {T_EDIT}, 800 for face B": ((1, T_EDIT), (1, 800))}
same_top = above = 0
for label, (c1, c2) in pairs_of.items():
    same = torch.stack([cos(effect[c1][i], effect[c2][i], dim=0).abs() for i in range(3)])
    other = torch.stack([cos(effect[c1][i], effect[c2][j], dim=0).abs() for i in range(3) for j in range(3) if i != j])
    tops = sum(int(effect[c1][i].abs().argmax() == effect[c2][i].abs().argmax()) for i in range(3))
    same_top += tops
    above += int((same > other.median()).sum())
    print(f"{label}: |cos| for v_1, v_2, v_3 {same.numpy().round(2)}; v_i against v_j median {other.median():.2f}; "
          f"same largest effect for {tops} of 3")
print(f"same attribute with the largest effect in {same_top} of 12 comparisons; |cos| above the reference median in {above} of 12")

# %% [markdown]
# **Reading.** The index does not carry a stable meaning across these contexts. The attribute with the
# largest effect is the same in 1 of 12 comparisons (face B's $v_1$ changes hair colour at both
# timesteps, $|\cos| = 0.94$). Elsewhere the same-index cosines scatter from 0.01 to 0.70; they exceed
# the median of the $v_i$-against-$v_j$ reference in 7 of 12 comparisons, where chance alone gives about
# 6 of 12. Overall this is consistent with chance. (The 3 of 3 between faces A and B at $t = 600$ is one
# of four subsets, singled out after seeing them; it is not evidence by itself.) The flat spectrum
# (section 1) makes this plausible: where $s_1$ leads $s_2$ by 1 %
# (face A, $t = 800$), which of two similar directions comes first can change from point to point.
#
# **Are the $v_i$ stronger than random directions?** At one context, face A at $t = 600$, edit along
# random unit directions the same way ($x_t + 2r$, DDIM from $t = 600$) and compare each one's
# **strongest change** (the largest $|$change$|$ over the 11 attributes) with $v_i$'s. Two baselines:
# plain Gaussian noise (80 draws) and noise blurred by 2 px (100 draws), the fairer one since the $v_i$
# are smooth. Notebook 07 learnt that 16 blurred draws are too few (their maximum moved from 0.12 to 0.41
# with the seed), so we print the blurred maximum after 25, 50 and 100 draws.
#
# The tests, fixed before they were run: $v_1, v_2, v_3$, each edited **one way**, $x_t + 2 v_i$ with the sign
# `pullback` returns (a convention, the largest entry of $v_i$ positive, that knows nothing of edits).
# The context was **not** chosen blind: face A at $t = 600$ is where section 2 and the table above had
# already shown the largest one-sided jump ($x_t + 2 v_1$, position 0.77). So the same test is repeated
# afterwards on a fresh face.
# The empirical p-value against a baseline of $N$ draws is $(1 + \#\{\text{draws} \geq \text{it}\})/(N + 1)$
# (`empirical_p`). A direction passes if it beats **both** baselines: its p-value is the larger of the
# two (a test that needs both to reject needs no correction between them), and Bonferroni over the 3
# directions asks for $3p < 0.05$. The smallest possible $3p$ is $3/81 = 0.037$ (80 plain draws).

# %%
N_BLUR, N_PLAIN = 100, 80
blurred = random_directions(N_BLUR, model.sample_shape, blur=2.0, generator=torch.Generator().manual_seed(2))
plain = random_directions(N_PLAIN, model.sample_shape, generator=torch.Generator().manual_seed(1))
x_A = x_at[T_EDIT][0]
x0_rand = torch.cat([ll.ddim_sample(model, x_A + ALPHA * d, STEPS, t_start=T_EDIT, progress=False)
                     for d in torch.cat([blurred, plain]).split(60)])  # one-way edits, DDIM in batches of 60
rand = read_edit(table[(0, T_EDIT)]["base"].expand_as(x0_rand), x0_rand, probe=probe)
rand_change = in_range_units(rand.delta)  # (draw, attribute)

# %%
# NBVAL_CHECK_OUTPUT
strongest_v = D[(0, T_EDIT)][:, 1].abs().amax(1)  # x_t + 2 v_i, i = 1..3
strongest_b, strongest_p = rand_change[:N_BLUR].abs().amax(1), rand_change[N_BLUR:].abs().amax(1)
print("blurred: largest strongest change after 25 / 50 / 100 draws:",
      [round(strongest_b[:n].max().item(), 2) for n in (25, 50, 100)], f"; median {strongest_b.median():.2f}")
print(f"plain: largest of {N_PLAIN} {strongest_p.max():.2f}, median {strongest_p.median():.2f}")
M = 3
passed = []
for i in range(3):
    pb, pp = empirical_p(strongest_v[i], strongest_b).item(), empirical_p(strongest_v[i], strongest_p).item()
    p = max(pb, pp)
    passed.append(M * p < 0.05)
    print(f"v_{i + 1} ({names[D[(0, T_EDIT)][i, 1].abs().argmax()]}): strongest {strongest_v[i]:.2f}; at or above it: "
          f"blurred {int((strongest_b >= strongest_v[i]).sum())} of {N_BLUR}, plain {int((strongest_p >= strongest_v[i]).sum())} "
          f"of {N_PLAIN}; p {p:.3f}, 3p {min(1, M * p):.3f}: passes {passed[-1]}")
sel_b, sel_v = selectivity(rand_change[:N_BLUR]), selectivity(D[(0, T_EDIT)][:, 1])
print(f"selectivity of x_t + 2 v_1, v_2, v_3: {sel_v.numpy().round(2)}; "
      f"of the 100 blurred edits: median {sel_b.median():.2f}, largest {sel_b.max():.2f}")

# %% [markdown]
# **Reading.** At face A, $t = 600$: $x_t + 2v_1$ (position, 0.77) and $x_t + 2v_2$ (smile, 0.50) change
# the face more than every one of the 100 blurred and 80 plain directions, and pass the corrected test
# ($3p = 0.037$, the smallest value possible with 80 plain draws). $x_t + 2v_3$ (0.15) does not: 3 of
# the 100 blurred draws change some attribute at least as much. The blurred maximum, 0.17, did not move
# between 25 and 100 draws; plain noise barely changes the face (largest 0.04). Two caveats in the
# numbers: $-2 v_3$ moves the face sideways by 0.42 (the table above), more than any draw, but it was not
# among the declared tests (testing both signs would double the family to 6, and $6/(N + 1) < 0.05$
# needs at least 120 draws per baseline); and the $v_i$ are strong, not selective: the three tested edits'
# selectivities (0.22-0.26) sit at the blurred edits' median (0.25; largest 0.44). This is one face at
# one timestep, and a face chosen after seeing its edits.
#
# **The same test on a fresh face, declared before it was run.** Face D is the first sample of a new
# seed (8), not shown or measured anywhere above, taken at the same $t = 600$. Unchanged from face A:
# its own $v_1, v_2, v_3$ (`pullback`, $k = 8$, seed 0), each edited one way, $x_t + 2 v_i$ with the sign
# `pullback` returns; the same 100 blurred and 80 plain directions as baselines; the p-value the larger
# of the two, passing at $3p < 0.05$. Whatever it shows is reported below; the face is shown only after.

# %%
x_T_D = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(8))
x_D = ll.ddim_sample(model, x_T_D, STEPS, return_trajectory=True, progress=False)[1][grid.index(T_EDIT)][0]
sD = ll.pullback(model, x_D, T_EDIT, k=K, seed=0)
x0_D = torch.cat([ll.ddim_sample(model, x_D + ALPHA * d, STEPS, t_start=T_EDIT, progress=False)  # row 0: unedited
                  for d in torch.cat([torch.zeros_like(sD.V[:1]), sD.V[:3], blurred, plain]).split(61)])
read_D = read_edit(x0_D[:1].expand_as(x0_D[1:]), x0_D[1:], probe=probe)
change_D = in_range_units(read_D.delta)  # rows: v_1, v_2, v_3, 100 blurred, 80 plain

# %%
# NBVAL_CHECK_OUTPUT
strongest_D = change_D.abs().amax(1)
sD_v, sD_b, sD_p = strongest_D[:3], strongest_D[3:3 + N_BLUR], strongest_D[3 + N_BLUR:]
print(f"face D: s_1..s_3 = {sD.S[:3].numpy().round(2)}; blurred: largest strongest change {sD_b.max():.3f}, "
      f"median {sD_b.median():.2f}; plain: largest {sD_p.max():.2f}, median {sD_p.median():.2f}")
passed_D = []
for i in range(3):
    p = max(empirical_p(sD_v[i], sD_b).item(), empirical_p(sD_v[i], sD_p).item())
    passed_D.append(M * p < 0.05)
    print(f"v_{i + 1} ({names[change_D[i].abs().argmax()]}): strongest {sD_v[i]:.2f}; at or above it: "
          f"blurred {int((sD_b >= sD_v[i]).sum())} of {N_BLUR}, plain {int((sD_p >= sD_v[i]).sum())} of {N_PLAIN}; "
          f"p {p:.3f}, 3p {min(1, M * p):.3f}: passes {passed_D[-1]}")
sel_D = selectivity(change_D)
print(f"selectivity of x_t + 2 v_1, v_2, v_3: {sel_D[:3].numpy().round(2)}; "
      f"of the 100 blurred edits: median {sel_D[3:3 + N_BLUR].median():.2f}, largest {sel_D[3:3 + N_BLUR].max():.2f}")

# %%
show_images(x0_D[:4], nrow=4, scale=1.1, titles=["face D, unedited"] + [f"x_t + 2 v_{i + 1}" for i in range(3)]);

# %% [markdown]
# **Reading (face D).** All three pass on face D: $x_t + 2 v_1$ (horizontal position, 0.51), $x_t + 2 v_3$
# (mouth open, 0.42) and $x_t + 2 v_2$ (vertical position, 0.20) each change the face more than every
# one of the same 100 blurred and 80 plain directions ($3p = 0.037$ each, the smallest possible).
# $v_2$ passes narrowly: 0.20 against a blurred maximum of 0.194. Selectivity is mostly at the blurred
# edits' level (0.19 and 0.24 against their median 0.26; $v_3$'s 0.42 is higher, below their largest
# 0.46). $v_1$ moves the face sideways at both A and D, but the other attributes are not face A's
# (A: smile, eye size; D: vertical position, mouth open), in line with the stability comparison above.
# So over two faces at one timestep, one of them fresh, 5 of the 6 declared tests pass: the top $v_i$ change the face more than
# random smooth directions of the same norm do. Whether this holds at other timesteps and on more fresh
# faces is not measured here.
#
# ## 4. Transport, and the multi-edit loop
#
# **Transport** (Park et al.'s "parallel transport", `ll.transport`): to use face A's $h$-direction $u_i$
# at face B, project it on B's top-$k$ $u'_j$ and map back: $v' = V'(U'^\top u_i)$, normalised (no
# $S^{-1}$, as in their code). Park et al. use $k = 50$; here $k = 8$ (time), so first: how much of $u_i$
# lies in the span of B's $u'_1, \ldots, u'_8$ ($\|U'^\top u_i\|$; 1 = all of it).
#
# Then three ways to edit face B "along A's $i$-th direction": the transported $v'$; **A's raw $v_i$**,
# the same image reused at B untransported (a control: is transport any better than doing nothing?); and
# **B's own $v_i$**. Two measurements: (a) in $h$: does the step $x_B + 0.5\,v$ move $h$ along $u_i$
# (the cosine of the change of $h$ with $u_i$)? (b) through the probe: the 22 changes ($\pm 2$, 11
# attributes) at B against those of $v_i$ at A (cosine). A transported or raw direction has a definite
# sign; B's own $v_i$ does not, so for it we take the better of its two orientations, and as a reference
# the same for B's $v_j$, $j \neq i$ (best orientation too: what an unrelated direction scores). Both
# ways, A to B and B to A, for $i = 1, 2$.

# %%
pairs = [(0, 1), (1, 0)]  # (from, to): face A's u_i at face B, and B's at A, all at t = 600
moved = {(a, b, i): ll.transport(svds[(a, T_EDIT)].U[i], svds[(b, T_EDIT)]) for a, b in pairs for i in range(2)}
at_target = {b: edit_attributes(model, probe, x_at[T_EDIT][b], T_EDIT,
                                torch.stack([moved[(a, b, i)] for i in range(2)] + [svds[(a, T_EDIT)].V[i] for i in range(2)]),
                                alphas=(-ALPHA, ALPHA), steps=STEPS) for a, b in pairs}

# %%
# NBVAL_CHECK_OUTPUT
def changes(c, j):  # the 22 changes of direction j at context c: 11 at -2, then 11 at +2
    return D[c][j].flatten()

def best(src, d):  # cosine with a direction of arbitrary sign: the better of its two orientations
    return max(cos(src, d, dim=0).item(), cos(src, d.view(2, -1).flip(0).flatten(), dim=0).item())

T_win = R_win = own_win = 0
for a, b in pairs:
    sa, sb, xb = svds[(a, T_EDIT)], svds[(b, T_EDIT)], x_at[T_EDIT][b]
    hb = ll.h_of(model, xb, T_EDIT).flatten()
    dh = lambda v: ll.h_of(model, xb + 0.5 * v, T_EDIT).flatten() - hb
    tgt = torch.stack([at_target[b]["delta"][n] for n in names], -1)  # (direction, -/+, attribute)
    for i in range(2):
        u, src = sa.U[i].flatten(), changes((a, T_EDIT), i)
        h_cos = [cos(dh(v), u, dim=0).item() for v in (moved[(a, b, i)], sa.V[i])] + [abs(cos(dh(sb.V[i]), u, dim=0).item())]
        p_cos = [cos(src, tgt[j].flatten(), dim=0).item() for j in (i, 2 + i)] + [best(src, changes((b, T_EDIT), i))]
        ref = [best(src, changes((b, T_EDIT), j)) for j in range(3) if j != i]
        T_win += h_cos[0] > h_cos[1]; R_win += p_cos[0] > p_cos[1]; own_win += p_cos[2] > max(ref)
        print(f"{FACES[a]} -> {FACES[b]}, u_{i + 1}: |U'^T u| = {(sb.U.flatten(1) @ u).norm():.2f}; "
              f"|cos(v', own v_j)| largest {(sb.V.flatten(1) @ moved[(a, b, i)].flatten()).abs().max():.2f}")
        print(f"   (a) cos(change of h, u): transported {h_cos[0]:+.2f}, raw {h_cos[1]:+.2f}, own v_{i + 1} {h_cos[2]:.2f}")
        print(f"   (b) cos with the 22 changes at {FACES[a]}: transported {p_cos[0]:+.2f}, raw {p_cos[1]:+.2f}, "
              f"own v_{i + 1} {p_cos[2]:+.2f}; own v_j, j != {i + 1}: " + ", ".join(f"{r:+.2f}" for r in ref))
print(f"transported ahead of raw: (a) in {T_win} of 4, (b) in {R_win} of 4; "
      f"own v_i ahead of both other v_j in (b): {own_win} of 4")

# %% [markdown]
# **Reading.** With $k = 8$, the projection of $u_i$ on the new point's top-8 span keeps only 0.52-0.71
# of its norm, so the transported $v'$ is built from a part of $u_i$ (it lies close to one of the
# target's own $v_j$: largest $|\cos|$ 0.56-0.81). It still moves $h$ along $u_i$ (cosine 0.50-0.68),
# but the source's raw $v_i$, reused at the target without any transport, does so a little more in all 4
# cases (0.55-0.74). Through the probe, transported and raw directions reproduce the source's changes
# about equally (cosines 0.30-0.76; transported ahead in 2 of 4, by 0.02 and 0.04). The target's own
# $v_i$ does about as well (0.38-0.58) and beats its other two directions in 3 of 4 cases (a best
# orientation for all of them); with 4 cases that is not separable from chance (if the index meant
# nothing, each case would go this way with probability 1/3, and 3 or more of 4 would come up about once
# in 9). So on these two faces transport is not shown to carry a *meaning* further than the raw
# image does; a larger $k$ (Park et al.'s 50) keeps more of $u_i$, and we have not measured what that
# changes.
#
# **The multi-edit loop** (the talk's slide "Editing", steps 3-6; `ll.multi_edit`): step $x_t + 1 \cdot v$,
# recompute the pullback at the new point, transport $u_1$ of the start to it, step again; 3 steps of
# 1. Against it, one step of 3 along $v_1$ (`move_along`). Measured for faces A and B: the straightness of
# the loop's path (the cosine of its total displacement with $v_1$), how far $h$ moved along $u_1$, and
# the 11 probe changes of the finished faces.

# %%
loop = {f: ll.multi_edit(model, x_at[T_EDIT][f], T_EDIT, 0, edits=3, k=K, strength=1.0, rule="move", seed=0,
                         svd=svds[(f, T_EDIT)])[-1] for f in (0, 1)}
one = {f: ll.move_along(x_at[T_EDIT][f], svds[(f, T_EDIT)].V[0], 3.0) for f in (0, 1)}
x0_loop = ll.ddim_sample(model, torch.stack([loop[0], loop[1], one[0], one[1]]), STEPS, t_start=T_EDIT, progress=False)

# %%
# NBVAL_CHECK_OUTPUT
r_loop = probe(x0_loop)
bases = torch.stack([table[(f, T_EDIT)]["base"] for f in (0, 1)] * 2)
r_base = probe(bases)
dl = in_range_units({a: r_loop[a] - r_base[a] for a in names})  # rows: loop A, loop B, one A, one B
for f in (0, 1):
    x, s = x_at[T_EDIT][f], svds[(f, T_EDIT)]
    h0 = ll.h_of(model, x, T_EDIT).flatten()
    for label, xn, row in (("loop 3 x 1", loop[f], f), ("one step 3", one[f], 2 + f)):
        dh = ll.h_of(model, xn, T_EDIT).flatten() - h0
        top = dl[row].abs().argsort(descending=True)[:2]
        print(f"face {FACES[f]} {label}: cos(displacement, v_1) {cos((xn - x).flatten(), s.V[0].flatten(), dim=0):+.2f}; "
              f"h moved {dh @ s.U[0].flatten():.1f} along u_1 (|dh| {dh.norm():.1f}; linear prediction 3 s_1 = {3 * s.S[0]:.1f}); "
              + ", ".join(f"{names[j]} {dl[row, j]:+.2f}" for j in top))
    print(f"   cosine of the 11 changes, loop against one step: {cos(dl[f], dl[2 + f], dim=0):+.2f}")

# %% [markdown]
# **Reading.** At this size the loop is a straight line: its displacement has cosine 0.98-0.99 with
# $v_1$, $h$ moves along $u_1$ by the same amount either way (22-24, against a linear prediction of
# $3 s_1$ = 27-32: 12-32 % short, so $h$ is already non-linear along $v_1$ at this step; section 5), and
# the finished faces change alike (cosine 1.00). Recomputing the tangent space twice (before the
# second and the third step) changed nothing measurable on two faces; if the loop matters, it is at larger total steps
# than these, which we have not tested.
#
# ## 5. "H is locally linear, X is not": a test
#
# The talk's first Park slide claims that $\mathcal{H}$ exhibits local linearity and $\mathcal{X}$ does
# not. One fair, checkable reading: along the same line in $x_t$, the map into $h$ stays closer to its
# linearisation than maps into image space do. `ll.linearity_error(f, x, v, steps)` measures
# $\|f(x + s v) - f(x) - s\,Jv\| / \|f(x + s v) - f(x)\|$ (0 for a linear map; for a smooth map it grows
# like $s$). Four maps from $x_t$ (face A, $t = 600$): $h$; the noise prediction $\varepsilon$; the
# predicted clean image $P_t$; and $x_0$, the end of the 13 DDIM steps the edits use. Directions:
# $v_1, v_2, v_3$, 2 blurred and 2 plain random unit directions. Steps $s$ from 0.5 to 4 (the edits above
# used 1 to 3).
#
# $Jv$ comes from a central difference, whose step (`linearity_error` takes $10^{-3}$ of the smallest
# $s$) is too small for float32: where a map barely responds (plain noise), round-off then dominates.
# So $h$, $\varepsilon$ and $P_t$ run on a float64 copy of the model. The $x_0$ map (13 U-Net calls per
# point) stays in float32 and is run for $v_1$ and one blurred direction only; there its error rises
# steadily with $s$ from 0.02 (printed), which round-off, constant in $s$, would not do.

# %%
model64 = ll.load_model(dtype=torch.float64)
a_edit = model.scheduler.alphas_cumprod[T_EDIT].double()
x64 = x_at[T_EDIT][0].double()
dirs = torch.cat([sA.V[:3], blurred[:2], plain[:2]]).double()  # v_1, v_2, v_3, 2 blurred, 2 plain
SCALES = (0.5, 1.0, 2.0, 4.0)
maps = {"h": lambda x: ll.h_of(model64, x, T_EDIT), "eps": lambda x: ll.eps_of(model64, x, T_EDIT),
        "P_t": lambda x: ll.P_t(x, ll.eps_of(model64, x, T_EDIT), a_edit)}
lin = {name: torch.stack([ll.linearity_error(f, x64, v, SCALES) for v in dirs]) for name, f in maps.items()}
ddim = lambda x: ll.ddim_sample(model, x, STEPS, t_start=T_EDIT, progress=False)
lin["x_0 (DDIM)"] = torch.stack([ll.linearity_error(ddim, x_at[T_EDIT][0], v.float(), SCALES) for v in dirs[[0, 3]]])

# %%
fig, axes = plt.subplots(1, 2, figsize=(7, 2.6), sharey=True)
for ax, (label, j, jx) in zip(axes, (("along v_1", 0, 0), ("along a blurred direction", 3, 1))):
    for name, e in lin.items():
        ax.loglog(SCALES, e[jx if name.startswith("x_0") else j].numpy(), "o-", label=name)
    ax.set_xticks(SCALES, [f"{s:g}" for s in SCALES]); ax.minorticks_off()
    ax.set_title(label, fontsize=9); ax.set_xlabel("step s")
axes[0].set_ylabel("relative linearisation error"); axes[1].legend(fontsize=7);

# %%
# NBVAL_CHECK_OUTPUT
rows = {"v_1": [0], "v_2": [1], "v_3": [2], "blurred (larger of 2)": [3, 4], "plain (larger of 2)": [5, 6]}
print(f"{'step s':24s}" + "".join(f"{s:>6g}" for s in SCALES))
for name, e in lin.items():
    print(name)
    for label, idx in rows.items():
        if name.startswith("x_0"):
            if label not in ("v_1", "blurred (larger of 2)"):
                continue
            idx, label = [0 if label == "v_1" else 1], ("v_1" if label == "v_1" else "blurred (one)")
        print(f"   {label:21s}" + "".join(f"{v:6.2f}" for v in e[idx].amax(0)))
h, eps, x0 = lin["h"], lin["eps"], lin["x_0 (DDIM)"]
print("h more linear than eps, P_t and x_0 along v_1 at all 4 steps:",
      bool((h[0] < eps[0]).all() and (h[0] < lin["P_t"][0]).all() and (h[0] < x0[0]).all()))
print(f"h more linear than eps along v_2, v_3: {int((h[1:3] < eps[1:3]).sum())} of 8 (direction, step); "
      f"along the 4 random directions: {int((h[3:] < eps[3:]).sum())} of 16; than x_0 along the blurred one: "
      f"{int((h[3] < x0[1]).sum())} of 4")
step_eps = [ll.eps_of(model64, x64 + d, T_EDIT) - ll.eps_of(model64, x64, T_EDIT) for d in dirs[3:]]
print("eps's change for a unit step along the 4 random directions: cosine with the step",
      [round(cos(e.flatten(), d.flatten(), dim=0).item(), 2) for e, d in zip(step_eps, dirs[3:])],
      "; |change| x sqrt(1 - a_t)", [round((e.norm() * (1 - a_edit).sqrt()).item(), 2) for e in step_eps])

# %% [markdown]
# **Reading.**
# - Along $v_1$ the claim holds: $h$'s error (0.14 at $s = 1$) is well below that of $\varepsilon$
#   (0.57), $P_t$ (0.37) and $x_0$ (0.69), at every step. Of the seven directions, $v_1$ is the one
#   along which the image-side maps are most non-linear; it is also face A's direction of the one-sided
#   position jump in sections 2 and 3.
# - "Locally" is the word to keep: at the step sizes the edits use, $h$ is not linear along $v_1$
#   either. Its error reaches 0.33 at $s = 2$ and 0.77 at $s = 4$, and section 4 measured the same
#   directly: a step of 3 along $v_1$ moved $h$ along $u_1$ by 22-24, where the linear prediction
#   $3 s_1$ is 27-32 (12-32 % short).
# - Along $v_2$ and $v_3$ it does not: $h$ is as non-linear as $P_t$ or more, and *more* non-linear than
#   $\varepsilon$ at all 8 (direction, step) pairs (at $s = 1$: 0.17 against 0.12 and 0.04).
# - Along random directions it is reversed: $\varepsilon$ is almost exactly linear (at most 0.05), and
#   more linear than $h$ in all 16 (direction, step) pairs; $x_0$ is more linear than $h$ along the
#   blurred direction at all 4 steps (0.04 against 0.06 at $s = 1$). Only $P_t$ is less linear than $h$
#   along random directions.
#
# **What this establishes**, for one face at $t = 600$: how far each map's first-order picture holds along
# these lines, measured in the same units. Whether "$\mathcal{H}$ is locally linear and $\mathcal{X}$ is
# not" depends on the direction: true along $v_1$; false along $v_2$, $v_3$ and random directions when
# $\mathcal{X}$ is reached through $\varepsilon$, and along the blurred direction through $x_0$.
#
# **What it does not establish.** (1) The relative error is scale-free but not structure-free: a map
# with a large, trivially linear part looks linear. $\varepsilon$ responds to a random step almost
# like a scaled identity (the last printed line: its change points along the step, cosine 0.99-1.00,
# with size 0.98-1.00 times $1/\sqrt{1 - a_t}$ per unit step): it treats the step as added noise, which
# is why it looks linear along random directions; and
# $P_t = (x_t - \sqrt{1 - a_t}\,\varepsilon)/\sqrt{a_t}$ subtracts exactly that part, leaving the rest.
# (2) Linearity of a *map* is not flatness of a *space*: the slide speaks of $\mathcal{X}$ and
# $\mathcal{H}$ themselves (where the data lie in each), which these numbers touch only
# indirectly. (3) Nothing here says that directions in $h$ are *semantically* linear (section 3 is the
# test of meaning). (4) One face, one timestep, seven directions.
#
# ## 6. What the measurements say
#
# | claim (talk / paper) | measured here | verdict on these faces |
# |---|---|---|
# | the $v_i$ are the directions $h$ is most sensitive to | $s_1$ 5 at $t = 800$ to 13-17 at $t = 200$; top-8 spectrum flat ($s_1/s_8$ 1.5-2.4); $v_i$ smooth (0.84-0.95) | a flat spectrum: $s_1$ leads $s_2$ by 1-25 % |
# | x-space guidance edits along $v_i$ | step 0.84-1.34, cosine 0.74-0.95 with $v_1$; agrees with $x_t + v_1$ on 2 of 3 faces | the two rules are close at matched size, except on face A |
# | the $v_i$ are semantic directions | two faces, one timestep ($t = 600$). Face A, not chosen blind: $v_1, v_2$ beat 100 blurred and 80 plain draws ($3p = 0.037$), $v_3$ does not. Fresh face D, declared before running: all three beat them ($3p = 0.037$; $v_2$ narrowly, 0.20 against 0.194). Selectivity at the blurred median. Across faces A, B at $t$ = 600, 800: the largest effect agrees between contexts in 1 of 12 comparisons; same-index cosines consistent with chance | on two faces at $t = 600$: stronger than random, but not selective, and not stable by index |
# | transport carries a direction to a new point | with $k = 8$: no better than reusing the raw $v_i$ (ahead in 0 of 4 in $h$, 2 of 4 through the probe) | not shown |
# | multi-edit loop (recompute, transport) | identical to one step of the same size (cosine 1.00) at total step 3 | no effect measured |
# | H is locally linear, X is not | $h$ more linear than $\varepsilon$, $P_t$, $x_0$ along $v_1$; less linear than $\varepsilon$ along $v_2$, $v_3$ and 4 random directions | direction-dependent |
#
# These are small-model, few-sample numbers: 1-4 faces, 1-4 timesteps, 20 DDIM steps, $k = 8$. Each
# could change with more faces, a larger $k$ or Park et al.'s 256 px models (`ll.load_model(
# "google/ddpm-ema-celebahq-256")` runs the same calls on a GPU).

# %% [markdown]
# ## Exercises
#
# Two exercises: transport a direction from one face to another, and say whether it still means the same. Fill in each
# cell marked `# YOUR CODE HERE` (replace every `None`), then run the check below it: it says what is right, or what
# is wrong and what to try. The checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/06_riemannian_pullback_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex

svd_A, svd_B = svds[(0, T_EDIT)], svds[(1, T_EDIT)]  # faces A and B at t = 600, k = 8 (section 1)
u = svd_A.U[0]  # face A's first h-direction

# %% [markdown]
# ### Exercise 1: transport a direction by hand
#
# Carry face A's first h-direction `u` $= u_1^A$ to face B as Park et al. do, without `ll.transport`:
# weights $c = U_B^\top u$ (one per singular triplet of B, on flattened tensors), then
# $v = \sum_i c_i v_i^B$, normalised to unit length. $v$ is an x-space direction at face B.

# %%
# YOUR CODE HERE: v_AB, one x_t's shape, unit norm
v_AB = None

# %%
ex.check_transport(u, svd_B, v_AB)

# %% [markdown]
# ### Exercise 2: does it still mean the same thing?
#
# At face A, `u` is what $v_1^A$ does to h. The transported `v_AB` keeps that meaning at face B if it
# moves face B's h the same way: if $J_B v$ points along `u`. Compute `cos_meaning`, the cosine between `u`
# and $J_B v$ (from the SVD, $J_B v_i^B = s_i^B u_i^B$; or a small finite difference of `ll.h_of` at face
# B), and `keeps_meaning`: `True` if it is at least 0.7. What limits it?

# %%
# YOUR CODE HERE: cos_meaning (a number) and keeps_meaning (True or False)
cos_meaning = None
keeps_meaning = None

# %%
ex.check_transport_meaning(u, svd_B, v_AB, cos_meaning, keeps_meaning)
