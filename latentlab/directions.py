"""Directions in h-space, and the sampler's own h along its trajectories.

A direction enters `ddim_sample(dh=...)` either as one tensor of h's shape (the same at every step)
or as a callable `(t, h) -> dh`. Here: the h of whole DDIM trajectories (`h_trajectory`), the
supervised mean difference (`mean_difference`, Haas et al.'s supervised direction; Asyrp's "global
dh" is the same kind of object), a ground-truth direction from renders that differ in one
attribute only (`paired_direction`), and `StepDirection`, a per-timestep direction that works on any
DDIM grid. Learned directions (Asyrp's editors) live in `asyrp.py`.

References
- Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space", ICLR: h-space,
  global and per-timestep dh.
- Haas et al. (2024), "Discovering Interpretable Directions in the Semantic Latent Space of
  Diffusion Models", FG: supervised directions as mean differences of h, per timestep.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .ddim import ddim_sample, ddim_timesteps
from .faces import ATTRIBUTES, BINARY_ATTRIBUTES, render_faces
from .hspace import h_of
from .model import Model, check_x
from .scale import gather, shard, world

__all__ = ["HTrajectory", "h_trajectory", "mean_difference", "StepDirection", "paired_direction", "combine",
           "interpolate_timesteps", "random_direction"]


class HTrajectory(NamedTuple):
    """The sampler's own h: `h` is `(N, S, *h_shape)` at the `S` timesteps (descending) of the grid."""
    timesteps: Tensor
    h: Tensor
    x0: Tensor


@torch.no_grad()
def h_trajectory(model: Model, x_T: Tensor, steps: int = 20, *, batch_size: int = 64, progress: bool = True,
                 **sample_options) -> HTrajectory:
    """Run plain DDIM from `x_T` and keep h at every step (the unedited h the sampler saw).

    Under `accelerate launch` on several processes, each samples its contiguous share of `x_T` and
    every process gets the whole trajectory set, in order (`scale.py`); deterministic DDIM only.

    Args:
        x_T: `(N, C, H, W)` starting noise.
        steps: DDIM steps. `sample_options` go to `ddim_sample` (eta, generator, clip, ...).
        batch_size: samples per sampler call.

    Returns:
        `HTrajectory(timesteps (S,), h (N, S, *h_shape), x0 (N, C, H, W))`.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x_T = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> tr = h_trajectory(m, x_T, 4, progress=False)
    >>> tr.timesteps.tolist(), tuple(tr.h.shape), tuple(tr.x0.shape)
    ([750, 500, 250, 0], (3, 4, 16, 8, 8), (3, 3, 16, 16))
    """
    xb, single = check_x(model, x_T, "x_T")
    if single:
        xb = xb[:1]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    n, (rank, size) = len(xb), world()
    if size > 1:  # data-parallel (scale.py): each process samples its share, all get the whole, in order
        if sample_options.get("eta", 0) or sample_options.get("t_boost", 0):
            raise ValueError("h_trajectory runs on several processes only with deterministic DDIM (eta = 0, "
                             f"t_boost = 0): the noise drawn would depend on the sharding; got eta="
                             f"{sample_options.get('eta', 0)!r}, t_boost={sample_options.get('t_boost', 0)!r}")
        if n < size:
            raise ValueError(f"x_T holds {n} samples for {size} processes; give at least one per process")
        xb = shard(xb)
    progress = progress and rank == 0
    hs, x0s = [], []
    chunks = tqdm(range(0, len(xb), batch_size), disable=not progress or len(xb) <= batch_size, leave=False,
                  desc="trajectories")
    for i in chunks:
        rec: list[Tensor] = []
        x0s.append(ddim_sample(model, xb[i:i + batch_size], steps, callback=lambda d: rec.append(d["h"]),
                               progress=progress and len(xb) <= batch_size, **sample_options))
        hs.append(torch.stack(rec, 1))
    return HTrajectory(ddim_timesteps(model, steps), gather(torch.cat(hs), n), gather(torch.cat(x0s), n))


def mean_difference(h: Tensor, labels: Tensor | Sequence[bool]) -> Tensor:
    """Mean of `h` where `labels` is true minus the mean over the rest (Haas et al., supervised; not normalised).

    Args:
        h: `(N, ...)`, e.g. `(N, *h_shape)` at one timestep or `(N, S, *h_shape)` from `h_trajectory`.
        labels: `(N,)` booleans (or 0/1); both classes must occur.

    Returns:
        `h.shape[1:]`: one h's shape (or one per timestep).

    >>> h = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    >>> mean_difference(h, [True, True, False])
    tensor([ 2., -2.])
    """
    if not isinstance(h, Tensor) or h.dim() < 2:
        raise ValueError(f"h must be a tensor (N, ...) with N samples on axis 0, got "
                         f"{tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__}")
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or len(labels) != len(h):
        raise ValueError(f"labels must have shape ({len(h)},), one per sample of h, got {tuple(labels.shape)}")
    if labels.dtype != torch.bool:
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError(f"labels must be booleans or 0/1, got values {labels.unique().tolist()[:5]}")
        labels = labels.bool()
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == len(labels):
        raise ValueError(f"labels must contain both classes, got {n_pos} true of {len(labels)}")
    labels = labels.to(h.device)
    return h[labels].mean(0) - h[~labels].mean(0)


