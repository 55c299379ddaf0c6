"""How good is a faces diffusion model? Measured against the ground truth of the faces world.

- attribute fidelity: the probe's readings on samples against renders (Kolmogorov-Smirnov
  distance per attribute, and the glasses rate);
- on-manifold error: re-render each sample from the attributes the probe reads off it and take the
  per-pixel MSE (a sample that is a clean face re-renders almost exactly);
- Frechet distance in the probe's feature space (Heusel et al. 2017's FID, with the probe in place
  of Inception), with the distance between two independent sets of renders as its floor;
- DDIM inversion round trip: PSNR of `ddim_sample(ddim_invert(x0), clip=False)` against x0;
- the tests that decide whether a difference is detectable at a given sample size: the two-sample
  Kolmogorov-Smirnov distance and its critical value, the critical difference of two proportions,
  and `null_quality`, the same figures between two independent sets of renders (what chance alone
  gives at that size).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .ddim import ddim_invert, ddim_sample
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from .model import Model
from .probe import Probe
from .stats import ks_distance

__all__ = [
    "frechet_distance",
    "image_correlation", "neighbour_correlation", "rerender", "psnr", "model_quality", "null_quality", "probe_accuracy",
]


def _psd_eigvals(w: Tensor) -> Tensor:
    """Eigenvalues of a PSD matrix with rounding noise removed: those below d * eps * max become 0."""
    return torch.where(w > len(w) * torch.finfo(w.dtype).eps * w.max().clamp(min=0), w, torch.zeros_like(w))


def _sqrt_psd(c: Tensor) -> Tensor:
    """The symmetric square root of a positive semi-definite matrix."""
    w, v = torch.linalg.eigh(c)
    return (v * _psd_eigvals(w).sqrt()) @ v.T


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """`|mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))` between two feature sets `(n, d)`.

    `tr (C_a C_b)^(1/2)` is computed as `tr (S C_b S)^(1/2)` with `S = C_a^(1/2)` (the two matrices
    are similar), by symmetric eigendecompositions in float64: exact for singular covariances
    (n <= d) too, and in torch, so that it keeps to torch's thread count.

    >>> g = torch.Generator().manual_seed(0)
    >>> round(frechet_distance(torch.randn(4000, 2, generator=g), torch.randn(4000, 2, generator=g) + 1), 1)
    2.0
    """
    for name, f in (("a", a), ("b", b)):
        if not isinstance(f, Tensor) or f.dim() != 2 or f.shape[0] < 2:
            shape = tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise ValueError(f"{name} must be a feature set, a tensor (n, d) with n >= 2, got {shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    a64, b64 = a.detach().double().cpu(), b.detach().double().cpu()
    mu = a64.mean(0) - b64.mean(0)
    ca, cb = torch.atleast_2d(torch.cov(a64.T)), torch.atleast_2d(torch.cov(b64.T))
    s = _sqrt_psd(ca)
    cross = _psd_eigvals(torch.linalg.eigvalsh(s @ cb @ s)).sqrt().sum()
    return float(mu @ mu + ca.trace() + cb.trace() - 2 * cross)


def _check_images(x, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a tensor (B, C, H, W), got {shape}")


def image_correlation(x: Tensor, y: Tensor) -> Tensor:
    """Per image pair, the Pearson correlation of their pixel values (all channels and positions).

    >>> x = torch.arange(8.0).view(2, 1, 2, 2)
    >>> image_correlation(x, 3 * x + 1), image_correlation(x, -x)
    (tensor([1., 1.]), tensor([-1., -1.]))
    """
    _check_images(x, "x")
    _check_images(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    u, v = x.flatten(1).double(), y.flatten(1).double()
    u, v = u - u.mean(1, keepdim=True), v - v.mean(1, keepdim=True)
    return ((u * v).sum(1) / (u.norm(dim=1) * v.norm(dim=1))).to(x.dtype)


def neighbour_correlation(x: Tensor) -> Tensor:
    """Per image, the Pearson correlation of each pixel with its right-hand neighbour (all channels, rows).

    About 0 for Gaussian noise; near 1 for a smooth image.

    >>> neighbour_correlation(torch.arange(16.0).view(1, 1, 4, 4))
    tensor([1.])
    """
    _check_images(x, "x")
    if x.shape[-1] < 2:
        raise ValueError(f"x must be at least 2 pixels wide, got shape {tuple(x.shape)}")
    return image_correlation(x[..., :-1], x[..., 1:])


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
    `inversion_psnr` (median dB), `samples` (the first 16 samples, for a figure), `readings`
    (`{"samples": ..., "renders": ...}`, the probe's readings, name -> `(n,)`). Which of these
    differences are detectable at this n: compare them with `null_quality(probe, n)`.
    """
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(n, *model.sample_shape, generator=g)
    samples = torch.cat([ddim_sample(model, x_T[i : i + batch], steps, progress=False)
                         for i in tqdm(range(0, n, batch), disable=not progress, desc="sampling")])
    renders, _ = render_faces(n, seed=seed + 1, size=model.sample_shape[-1])
    floor, _ = render_faces(n, seed=seed + 2, size=model.sample_shape[-1])
    ps, pr = probe(samples), probe(renders)
    ks = {k: ks_distance(ps[k], pr[k])[0] for k in ATTRIBUTES if k not in BINARY_ATTRIBUTES}
    fs, fr, ff = probe.features(samples), probe.features(renders), probe.features(floor)
    x0, _ = render_faces(n_invert, seed=seed + 3, size=model.sample_shape[-1])
    x_inv = torch.cat([ddim_invert(model, x0[i : i + batch], steps, progress=False) for i in range(0, n_invert, batch)])
    recon = torch.cat([ddim_sample(model, x_inv[i : i + batch], steps, clip=False, progress=False)
                       for i in range(0, n_invert, batch)])
    return {
        "ks": ks,
        "glasses_rate": (_glasses_rate(ps), _glasses_rate(pr)),
        "rerender_mse": (_rerender_mse(samples, probe), _rerender_mse(renders, probe)),
        "frechet": (frechet_distance(fs, fr), frechet_distance(ff, fr)),
        "inversion_psnr": psnr(recon, x0).median().item(),
        "samples": samples[:16],
        "readings": {"samples": ps, "renders": pr},
    }


