"""Measuring edits: what an edit does to the probe's attribute readings, to the pixels and to the
samples' distance from the faces manifold, and the slides' claims about h-space as numbers.

An edit is measured against the same samples without it (same x_T, same noise): `measure_edit`
samples both and `read_edit` reads them (call it alone for images edited some other way). It gives
per-sample attribute changes, the fraction of the samples that *can* move (a face with glasses
cannot gain them) that moved the right way, the spread, the pixel change (`pixel_change`), the
leakage into the other attributes (`leakage`) and the on-manifold error (the distance to the face
the renderer draws from the probe's reading, `quality.rerender`). Changes of different attributes
are compared in units of each attribute's range (`in_range_units`, `selectivity`,
`largest_changes`). The claims of Asyrp's slides become: homogeneity (`EditResult.right_way`),
linearity in the scale (`scaling_r2`), additivity (`additivity_error`). The statistical tests live
in `latentlab.stats`.

References
- Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space", ICLR: the
  homogeneity, linearity and additivity of h-space edits; the editing interval.
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the edit x_t + alpha v at one timestep (`edit_attributes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, check_goal
from .model import Model, check_x
from .probe import Probe, load_probe
from .quality import rerender

__all__ = ["EditResult", "read_edit", "measure_edit", "right_way", "pixel_change", "in_range_units", "leakage",
           "selectivity", "largest_changes", "scaling_r2", "scaling", "additivity_error", "asymmetry", "sweep",
           "edit_attributes", "on_manifold_error"]


def _threshold(attr: str) -> float:
    return 0.05 * ATTRIBUTES[attr].span  # 0.1 smile units: a change the probe (R^2 >= 0.986) reads reliably


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


def pixel_change(a: Tensor, b: Tensor) -> Tensor:
    """Per-image root-mean-square pixel difference `(N,)` between two image batches (pixels in [-1, 1]).

    >>> pixel_change(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5))
    tensor([0.5000, 0.5000])
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.shape != b.shape or a.dim() < 2:
        shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in (a, b)]
        raise ValueError(f"a and b must be image batches (N, ...) of the same shape, got {shapes[0]} and {shapes[1]}")
    return ((a - b) ** 2).flatten(1).mean(1).sqrt()


def _check_delta(delta: dict[str, Tensor], name: str = "delta") -> None:
    missing = [k for k in ATTRIBUTES if k not in getattr(delta, "keys", lambda: ())()]
    if missing:
        raise ValueError(f"{name} must map every attribute to its changes, missing {missing}")


def in_range_units(delta: dict[str, Tensor]) -> Tensor:
    """Every attribute's change as a fraction of its range (`Range.span`), stacked last in `ATTRIBUTES`
    order: `(..., n_attributes)` from `{name: (...)}`, so that all attributes count alike.

    >>> d = {a: torch.zeros(2) for a in ATTRIBUTES}; d["smile"] = torch.tensor([1.0, -2.0])
    >>> in_range_units(d)[:, :2]
    tensor([[ 0.5000,  0.0000],
            [-1.0000,  0.0000]])
    """
    _check_delta(delta)
    return torch.stack([delta[k] / r.span for k, r in ATTRIBUTES.items()], -1)


def leakage(delta: dict[str, Tensor], attr: str) -> Tensor:
    """Per sample, the mean |change| of every attribute but `attr`, each as a fraction of its range: `(N,)`.

    0 for an edit that changes nothing but its target; differentiable (an editor may train on it).

    >>> d = {a: torch.zeros(2) for a in ATTRIBUTES}; d["smile"] = torch.tensor([1.0, 1.0])
    >>> d["hair_color"] = torch.tensor([0.0, -0.5])
    >>> leakage(d, "smile"), leakage(d, "glasses")
    (tensor([0.0000, 0.0500]), tensor([0.0500, 0.1000]))
    """
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
    _check_delta(delta)
    return torch.stack([delta[k].abs() / r.span for k, r in ATTRIBUTES.items() if k != attr]).mean(0)


def selectivity(changes: Tensor, attr: str | None = None) -> Tensor:
    """The share of one attribute in an edit's whole change: `|c_attr| / sum_a |c_a|` over the last axis.

    1 when only that attribute moved, 1/11 = 0.09 when all eleven moved alike.

    Args:
        changes: `(..., n_attributes)` in range units and `ATTRIBUTES` order (`in_range_units`): one
            edit of one face per row, or an edit's mean |change| over its faces.
        attr: the attribute whose share is wanted; default the one that moved most.

    >>> selectivity(torch.tensor([[0.6, 0.2, 0.2] + [0.0] * 8, [0.1] * 11]))
    tensor([0.6000, 0.0909])
    """
    if not isinstance(changes, Tensor) or changes.dim() < 1 or changes.shape[-1] != len(ATTRIBUTES):
        shape = tuple(changes.shape) if isinstance(changes, Tensor) else type(changes).__name__
        raise ValueError(f"changes must be a tensor (..., {len(ATTRIBUTES)}) in ATTRIBUTES order, got {shape}")
    a = changes.abs()
    if attr is None:
        return a.amax(-1) / a.sum(-1)
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)} or None, got {attr!r}")
    return a[..., list(ATTRIBUTES).index(attr)] / a.sum(-1)


