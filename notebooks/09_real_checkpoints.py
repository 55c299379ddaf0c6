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
# # 09 · Real checkpoints: the same calls on the papers' own models
#
# Everything so far ran on the kit's 32 px faces model. Asyrp and Park et al. worked on
# `google/ddpm-ema-celebahq-256` (256 px faces) and on Stable Diffusion. This notebook is written once
# for any of them: **one variable, `MODEL`, names the model**; every cell below is the same for the
# bundled model and for a real checkpoint.
#
# - `MODEL = None` (the default): the bundled faces model. Runs offline on a CPU in well under a
#   minute; this is what the course's tests execute.
# - `MODEL = "google/ddpm-ema-celebahq-256"`: on a machine with network access and a GPU, it downloads
#   the checkpoint (safetensors only, about 450 MB) and reproduces a **pullback edit** (Park et al.)
#   and an **Asyrp-style h edit** at 256 px. On a CPU it also runs, slowly: one U-Net call takes
#   about 9 s there (`benchmarks/real_scale.py`).
#
# What changes at scale is the size of things, not the calls: h grows from 128 x 4 x 4 to
# 512 x 8 x 8, one Jacobian product from milliseconds to seconds, and an analysis over many samples
# is worth spreading over several GPUs (section 5).
#
# 1. **The architectures**, from their configs: where h sits and how big it is.
# 2. **Loading** the model named by `MODEL`; samples.
# 3. **An Asyrp-style h edit**: Haas et al.'s first principal direction of h, applied with the
#    asymmetric reverse process.
# 4. **A pullback edit**: Park et al.'s $v_1$ at $t = 0.6\,T$, by x-space guidance.
# 5. **Scaling out**: the same analyses on several GPUs with `accelerate launch`; Stable Diffusion.

# %%
# %config InlineBackend.figure_format = "png"
import matplotlib.pyplot as plt
import torch
import latentlab as ll
from latentlab.architectures import ARCHITECTURES, architecture_config
from latentlab.plot import show_rows
plt.rcParams["figure.dpi"] = 72

MODEL = None  # or "google/ddpm-ema-celebahq-256" (needs network; a GPU makes it fast)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPE = torch.float32  # torch.float16 or torch.bfloat16 halve the memory on a GPU
REAL = MODEL is not None
STEPS = 50 if REAL else 20  # DDIM steps (Park et al. use 100)
N_PCA = 64 if REAL else 32  # trajectories for the PCA of h (Haas et al. use 500)
if DEVICE == "cpu":
    torch.set_num_threads(1)  # the bundled model is small: one thread is steadier on a shared machine

# %% [markdown]
# ## 1. The architectures, at full size, without their weights
#
# `latentlab.architectures` holds the two real U-Nets' configs, transcribed from the hub
# (`ARCHITECTURES`). Built on PyTorch's `meta` device a network has shapes but no memory and no
# numbers, so we can ask the full-size models where h sits and how large it is in a fraction of a
# second: h is the middle block's output, at the resolution of the last down block.

# %%
# NBVAL_CHECK_OUTPUT
from diffusers import DDIMScheduler, UNet2DConditionModel, UNet2DModel
from latentlab.hspace import _h

for name, (unet_config, _, _, hub_id) in ARCHITECTURES.items():
    cls = UNet2DConditionModel if unet_config["_class_name"] == "UNet2DConditionModel" else UNet2DModel
    with torch.device("meta"):
        m = ll.Model(cls(**architecture_config(name)), DDIMScheduler())
        h = _h(m, torch.zeros(1, *m.sample_shape), torch.tensor([500]))
    c = m.unet.config
    attn = [i for i, b in enumerate(c.down_block_types) if "Attn" in b]
    print(f"{hub_id}: {type(m.unet).__name__}, {sum(p.numel() for p in m.unet.parameters()) / 1e6:.1f} M parameters")
    print(f"  input {m.sample_shape}, {len(c.block_out_channels)} levels {tuple(c.block_out_channels)}, "
          f"attention at {', '.join(str(m.sample_shape[1] // 2 ** i) for i in attn)} px, h {tuple(h.shape[1:])}")

# %% [markdown]
# The bundled model, for comparison: 3.6 M parameters, input (3, 32, 32), h (128, 4, 4). The
# celebahq-256 U-Net has 32 times as many parameters and its h 16 times as many numbers; Stable
# Diffusion 2.1-base's U-Net works on 4 x 64 x 64 *latents* (a VAE maps 512 px images to them) and
# its h is 1280 x 8 x 8, 80 times the bundled one's. Its middle block also carries cross-attention to
# the text embedding, `model.cond` here.

# %% [markdown]
# ## 2. The model named by `MODEL`
#
# `ll.load_model` takes `None` (the bundled model), a local diffusers folder or a hub id, plus
# `device=` and `dtype=`; it loads safetensors only. `x_T` is drawn on the CPU and moved to the
# model's device and dtype by every call.

# %%
# NBVAL_CHECK_OUTPUT
model = ll.load_model(MODEL, device=DEVICE, dtype=DTYPE)
T = model.num_train_timesteps
print(f"{MODEL or 'bundled faces model'}: {type(model.unet).__name__}, "
      f"{sum(p.numel() for p in model.unet.parameters()) / 1e6:.2f} M parameters, "
      f"x {model.sample_shape}, h {model.h_shape}, {T} training steps")

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
# It is applied Asyrp's way: `dh` at the steps with $t \ge t_\text{edit}$ = 0.4 T, into $P_t$ only
# (the asymmetric reverse process, notebook 03), at $c = \pm 2\,\sigma_1(t)$.

