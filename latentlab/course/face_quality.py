"""The faces model's quality, one face per row: what lecture 02 and its lab state about the model.

Each face gets its own seed, so a row is a deterministic function of (model, probe, seed) and one row
can be re-run alone and compared with the shipped run (`latentlab.course.runs.same_row`):

- `sample_faces`: DDIM samples, the noise of face `s` drawn from `torch.Generator().manual_seed(s)`;
- `render_by_seed`: renders of the faces world, face `s` being `render_faces(1, seed=s)`;
- `face_rows`: per image, the probe's reading of every attribute and the re-render error (the
  per-pixel MSE between the image and the render of the attributes the probe reads off it);
- `inversion_rows`: per image, the PSNR of the DDIM inversion round trip;
- `quality_summary`: the headline figures from such rows (KS distance per attribute between samples
  and renders, glasses rates, median re-render errors, median round-trip PSNR);
- `ks_tests` and `null_false_alarms`: which of those differences are detectable at the run's size,
  one attribute at a time and as a family (rows of kind "null": the same figures between two
  independent sets of renders, `latentlab.quality.null_quality`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from latentlab.ddim import ddim_invert, ddim_sample
from latentlab.faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from latentlab.model import Model
from latentlab.probe import Probe
from latentlab.quality import psnr, rerender
from latentlab.stats import ks_critical_value, ks_distance

__all__ = ["sample_faces", "render_by_seed", "face_rows", "inversion_rows", "quality_summary", "ks_tests",
           "null_false_alarms"]


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of non-negative ints, got {seeds!r}")
    return list(seeds)


def _check_batch(batch: Any) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    return batch


@torch.no_grad()
def sample_faces(model: Model, seeds: Sequence[int], *, steps: int = 50, batch: int = 64,
                 progress: bool = True) -> Tensor:
    """Deterministic DDIM samples (Song et al. 2021, Eq. 12 with eta = 0), one per seed.

    Face `s` starts from `torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(s))`,
    so a face is the same whichever other seeds share its batch (up to float32 round-off).

    >>> import latentlab as ll
    >>> tuple(sample_faces(ll.tiny_model(), [0, 1], steps=2, progress=False).shape)
    (2, 3, 16, 16)
    """
    from tqdm.auto import tqdm

    seeds, batch = _check_seeds(seeds), _check_batch(batch)
    x_T = torch.stack([torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(s)) for s in seeds])
    return torch.cat([ddim_sample(model, x_T[i:i + batch], steps, progress=False)
                      for i in tqdm(range(0, len(seeds), batch), disable=not progress, desc="sampling")])


def render_by_seed(seeds: Sequence[int], *, size: int = 32) -> Tensor:
    """Faces of the faces world, face `s` being `render_faces(1, seed=s)`: `(len(seeds), 3, size, size)`.

    >>> tuple(render_by_seed([4, 5]).shape)
    (2, 3, 32, 32)
    """
    return torch.cat([render_faces(1, seed=s, size=size)[0] for s in _check_seeds(seeds)])


@torch.no_grad()
def face_rows(images: Tensor, probe: Probe, *, kind: str, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One row per image: `kind`, `seed`, the probe's reading of each attribute (glasses: its
    probability) and `rerender_mse`, the per-pixel MSE between the image and its re-render.

    >>> from latentlab.probe import ProbeConfig
    >>> rows = face_rows(render_by_seed([0, 1]), Probe(ProbeConfig.tiny()), kind="render", seeds=[0, 1])
    >>> len(rows), sorted(rows[0])[:3]
    (2, ['background', 'eye_size', 'face_size'])
    """
    seeds = _check_seeds(seeds)
    if not isinstance(images, Tensor) or images.dim() != 4 or len(images) != len(seeds):
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor (n, 3, H, W) with one image per seed ({len(seeds)}), got {shape}")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string naming the set (e.g. 'sample'), got {kind!r}")
    readings = probe(images)
    mse = ((rerender(images, probe) - images) ** 2).flatten(1).mean(1)
    return [{"kind": kind, "seed": s, **{k: float(readings[k][i]) for k in ATTRIBUTES},
             "rerender_mse": float(mse[i])} for i, s in enumerate(seeds)]


@torch.no_grad()
def inversion_rows(model: Model, images: Tensor, seeds: Sequence[int], *, steps: int = 50, batch: int = 64,
                   progress: bool = True) -> list[dict[str, Any]]:
    """One row per image: the PSNR (dB) of `ddim_sample(ddim_invert(x0), clip=False)` against `x0`
    (DDIM inversion, Song et al. 2021, Sec. 4.3), with `kind` "inversion" and the image's `seed`.

    >>> import latentlab as ll
    >>> x0 = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    >>> inversion_rows(ll.tiny_model(), x0, [0], steps=2, progress=False)[0]["kind"]
    'inversion'
    """
    from tqdm.auto import tqdm

    seeds, batch = _check_seeds(seeds), _check_batch(batch)
    if not isinstance(images, Tensor) or images.dim() != 4 or len(images) != len(seeds):
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor (n, 3, H, W) with one image per seed ({len(seeds)}), got {shape}")
    out = []
    for i in tqdm(range(0, len(seeds), batch), disable=not progress, desc="inversion"):
        x0 = images[i:i + batch]
        recon = ddim_sample(model, ddim_invert(model, x0, steps, progress=False), steps, clip=False, progress=False)
        out += [{"kind": "inversion", "seed": s, "psnr": float(p)} for s, p in zip(seeds[i:i + batch], psnr(recon, x0))]
    return out