def largest_changes(readings: dict[str, Tensor], reference: int = 0, top: int = 3, exclude: Sequence[str] = ()
                    ) -> list[tuple[str, float]]:
    """The attributes that images move most: per attribute the largest |r - r[reference]| over the images,
    as a fraction of its range (`ATTRIBUTES`), signed as at that image; the `top` largest first.

    Args:
        readings: the probe's `{attribute: (N,)}` for N images (e.g. one strength sweep).
        reference: the index of the unedited image. top: how many attributes to return.
        exclude: attributes left out (e.g. the edit's target, printed on its own).

    >>> r = {a: torch.zeros(3) for a in ATTRIBUTES}
    >>> r["smile"], r["glasses"] = torch.tensor([-0.5, 0.0, 0.3]), torch.tensor([1.0, 1.0, 0.0])
    >>> largest_changes(r, reference=1, top=2)
    [('glasses', -1.0), ('smile', -0.25)]
    """
    missing = [a for a in ATTRIBUTES if a not in readings]
    if missing:
        raise ValueError(f"readings must hold every attribute, missing {missing}")
    changes = {}
    for a, rng in ATTRIBUTES.items():
        if a in exclude:
            continue
        r = torch.as_tensor(readings[a]).detach().double().flatten()
        if not 0 <= reference < len(r):
            raise ValueError(f"reference must index one of the {len(r)} images, got {reference}")
        d = (r - r[reference]) / rng.span
        changes[a] = d[d.abs().argmax()].item()
    return sorted(changes.items(), key=lambda kv: -abs(kv[1]))[:top]


@dataclass
class EditResult:
    """The measured effect of one edit on N samples (attribute units throughout; see `read_edit`)."""
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
        """Per other attribute, its mean |change| over the samples as a fraction of its range (the mean
        over these attributes is the samples' mean `leakage(delta, attr)`)."""
        return {k: float(d.abs().mean() / ATTRIBUTES[k].span) for k, d in self.delta.items() if k != self.attr}

    @property
    def pixel_change(self) -> float:
        """Mean over the samples of `pixel_change(x0_edit, x0)`, the RMS pixel change (pixels in [-1, 1])."""
        return float(pixel_change(self.x0_edit, self.x0).mean())

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
        return {k: (round(v, 6 if k.startswith("manifold") else 3) if isinstance(v, float) else v)
                for k, v in out.items()}


def _check_target(attr: str | None, goal: float | None) -> None:
    if (attr is None) != (goal is None):
        raise ValueError(f"attr and goal go together: give both or neither, got attr={attr!r}, goal={goal!r}")
    if attr is not None:
        check_goal(attr, goal)


@torch.no_grad()
def read_edit(x0: Tensor, x0_edit: Tensor, *, attr: str | None = None, goal: float | None = None,
              probe: Probe | None = None) -> EditResult:
    """Read edited images against the same images unedited: the probe's readings before and after,
    and the on-manifold error of both. Images edited any way (h-space, x-space, by hand) are read alike.

    Args:
        x0, x0_edit: `(N, C, H, W)` the unedited and the edited images, face i in both at index i.
        attr, goal: the target attribute and the value the edit pushes it towards (optional, together).
        probe: default `load_probe()`.

    Returns:
        `EditResult`: `.delta`, `.right_way`, `.change`, `.spread`, `.leakage()`, `.pixel_change`,
        `.manifold_before/after`, `.summary()`.

    >>> from latentlab.probe import ProbeConfig
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> r = read_edit(x, x + 0.1, attr="smile", goal=1.0, probe=Probe(ProbeConfig.tiny()))
    >>> round(r.pixel_change, 6), r.delta["smile"].shape
    (0.1, torch.Size([2]))
    """
    for name, v in (("x0", x0), ("x0_edit", x0_edit)):
        if not isinstance(v, Tensor) or v.dim() != 4:
            shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"{name} must be an image batch (N, C, H, W), got {shape}")
    if x0.shape != x0_edit.shape:
        raise ValueError(f"x0 and x0_edit must have the same shape, got {tuple(x0.shape)} and {tuple(x0_edit.shape)}")
    _check_target(attr, goal)
    probe = load_probe() if probe is None else probe
    before = {k: v.float() for k, v in probe(x0).items()}
    after = {k: v.float() for k, v in probe(x0_edit).items()}
    return EditResult(attr, None if goal is None else float(goal), before, after, x0, x0_edit,
                      on_manifold_error(x0, probe), on_manifold_error(x0_edit, probe))


