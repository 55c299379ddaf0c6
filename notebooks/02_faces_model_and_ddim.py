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
# # 02 · The faces world, the bundled model, and DDIM split in two
#
# ## Key idea
#
# Every later lecture edits faces made by one small diffusion model and checks each edit against
# **ground truth**. Three pieces make that possible:
#
# 1. **the faces world**: procedural cartoon faces whose attributes we know exactly;
# 2. **the bundled model**: a small diffusers `UNet2DModel` trained on them, shipped in `data/faces32`,
#    whose bottleneck output $h$ is the "h-space" the course studies;
# 3. **DDIM** written as the sum of two parts, the predicted clean image $P_t$ and the direction
#    pointing to $x_t$, $D_t$, and DDIM run backwards, which turns a given face into the noise that
#    regenerates it. This split is the form that Asyrp (Kwon, Jeong & Uh, *Diffusion Models Already
#    Have a Semantic Latent Space*, arXiv 2210.10960, ICLR 2023; lectures 03 and 04) edits with its
#    asymmetric reverse process.
#
# The model's quality is stated from a shipped run on 256 faces; its statistics (tests, null spreads,
# per-attribute tables), the other measurements behind this lecture and the exercises are in the
# [lab](labs/02_faces_model_and_ddim_lab.ipynb).

# %%
import torch

import latentlab as ll
from latentlab.course.face_quality import face_rows, quality_summary, sample_faces
from latentlab.course.plot import lecture_style, show_attribute_sweeps, show_ks, show_rows, show_trajectory, show_unet
from latentlab.course.runs import load_run, same_row

lecture_style()
torch.set_num_threads(1)  # the models are small: one thread is steadier on a shared machine

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The faces world
#
# `ll.render_faces(n, seed=...)` draws `n` faces, each attribute uniform over its range (`glasses` is
# 0 or 1, and any attribute can be pinned, e.g. `render_faces(8, smile=1.0)`). The attributes mirror
# the CelebA-HQ edits of the papers. The renderer is fast, so the model trained on fresh faces at every
# step. One face, each attribute swept over its range while the others stay put:

# %%
ranges = [f"{name} [{lo:+.0f}, {hi:+.0f}]" for name, (lo, hi) in ll.ATTRIBUTES.items()]
print(", ".join(ranges[:4])); print(", ".join(ranges[4:8])); print(", ".join(ranges[8:]))
show_attribute_sweeps(seed=3);

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The bundled model
#
# A diffusers `UNet2DModel` at 32 px with a `DDIMScheduler` (diffusers' defaults: 1,000 training
# steps, linear betas, `clip_sample=True`). `python -m latentlab.train` retrains it.

# %% tags=["nbval-check-output"]
model = ll.load_model()
c = model.scheduler.config
print(f"{sum(p.numel() for p in model.unet.parameters()) / 1e6:.2f} M parameters; "
      f"x: {model.sample_shape}; h: {model.h_shape}")