def _column(rows: Sequence[Mapping[str, Any]], kind: str, key: str) -> Tensor:
    return torch.tensor([float(r[key]) for r in rows if r.get("kind") == kind], dtype=torch.float64)


def quality_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The headline figures of rows from `face_rows` (kinds "sample" and "render") and, if present,
    `inversion_rows`.

    Keys: `n_samples`, `n_renders`, `ks` (attribute -> two-sample Kolmogorov-Smirnov distance of the
    probe's readings, samples against renders), `glasses_rate` (samples, renders: share read above
    0.5), `rerender_mse` (median, samples and renders), `rerender_ratio`, and `inversion_psnr`
    (median dB, or None without inversion rows).

    >>> rows = [{"kind": k, **{a: float(i) for a in ATTRIBUTES}, "rerender_mse": 1.0}
    ...         for k in ("sample", "render") for i in range(4)]
    >>> s = quality_summary(rows); s["ks"]["smile"], s["rerender_ratio"]
    (0.0, 1.0)
    """
    kinds = {r.get("kind") for r in rows}
    if not {"sample", "render"} <= kinds:
        raise ValueError(f"rows must hold face_rows of kind 'sample' and 'render', got kinds {sorted(map(str, kinds))}")
    ks = {k: ks_distance(_column(rows, "sample", k), _column(rows, "render", k))[0]
          for k in ATTRIBUTES if k not in BINARY_ATTRIBUTES}
    rates = tuple(float((_column(rows, kind, "glasses") > 0.5).double().mean()) for kind in ("sample", "render"))
    ms, mr = (float(_column(rows, kind, "rerender_mse").quantile(0.5)) for kind in ("sample", "render"))
    inv = _column(rows, "inversion", "psnr")
    return {"n_samples": len(_column(rows, "sample", "rerender_mse")),
            "n_renders": len(_column(rows, "render", "rerender_mse")),
            "ks": ks, "glasses_rate": rates, "rerender_mse": (ms, mr), "rerender_ratio": ms / mr,
            "inversion_psnr": float(inv.quantile(0.5)) if len(inv) else None}


def _null_column(rows: Sequence[Mapping[str, Any]], key: str) -> Tensor:
    return torch.tensor([float(r[key]) for r in rows if r.get("kind") == "null"], dtype=torch.float64)


def ks_tests(rows: Sequence[Mapping[str, Any]], *, alpha: float = 0.05, family: int = 11) -> list[dict[str, Any]]:
    """Per continuous attribute, the KS distance of samples against renders and the critical values
    it is tested against: at `alpha` alone, and at `alpha / family` (Bonferroni: `family` tests, the
    10 KS distances and the glasses rate, with at most `alpha` chance of any false alarm). With rows of
    kind "null", also the null runs' 95th percentile of that attribute's distance.

    >>> rows = [{"kind": k, **{a: float(i + (k == "sample")) for a in ATTRIBUTES}, "rerender_mse": 1.0}
    ...         for k in ("sample", "render") for i in range(64)]
    >>> t = ks_tests(rows)[0]; t["attr"], round(t["ks"], 3), round(t["critical"], 3)
    ('smile', 0.016, 0.24)
    """
    if isinstance(family, bool) or not isinstance(family, int) or family < 1:
        raise ValueError(f"family must be a positive int (the number of tests), got {family!r}")
    s = quality_summary(rows)
    n, m = s["n_samples"], s["n_renders"]
    crit, crit_family = ks_critical_value(n, m, alpha), ks_critical_value(n, m, alpha / family)
    out = []
    for k, d in s["ks"].items():
        row = {"attr": k, "ks": d, "critical": crit, "critical_family": crit_family, "detectable": d > crit_family}
        null = _null_column(rows, f"ks_{k}")
        if len(null):
            row["null_q95"] = float(null.quantile(0.95))
        out.append(row)
    return out


def null_false_alarms(rows: Sequence[Mapping[str, Any]], ks_critical: float,
                      glasses_critical: float) -> tuple[int, int]:
    """How many null runs (rows of kind "null") raise at least one alarm in the family: some attribute's
    KS distance above `ks_critical` or the glasses-rate difference above `glasses_critical`; and how
    many null runs there are.

    >>> rows = [{"kind": "null", "ks_smile": 0.3, "glasses_diff": 0.0}, {"kind": "null", "ks_smile": 0.1,
    ...         "glasses_diff": 0.0}]
    >>> null_false_alarms(rows, 0.24, 0.2)
    (1, 2)
    """
    null = [r for r in rows if r.get("kind") == "null"]
    if not null:
        raise ValueError("rows must hold null runs (kind 'null', from latentlab.quality.null_quality)")
    alarms = sum(any(float(v) > ks_critical for k, v in r.items() if k.startswith("ks_"))
                 or float(r["glasses_diff"]) > glasses_critical for r in null)
    return alarms, len(null)

