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
# The exercises at the end of `../labs/09_real_checkpoints_lab.ipynb`, each with a worked solution, its
# check and a short discussion. Only the setup the exercises need is repeated here; the lecture
# `../09_real_checkpoints.ipynb` explains the ideas. Nothing is downloaded.

# %%
import math
import statistics
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
# **Discussion.** Four downsamplings halve the side four times, so h is the input's side / 32 with the
# last block's channels (512 / 16 here): its entries grow with the input's area, four times from 128
# to 256 px. The bundled 32 px model's h is $4 \times 4$ for the same reason, and the papers' 256 px
# models have $8 \times 8$.

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
# **Discussion.** A pullback's cost is its number of Jacobian products, $2k$ per iteration, times the
# cost of one product, about one forward and one backward pass of the network up to $h$. The bundled
# model's products are cheap; at 256 px each costs far more, and the iterations needed depend on how
# flat the spectrum is, which is why the lecture gives minutes for celebahq-256 on a CPU.

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

# %% [markdown]
# **Discussion.** `load_model` refuses pickle weights because unpickling can run arbitrary code;
# safetensors holds tensors only. The check also loads the folder back and compares the two networks'
# outputs, so a folder that merely holds the right file names does not pass.

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
    seen = []
    handle = unet.mid_block.register_forward_hook(lambda module, args, output: seen.append(output))
    try:
        unet(x, t)
    finally:  # a hook left on the U-Net would run on every later call
        handle.remove()
    return seen[0]


# %%
ex.check_h_by_hook(small, h_by_hook)

# %% [markdown]
# **Discussion.** This hook lets the decoder run to the end although nothing after $h$ is needed;
# `ll.h_of` raises an exception inside its hook to stop the pass at $h$, which saves the decoder's
# half of the cost. Both read the same tensor, which is why every method of the course works on any
# diffusers U-Net with a middle block.

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
# **One way**: celebahq-256 at widths 16, 8 and 4 (64 px, random weights), the parameters counted and
# one forward pass of one sample timed in CPU seconds (median of 3), the growth fitted on a log-log scale between the
# two widest, and extrapolated to width 1, then to 256 px by the number of pixels. Timings depend on
# this machine and its load, so the numbers are not checked.

# %%
def forward_seconds(m, repeats=3):
    x = torch.zeros(1, *m.sample_shape)
    times = []
    for _ in range(repeats):  # CPU seconds, as the lab's section 2 times the full-size call
        start = time.process_time()
        with torch.no_grad():
            m.unet(x, 500)
        times.append(time.process_time() - start)
    return statistics.median(times)


WIDTHS = (16, 8, 4)
rows = []
for w in WIDTHS:
    m = random_model("celebahq-256", width=w, sample_size=64)
    rows.append((w, sum(p.numel() for p in m.unet.parameters()), forward_seconds(m)))
    print(f"width {w:2d}: {rows[-1][1] / 1e6:6.2f} M parameters, {rows[-1][2] * 1e3:7.1f} ms per forward pass")
(w1, p1, s1), (w2, p2, s2) = rows[-2:]
grow_p = math.log(p2 / p1) / math.log(w1 / w2)  # parameters ~ (1 / width)^grow
grow_s = math.log(s2 / s1) / math.log(w1 / w2)
full_64 = s2 * (w2 / 1) ** grow_s
print(f"growth per halving of the width: parameters x{2 ** grow_p:.1f}, time x{2 ** grow_s:.1f}")
print(f"predicted at full width: {p2 * w2 ** grow_p / 1e6:.0f} M parameters;\n   one forward pass "
      f"{full_64:.1f} s at 64 px, about {16 * full_64:.0f} s at 256 px (16 times the pixels)")

# %% [markdown]
# **Discussion.** The parameters grow by 4 per halving of the width (channels squared), the time by only
# about 2 between the narrow models, where fixed costs (Python, small kernels, the same number of
# attention positions) dominate; so the extrapolation, about 4 CPU s at 256 px when this was written,
# *under*-predicts the 7.9 CPU s that the lab's section 2 measured at full size. Scaling by the pixels
# is only a guide too (attention grows with the square of the positions): time one full-size call
# before planning a run.
