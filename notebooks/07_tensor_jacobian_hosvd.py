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
# # 07 · The Jacobian as a tensor: does a higher-order SVD say more? (optional)
#
# **Optional.** A research notebook for a seminar; no other lecture depends on it.
#
# ## Key idea
#
# Park et al. (arXiv 2307.12868, NeurIPS 2023) read the latent basis from the SVD of
# $J = \partial h / \partial x_t$ with both sides **flattened** into vectors. But $J$ is a 6-way
# tensor, $(C_h, H_h, W_h, C, H, W) = (128, 4, 4, 3, 32, 32)$ here. Flattened, it is a
# $2048 \times 3072$ matrix; its rank-$k$ SVD stores $k(m + n + 1)$ numbers and does not know which
# columns are neighbouring pixels (shuffle them and the singular values stay the same).
#
# A **Tucker model** keeps one factor matrix $U_n$ per mode and a small core $G$,
#
# $$J \approx G \times_1 U_{C_h} \times_2 U_{H_h} \times_3 U_{W_h} \times_4 U_{C} \times_5 U_{H}
# \times_6 U_{W},$$
#
# storing $\prod_n r_n + \sum_n d_n r_n$ numbers. The **higher-order SVD** (HOSVD: De Lathauwer,
# De Moor & Vandewalle, "A multilinear singular value decomposition", *SIAM J. Matrix Anal. Appl.*
# 21(4), 2000) takes $U_n$ = the leading left singular vectors of the **mode-$n$ unfolding**, the
# matrix with one row per index of mode $n$ and one column per combination of all other indices.
# Its factors have **Kronecker structure**: every input direction it can express is a sum of outer
# products *colour* $\otimes$ *row profile* $\otimes$ *column profile*, so three short factors span
# a whole image. Neither model contains the other; which captures more per stored number is an
# empirical question. Three questions, answered on $N = 26$ faces from a shipped run:
#
# 1. at **equal parameter budgets**, which model captures more of $\|J\|^2$?
# 2. what does **each mode** say?
# 3. do **HOSVD directions edit** a face differently from Park's $v_1$?
#
# The tests behind each answer, and the exercises, are in the
# [lab](labs/07_tensor_jacobian_hosvd_lab.ipynb). Whether $v_1$ itself edits more than chance is
# not asked here: lecture 06's lab tests whether $v_1$ beats random smooth directions.

# %%
import torch

import latentlab as ll
from latentlab.course.hosvd_faces import (
    edit_tests,
    energy_summary,
    hosvd_face,
    patch_lift,
    show_edits,
    show_energy,
    show_mode_spectra,
)
from latentlab.course.plot import lecture_style, show_rows
from latentlab.course.runs import load_run, same_row
from latentlab.hosvd import sensitivity_maps
from latentlab.jacobians import pullback

lecture_style()
torch.set_num_threads(1)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. One face, measured live
#
# The shipped run (`benchmarks/lecture_07_hosvd.py`) measures each face at $t = 600$ of DDIM-50: the
# dense $J$ (one vector-Jacobian product per entry of $h$, 2,048), its full HOSVD, the energies, and
# edits. Here face 0 is measured again and must give the shipped row.

# %%
model, probe = ll.load_model(), ll.load_probe()
run = load_run("07_hosvd")
face = hosvd_face(model, probe, 0)
show_rows({"face 0": torch.stack([face.x_t, face.x_0])}, col_titles=["x_t, t = 600", "x_0"],
          scale=1.4);

# %% tags=["nbval-check-output"]
print(f"shipped run: N = {run['n_faces']} faces, t = 600; rebuilt by")
print(" ", run["command"])
print("face 0 re-run live equals its shipped row:", same_row(face.row, run["rows"][0], atol=1e-4))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Energy at equal budgets
#
# For each flattened rank $k$ the budget is $k \cdot 5121$ numbers; the Tucker model gets the
# truncation ranks that capture the most energy within it (an exhaustive search over the truncated
# HOSVDs). Energy = $\|\text{approximation}\|^2 / \|J\|^2$.

