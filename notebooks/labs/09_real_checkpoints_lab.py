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
# # Lab 09 · Real checkpoints: the tables, the costs, the checks
#
# The lab of [lecture 09](../09_real_checkpoints.ipynb). It holds what the lecture leaves out: the
# architectures in full, what a run on a real checkpoint costs (counted, then timed at full size with
# random weights), the probe's reading of the PC1 edit, how well 32 samples pin PC1 down, where
# x-space guidance moves $x_t$, and the exercises. Everything runs on the bundled model, offline;
# nothing downloads weights.

# %%
import time

import torch

import latentlab as ll
from latentlab.architectures import ARCHITECTURES, random_model
from latentlab.course.checkpoint_edits import (
    architecture_row,
    asyrp_calls,
    guidance_calls,
    noise_top_share_draws,
    unet_calls,
)
from latentlab.course.plot import lecture_style
from latentlab.methods import nearest_timestep
from latentlab.park import x_space_guidance

lecture_style()
torch.set_num_threads(1)
model, probe = ll.load_model(), ll.load_probe()
STEPS, N_PCA, N_RANDOM = 20, 32, 6  # the lecture's default run
T = model.num_train_timesteps
grid = ll.ddim_timesteps(model, STEPS).tolist()

# %% [markdown]
# ## 1. The architectures in full
#
# Each real U-Net from its config on the `meta` device (`architecture_row`): channels per level and
# the resolutions (in input pixels: latent pixels for Stable Diffusion) of the down blocks with
# attention. The up blocks mirror them.

# %% tags=["nbval-check-output"]
for name in ARCHITECTURES:
    r = architecture_row(name)
    print(f"{r['model']}: {r['class']}, {r['parameters']:,} parameters")
    print(f"  input {r['input']}; levels {r['levels']}; attention at {r['attention at']}")
    print(f"  h {r['h']} ({r['h numbers']:,} numbers)")

# %% [markdown]
# ## 2. What a run costs
#
# The lecture's run counted in single-image U-Net calls (`unet_calls`; the pullback's Jacobian
# products apart): an unedited step is one call, an asymmetric step two, x-space guidance 32. First a
# check that the counts are what the sampler does: a counter on the U-Net around one Asyrp edit and
# one guidance edit.

# %% tags=["nbval-check-output"]
def counted(run):
    n = {"calls": 0}
    hook = model.unet.register_forward_pre_hook(lambda m, a: n.__setitem__("calls", n["calls"] + len(a[0])))
    try:
        run()
    finally:
        hook.remove()
    return n["calls"]