@torch.no_grad()
def measure_edit(
    model: Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], *, attr: str | None = None,
    goal: float | None = None, steps: int = 20, t_edit: int = 0, t_boost: int = 0, asymmetric: bool = True,
    eta: float = 0.0, seed: int = 0, probe: Probe | None = None, base: Tensor | None = None, progress: bool = False,
) -> EditResult:
    """Sample `x_T` with and without the edit `dh` (same noise), then `read_edit` both.

    Args:
        x_T: `(N, C, H, W)` starting noise (or inverted faces).
        dh: the edit, as `ddim_sample` takes it (tensor or callable `(t, h) -> dh`). For images
            edited some other way (e.g. Park's x-space edits), call `read_edit` instead.
        attr, goal: the target attribute and the value the edit pushes it towards (optional).
        steps, t_edit, t_boost, asymmetric, eta: as in `ddim_sample`; `seed` draws the noise of
            eta > 0 identically for both runs.
        probe: default `load_probe()`. base: the unedited x_0, if already sampled.

    Returns:
        `read_edit(base, x0_edit, attr=attr, goal=goal, probe=probe)`.

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> m = tiny_model(sample_size=32); x_T = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> tiny_probe = Probe(ProbeConfig.tiny())
    >>> r = measure_edit(m, x_T, torch.zeros(m.h_shape), attr="smile", goal=1.0, steps=3, probe=tiny_probe)
    >>> r.pixel_change, r.right_way
    (0.0, 0.0)
    """
    x, _ = check_x(model, x_T, "x_T")
    if not (isinstance(dh, Tensor) or callable(dh)):
        raise TypeError(f"dh must be a tensor or a callable (t, h) -> dh, got {type(dh).__name__}; "
                         "to read images edited some other way, use read_edit(x0, x0_edit)")
    _check_target(attr, goal)  # before sampling: a typo should not cost two sampler runs
    kw = dict(steps=steps, eta=eta, t_boost=t_boost, progress=progress)
    if base is None:
        base = ddim_sample(model, x, generator=torch.Generator(x.device).manual_seed(seed), **kw)
    elif base.shape != x.shape:
        raise ValueError(f"base must have the shape of x_T {tuple(x.shape)}, got {tuple(base.shape)}")
    x0_edit = ddim_sample(model, x, generator=torch.Generator(x.device).manual_seed(seed), dh=dh,
                          t_edit=t_edit, asymmetric=asymmetric, **kw)
    return read_edit(base, x0_edit, attr=attr, goal=goal, probe=probe)


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
        _check_delta(d, name)
    A, B, AB = (in_range_units(d).double() for d in (delta_a, delta_b, delta_ab))
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
    xb, single = check_x(model, x_t)
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
    for name, rng in ATTRIBUTES.items():
        d = ((readings[name][1:] - readings[name][0]) / rng.span).reshape(k, a)
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
    x, _ = check_x(model, x_T, "x_T")
    base = options.pop("base", None)
    if base is None:
        base = ddim_sample(model, x, options.get("steps", 20), eta=options.get("eta", 0.0),
                           t_boost=options.get("t_boost", 0), progress=False,
                           generator=torch.Generator(x.device).manual_seed(options.get("seed", 0)))
    results = []
    for c in _bar(scales, progress, "scales"):
        if c == 0:  # the unedited run itself
            results.append(read_edit(base, base, attr=attr, goal=goal, probe=probe))
            continue
        d = (lambda t, h, c=c: c * dh(t, h)) if callable(dh) else c * dh
        results.append(measure_edit(model, x, d, attr=attr, goal=goal, probe=probe, base=base, **options))
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
    x, _ = check_x(model, x_T, "x_T")
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
    x, _ = check_x(model, x_T, "x_T")
    rows, bases = [], {}
    if options.get("base") is not None:  # the unedited samples as given, for the t_boost they were sampled with
        bases[options.get("t_boost", 0)] = options["base"]
    options.pop("base", None)
    for v in _bar(list(values), progress, name):
        opts = options | {name: int(v)}
        key = opts.get("t_boost", 0)  # the unedited samples depend on t_boost, not on t_edit
        if key not in bases:
            g = torch.Generator(x.device).manual_seed(opts.get("seed", 0))
            bases[key] = ddim_sample(model, x, opts.get("steps", 20), eta=opts.get("eta", 0.0), t_boost=key,
                                     progress=False, generator=g)
        r = measure_edit(model, x, dh, attr=attr, goal=goal, probe=probe, base=bases[key], **opts)
        rows.append({name: int(v), **r.summary()})
    return rows

