"""Measuring edits: what an edit does to the probe's attribute readings, to the pixels and to the
samples' distance from the faces manifold, and the slides' claims about h-space as numbers.

An edit is measured against the same samples without it (same x_T, same noise): `measure_edit`
gives per-sample attribute changes, the fraction of the samples that *can* move (a face with glasses
cannot gain them) that moved the right way, the spread, the pixel change and the on-manifold error
(the distance to the face the renderer draws from the probe's reading, `quality.rerender`). The
claims of Asyrp's slides become: homogeneity (`EditResult.right_way`), linearity in the scale
(`scaling_r2`), additivity (`additivity_error`).

References
- Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space", ICLR: the
  homogeneity, linearity and additivity of h-space edits; the editing interval.
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the edit x_t + alpha v at one timestep (`edit_attributes`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, check_goal
from .model import Model, _check_x
from .probe import Probe, load_probe
from .quality import rerender

__all__ = ["EditResult", "measure_edit", "right_way", "scaling_r2", "scaling", "additivity_error", "asymmetry", "sweep",
           "edit_attributes", "on_manifold_error", "mcnemar"]


def _threshold(attr: str) -> float:
    lo, hi = ATTRIBUTES[attr]
    return 0.05 * (hi - lo)  # 0.1 smile units: a change the probe (R^2 >= 0.986) reads reliably


def right_way(before: Tensor, after: Tensor, attr: str, goal: float, threshold: float | None = None
              ) -> tuple[Tensor, Tensor]:
    """Which samples can move towards `goal`, and which of those moved there.

    A binary attribute (glasses) can move when the probe reads it on the other side of 0.5 from the
    goal, and moved when it crossed 0.5. A continuous one can move when it is more than `threshold`
    (default 5 % of the range) from the goal, and moved when it came `threshold` closer.

    Returns:
        `(movable, moved)`: boolean `(N,)` tensors, `moved` only true where `movable` is.

    >>> right_way(torch.tensor([0.0, 0.5, 0.97]), torch.tensor([0.2, 0.4, 1.0]), "hair_color", 1.0)
    (tensor([ True,  True, False]), tensor([ True, False, False]))
    """
    check_goal(attr, goal)
    if attr in BINARY_ATTRIBUTES:
        movable = (before > 0.5) != (goal > 0.5)
        moved = movable & ((after > 0.5) == (goal > 0.5))
        return movable, moved
    thr = _threshold(attr) if threshold is None else threshold
    sign = torch.sign(goal - before)
    movable = (goal - before).abs() > thr
    moved = movable & ((after - before) * sign > thr)
    return movable, moved


def on_manifold_error(images: Tensor, probe: Probe) -> Tensor:
    """Per-image MSE to the face the renderer draws from the probe's reading of it (`(N,)`)."""
    return ((images - rerender(images, probe)) ** 2).flatten(1).mean(1)


@dataclass
class EditResult:
    """The measured effect of one edit on N samples (attribute units throughout; see `measure_edit`)."""
    attr: str | None
    goal: float | None
    before: dict[str, Tensor]
    after: dict[str, Tensor]
    x0: Tensor = field(repr=False)
    x0_edit: Tensor = field(repr=False)
    manifold_before: Tensor = field(repr=False)
    manifold_after: Tensor = field(repr=False)

    @property
    def delta(self) -> dict[str, Tensor]:
        """after - before, per attribute, `(N,)`."""
        return {k: self.after[k] - self.before[k] for k in self.before}

    def _target(self) -> tuple[Tensor, Tensor]:
        if self.attr is None:
            raise ValueError("this edit was measured without attr/goal, so it has no right way")
        return right_way(self.before[self.attr], self.after[self.attr], self.attr, self.goal)

    @property
    def n_movable(self) -> int:
        return int(self._target()[0].sum())

    @property
    def right_way(self) -> float:
        """Fraction of the movable samples that moved towards the goal (NaN if none can move)."""
        movable, moved = self._target()
        return float(moved.sum() / movable.sum()) if movable.any() else float("nan")

    @property
    def change(self) -> float:
        """Mean change of the target attribute over the movable samples, signed towards the goal."""
        movable, _ = self._target()
        sign = torch.sign(torch.as_tensor(self.goal) - self.before[self.attr])
        return float((self.delta[self.attr] * sign)[movable].mean()) if movable.any() else float("nan")

    @property
    def spread(self) -> float:
        """Standard deviation of the target attribute's change over the movable samples."""
        movable, _ = self._target()
        return float(self.delta[self.attr][movable].std()) if movable.sum() > 1 else float("nan")

    def leakage(self) -> dict[str, float]:
        """Mean |change| of every other attribute, as a fraction of its range."""
        return {k: float(d.abs().mean() / (ATTRIBUTES[k].high - ATTRIBUTES[k].low))
                for k, d in self.delta.items() if k != self.attr}

    @property
    def pixel_change(self) -> float:
        """Root-mean-square pixel difference between edited and unedited samples (pixels in [-1, 1])."""
        return float(((self.x0_edit - self.x0) ** 2).flatten(1).mean(1).sqrt().mean())

    def summary(self) -> dict[str, float]:
        """The headline numbers, rounded: right way, change, spread, worst leakage, pixels, manifold."""
        out = {}
        if self.attr is not None:
            leak = self.leakage()
            worst = max(leak, key=leak.get)
            out |= {"n_movable": self.n_movable, "right_way": self.right_way, "change": self.change,
                    "spread": self.spread, "worst_leak": leak[worst], "worst_leak_attr": worst}
        out |= {"pixel_change": self.pixel_change, "manifold_before": float(self.manifold_before.median()),
                "manifold_after": float(self.manifold_after.median())}
        # the on-manifold errors are ~1e-3: keep three significant digits, not three decimals
        return {k: (round(v, 6 if k.startswith("manifold") else 3) if isinstance(v, float) else v) for k, v in out.items()}