x_T = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(0))
t_pb = nearest_timestep(grid, 0.6 * T)
_, traj = ll.ddim_sample(model, x_T[:1], STEPS, return_trajectory=True, progress=False)
x_t = traj[grid.index(t_pb)][0]
v = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(1))
got = counted(lambda: ll.ddim_sample(model, x_T[:1], STEPS, dh=lambda t, h: 0 * h, t_edit=T // 2, progress=False))
print(f"one Asyrp edit: {got} calls counted, {asyrp_calls(grid, T // 2)} by the count")
got = counted(lambda: ll.edit_and_denoise(model, x_t, t_pb, v / v.norm(), steps=STEPS))
print(f"one guidance edit: {got} calls counted, {guidance_calls(grid, t_pb)} by the count")
plan = unet_calls(grid, n_pca=N_PCA, n_random=N_RANDOM, t_edit=T // 2, t_pullback=t_pb)
print(f"the lecture's run: {sum(plan.values()):,} calls ({', '.join(f'{k} {v:,}' for k, v in plan.items())})")
grid_256 = list(range(980, -1, -20))  # celebahq-256's 50-step DDIM grid (T = 1000, steps_offset = 0)
plan_256 = unet_calls(grid_256, n_pca=64, n_random=2, t_edit=500, t_pullback=600)
print(f"with MODEL set (50 steps, N_PCA = 64, N_RANDOM = 2): {sum(plan_256.values()):,} calls")

# %% [markdown]
# And what one call costs at full size: the celebahq-256 architecture with random weights (a
# network's speed does not depend on its weights), one sample, float32, one thread, in CPU seconds
# (on an idle core about the wall time). It depends on the machine (not checked by nbval); `benchmarks/real_scale.py` times
# a DDIM step, `h_of` and `pullback` at full size in separate processes, with their peak memory.

# %% tags=["nbval-ignore-output"]
full = random_model("celebahq-256")
x = torch.randn(1, *full.sample_shape, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    start = time.process_time()
    full.unet(x, torch.tensor([500]))
    seconds = time.process_time() - start
print(f"one celebahq-256 U-Net call: {seconds:.1f} CPU s; the run with MODEL set: "
      f"{sum(plan_256.values()) * seconds / 3600:.0f} core-hours before the pullback")
del full

# %% [markdown]
# ## 3. The PC1 edit, read by the probe
#
# The lecture's section 3 again (the same seeds), read by the bundled model's attribute probe on the
# four faces: unedited, and with $\mp 2\,\sigma_1\,pc_1$.

# %% tags=["nbval-check-output"]
x_pca = torch.randn(N_PCA, *model.sample_shape, generator=torch.Generator().manual_seed(1))
pcs = ll.pca_directions(model, x_pca, STEPS, k=3, batch_size=16, progress=False)


def asyrp(dh):
    return ll.ddim_sample(model, x_T, STEPS, dh=dh, t_edit=T // 2, t_boost=T // 5,
                          generator=torch.Generator().manual_seed(3), progress=False)


pc1 = pcs.direction(0, 2.0)
rows = {"unedited": asyrp(None), "pc 1, c = -2": asyrp(-1 * pc1), "pc 1, c = +2": asyrp(pc1)}
with torch.no_grad():
    for k, x in rows.items():
        read = probe(x)
        print(f"{k}:")
        for a in ("glasses", "hair_color", "hair_length", "pos_x", "smile"):
            print(f"  {a:12s}" + " ".join(f"{round(v, 1) + 0.0:+5.1f}" for v in read[a].tolist()))

# %% [markdown]
# **PC1 mixes glasses, hair colour and position, and its two signs do different things.** On faces
# 1-4, $+2\,\sigma_1$ puts glasses on face 4 only, lightens the hair of all four and moves face 1
# sideways (position -0.7 to +1.0); $-2\,\sigma_1$ removes no glasses, darkens the hair of all four,
# lengthens face 3's hair (0.1 to 1.0) and raises face 4's smile from -0.1 to +0.9. PCA
# finds the directions along which the sampled h vary most, whatever they mean.
#
# ## 4. How well do 32 samples pin PC1 down?
#
# Two checks over the edited steps ($t \ge 500$): the share of h's variance along pc 1..3 against
# what the top components of isotropic Gaussian noise with the same N and dimension "explain"
# (`noise_top_share_draws`, 20 draws: their mean and 95th percentile), and PC1 refitted on 32 other
# samples, against the |cos| of two random directions in D dimensions (about $1/\sqrt{D}$).

# %% tags=["nbval-check-output"]
edited = pcs.timesteps >= T // 2
share = pcs.explained[edited]
D = torch.Size(model.h_shape).numel()
print(f"N = {N_PCA} trajectories, D = {D:,} numbers per h; steps t >= {T // 2}:")
print("  share of h's variance along pc 1..3: "
      + ", ".join(f"{a:.2f}-{b:.2f}" for a, b in zip(share.min(0).values, share.max(0).values)))
noise = noise_top_share_draws(N_PCA, D, k=3)
print("  isotropic noise, same N and D, mean:  " + ", ".join(f"{v:.3f}" for v in noise.mean(0).tolist()))
print("  isotropic noise, 95th percentile:     "
      + ", ".join(f"{v:.3f}" for v in torch.quantile(noise, 0.95, dim=0).tolist()))
x_pca2 = torch.randn(N_PCA, *model.sample_shape, generator=torch.Generator().manual_seed(7))
pcs2 = ll.pca_directions(model, x_pca2, STEPS, k=3, batch_size=16, progress=False)
cos = (pcs.components[:, 0].flatten(1) * pcs2.components[:, 0].flatten(1)).sum(1).abs()[edited]
print(f"  |cos| between PC1 and PC1 refitted on {N_PCA} other samples: {cos.min():.2f} to {cos.max():.2f}")
print(f"  |cos| of two random directions, 1 / sqrt(D): {D ** -0.5:.3f}")

# %% [markdown]
# PC1's share over the edited steps (0.07-0.13) is 1.8 to 3.3 times what the top component of 32
# samples of pure noise "explains" (mean 0.040), and above the noise draws' 95th percentile (0.041):
# h has structure along PC1. A refit on 32 other samples lands at |cos| 0.23 to 0.56 to it, far above the
# 0.02 of two random directions yet far from 1: 32 samples pin PC1 down partly. The sign of a
# principal component is arbitrary too (`pca_directions` aligns it from step to step, not to any
# attribute), so "+2" and "-2" could swap in a refit. A real run fits on more samples (the lecture's
# default with `MODEL` set: 64).
#
# ## 5. Where x-space guidance moves $x_t$
#
# The pullback of the lecture's section 4 with its convergence record, then 16 guidance steps of
# gamma 0.1 along $\pm v_1$: how far they move $x_t$, at what cosine to $v_1$, and how far h moves.

# %% tags=["nbval-check-output"]
svd, info = ll.pullback(model, x_t, t_pb, k=3, return_info=True)
print(f"pullback at t = {t_pb}: {info['products']} Jacobian products in {info['iterations']} iterations")
h_t = ll.h_of(model, x_t, t_pb)
for sign in (-1, 1):
    x_e = x_space_guidance(model, x_t, t_pb, sign * svd.V[0], gamma=0.1, n=16)
    dx = (x_e - x_t).flatten()
    print(f"guidance along {'+' if sign > 0 else '-'}v1 moves x_t by {dx.norm():.2f}, at cos "
          f"{dx @ svd.V[0].flatten().to(dx) / dx.norm():+.2f} to v1, and h by {(ll.h_of(model, x_e, t_pb) - h_t).norm():.1f}")

# %% [markdown]
# Along $+v_1$ the guidance moves $x_t$ mostly along $v_1$ and h far; along $-v_1$ about as far in
# $x_t$ but mostly across $v_1$, and h by half as much. Its step $\varepsilon(x_t + v) -
# \varepsilon(x_t)$ is a finite difference of norm 1, not odd in $v$: that is the $\pm$ asymmetry the
# lecture's images show.
#
# ## Exercises
#
# Four exercises and a mini-project, none of which downloads anything: how h scales with the input,
# what a pullback costs, the safetensors-only rule, h read by a forward hook, and predicting a full-size
# call's time from narrow models. Each gives its difficulty, its importance and a time to spend on it,
# in ARENA's form. Fill in each cell marked `# YOUR CODE HERE` (replace every `None`, or complete the
# function), then run the check below it. Worked solutions:
# `../solutions/09_real_checkpoints_solutions.ipynb`.

# %%
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from latentlab.course import exercises as ex  # noqa: E402

# %% [markdown]
# ### Exercise 09.1: h at scale
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
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
# ### Exercise 09.2: what a pullback costs
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# `pullback` runs block iterations; each one computes $J V$ by forward mode and $U^\top J$ by reverse
# mode for all k directions. Time a pullback with k = 3 and `max_iters=2` (and `return_info=True`)
# at section 5's `x_t`, `t_pb`; give `products_per_iter`, the Jacobian products of one iteration for
# k = 3, and `est_seconds`, what 27 iterations (the number the celebahq-256 architecture needed on
# random weights) would take at the speed you measured.

# %%
# YOUR CODE HERE: seconds (the wall time of your call), info (its second return value),
# products_per_iter and est_seconds
seconds, info = None, None
products_per_iter = None
est_seconds = None

# %%
ex.check_pullback_cost(seconds, info, products_per_iter, est_seconds)

# %% [markdown]
# ### Exercise 09.3: a checkpoint folder, safetensors only
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# Save a small random celebahq-256 model (below) as a pipeline folder with
# `write_pipeline(small, folder, "celebahq-256")` (from `latentlab.architectures`), and load it back
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

# %% [markdown]
# ### Exercise 09.4: h by a forward hook
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# `ll.h_of` reads $h$, the output of the U-Net's middle block, with a forward hook, so the same call
# works on any diffusers U-Net. Write `h_by_hook(unet, x, t)`: register a forward hook on
# `unet.mid_block` that keeps its `output`, run `unet(x, t)`, remove the hook whatever happens (keep
# the handle `register_forward_hook` returns; `handle.remove()` in a `finally:`), and return $h$. The
# check runs it on `small` (celebahq-256 at width 16, 64 px) on a batch of 2 and compares with
# `ll.h_of`; a hook left behind would run on every later call, so the check looks for one too. The same
# function reads $h$ of the full-size model, `random_model("celebahq-256")`, at a far higher cost per
# call on a CPU.

# %%
def h_by_hook(unet, x, t):
    # YOUR CODE HERE: hook unet.mid_block, run unet(x, t), remove the hook, return what it saw
    return None


# %%
ex.check_h_by_hook(small, h_by_hook)

# %% [markdown]
# ### Mini-project 09.5: a full-size call's time, predicted from narrow models
#
# ```yaml
# Difficulty: 🔴🔴🔴⚪⚪
# Importance: 🔵🔵⚪⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# Section 2 timed the full-size architecture directly. Could you have predicted that time from
# narrow models alone? Build `random_model("celebahq-256", width=w, sample_size=64)` for a few widths
# $w$ (every channel count divided by $w$), time one forward pass of a batch of one and count the
# parameters, fit how each grows as $w$ shrinks, and extrapolate to $w = 1$ and then to 256 px. Which
# part of the cost does a narrow model not show (think of what does not shrink with the channels), and
# how far would you trust the extrapolation? Time with the median of a few repeats: the machine may be
# busy. One worked way is in the solutions.