# %%
summary = energy_summary(run["rows"])
show_energy(summary, face.row);

# %% tags=["nbval-check-output"]
print(f"{'k':>4} {'budget':>9} {'SVD':>6} {'Tucker':>7}  Tucker captures more on")
for r in summary:
    print(f"{r['k']:4d} {r['budget']:9,d} {r['svd']:6.2f} {r['tucker']:7.2f}  "
          f"{r['tucker_wins']:2d} of {r['faces']} faces")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Finding.** The Tucker model stores $J$ better at the **smallest budgets** (at $k = 1$ on every
# face, on fewer faces as the budget grows) and the flattened SVD at **large ones**: from $k = 64$
# on, the SVD captures more than the truncated HOSVD on every face. At the smallest budgets the
# Kronecker structure pays: a few colour, row and column components reach most of the image at
# once. Beyond the crossover the chosen Tucker ranks keep all 4 $h$ rows and columns and most
# channels (face 0, lab section 1), consistent with the $h$ side not compressing (next section). HOOI
# (higher-order orthogonal iteration: alternately re-fit each factor with the others fixed) refines
# a truncated HOSVD; three sweeps do not change the verdict at the large budgets on face 0 (lab).
#
# ## 3. What each mode says
#
# A mode's spectrum is the share of $\|J\|^2$ each component of its factor carries (the squared
# singular values of the mode-$n$ unfolding). A component is a *combination*: of the 128 channels,
# of the three colours.

# %%
show_mode_spectra(face.core);

# %% tags=["nbval-check-output"]
rows = run["rows"]
def median(key):
    return torch.tensor([float(r[key]) for r in rows]).quantile(0.5).item()
print("components for 90% of ||J||^2, median over faces (of the mode's size):")
sizes = (128, 4, 4, 3, 32, 32)
for mode, size in zip(("h_channel", "h_row", "h_col", "colour", "x_row", "x_col"), sizes):
    print(f"  {mode:9s} {median('n90_' + mode):5.1f} of {size}")
print(f"first colour component: {median('colour0_share'):.2f} of the energy (median); "
      f"R, G, B of one sign on {sum(r['colour0_one_sign'] for r in rows)} of {len(rows)} faces")
lift, _ = patch_lift(sensitivity_maps(face.J))
print(f"share of each h position's sensitivity in its own 8 x 8 patch: median "
      f"{median('own_patch_median'):.2f};")
print(f"  face 0: {lift.median():.1f}x that patch's average share over the 16 positions (median)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Finding.** The **input side compresses**: one colour combination, a brightness (all three
# channels of one sign), carries most of the energy, and about 11-12 of the 32 row and column
# components (just over a third) carry 90 %. The **$h$ side does not**: all 4 $h$ rows and columns
# are needed, and most of the 128 channel combinations. The $4 \times 4$ positions read the image
# with weak locality: a position's own patch holds about 3 times that patch's average share over
# the 16 positions (face 0), but most of each position's sensitivity lies outside it (lab, section
# 2, for the maps).
#
# ## 4. HOSVD edits against $v_1$
#
# The best **rank-1** direction $V_0 = u_C \otimes u_H \otimes u_W$ is an x-space edit, like $v_1$:
# the combination of one colour, one row and one column factor carrying the most **core energy**
# (the squared core entries for that combination, summed over the $h$ modes). Write
# $V_0 = c\,v_1 + w$ with $w \perp v_1$: $\hat w = w / \|w\|$ is what the HOSVD adds to $v_1$. Each
# face is edited at $t = 600$, $x_t \pm 2v$, then denoised; a direction's *strongest effect* is its
# largest change over the 11 attributes (half the difference between $+2$ and $-2$, as a fraction of
# the attribute's range). The baseline: 15 random smooth directions of the same norm per face
# (Gaussian noise blurred by 2 px).

# %%
show_edits(face);

# %% tags=["nbval-check-output"]
base = torch.tensor([[r[k] for k in r if k.startswith("random_")] for r in rows])
print(f"strongest effect, median over {len(rows)} faces: v_1 {median('strongest_v1'):.2f}, "
      f"V_0 {median('strongest_v0'):.2f}, w_hat {median('strongest_what'):.2f}, "
      f"random smooth {base.median():.2f}")
print("s_1 = ||J v_1||, the top singular value; medians over faces:")
print(f"  V_0: |cos| with v_1 {median('v0_cos'):.2f}, response ||J V_0|| / s_1 "
      f"{median('v0_gain'):.2f}, share of it from its v_1 part {median('v0_v1_part'):.2f}")
print(f"  |cosine| of V_0's and v_1's 11 effects: {median('effect_cos_v0_v1'):.2f}")
same = sum(r["attr_v0"] == r["attr_v1"] for r in rows)
weaker = sum(r["strongest_what"] < r["strongest_v0"] for r in rows)
print(f"V_0's strongest attribute is v_1's on {same} of {len(rows)} faces; "
      f"w_hat moves less than V_0 on {weaker} of {len(rows)}")
for t in edit_tests(rows):
    print(f"{t['test']:22s} {t['count']:2d} of {t['faces']} faces; corrected p {t['p_bonferroni']:.2g}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Finding.** The best rank-1 HOSVD direction **moves faces more than random smooth steps** of
# the same norm (on all but one face, against the median of that face's 15), but **less than
# $v_1$** on most faces. The median share of its response from its $v_1$ part is 0.65 (from 0.00
# to 0.95 over the faces, lab, section 3), and its strongest attribute is $v_1$'s on half the faces.
# What the HOSVD adds, $\hat w$, also moves faces more than random smooth steps, and less than $V_0$
# on most faces. So the top rank-1 HOSVD direction is no stronger an edit than $v_1$: it is, on
# most faces, $v_1$'s edit mixed with a weaker one. The lab counts the four tests and corrects
# them together. (Lecture 06's run samples with 20 DDIM steps, this one with 50: $v_1$'s median
# strongest effect is 0.49 there and 0.39 here, lab section 3.)
#
# **Cost.** The dense $J$ takes one vector-Jacobian product per entry of $h$; Park's `pullback`
# finds $v_1$ with far fewer (printed below), and at 256 px the dense tensor grows out of reach.
# Sketched Tucker methods (e.g. Sun, Guo, Luo, Tropp & Udell, *SIAM J. Math.
# Data Sci.* 2(4), 2020) build a Tucker model from products of the tensor with random test
# matrices; for $J$ those are the products `pullback` already uses. The kit does not implement them.
#
# %% tags=["nbval-check-output"]
_, info = pullback(model, face.x_t, 600, k=1, return_info=True)
m, n = 512 * 8 * 8, 3 * 256 * 256
print(f"here: the dense J took {face.J[:, :, :, 0, 0, 0].numel():,} products, "
      f"pullback's v_1 {info['products']}")
print(f"at 256 px with h 512 x 8 x 8: {m:,} products and {4 * m * n / 1e9:.0f} GB in float32")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## What to remember
#
# - $J = \partial h / \partial x_t$ is a tensor; the HOSVD keeps its modes, the flattened SVD does
#   not. Neither model contains the other.
# - At equal budgets, Tucker wins only at the smallest; from $k = 64$ on the flattened SVD beats the
#   truncated HOSVD on every face.
# - The input side compresses (brightness, broad row and column profiles over the face); the
#   $4 \times 4$ positions and the 128 channels do not.
# - The top rank-1 HOSVD direction beats random smooth steps but is no stronger an edit than $v_1$;
#   on most faces it is $v_1$'s edit plus a weaker one.
# - The dense tensor costs one product per entry of $h$; sketches would avoid it.
# - The tests are in the [lab](labs/07_tensor_jacobian_hosvd_lab.ipynb); $v_1$ against random
#   smooth directions is lecture 06's lab.