@torch.no_grad()
def measure_edit(
    model: Model, x_T: Tensor | None, dh: Tensor | Callable[[int, Tensor], Tensor] | None, *, attr: str | None = None,
    goal: float | None = None, steps: int = 20, t_edit: int = 0, t_boost: int = 0, asymmetric: bool = True,
    eta: float = 0.0, seed: int = 0, probe: Probe | None = None, base: Tensor | None = None,
    x0_edit: Tensor | None = None, progress: bool = False,
) -> EditResult:
    """Sample `x_T` with and without the edit `dh` (same noise) and read both with the probe.

    Args:
        x_T: `(N, C, H, W)` starting noise (or inverted faces); None when `base` and `x0_edit` are
            both given (images edited some other way: only the probe runs).
        dh: the edit, as `ddim_sample` takes it (tensor or callable `(t, h) -> dh`); `None` with
            `x0_edit` measures images edited some other way (e.g. Park's x-space edits).
        attr, goal: the target attribute and the value the edit pushes it towards (optional).
        steps, t_edit, t_boost, asymmetric, eta: as in `ddim_sample`; `seed` draws the noise of
            eta > 0 identically for both runs.
        probe: default `load_probe()`. base: the unedited x_0, if already sampled.

    Returns:
        `EditResult`: `.delta`, `.right_way`, `.change`, `.spread`, `.leakage()`, `.pixel_change`,
        `.manifold_before/after`, `.summary()`.

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> m = tiny_model(sample_size=32); x_T = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> r = measure_edit(m, x_T, torch.zeros(m.h_shape), attr="smile", goal=1.0, steps=3, probe=Probe(ProbeConfig.tiny()))
    >>> r.pixel_change, r.right_way
    (0.0, 0.0)
    """
    if x_T is None:
        if base is None or x0_edit is None:
            raise ValueError("x_T may be None only when base and x0_edit are both given")
        x = base
    else:
        x, single = _check_x(model, x_T, "x_T")
    if (attr is None) != (goal is None):
        raise ValueError(f"attr and goal go together: give both or neither, got attr={attr!r}, goal={goal!r}")
    if attr is not None:
        check_goal(attr, goal)
    probe = load_probe() if probe is None else probe
    kw = dict(steps=steps, eta=eta, t_boost=t_boost, progress=progress)
    if base is None:
        base = ddim_sample(model, x, generator=torch.Generator(x.device).manual_seed(seed), **kw)
    if x0_edit is None:
        if dh is None:
            raise ValueError("dh must be a tensor or a callable (t, h) -> dh, or give x0_edit; got neither")
        x0_edit = ddim_sample(model, x, generator=torch.Generator(x.device).manual_seed(seed), dh=dh,
                              t_edit=t_edit, asymmetric=asymmetric, **kw)
    if base.shape != x.shape or x0_edit.shape != x.shape:
        raise ValueError(f"base and x0_edit must have the shape of x_T {tuple(x.shape)}, got "
                         f"{tuple(base.shape)} and {tuple(x0_edit.shape)}")
    before = {k: v.float() for k, v in probe(base).items()}
    after = {k: v.float() for k, v in probe(x0_edit).items()}
    return EditResult(attr, None if goal is None else float(goal), before, after, base, x0_edit,
                      on_manifold_error(base, probe), on_manifold_error(x0_edit, probe))