def interpolate_timesteps(timesteps: Tensor, values: Tensor, t: int | float) -> Tensor:
    """`values` (S, ...) given at `timesteps` (S,), linearly interpolated at t, held constant outside:
    how a per-timestep direction or editor found on one DDIM grid serves any other.

    >>> interpolate_timesteps(torch.tensor([750, 250]), torch.tensor([1.0, 3.0]), 500)
    tensor(2.)
    """
    ts, order = timesteps.float().sort()
    v = values[order]
    t = float(t)
    if t <= ts[0]:
        return v[0]
    if t >= ts[-1]:
        return v[-1]
    j = int(torch.searchsorted(ts, torch.tensor(t), right=True))
    w = (t - ts[j - 1]) / (ts[j] - ts[j - 1])
    return v[j - 1] * (1 - w) + v[j] * w


class StepDirection:
    """A per-timestep direction `(t, h) -> dh`: one h-shaped tensor per timestep of a grid.

    Between grid timesteps it interpolates linearly, outside it holds the nearest one, so a
    direction found on a 20-step grid can edit a 50-step run. Scale with `c * d`, add with `d1 + d2`.
    `directions` may also be `(S, B, *h_shape)`: one direction per sample of a batch of B (then
    `h_shape` reports `(B, *h_shape)`).

    >>> d = StepDirection(torch.tensor([750, 250]), torch.stack([torch.ones(2), torch.zeros(2)]))
    >>> d(500, torch.zeros(4, 2)).tolist(), (2 * d).at(750).tolist()
    ([0.5, 0.5], [2.0, 2.0])
    """

    def __init__(self, timesteps: Tensor | Sequence[int], directions: Tensor):
        timesteps = torch.as_tensor(timesteps).long()
        if timesteps.dim() != 1 or len(timesteps) < 1 or len(timesteps.unique()) != len(timesteps):
            raise ValueError(f"timesteps must be a 1-d tensor of distinct timesteps, got {timesteps.tolist()}")
        if not isinstance(directions, Tensor) or directions.dim() < 2 or len(directions) != len(timesteps):
            raise ValueError(f"directions must be a tensor (S, *h_shape) with S = {len(timesteps)} (one per "
                             "timestep), got "
                             f"{tuple(directions.shape) if isinstance(directions, Tensor) else directions!r}")
        self.timesteps, self.directions = timesteps, directions.detach()

    @property
    def h_shape(self) -> tuple[int, ...]:
        return tuple(self.directions.shape[1:])

    def at(self, t: int) -> Tensor:
        """The direction at timestep t, `h_shape`."""
        return interpolate_timesteps(self.timesteps, self.directions, t)

    def __call__(self, t: int, h: Tensor) -> Tensor:
        return self.at(t).to(h)

    def __mul__(self, c: float) -> "StepDirection":
        return StepDirection(self.timesteps, self.directions * c)

    __rmul__ = __mul__

    def __add__(self, other: "StepDirection") -> "StepDirection":
        if not isinstance(other, StepDirection):
            return NotImplemented
        ts = torch.cat([self.timesteps, other.timesteps]).unique().flip(0)
        return StepDirection(ts, torch.stack([self.at(int(t)) + other.at(int(t)) for t in ts]))

    def norms(self) -> Tensor:
        """The direction's norm at each grid timestep, `(S,)`."""
        return self.directions.flatten(1).norm(dim=1)

    def __repr__(self) -> str:
        return (f"StepDirection({len(self.timesteps)} timesteps "
                f"{self.timesteps[0].item()}..{self.timesteps[-1].item()}, h {self.h_shape})")