# %%
x_pca = torch.randn(N_PCA, *model.sample_shape, generator=torch.Generator().manual_seed(1))
pcs = ll.pca_directions(model, x_pca, STEPS, k=3, batch_size=16, progress=False)
t_edit = int(0.4 * T)
rows = {"unedited": x_0.float().cpu()}
for c in (-2.0, 2.0):
    rows[f"pc 1, c = {c:+g}"] = ll.ddim_sample(model, x_T, STEPS, dh=pcs.direction(0, c), t_edit=t_edit,
                                             progress=False).float().cpu()
show_rows(rows, scale=0.9);

# %%
# NBVAL_CHECK_OUTPUT
change = {k: (v - x_0.float().cpu()).flatten(1).norm(dim=1) / x_0.float().cpu().flatten(1).norm(dim=1)
          for k, v in rows.items() if k != "unedited"}
print(f"share of h's variance along pc 1..3 at t = {pcs.timesteps[0].item()}: "
      + ", ".join(f"{e:.2f}" for e in pcs.explained[0].tolist()))
for k, v in change.items():
    print(f"{k}: relative pixel change per face " + ", ".join(f"{x:.2f}" for x in v.tolist()))

# %% [markdown]
# The edit moves every face (the printed changes are relative to each face's own norm), and the two
# signs move it different ways. In the bundled model's run shown here, $+2\,\sigma_1$ puts glasses on
# all four faces and $-2\,\sigma_1$ takes them off face 3 and changes hair and background: read from
# the pictures, not measured. On celebahq-256, Haas et al. report pose, gender and age among the first
# components. Which attribute a component moves is a measurement (notebook 05 makes it with the
# probe); here it is a picture.
#
# ## 4. A pullback edit (Park et al.)
#
# At $t = 0.6\,T$ on face 0's own trajectory: the top right singular vector $v_1$ of
# $J = \partial h / \partial x_t$ (`pullback`, matrix-free: it never forms $J$, which for celebahq-256
# would be 32,768 x 196,608 numbers), then Park et al.'s x-space guidance along $\pm v_1$ (gamma 0.1,
# 16 repeats; notebook 06) and DDIM on to $x_0$ (eta = 1 below 0.2 T, as they do).

# %%
grid = ll.ddim_timesteps(model, STEPS).tolist()
t_pb = min(grid, key=lambda t: abs(t - 0.6 * T))
_, traj = ll.ddim_sample(model, x_T[:1], STEPS, return_trajectory=True, progress=False)
x_t = traj[grid.index(t_pb)][0]
svd = ll.pullback(model, x_t, t_pb, k=3)
edits = {"unedited": x_0[:1].float().cpu()}
for sign in (-1, 1):
    edits[f"{'+' if sign > 0 else '-'}v1"] = ll.edit_and_denoise(model, x_t, t_pb, sign * svd.V[0], steps=STEPS,
                                                               generator=torch.Generator(model.device).manual_seed(2)
                                                               )[None].float().cpu()
show_rows({"face 0": torch.cat(list(edits.values()))}, col_titles=list(edits), scale=1.2);

# %%
# NBVAL_CHECK_OUTPUT
print(f"t = {t_pb}: singular values s_1..s_3 = " + ", ".join(f"{s:.1f}" for s in svd.S.tolist()))
for k in ("-v1", "+v1"):
    d = (edits[k] - edits["unedited"]).norm() / edits["unedited"].norm()
    print(f"{k}: relative pixel change {d:.2f}")

# %% [markdown]
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
# model = ll.load_model("google/ddpm-ema-celebahq-256", device=process_device(), dtype=torch.float16)
# x_T = torch.randn(500, *model.sample_shape, generator=torch.Generator().manual_seed(0))  # same on every process
# pcs = ll.pca_directions(model, x_T, 10, k=5)                                                # each samples 500 / N
# if is_main():
#     torch.save(pcs.components, "pcs.pt")
# ```
#
# runs on 4 GPUs with `accelerate launch --multi_gpu --num_processes 4 pca_500.py`, and on one
# with plain `python pca_500.py`.
#
# **Stable Diffusion 2.1-base.** Its U-Net is a `UNet2DConditionModel`; the calls are the same, on
# latents. The text embedding is yours to compute (the kit carries no text encoder) and goes into
# `model.cond`; the VAE is needed only to look at pictures:
#
# ```python
# model = ll.load_model("stabilityai/stable-diffusion-2-1-base", device="cuda", dtype=torch.float16, vae=True)
# model.cond = text_embedding                      # (1, 77, 1024), e.g. from transformers' CLIPTextModel
# z_T = torch.randn(1, *model.sample_shape)        # (4, 64, 64) latents
# svd = ll.pullback(model, z_T[0], 600, k=2)       # Park et al.'s k = 2: V in latent space
# image = ll.model.pixels_of(model, ll.ddim_sample(model, z_T, 50))   # (1, 3, 512, 512)
# ```
#
# `benchmarks/real_scale.py` times these calls at full size (random weights). On two shared CPU
# cores: one celebahq-256 DDIM step 9 s, one `h_of` 3 s, and `pullback` k = 3 about 60-80 s per
# iteration with a peak of 2.6 GB (27 iterations to converge on random weights, whose spectrum is
# flat); Stable Diffusion's U-Net 35 s per step, 3.9 GB. On a GPU the benchmark adds Stable
# Diffusion's pullback next to Park et al.'s published 14.3 s on a T4, and the PCA of h over 500 samples.
