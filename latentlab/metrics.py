"""Measuring edits: what an edit does to the probe's attribute readings, to the pixels and to the
samples' distance from the faces manifold.

References
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the edit x_t + alpha v at one timestep (`edit_attributes`).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import ATTRIBUTES
from .model import Model, _check_x

__all__ = ["edit_attributes"]


@torch.no_grad()
def edit_attributes(
    model: Model, probe, x_t: Tensor, t: int, directions: Tensor, alphas: Sequence[float] = (-2.0, 2.0),
    *, steps: int = 50,
) -> dict:
    """Edit x_t <- x_t + alpha v at one timestep (Park et al. 2023, first version) and read the result with the probe.

    Every edited x_t, and the unedited one, is denoised by `ddim_sample(..., t_start=t)`; the probe reads the
    attributes of each x_0, and the change against the unedited x_0 is given as a fraction of
    the attribute's range (`ATTRIBUTES`).

    Args:
        model, probe: the diffusion model and the attribute probe (`load_probe`).
        x_t: one sample `(C, H, W)` at timestep t; t: on the `steps` grid.
        directions: `(k, C, H, W)`; alphas: step sizes (directions are used as given, not normalised).

    Returns:
        dict with `base` (the unedited x_0, `(C, H, W)`), `images` (`(k, len(alphas), C, H, W)`),
        `delta` ({attribute: `(k, len(alphas))`}) and `effect` ({attribute: `(k,)`}: the slope
        between the smallest and the largest alpha times max|alpha|, signed; for alphas (-a, a)
        it is (delta(a) - delta(-a)) / 2).
    """
    xb, single = _check_x(model, x_t)
    if not single and len(xb) != 1:
        raise ValueError(f"x_t must be one sample, got shape {tuple(x_t.shape)}")
    if not isinstance(directions, Tensor) or tuple(directions.shape[1:]) != model.sample_shape:
        raise ValueError(f"directions must have shape (k, {', '.join(map(str, model.sample_shape))}), got "
                         f"{tuple(directions.shape) if isinstance(directions, Tensor) else type(directions).__name__}")
    alphas = torch.as_tensor(list(alphas), dtype=xb.dtype)
    if alphas.dim() != 1 or len(alphas) < 2 or not torch.isfinite(alphas).all() or alphas.min() == alphas.max():
        raise ValueError(f"alphas must be at least two distinct finite numbers, got {alphas.tolist()}")
    k, a = len(directions), len(alphas)
    edited = xb + alphas[None, :, None, None, None] * directions[:, None].to(xb)  # (k, a, C, H, W)
    x0 = ddim_sample(model, torch.cat([xb, edited.flatten(0, 1)]), steps, t_start=int(t), progress=False)
    readings = probe(x0)
    lo, hi = alphas.argmin(), alphas.argmax()
    delta, effect = {}, {}
    for name, (low, high) in ATTRIBUTES.items():
        d = ((readings[name][1:] - readings[name][0]) / (high - low)).reshape(k, a)
        delta[name] = d
        effect[name] = (d[:, hi] - d[:, lo]) / (alphas[hi] - alphas[lo]) * alphas.abs().max()
    return {"base": x0[0], "images": x0[1:].reshape(k, a, *model.sample_shape), "delta": delta, "effect": effect}
