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
# # Lab 02 · The faces world, the bundled model and DDIM: the measurements
#
# ## Key idea
#
# The [lecture](../02_faces_model_and_ddim.ipynb) states what the model does and how good it is. This
# lab holds the measurements behind it:
#
# 1. what $h$ looks like, channel by channel;
# 2. how much of $P_t$'s error is the noise prediction's, amplified, where the truth is known;
# 3. how far an inverted $x_T$ is from Gaussian noise, and the round trip's PSNR against baselines;
# 4. the instrument: the probe's accuracy;
# 5. the statistics of model quality on the shipped run (256 samples against 256 renders): which
#    differences are detectable at that size, per attribute and as a family of tests, each figure
#    against its null spread between two independent sets of renders.
#
# Then three exercises on DDIM's two parts and its loop, and a mini-project.

# %%
import pandas as pd
import torch

import latentlab as ll
from latentlab.course.face_quality import ks_tests, null_false_alarms, quality_summary, sample_faces
from latentlab.course.plot import lecture_style, show_channels, show_images
from latentlab.course.runs import load_run
from latentlab.quality import image_correlation, neighbour_correlation, probe_accuracy, psnr
from latentlab.stats import ks_critical_value, proportion_critical_difference

lecture_style()
torch.set_num_threads(1)
model = ll.load_model()
a = model.scheduler.alphas_cumprod

# %% [markdown]
# ## 1. h, channel by channel
#
# Four renders noised to $t = 200$ (`ll.q_sample`, seeded); $h$ is one 4 x 4 map per channel. The
# eight channels that vary most over these four faces (red positive, blue negative, one colour scale
# per channel):

# %%
x, _ = ll.render_faces(4, seed=0)
x_200 = ll.q_sample(model, x, 200, generator=torch.Generator().manual_seed(0))
h = ll.h_of(model, x_200, 200)
print(f"h: {tuple(h.shape)}, {h[0].numel()} numbers per face (the image has {x[0].numel()})")
show_channels(h, images=x, scale=0.9);

# %% [markdown]
# ## 2. $P_t$'s error, where the truth is known
#
# Noise 16 renders to $t$ with a known $z$, and compare the model's $\epsilon$ with $z$ and its $P_t$
# with the render. The baseline is the error of always answering with the average of the 16 faces
# (a blurry average face).

# %% tags=["nbval-check-output"]
clean, _ = ll.render_faces(16, seed=5)
rms = lambda d: d.pow(2).mean().sqrt().item()  # noqa: E731
baseline = rms(clean - clean.mean(0))
table = []
for t in (980, 780, 580, 380):
    x_t = ll.q_sample(model, clean, t, generator=torch.Generator().manual_seed(t))
    z = (x_t - a[t].sqrt() * clean) / (1 - a[t]).sqrt()  # the noise q_sample drew
    err_p = rms(ll.P_t(x_t, ll.eps_of(model, x_t, t), a[t]) - clean)
    table.append({"t": t, "eps error": rms(ll.eps_of(model, x_t, t) - z),
                  "gain sqrt((1-a)/a)": ((1 - a[t]) / a[t]).sqrt().item(), "P_t error": err_p,
                  "P_t error / average face's": err_p / baseline})
print(f"error of the average face: {baseline:.2f}")
print(pd.DataFrame(table).round(4).to_string(index=False))

# %% [markdown]
# At $t = 980$ the noise prediction is off by about 1 % (rms 0.0125), and 130 times that is an error
# in $P_t$ 5 times the average face's: noise, which the clip cuts to $[-1, 1]$. At $t = 780$ the noise
# prediction is no better, but the gain is 22, and $P_t$'s error is 1.3 times the average face's: a
# blurry face. From $t = 580$ on $P_t$ beats the average face.
#
# ## 3. Inverted $x_T$ against Gaussian $x_T$, and the round trip
#
# Per image: the standard deviation, the correlation of each pixel with its right-hand neighbour, and
# the correlation with the face it came from, for 8 inverted renders and for 8 Gaussian $x_T$ (for
# Gaussian noise: 1, 0 and 0, up to chance); then the round trip's PSNR against two baselines, the
# same regenerated with $P_t$ clipped and a different face (each face against the next).

