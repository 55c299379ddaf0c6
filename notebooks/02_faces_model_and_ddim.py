# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · The faces world, the bundled model, and DDIM split in two
#
# Every later notebook edits faces made by one small diffusion model and checks each edit against
# **ground truth**. This notebook introduces the three pieces:
#
# 1. **the faces world**: a procedural data set of cartoon faces whose attributes we know exactly;
# 2. **the bundled model**: a small diffusers `UNet2DModel` trained on it, shipped in `data/faces32`;
# 3. **DDIM**, written as the sum of two parts, the predicted clean image $P_t$ and the direction
#    to $x_t$, $D_t$, which is the form Asyrp's asymmetric reverse process edits.
#
# It ends with the model's quality, measured against the faces world.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch
import latentlab as ll
from latentlab.plot import show_images, show_rows, show_attribute_sweeps
plt.rcParams["figure.dpi"] = 72
torch.set_num_threads(2)

# %% [markdown]
# ## 1. The faces world
#
# `ll.render_faces(n, seed=...)` draws `n` faces. Each attribute is drawn uniformly from its range
# (`glasses` is 0 or 1); any of them can be pinned, e.g. `render_faces(8, smile=1.0)`. The
# attributes mirror the CelebA-HQ edits of the papers: smile, glasses, hair colour, skin tone, ...
# The renderer is vectorised (tens of thousands of faces per second), so the model trains on fresh
# faces at every step and never sees the same face twice.

# %%
for name, (lo, hi) in ll.ATTRIBUTES.items():
    print(f"{name:12s} [{lo:+.0f}, {hi:+.0f}]")

# %%
x, attrs = ll.render_faces(32, seed=0)
show_images(x, nrow=16, scale=0.7);

# %% [markdown]
# Every attribute visibly changes the picture at 32 px. One face, each attribute swept over its
# range while the others stay put (the renderer draws all attributes in a fixed order, so pinning one
# leaves the others unchanged):

# %%
show_attribute_sweeps(seed=3);

# %% [markdown]
# ## 2. The bundled model
#
# A diffusers `UNet2DModel` at 32 px with a `DDIMScheduler` (diffusers' defaults: 1,000 training
# steps, linear betas, `clip_sample=True`). Its middle block, the **h-space** the whole course studies,
# is a 4 x 4 bottleneck. `python -m latentlab.train` retrains it (the README has the recipe).

# %%
model = ll.load_model()
n_params = sum(p.numel() for p in model.unet.parameters())
print(f"{n_params / 1e6:.2f} M parameters; x: {model.sample_shape}; h: {model.h_shape}")

# %% [markdown]
# Sixteen samples, 50 DDIM steps from Gaussian noise (`eta = 0`: deterministic):

# %%
x_T = torch.randn(16, *model.sample_shape, generator=torch.Generator().manual_seed(0))
samples = ll.ddim_sample(model, x_T, steps=50, progress=False)
show_images(samples, nrow=16, scale=0.7);

# %% [markdown]
# ## 3. DDIM in two parts
#
# With $a_t$ the cumulative product of $1-\beta$ at step $t$ and $\epsilon = \epsilon_\theta(x_t, t)$,
# one DDIM step is
#
# $$x_{t-1} = \sqrt{a_{t-1}}\;\underbrace{\frac{x_t - \sqrt{1-a_t}\,\epsilon}{\sqrt{a_t}}}_{P_t(\epsilon):\ \text{predicted } x_0}
# \; + \; \underbrace{\sqrt{1 - a_{t-1} - \sigma_t^2}\;\epsilon}_{D_t(\epsilon):\ \text{direction to } x_t} \; + \; \sigma_t z .$$
#
# `ll.P_t` and `ll.D_t` are these two functions; `ddim_sample` is exactly this loop, and with no
# edit it equals diffusers' `DDIMScheduler.step` (the tests check it to 1e-5). Asyrp edits only the
# $P_t$ term; that is notebook 04. The `callback` sees every step, so we can watch $P_t$ sharpen
# from a blurry average face into the final sample while $x_t$ is still mostly noise:

# %%
record = []
x0 = ll.ddim_sample(model, x_T[:1], steps=50, callback=record.append, progress=False)
pick = [0, 10, 20, 30, 40, 45, 49]
show_rows({
    "x_t": torch.stack([record[i]["x"][0] for i in pick]),
    "P_t": torch.stack([record[i]["P_t"][0] for i in pick]),
}, col_titles=[f"t={record[i]['t']}" for i in pick]);

