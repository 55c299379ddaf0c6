"""How good is a faces diffusion model? Measured against the ground truth of the faces world.

- attribute fidelity: the probe's readings on samples against renders (Kolmogorov-Smirnov
  distance per attribute, and the glasses rate);
- on-manifold error: re-render each sample from the attributes the probe reads off it and take the
  per-pixel MSE (a sample that is a clean face re-renders almost exactly);
- Frechet distance in the probe's feature space (Heusel et al. 2017's FID, with the probe in place
  of Inception), with the distance between two independent sets of renders as its floor;
- DDIM inversion round trip: PSNR of `ddim_sample(ddim_invert(x0), clip=False)` against x0.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg, stats
from torch import Tensor

from .ddim import ddim_invert, ddim_sample
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from .model import Model
from .probe import Probe

__all__ = ["frechet_distance", "rerender", "psnr", "model_quality", "probe_accuracy"]


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """`|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))` between two feature sets `(n, d)`.

    >>> g = torch.Generator().manual_seed(0)
    >>> round(frechet_distance(torch.randn(4000, 2, generator=g), torch.randn(4000, 2, generator=g) + 1), 1)
    2.0
    """
    a64, b64 = a.double().numpy(), b.double().numpy()
    mu = a64.mean(0) - b64.mean(0)
    ca, cb = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    root = linalg.sqrtm(ca @ cb)
    return float(mu @ mu + np.trace(ca + cb - 2 * np.real(root)))


def _as_attributes(pred: dict[str, Tensor]) -> dict[str, Tensor]:
    """Probe readings turned into valid renderer arguments (clamped, glasses thresholded)."""
    out = {}
    for name, (lo, hi) in ATTRIBUTES.items():
        v = pred[name].detach()
        out[name] = (v > 0.5).float() if name in BINARY_ATTRIBUTES else v.clamp(lo, hi)
    return out


def rerender(images: Tensor, probe: Probe) -> Tensor:
    """Each image re-rendered from the attributes the probe reads off it."""
    with torch.no_grad():
        pred = probe(images)
    return render_faces(len(images), size=images.shape[-1], **_as_attributes(pred))[0]


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """Peak signal-to-noise ratio per image, for images in [-1, 1] (peak-to-peak 2)."""
    mse = ((x - y) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4 / mse)


@torch.no_grad()
def probe_accuracy(probe: Probe, n: int = 2000, seed: int = 31337) -> dict[str, float]:
    """R^2 per continuous attribute and accuracy on glasses, on fresh renders."""
    x, attrs = render_faces(n, seed=seed)
    pred = probe(x)
    out = {}
    for name in ATTRIBUTES:
        if name in BINARY_ATTRIBUTES:
            out[name] = ((pred[name] > 0.5).float() == attrs[name]).float().mean().item()
        else:
            y = attrs[name]
            out[name] = (1 - ((pred[name] - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()).item()
    return out


@torch.no_grad()
def model_quality(
    model: Model, probe: Probe, *, n: int = 1000, steps: int = 50, n_invert: int = 100, seed: int = 0,
    batch: int = 64, progress: bool = True,
) -> dict:
    """All the quality figures of the faces model in one dict (see the module docstring).

    Keys: `ks` (name -> KS distance), `glasses_rate` (samples, renders), `rerender_mse`
    (median for samples, median for renders), `frechet` (samples vs renders, renders vs renders),
    `inversion_psnr` (median dB), `samples` (the first 16 samples, for a figure).
    """
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, *model.sample_shape, generator=g)
    samples = torch.cat([ddim_sample(model, x_T[i : i + batch], steps, progress=False)
                         for i in tqdm(range(0, n, batch), disable=not progress, desc="sampling")])
    renders, _ = render_faces(n, seed=seed + 1, size=model.sample_shape[-1])
    floor, _ = render_faces(n, seed=seed + 2, size=model.sample_shape[-1])
    ps, pr = probe(samples), probe(renders)
    ks = {k: float(stats.ks_2samp(ps[k].numpy(), pr[k].numpy()).statistic) for k in ATTRIBUTES if k not in BINARY_ATTRIBUTES}
    rate = lambda p: (p["glasses"] > 0.5).float().mean().item()  # noqa: E731
    mse = lambda x: ((rerender(x, probe) - x) ** 2).flatten(1).mean(1).median().item()  # noqa: E731
    fs, fr, ff = probe.features(samples), probe.features(renders), probe.features(floor)
    x0, _ = render_faces(n_invert, seed=seed + 3, size=model.sample_shape[-1])
    x_inv = torch.cat([ddim_invert(model, x0[i : i + batch], steps, progress=False) for i in range(0, n_invert, batch)])
    recon = torch.cat([ddim_sample(model, x_inv[i : i + batch], steps, clip=False, progress=False)
                       for i in range(0, n_invert, batch)])
    return {
        "ks": ks,
        "glasses_rate": (rate(ps), rate(pr)),
        "rerender_mse": (mse(samples), mse(renders)),
        "frechet": (frechet_distance(fs, fr), frechet_distance(ff, fr)),
        "inversion_psnr": psnr(recon, x0).median().item(),
        "samples": samples[:16],
    }