# %% tags=["nbval-check-output"]
faces, _ = ll.render_faces(8, seed=11)
x_inv = ll.ddim_invert(model, faces, steps=50, progress=False)
x_T = torch.randn(8, *model.sample_shape, generator=torch.Generator().manual_seed(0))
stats = []
for name, z in (("inverted x_T", x_inv), ("Gaussian x_T", x_T)):
    for stat, v in (("std", z.flatten(1).std(1)), ("neighbour correlation", neighbour_correlation(z)),
                    ("correlation with the face", image_correlation(z, faces))):
        stats.append({"x_T": name, "per image": stat, "min": v.min().item(), "max": v.max().item()})
print(pd.DataFrame(stats).round(2).to_string(index=False))
recon = ll.ddim_sample(model, x_inv, steps=50, clip=False, progress=False)
clipped = ll.ddim_sample(model, x_inv, steps=50, progress=False)
p_rt, p_clip, p_other = psnr(recon, faces), psnr(clipped, faces), psnr(faces.roll(1, 0), faces)
print(f"median PSNR over these 8: round trip {p_rt.median():.1f} dB, clipped {p_clip.median():.1f} dB, "
      f"a different face {p_other.median():.1f} dB")

# %% [markdown]
# Every inverted $x_T$ has a smaller spread and larger correlations than every Gaussian one: it keeps
# the face. Clipping on the way back costs more than 10 dB, as the lecture's figure shows.
#
# ## 4. The instrument
#
# The probe reads the attributes off an image; every quality figure and every later edit is measured
# with it. On 500 fresh renders: $R^2$ per continuous attribute (goal at least 0.98) and the accuracy on
# glasses (goal at least 0.99). These figures hold on renders; the probe is then used on samples and
# edited faces, which are not exactly the renderer's faces (section 5), so its accuracy there may be
# lower than measured here.

# %% tags=["nbval-check-output"]
probe = ll.load_probe()
acc = probe_accuracy(probe, n=500)
r2 = {k: v for k, v in acc.items() if k != "glasses"}
worst_r2 = min(r2, key=r2.get)
print(f"lowest R^2 {r2[worst_r2]:.3f} ({worst_r2}), glasses accuracy {acc['glasses']:.3f}; "
      f"goals met: {min(r2.values()) >= 0.98 and acc['glasses'] >= 0.99}")

# %% [markdown]
# ## 5. The statistics of model quality
#
# The shipped run holds, besides the 256 samples and 256 renders, `null` rows: the same figures
# between two independent sets of 256 renders, 50 times. Both sets come from the faces world, so every
# difference there is chance.
#
# **The family of tests.** Whether the samples' distribution differs *detectably* is a family of 11
# tests: 10 KS distances and the glasses rate. Each at 5 %, a perfect model would fail at least one in
# up to $11 \times 0.05 = 0.55$ of runs (the union bound); Bonferroni's correction runs each at
# $0.05 / 11$, which keeps the chance of any false alarm in the family at most 5 %. The critical
# values: KS, $c(\alpha)\sqrt{(n + m)/(n m)}$ with $c(\alpha) = \sqrt{-\ln(\alpha/2)/2}$ (asymptotic);
# glasses rate, the two-proportion z-test's critical difference at the pooled rate 0.5, its widest.

# %% tags=["nbval-check-output"]
run = load_run("02_model_quality")
rows = run["rows"]
q = quality_summary(rows)
n, m = q["n_samples"], q["n_renders"]
alpha = 0.05 / 11
ks_05, ks_fam = ks_critical_value(n, m, 0.05), ks_critical_value(n, m, alpha)
g_05, g_fam = proportion_critical_difference(n, m, 0.05), proportion_critical_difference(n, m, alpha)
alarms_05, repeats = null_false_alarms(rows, ks_05, g_05)
alarms_fam, _ = null_false_alarms(rows, ks_fam, g_fam)
null_ks = torch.tensor([[v for k, v in r.items() if k.startswith("ks_")] for r in rows if r["kind"] == "null"])
print(f"n = {n} samples, m = {m} renders; {repeats} null runs")
print(f"each test at 5 %: KS critical {ks_05:.3f}, glasses {g_05:.3f}; "
      f"null runs with an alarm: {alarms_05} of {repeats}")
print(f"Bonferroni, each at {alpha:.4f}: KS critical {ks_fam:.3f}, glasses {g_fam:.3f}; "
      f"null runs with an alarm: {alarms_fam} of {repeats}")
print(f"null KS distances above the README's 0.1: {(null_ks > 0.1).float().mean():.2f} of them; "
      f"5 % critical value at 1,000 faces: {ks_critical_value(1000, 1000, 0.05):.3f}")