def scaling_r2(scales: Sequence[float] | Tensor, changes: Sequence[float] | Tensor) -> float:
    """R^2 of the least-squares line through `(scale, change)` pairs: 1 for a change linear in the scale.

    >>> scaling_r2([0, 1, 2, 3], [0.0, 0.2, 0.4, 0.6])
    1.0
    """
    c = torch.as_tensor(scales, dtype=torch.float64).flatten()
    y = torch.as_tensor(changes, dtype=torch.float64).flatten()
    if len(c) != len(y) or len(c) < 3:
        raise ValueError(f"scales and changes must have the same length, at least 3, got {len(c)} and {len(y)}")
    if (c == c[0]).all():
        raise ValueError("scales must not all be equal")
    A = torch.stack([c, torch.ones_like(c)], 1)
    fit = A @ torch.linalg.lstsq(A, y[:, None]).solution
    ss_tot = ((y - y.mean()) ** 2).sum()
    if ss_tot == 0:
        return float("nan")
    return round(float(1 - ((y[:, None] - fit) ** 2).sum() / ss_tot), 12)


def _attribute_matrix(delta: dict[str, Tensor]) -> Tensor:
    """(N, A) changes, each attribute divided by its range, so that all count alike."""
    return torch.stack([delta[k] / (hi - lo) for k, (lo, hi) in ATTRIBUTES.items()], 1).double()


def additivity_error(delta_a: dict[str, Tensor], delta_b: dict[str, Tensor], delta_ab: dict[str, Tensor]) -> float:
    """`|D_ab - (D_a + D_b)| / |D_a + D_b|` over samples and attributes (each in units of its range).

    0 when the two edits together change every attribute of every sample by the sum of what each
    does alone.

    >>> a = {k: torch.zeros(2) for k in ATTRIBUTES}; b = dict(a); ab = dict(a)
    >>> a["smile"] = torch.tensor([0.2, 0.4]); b["glasses"] = torch.tensor([1.0, 1.0])
    >>> ab["smile"] = torch.tensor([0.2, 0.4]); ab["glasses"] = torch.tensor([1.0, 1.0])
    >>> additivity_error(a, b, ab)
    0.0
    """
    for name, d in (("delta_a", delta_a), ("delta_b", delta_b), ("delta_ab", delta_ab)):
        missing = set(ATTRIBUTES) - set(d)
        if missing:
            raise ValueError(f"{name} must hold every attribute, missing {sorted(missing)}")
    A, B, AB = map(_attribute_matrix, (delta_a, delta_b, delta_ab))
    if not A.shape == B.shape == AB.shape:
        raise ValueError(f"the three deltas must cover the same samples, got {A.shape[0]}, {B.shape[0]}, {AB.shape[0]}")
    denom = (A + B).norm()
    if denom == 0:
        raise ValueError("the two edits change nothing, so additivity is undefined")
    return float((AB - A - B).norm() / denom)


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


def scaling(model: Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], scales: Sequence[float], *,
            attr: str, goal: float, probe: Probe | None = None, progress: bool = True, **options) -> dict:
    """The linearity claim: the target attribute's mean change at each scale c of `c * dh`, and its R^2.

    Args:
        scales: c values, e.g. `[0, 0.5, 1, 1.5, 2]`; `options` go to `measure_edit` (steps, t_edit, ...).

    Returns:
        `{"scales", "change", "right_way", "r2", "results"}`: `change[i]` is the target's change at
        `scales[i]`, signed towards the goal and averaged over the samples that can move (fixed by the
        unedited samples, so every scale averages over the same faces); `r2` is `scaling_r2(scales, change)`.
    """
    scales = [float(c) for c in scales]
    if len(scales) < 3:
        raise ValueError(f"scales must hold at least 3 values, got {scales}")
    probe = load_probe() if probe is None else probe
    x, _ = _check_x(model, x_T, "x_T")
    base = options.pop("base", None)
    if base is None:
        base = ddim_sample(model, x, options.get("steps", 20), eta=options.get("eta", 0.0),
                           t_boost=options.get("t_boost", 0), progress=False,
                           generator=torch.Generator(x.device).manual_seed(options.get("seed", 0)))
    results = []
    for c in _bar(scales, progress, "scales"):
        d = (lambda t, h, c=c: c * dh(t, h)) if callable(dh) else c * dh
        edited = base if c == 0 else None  # c = 0 is the unedited run itself
        results.append(measure_edit(model, x, d, attr=attr, goal=goal, probe=probe, base=base, x0_edit=edited, **options))
    # the change of every sample that can move at all, signed towards the goal, averaged: one number per scale
    sign = torch.sign(torch.as_tensor(goal) - results[0].before[attr])
    movable = right_way(results[0].before[attr], results[0].before[attr], attr, goal)[0]
    change = [float((r.delta[attr] * sign)[movable].mean()) for r in results]
    return {"scales": scales, "change": change, "right_way": [r.right_way for r in results],
            "r2": scaling_r2(scales, change), "results": results}


