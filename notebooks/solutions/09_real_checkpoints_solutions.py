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
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · Real checkpoints: solutions to the exercises
#
# The exercises at the end of `../labs/09_real_checkpoints_lab.ipynb`, each with a worked solution and its
# check. Only the setup the exercises need is repeated here; the lecture `../09_real_checkpoints.ipynb`
# explains the ideas. Nothing is downloaded.

# %%
import tempfile
import time
from pathlib import Path

import torch

import latentlab as ll
from latentlab.architectures import random_model, write_pipeline
from latentlab.course import exercises as ex

torch.set_num_threads(1)
model = ll.load_model()
grid = ll.ddim_timesteps(model, 20).tolist()
t_pb = min(grid, key=lambda t: abs(t - 0.6 * model.num_train_timesteps))
x_T = torch.randn(4, *model.sample_shape, generator=torch.Generator().manual_seed(0))
_, traj = ll.ddim_sample(model, x_T[:1], 20, return_trajectory=True, progress=False)
x_t = traj[grid.index(t_pb)][0]  # face 1 at t = 600, as in the lab's section 5

# %% [markdown]
# ### Exercise 1: h at scale
#
# Build the celebahq-256 architecture at reduced width with random weights,
# `random_model("celebahq-256", width=16)` (same blocks, every channel count divided by 16), and again
# with `sample_size=128`. Report h's shape `(C, H, W)` for both (`ll.h_of` on a zero input, or
# `model.h_shape`), and `factor`, the input's side divided by h's side. How does the number of
# entries of h grow with the input size?

# %%
shapes = {}
for size in (256, 128):
    m = random_model("celebahq-256", width=16, sample_size=size)
    shapes[size] = tuple(ll.h_of(m, torch.zeros(1, *m.sample_shape), 500).shape[1:])
h_256, h_128 = shapes[256], shapes[128]
factor = 256 // h_256[-1]
print(h_256, h_128, factor, f"entries: {torch.Size(h_256).numel()} against {torch.Size(h_128).numel()}")

# %%
ex.check_h_scaling(h_256, h_128, factor)

# %% [markdown]
# ### Exercise 2: what a pullback costs
#
# `pullback` runs block iterations; each one computes $J V$ by forward mode and $U^\top J$ by reverse
# mode for all k directions. Time a pullback with k = 3 and `max_iters=2` (and `return_info=True`)
# at the lab's section 5 `x_t`, `t_pb`; give `products_per_iter`, the Jacobian
# products of one iteration for k = 3, and `est_seconds`, what 27 iterations (the number the
# celebahq-256 architecture needed on random weights) would take at the speed you measured.

# %%
import warnings

start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # "not converged after max_iters" is expected here
    svd, info = ll.pullback(model, x_t, t_pb, k=3, max_iters=2, return_info=True)
seconds = time.perf_counter() - start
products_per_iter = 2 * 3  # k JVPs (J V) and k VJPs (U^T J)
est_seconds = 27 * products_per_iter * seconds / info["products"]
print(info["iterations"], info["products"], f"{est_seconds:.1f} s")

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
folder = write_pipeline(small, workdir / "pipeline", "celebahq-256")
loaded = ll.load_model(folder)
small.unet.save_pretrained(workdir / "pickles", safe_serialization=False)
try:
    ll.load_model(workdir / "pickles")
    refused = None
except ValueError as e:
    refused = e
print(str(refused)[:90], "...")

# %%
ex.check_checkpoint_folder(small, folder, loaded, refused)