print(f"scheduler: {c.num_train_timesteps} steps, {c.beta_schedule} betas {c.beta_start}..{c.beta_end}, "
      f"clip_sample={c.clip_sample}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The U-Net takes $x_t$ and $t$ and predicts the noise $\epsilon$ in $x_t$. The figure is drawn from the
# model's own config: on the way down the channels widen and the resolution halves, on the way up the
# reverse; each block on the way down stores tensors (the **skip connections**, dashed) that the block
# at the same resolution on the way up takes in. The middle block's output is **h** (Asyrp): apart
# from the time embedding, the one input of the decoder that is not a skip connection.
# `ll.h_of(model, x_t, t)` runs the U-Net up to it.

# %%
show_unet(model);

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. DDIM in two parts
#
# Write $a_t$ for the cumulative product $\prod_{s \le t}(1 - \beta_s)$, so that a clean image noised
# to step $t$ is $x_t = \sqrt{a_t}\,x_0 + \sqrt{1 - a_t}\,z$. A 50-step run visits every 20th timestep
# and steps from $t$ to $t_{prev} = t - 20$. With $\epsilon = \epsilon_\theta(x_t, t)$ one DDIM step
# (Song et al. 2021, Eq. 12) is
#
# $$x_{t_{prev}} = \sqrt{a_{prev}}\;\underbrace{\frac{x_t - \sqrt{1-a_t}\,\epsilon}{\sqrt{a_t}}}_{P_t(\epsilon):\ \text{predicted } x_0}
# \; + \; \underbrace{\sqrt{1 - a_{prev} - \sigma_t^2}\;\epsilon}_{D_t(\epsilon):\ \text{direction pointing to } x_t} \; + \; \sigma_t z .$$
#
# The noise scale is $\sigma_t(\eta) = \eta\sqrt{(1 - a_{prev})/(1 - a_t)}\,\sqrt{1 - a_t/a_{prev}}$
# (Song et al. 2021, Eq. 16, as diffusers' `DDIMScheduler.step` computes it): $\eta = 1$ gives DDPM's
# noise, $\eta = 0$ (used throughout) gives $\sigma_t = 0$: deterministic DDIM. Why "pointing to $x_t$": by the
# definition of $P_t$, $x_t = \sqrt{a_t}\,P_t + \sqrt{1 - a_t}\,\epsilon$, the predicted clean image plus
# noise along $\epsilon$. The step keeps both parts and re-weights them for the less noisy level.
#
# `ll.P_t` and `ll.D_t` are these two functions; `ddim_sample` is this loop and, with no edit, equals
# diffusers' `DDIMScheduler.step` (the unit tests check it). Asyrp edits only the $P_t$ term. The
# scheduler also **clips** $P_t$ to $[-1, 1]$. One sample's trajectory: the state after each step,
# and $P_t$ as the step used it:

# %%
x_T = torch.randn(16, *model.sample_shape, generator=torch.Generator().manual_seed(0))
record = []
samples = ll.ddim_sample(model, x_T, steps=50, callback=record.append, progress=False)
pick = [0, 10, 20, 30, 40, 45, 49]
show_trajectory(record, pick);

# %% [markdown] slideshow={"slide_type": "subslide"}
# At $t = 980$, $P_t$ is clipped noise, not a face. The formula says why: $P_t = x_t / \sqrt{a_t} -
# \sqrt{(1 - a_t)/a_t}\;\epsilon$, so an error in the predicted noise reaches $P_t$ multiplied by
# $\sqrt{(1 - a_t)/a_t}$. That factor, and the share of $P_t$'s entries the clip cuts, over the 16
# samples:

# %% tags=["nbval-check-output"]
a = model.scheduler.alphas_cumprod
x_before = [x_T] + [r["x"] for r in record[:-1]]  # the state each step starts from
print("   t   sqrt((1-a)/a)   share of P_t outside [-1, 1]")
for i in pick[:4]:
    t = record[i]["t"]
    raw = ll.P_t(x_before[i], record[i]["eps"], a[t])
    print(f"{t:4d}  {((1 - a[t]) / a[t]).sqrt():14.1f}  {(raw.abs() > 1).float().mean():29.2f}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Inversion
#
# Run the step backwards (forward in $t$) and a given image becomes an $x_T$ that regenerates it.
# Solving the step for $x_t$ needs $\epsilon_\theta(x_t, t)$ at the very $x_t$ it is solving for; DDIM
# inversion (`ll.ddim_invert`) uses $\epsilon_\theta(x_{t_{prev}}, t)$ instead, so the round trip
# `ddim_sample(model, ddim_invert(model, x0, s), s, clip=False)` gives back `x0` only up to that
# approximation.
#
# Note `clip=False`: `ddim_invert` inverts the **unclipped** step, and a sampler that clips $P_t$ is a
# different map wherever the clip acts (49 % of the entries at $t = 980$ above), so it does not retrace
# the inverted trajectory. To edit a given face: invert it, then run the (edited) sampler from its
# $x_T$ with `clip=False`.
#
# Six renders, inverted with 50 steps and regenerated (the $x_T$ rows show $x_T / 2.5$, so that a
# Gaussian's $\pm 2.5$ fills the colour range):

# %%
faces, _ = ll.render_faces(6, seed=11)
x_inv = ll.ddim_invert(model, faces, steps=50, progress=False)
recon = ll.ddim_sample(model, x_inv, steps=50, clip=False, progress=False)
clipped = ll.ddim_sample(model, x_inv, steps=50, progress=False)
show_rows({"face": faces, "inverted x_T": x_inv.clamp(-2.5, 2.5) / 2.5,
           "Gaussian x_T": x_T[:6].clamp(-2.5, 2.5) / 2.5, "rebuilt": recon,
           "rebuilt, P_t clipped": clipped});

# %% [markdown] slideshow={"slide_type": "subslide"}
# The inverted $x_T$ is not Gaussian noise: it keeps the face, so an edit measured on samples has to be
# checked on inverted faces too (the lab measures how far from Gaussian it is). The round trip is
# good, not exact: over the shipped run's 256 renders the median PSNR is 30.7 dB, and the rebuilt
# row above matches the faces closely (the last face's background shifts). Regenerating with the clip
# on gives different faces altogether: glasses appear or vanish, the skin tone, the mouth and the
# background change.
#
# ## 5. How good is the model?
#
# The faces world lets us measure quality against ground truth, with the attribute probe
# (`ll.load_probe()`, a small CNN that reads every attribute off an image) as the instrument:
#
# - **attribute fidelity**: the probe's readings on samples and on renders should have the same
#   distribution; the Kolmogorov-Smirnov (KS) distance is the largest vertical gap between the two
#   empirical distribution functions (the README's goal: at most 0.1 per attribute);
# - **on-manifold error**: re-render each image from the attributes the probe reads off it; samples
#   should re-render at most 2x worse than renders do;
# - **Frechet distance** in the probe's features (the FID idea), next to the distance between two sets
#   of renders, its floor.
#
# The shipped run (`benchmarks/lecture_02_model_quality.py`, its command printed below) measures them
# on 256 DDIM-50 samples against 256 renders, one face per row. Its headline figures:

# %% tags=["nbval-check-output"]
run = load_run("02_model_quality")
rows = run["rows"]
q = quality_summary(rows)
fd = next(r for r in rows if r["kind"] == "frechet")
worst = max(q["ks"], key=q["ks"].get)
print(run["command"])
print(f"{q['n_samples']} samples against {q['n_renders']} renders")
print(f"largest KS distance {q['ks'][worst]:.3f} ({worst}); "
      f"{sum(v <= 0.1 for v in q['ks'].values())} of {len(q['ks'])} attributes at most 0.1")
print(f"glasses rate: samples {q['glasses_rate'][0]:.3f}, renders {q['glasses_rate'][1]:.3f}")
print(f"re-render MSE (median): samples {q['rerender_mse'][0]:.4f}, renders {q['rerender_mse'][1]:.4f}, "
      f"ratio {q['rerender_ratio']:.2f}")
print(f"Frechet distance: samples/renders {fd['samples_renders']:.2f}, "
      f"renders/renders {fd['renders_renders']:.2f}")
null = [r for r in rows if r["kind"] == "null"]
spread = {k: (min(r[k] for r in null), max(r[k] for r in null)) for k in ("rerender_ratio", "frechet")}
print(f"two sets of renders, {len(null)} times: re-render ratio {spread['rerender_ratio'][0]:.2f} to "
      f"{spread['rerender_ratio'][1]:.2f}, Frechet {spread['frechet'][0]:.2f} to {spread['frechet'][1]:.2f}")
n_inv = sum(r["kind"] == "inversion" for r in rows)
print(f"inversion round trip: median PSNR {q['inversion_psnr']:.1f} dB over {n_inv} renders")

# %% [markdown] slideshow={"slide_type": "subslide"}
# The hero figure: the two attributes with the largest KS distance, as histograms and as the two
# empirical distribution functions with their largest gap (black).

# %%
readings = {kind: {k: torch.tensor([r[k] for r in rows if r["kind"] == kind]) for k in q["ks"]}
            for kind in ("sample", "render")}
top2 = sorted(q["ks"], key=q["ks"].get, reverse=True)[:2]
show_ks(readings["sample"], readings["render"], top2);

# %% [markdown] slideshow={"slide_type": "subslide"}
# One row of the run, re-run live: the first sample (its noise seeded by the run's seed), sampled,
# read by the probe and re-rendered here, against the shipped row.

# %% tags=["nbval-check-output"]
probe = ll.load_probe()
seed = run["seed"]
live = face_rows(sample_faces(model, [seed], steps=50, progress=False), probe, kind="sample", seeds=[seed])[0]
shipped = next(r for r in rows if r["kind"] == "sample" and r["seed"] == seed)
print(f"sample {seed}: smile {live['smile']:+.3f}, re-render MSE {live['rerender_mse']:.4f}; "
      f"equals the shipped row: {same_row(live, shipped, atol=1e-3)}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What the run shows.** The samples carry the faces world's attributes: across the 11 figures (ten
# KS distances and the glasses rate, 0.457 against 0.484) no attribute's distribution differs
# detectably from the renders' when the 11 tests are counted as one family; the largest distance is
# 0.141, for `mouth_open`. At 256 faces, chance alone puts a KS distance above the README's 0.1 in
# 15 % of comparisons between two sets of renders. To confirm that the true distance is at most 0.1,
# the observed distance plus the critical value must be at most 0.1: at about 1,000 faces (critical
# value 0.061) that needs an observed distance of at most about 0.04 (lab 02, section 5).
#
# The samples are not exactly the renderer's faces, though: they re-render 2.97 times worse than
# renders do, against a goal of 2, far outside what two sets of renders give (0.84 to 1.15, printed
# above). The Frechet distance, 0.87, lies inside the render-against-render spread (0.64 to 1.05): at
# this size it cannot tell the model from the faces world.
#
# ## What to remember
#
# - The faces world knows every attribute of every face: each edit can be checked against ground
#   truth, with the probe as the instrument.
# - $h$ is the output of the U-Net's middle block, the decoder's one input that is not a skip.
# - A DDIM step is $\sqrt{a_{prev}}\,P_t + D_t$: the predicted clean image, re-weighted, plus the
#   direction pointing to $x_t$. At large $t$, $P_t$ is mostly the noise prediction's amplified error.
# - DDIM inversion turns a given face into an $x_T$ that regenerates it (with `clip=False`); that
#   $x_T$ is not Gaussian noise.
# - On 256 faces the samples match the faces world's attributes (no detectable difference) but are
#   not its exact faces: their re-render error is 3x that of renders, which misses the goal of 2. The
#   inversion round trip reaches a median 30.7 dB.
#
# The statistics behind these figures, the other measurements and the exercises (the whole DDIM loop
# among them): [lab 02](labs/02_faces_model_and_ddim_lab.ipynb).