def _bar(items, progress: bool, desc: str):
    from tqdm.auto import tqdm
    return tqdm(items, disable=not progress, leave=False, desc=desc)


def asymmetry(model: Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], *, attr: str, goal: float,
              probe: Probe | None = None, **options) -> dict:
    """"Why asymmetric" (Kwon et al. 2023, Sec. 3.1): the same dh in both P_t and D_t against P_t only.

    Returns:
        `{"asymmetric": EditResult, "symmetric": EditResult, "change_ratio": symmetric / asymmetric change of
        the target, "pixel_ratio": the same for the pixel change}`.
    """
    probe = load_probe() if probe is None else probe
    x, _ = _check_x(model, x_T, "x_T")
    base = options.pop("base", None)
    asym = measure_edit(model, x, dh, attr=attr, goal=goal, probe=probe, asymmetric=True, base=base, **options)
    sym = measure_edit(model, x, dh, attr=attr, goal=goal, probe=probe, asymmetric=False, base=asym.x0, **options)
    return {"asymmetric": asym, "symmetric": sym, "change_ratio": sym.change / asym.change,
            "pixel_ratio": sym.pixel_change / asym.pixel_change}


def sweep(model: Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], name: str, values: Sequence[int],
          *, attr: str, goal: float, probe: Probe | None = None, progress: bool = True, **options) -> list[dict]:
    """Edit strength and on-manifold error against one sampler setting (`name` = "t_edit" or "t_boost").

    Returns one row per value: `{name: value, **EditResult.summary()}`.
    """
    if name not in ("t_edit", "t_boost"):
        raise ValueError(f"name must be 't_edit' or 't_boost', got {name!r}")
    probe = load_probe() if probe is None else probe
    x, _ = _check_x(model, x_T, "x_T")
    rows, bases = [], {}
    if options.get("base") is not None:  # the unedited samples as given, for the t_boost they were sampled with
        bases[options.get("t_boost", 0)] = options["base"]
    options.pop("base", None)
    for v in _bar(list(values), progress, name):
        opts = options | {name: int(v)}
        key = opts.get("t_boost", 0)  # the unedited samples depend on t_boost, not on t_edit
        if key not in bases:
            bases[key] = ddim_sample(model, x, opts.get("steps", 20), eta=opts.get("eta", 0.0), t_boost=key,
                                     progress=False, generator=torch.Generator(x.device).manual_seed(opts.get("seed", 0)))
        r = measure_edit(model, x, dh, attr=attr, goal=goal, probe=probe, base=bases[key], **opts)
        rows.append({name: int(v), **r.summary()})
    return rows


def mcnemar(ok_a: Tensor, ok_b: Tensor) -> float:
    """Exact two-sided McNemar test of two edits on the same faces: the p-value of the faces only `a`
    moved against those only `b` moved (a binomial test at 1/2 on the discordant pairs; 1 if none).

    >>> mcnemar(torch.tensor([True] * 5 + [False]), torch.tensor([False] * 6))
    0.0625
    """
    from scipy.stats import binomtest  # scipy comes with scikit-learn
    ok_a, ok_b = torch.as_tensor(ok_a).bool(), torch.as_tensor(ok_b).bool()
    if ok_a.shape != ok_b.shape or ok_a.dim() != 1:
        raise ValueError(f"ok_a and ok_b must be boolean (N,) tensors of the same faces, got {tuple(ok_a.shape)} and {tuple(ok_b.shape)}")
    a, b = int((ok_a & ~ok_b).sum()), int((ok_b & ~ok_a).sum())
    return float(binomtest(a, a + b, 0.5).pvalue) if a + b else 1.0