def _glasses_rate(readings: dict[str, Tensor]) -> float:
    return (readings["glasses"] > 0.5).float().mean().item()


def _rerender_mse(x: Tensor, probe: Probe) -> float:
    """Median over the images of the per-pixel MSE between an image and its re-render."""
    return ((rerender(x, probe) - x) ** 2).flatten(1).mean(1).median().item()


@torch.no_grad()
def null_quality(
    probe: Probe, n: int = 64, *, repeats: int = 40, seed: int = 1000, size: int = 32, progress: bool = True,
) -> dict:
    """`model_quality`'s figures between two independent sets of `n` renders, `repeats` times.

    Both sets come from the faces world itself, so every difference here is chance: a model whose
    figure falls inside this spread has shown no detectable difference at this n. Pair r compares
    the render sets seeded `seed + 2r` and `seed + 2r + 1`.

    Keys (each a `(repeats,)` tensor): `ks` (name -> KS distance), `glasses_diff` (|rate_a - rate_b|),
    `rerender_ratio` (median re-render MSE of set a over that of set b), `frechet`.

    >>> from latentlab.probe import ProbeConfig
    >>> null = null_quality(Probe(ProbeConfig.tiny()), n=16, repeats=3, progress=False)
    >>> null["ks"]["smile"].shape, null["frechet"].shape
    (torch.Size([3]), torch.Size([3]))
    """
    from tqdm.auto import tqdm

    for name, v, low in (("n", n, 2), ("repeats", repeats, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    names = [k for k in ATTRIBUTES if k not in BINARY_ATTRIBUTES]
    ks: dict[str, list[float]] = {k: [] for k in names}
    glasses, ratio, frechet = [], [], []
    for r in tqdm(range(repeats), disable=not progress, desc="null pairs"):
        xa, _ = render_faces(n, seed=seed + 2 * r, size=size)
        xb, _ = render_faces(n, seed=seed + 2 * r + 1, size=size)
        pa, pb = probe(xa), probe(xb)
        for k in names:
            ks[k].append(ks_distance(pa[k], pb[k])[0])
        glasses.append(abs(_glasses_rate(pa) - _glasses_rate(pb)))
        ratio.append(_rerender_mse(xa, probe) / _rerender_mse(xb, probe))
        frechet.append(frechet_distance(probe.features(xa), probe.features(xb)))
    as_t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return {"ks": {k: as_t(v) for k, v in ks.items()}, "glasses_diff": as_t(glasses),
            "rerender_ratio": as_t(ratio), "frechet": as_t(frechet)}