# %% [markdown]
# **Per attribute**, the samples' KS distance against the critical values and the null runs' 95th
# percentile for the same attribute:

# %% tags=["nbval-check-output"]
tests = pd.DataFrame(ks_tests(rows))
print(tests[["attr", "ks", "critical", "critical_family", "null_q95", "detectable"]].round(3).to_string(index=False))
gs, gr = q["glasses_rate"]
print(f"glasses rate: samples {gs:.3f}, renders {gr:.3f}; difference {abs(gs - gr):.3f}, "
      f"detectable (above {g_fam:.3f}): {abs(gs - gr) > g_fam}")

# %% [markdown]
# No attribute differs detectably at a family-wise 5 %: the largest distance, `mouth_open`'s 0.141, is
# below Bonferroni's 0.154, and the glasses rates differ by 0.027. Two attributes, `mouth_open` and
# `eye_size`, are above the uncorrected 5 % value 0.120; in a family of 11 tests at least one such
# alarm came up in 22 of the 50 null runs, so two is what chance gives, not evidence of a defect.
#
# "No detectable difference" has a resolution: at 256 faces a KS distance up to 0.154 goes undetected,
# and 15 % of the null distances exceed the README's goal of 0.1. To confirm that the true distance is
# at most 0.1, the observed distance plus the critical value must be at most 0.1. At 1,000 faces the
# 5 % critical value is 0.061, so the goal is confirmed only if the observed distance is at most
# about 0.04; at 256 faces no observed distance can confirm it.
#
# **On-manifold error and Frechet distance**, each against its spread over the null runs:

# %% tags=["nbval-check-output"]
null = pd.DataFrame([r for r in rows if r["kind"] == "null"])
fd = next(r for r in rows if r["kind"] == "frechet")
print(f"re-render MSE ratio, samples / renders: {q['rerender_ratio']:.2f} (goal <= 2); "
      f"null runs: {null.rerender_ratio.min():.2f} to {null.rerender_ratio.max():.2f}")
print(f"Frechet distance, samples / renders: {fd['samples_renders']:.2f}; "
      f"null runs: {null.frechet.min():.2f} to {null.frechet.max():.2f}")

# %% [markdown]
# The re-render error misses its goal: the samples re-render 2.97 times worse than renders, far
# outside the null runs' 0.84 to 1.15. The samples carry the right attributes but are not exactly
# the renderer's faces. The Frechet distance, 0.87, lies inside the null runs' spread (0.64 to 1.05):
# with 256 samples in the probe's 256 feature dimensions it cannot tell the model from the faces
# world.
#
# **The inversion round trip** on the run's 256 renders:

# %% tags=["nbval-check-output"]
inv = torch.tensor([r["psnr"] for r in rows if r["kind"] == "inversion"])
print(f"{len(inv)} renders: median {inv.median():.1f} dB, quartiles {inv.quantile(0.25):.1f} to "
      f"{inv.quantile(0.75):.1f} dB, lowest {inv.min():.1f} dB; at least 30 dB: {(inv >= 30).float().mean():.2f}")

# %% [markdown]
# The median clears 30 dB and 60 % of the renders reach it, with a long low tail (the lowest at
# 15.8 dB): the inversion is good, not exact.
#
# A few of the run's samples, for the eye (the lecture re-runs the first one live):

# %%
show_images(sample_faces(model, list(range(run["seed"], run["seed"] + 8)), steps=50, progress=False), nrow=8);

# %% [markdown]
# ## Exercises
#
# Three exercises on DDIM's two parts, $P_t$ and $D_t$, and the loop that makes a sampler of them;
# then a mini-project. Fill in each cell marked `# YOUR CODE HERE` (replace every `None`), then run
# the check below it. Worked solutions are in
# `../solutions/02_faces_model_and_ddim_solutions.ipynb`.

# %%
from latentlab.course import exercises as ex  # noqa: E402

# %% [markdown]
# ### Exercise 02.1: one DDIM step by hand
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵⚪
#
# You should spend up to 10-15 minutes on this exercise.
# ```
#
# `x_800` holds four renders noised to $t = 800$. One step of the 50-step grid goes to
# $t_\text{prev} = 780$: predict $x_0$ with $P_t = (x_t - \sqrt{1 - a_t}\,\varepsilon)/\sqrt{a_t}$, clip it
# to $[-1, 1]$ as the scheduler does (`clip_sample=True`), and add
# $D_t = \sqrt{1 - a_\text{prev}}\,\varepsilon$: $x_\text{prev} = \sqrt{a_\text{prev}}\,P_t + D_t$, with
# $a$ = `model.scheduler.alphas_cumprod` and $\varepsilon$ = `ll.eps_of(model, x_800, 800)`. The check
# compares with diffusers' own `DDIMScheduler.step`.