# %% [markdown]
# ## 4. Inversion
#
# Run DDIM backwards (`eta = 0`, forward in t) and a real image becomes an $x_T$ that regenerates it:
# `ddim_sample(model, ddim_invert(model, x0, s), s, clip=False)` gives back `x0` up to the
# discretisation error. Note `clip=False`: the bundled scheduler clips $P_t$ to $[-1, 1]$ when it
# samples from noise (diffusers' default), but along an inverted trajectory $P_t$ leaves that range
# at large t, and clipping it on the way back regenerates a different face. This is how the editing
# notebooks edit *given* faces, not only samples.

# %%
faces, _ = ll.render_faces(6, seed=11)
x_inv = ll.ddim_invert(model, faces, steps=50, progress=False)
recon = ll.ddim_sample(model, x_inv, steps=50, clip=False, progress=False)
clipped = ll.ddim_sample(model, x_inv, steps=50, progress=False)
show_rows({"face": faces, "x_T": x_inv.clamp(-2.5, 2.5) / 2.5, "rebuilt": recon, "rebuilt, P_t clipped": clipped});

# %% [markdown]
# Peak signal-to-noise ratio of the round trip (higher is better; at 30 dB or more a
# reconstruction is hard to tell apart by eye, which is the goal), and the same with clipping:

# %%
# NBVAL_CHECK_OUTPUT
from latentlab.quality import psnr
median_psnr = psnr(recon, faces).median().item()
print(f"median PSNR of the round trip: {median_psnr:.0f} dB; >= 30 dB (hard to tell apart): {median_psnr >= 30}")
clipped_psnr = psnr(clipped, faces).median().item()
print(f"with P_t clipped on the way back: {clipped_psnr:.0f} dB; at least 10 dB worse: {median_psnr - clipped_psnr >= 10}")

# %% [markdown]
# ## 5. How good is the model?
#
# The faces world lets us measure quality against ground truth, with the attribute probe
# (`ll.load_probe()`, a small CNN that reads every attribute off an image; R^2 >= 0.98 per attribute
# on fresh renders) as the instrument:
#
# - **attribute fidelity**: the probe's readings on samples and on renders should have the same
#   distribution: Kolmogorov-Smirnov distance **<= 0.1** per attribute;
# - **on-manifold error**: re-render each sample from the attributes the probe reads off it; the
#   median per-pixel MSE should be **at most 2x** the same figure for real renders;
# - **Frechet distance** in the probe's feature space, against the floor set by two independent sets
#   of renders.
#
# Here on 64 samples with 20 steps so the notebook stays fast; `benchmarks/model_quality.py` runs the
# same code on 1,000 DDIM-50 samples (its figures are in the README). At 64 samples the 0.1 goal
# cannot be checked: two sets of 64 drawn from the *same* distribution are further apart than 0.1
# most of the time. What 64 samples can check is the weaker claim that no attribute's distribution
# differs *detectably*: each KS distance below the 5 % critical value of the two-sample test,
# $1.36\sqrt{2/64} = 0.24$.

# %%
probe = ll.load_probe()
from latentlab.quality import model_quality
q = model_quality(model, probe, n=64, steps=20, n_invert=8, progress=False)

# %%
# NBVAL_CHECK_OUTPUT
critical = 1.36 * (2 / 64) ** 0.5
ks_ok = {k: v <= critical for k, v in q["ks"].items()}
print(f"KS below the 5% critical value {critical:.2f} for", sum(ks_ok.values()), "of", len(ks_ok), "attributes; above:", [k for k, ok in ks_ok.items() if not ok])
ms, mr = q["rerender_mse"]
print(f"re-render MSE ratio (samples / renders) <= 2: {ms / mr <= 2}")

# %%
for k, v in q["ks"].items():
    print(f"KS {k:12s} {v:.2f}")
print(f"glasses rate: samples {q['glasses_rate'][0]:.2f}, renders {q['glasses_rate'][1]:.2f}")
print(f"re-render MSE: samples {ms:.4f}, renders {mr:.4f}")
print(f"Frechet distance: {q['frechet'][0]:.3f} (floor {q['frechet'][1]:.3f})")

# %% [markdown]
# Here the weaker claim fails for one attribute: the face's horizontal position `pos_x` (KS
# above 0.24, with 20 sampling steps). On 64 samples the KS distances move by several hundredths from
# run to run, and on 1,000 DDIM-50 samples pos_x is among the best-matched attributes (KS 0.05). On 1,000 DDIM-50 samples (`benchmarks/model_quality.py`, in the README) the bundled model meets the KS
# goal for 8 of 10 attributes; the two it misses, eye size (0.12) and mouth opening (0.14), are the
# smallest details of a face, a pixel or two at 32 px. Its re-render MSE is 2.8x that of renders
# (goal: 2x; with the 20 steps used here it is further off) and its Frechet distance 1.4x the floor: close to the faces world, not yet
# indistinguishable from it. Later notebooks check every edit with the probe, so they rely on the
# attributes the model does reproduce.