def combine(*dhs: Tensor | Callable[[int, Tensor], Tensor], weights: Sequence[float] | None = None
            ) -> Callable[[int, Tensor], Tensor]:
    """Several edits at once: `(t, h) -> sum_i w_i dh_i(t, h)` (Asyrp's multi-attribute editing).

    Each `dh_i` is a tensor or a callable `(t, h) -> dh` (a `StepDirection`, an `Editor`).

    >>> f = combine(torch.ones(2), lambda t, h: h, weights=[2.0, 1.0])
    >>> f(500, torch.tensor([[1.0, 3.0]])).tolist()
    [[3.0, 5.0]]
    """
    if not dhs:
        raise ValueError("combine needs at least one dh")
    weights = [1.0] * len(dhs) if weights is None else list(weights)
    if len(weights) != len(dhs):
        raise ValueError(f"weights must have one entry per dh ({len(dhs)}), got {len(weights)}")
    for i, d in enumerate(dhs):
        if not (callable(d) or isinstance(d, Tensor)):
            raise TypeError(f"dhs[{i}] must be a tensor or a callable (t, h) -> dh, got {type(d).__name__}")

    def dh(t: int, h: Tensor) -> Tensor:
        return sum(w * (d(t, h) if callable(d) else d.to(h)) for w, d in zip(weights, dhs))
    return dh


@torch.no_grad()
def paired_direction(model: Model, attr: str, steps: int = 20, *, n: int = 64, low: float | None = None,
                     high: float | None = None, seed: int = 0) -> StepDirection:
    """A ground-truth direction: per timestep, the mean of `h(x_t(high)) - h(x_t(low))` over `n` pairs
    of renders that differ in `attr` only, noised with the same noise z (`q_sample` with one draw of z
    per pair from `seed`, shared by every timestep).

    Args:
        attr: an attribute of `ATTRIBUTES`; low/high: its two values (default: the ends of its range).
        steps: the DDIM grid the direction is computed on; n: pairs; seed: faces and noise.

    Returns:
        `StepDirection` on the `steps` grid; its size is that of a change from `low` to `high`.

    >>> from latentlab import tiny_model
    >>> d = paired_direction(tiny_model(sample_size=32), "glasses", 2, n=2)
    >>> d.timesteps.tolist(), d.h_shape
    ([500, 0], (16, 16, 16))
    """
    if attr not in ATTRIBUTES:
        raise ValueError(f"attr must be one of {', '.join(ATTRIBUTES)}, got {attr!r}")
    lo_range, hi_range = ATTRIBUTES[attr]
    low = lo_range if low is None else low
    high = hi_range if high is None else high
    for name, v in (("low", low), ("high", high)):
        if (not isinstance(v, (int, float)) or not lo_range <= v <= hi_range
                or (attr in BINARY_ATTRIBUTES and v not in (0, 1))):
            allowed = "0 or 1" if attr in BINARY_ATTRIBUTES else f"a number in [{lo_range}, {hi_range}]"
            raise ValueError(f"{name} must be {allowed} for {attr}, got {v!r}")
    if low == high:
        raise ValueError(f"low and high must differ, got {low!r} for both")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    size = model.sample_shape[-1]
    x_lo = render_faces(n, seed=seed, size=size, **{attr: float(low)})[0]
    x_hi = render_faces(n, seed=seed, size=size, **{attr: float(high)})[0]
    grid = ddim_timesteps(model, steps)
    z = torch.randn(x_lo.shape, generator=torch.Generator().manual_seed(seed))  # one noise per pair, all t
    ac = model.scheduler.alphas_cumprod
    dirs = []
    for t in grid.tolist():
        a = ac[t]
        h_hi = h_of(model, a.sqrt() * x_hi + (1 - a).sqrt() * z, t)
        h_lo = h_of(model, a.sqrt() * x_lo + (1 - a).sqrt() * z, t)
        dirs.append((h_hi - h_lo).mean(0))
    return StepDirection(grid, torch.stack(dirs))


def random_direction(timesteps: Tensor | Sequence[int], norms: Tensor, *, n: int | None = None,
                     generator: torch.Generator | None = None, h_shape: Sequence[int]) -> StepDirection:
    """The baseline for an effect: a Gaussian direction with the given norm at every timestep.

    Args:
        timesteps: `(S,)`; norms: `(S,)`, e.g. `d.norms()` of the direction it is compared with.
        n: None for one direction, or one independent direction per sample of a batch of n.
        h_shape: the shape of one h (`model.h_shape`).

    >>> d = random_direction([900, 500], torch.tensor([1.0, 3.0]), h_shape=(2, 2, 2), generator=torch.Generator())
    >>> [round(x, 4) for x in d.norms().tolist()]
    [1.0, 3.0]
    """
    timesteps = torch.as_tensor(timesteps)
    norms = torch.as_tensor(norms)
    if norms.shape != (len(timesteps),):
        raise ValueError(f"norms must have shape ({len(timesteps)},), one per timestep, got {tuple(norms.shape)}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be None or a positive integer, got {n!r}")
    z = torch.randn(len(timesteps), *(() if n is None else (n,)), *h_shape, generator=generator)
    unit = z.flatten(-len(h_shape)).norm(dim=-1)  # (S,) or (S, n)
    scale = norms if n is None else norms[:, None]
    return StepDirection(timesteps, z * (scale / unit).reshape(*unit.shape, *(1,) * len(h_shape)))