# %%
faces_ex, _ = ll.render_faces(4, seed=21)
x_800 = ll.q_sample(model, faces_ex, 800, generator=torch.Generator().manual_seed(21))
# YOUR CODE HERE: x_780, the same shape as x_800
x_780 = None

# %%
ex.check_ddim_step(model, x_800, 800, x_780)

# %% [markdown]
# ### Exercise 02.2: how much does $P_t$ amplify an error in $\varepsilon$?
#
# ```yaml
# Difficulty: 🔴⚪⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 5-10 minutes on this exercise.
# ```
#
# In $P_t$ an error $\delta$ in the predicted noise becomes an error $\sqrt{1 - a_t}/\sqrt{a_t}\;\delta$
# in the predicted $x_0$. Compute this gain at every timestep of the 50-step grid (`grid`,
# descending), and `t_cross`, the largest grid timestep where the gain is still below 1. Above it,
# $P_t$ is mostly the noise prediction's error, magnified.

# %%
grid = ll.ddim_timesteps(model, 50)
# YOUR CODE HERE: gain (50 numbers, one per grid timestep) and t_cross (an int)
gain = None
t_cross = None

# %%
ex.check_noise_amplification(model, gain, t_cross)

# %% [markdown]
# ### Exercise 02.3: the DDIM sampler loop
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵🔵🔵
#
# You should spend up to 15-20 minutes on this exercise.
# ```
#
# Now the whole sampler: write `ddim_loop(model, x_T, steps)` that walks
# `ll.ddim_timesteps(model, steps)` (descending) and takes exercise 02.1's step at each $t$, from $t$ to
# $t - 1000 / \text{steps}$: $\varepsilon$ = `ll.eps_of(model, x, t)`, $P_t$ clipped to $[-1, 1]$,
# $x \leftarrow \sqrt{a_\text{prev}}\,P_t + \sqrt{1 - a_\text{prev}}\,\varepsilon$. After $t = 0$ there is no
# `alphas_cumprod[t_prev]`: the scheduler's `final_alpha_cumprod` (1 here) takes its place. Return
# $x_0$. The check runs it for 10 steps from two noise images against `ll.ddim_sample`.

# %%
def ddim_loop(model, x_T, steps):
    # YOUR CODE HERE: for t in ll.ddim_timesteps(model, steps): eps, P_t (clipped), the step; return x_0
    return None


# %%
ex.check_ddim_loop(model, ddim_loop)

# %% [markdown]
# ### Mini-project 02.4: how many DDIM steps does the model need?
#
# ```yaml
# Difficulty: 🔴🔴⚪⚪⚪
# Importance: 🔵🔵🔵⚪⚪
#
# You should spend up to 30-45 minutes on this mini-project.
# ```
#
# The course samples with 10 or 20 steps; the model was trained on 1,000. Take a few noise images,
# sample each with 5, 10 and 20 steps and with 50 as the reference, and measure how far each $x_0$ lies
# from the reference: in pixels (the RMS distance) and in what the probe reads (each attribute's
# mean $|\Delta|$ in units of its range, and whether glasses agree). Which attribute needs the most
# steps, and is 10 enough for the course's edits? There is no check: one way, with its numbers, is in
# the solutions.

# %%
# YOUR CODE HERE

# %% [markdown]
# ## What to remember
#
# - $P_t$'s error at large $t$ is the noise prediction's error times $\sqrt{(1 - a_t)/a_t}$ (130 at
#   $t = 980$); $P_t$ beats the average face only from about $t = 580$ down.
# - An inverted $x_T$ keeps the face: smaller spread, correlated neighbours, correlated with the face.
# - At 256 faces no attribute differs detectably, as a family of 11 tests; per-test alarms at 5 %
#   are what chance gives. Confirming the KS goal of 0.1 needs observed + critical <= 0.1: at about
#   1,000 faces, an observed distance of at most about 0.04.
# - The re-render error is 3x that of renders, outside the null spread: the one goal the model
#   misses. The Frechet distance cannot tell at this size.
#
# Back to the [lecture](../02_faces_model_and_ddim.ipynb).
