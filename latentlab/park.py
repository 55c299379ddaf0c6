"""Park et al.'s editing with the pullback's directions: x-space guidance, moving along v, transport,
the talk's multi-edit loop, and a fair test of "H is locally linear, X is not".

An edit happens at one timestep t_edit: x_t is changed, then DDIM continues from it
(`ddim_sample(t_start=t_edit)`), with eta = 0 down to 0.2 T and eta = 1 below, as Park et al. do.

References
- Park, Kwon, Choi, Jo & Uh (2023), "Understanding the Latent Space of Diffusion Models through the
  Lens of Riemannian Geometry", NeurIPS: the pullback and its SVD, editing (their
  released code edits by x-space guidance, gamma = 0.1, 16 repeats), parallel transport
  `v' = V'(U'^T u)` normalised.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor

from .ddim import ddim_sample, ddim_timesteps
from .hspace import eps_of_batch
from .jacobians import pullback
from .linalg import SVD
from .model import Model, check_t, check_x

__all__ = ["x_space_guidance", "move_along", "transport", "edit_and_denoise", "multi_edit", "linearity_error",
           "linearity_errors"]


def _check_direction(model: Model, v: Tensor, name: str = "v") -> Tensor:
    if not isinstance(v, Tensor) or tuple(v.shape[-3:]) != tuple(model.sample_shape) or v.dim() not in (3, 4):
        raise ValueError(f"{name} must be one x-space direction of shape {tuple(model.sample_shape)} "
                         "(or a batch of them), "
                         f"got {tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__}")
    if not torch.isfinite(v).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return v


@torch.no_grad()
def x_space_guidance(model: Model, x_t: Tensor, t: int | Tensor, v: Tensor, gamma: float = 0.1, n: int = 16, *,
                     fused: bool = False) -> Tensor:
    """Park et al.'s released edit: n times `x_t <- x_t + gamma * (eps(x_t + v) - eps(x_t))`, v fixed.

    Args:
        x_t: `(B, C, H, W)` or one sample; t: its timestep.
        v: the x-space direction (e.g. `pullback(...).V[i]`, unit norm), one sample's shape or a batch.
        gamma: step size (Park et al.: 0.1 for the face model, 1 for Stable Diffusion); 0 returns x_t.
        n: repeats (Park et al.: 16).
        fused: compute eps(x_t + v) and eps(x_t) in one U-Net batch of 2B instead of two calls; equal up
            to float rounding, faster at small batches on a CPU (the widget editor's case).

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> bool((x_space_guidance(m, x, 500, torch.ones(3, 16, 16), gamma=0.0) == x).all())
    True
    """
    xb, single = check_x(model, x_t)
    tb = check_t(model, t, xb.shape[0])
    v = _check_direction(model, v).to(xb)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of guidance steps), got {n!r}")
    x = xb.clone()
    if gamma == 0:
        return x[0] if single else x
    if not isinstance(fused, bool):
        raise ValueError(f"fused must be True or False, got {fused!r}")
    B = x.shape[0]
    for _ in range(n):
        if fused:
            both = eps_of_batch(model, torch.cat([x + v, x.expand_as(x + v)]), torch.cat([tb, tb]), repeat=2)
            x = x + gamma * (both[:B] - both[B:])
        else:
            x = x + gamma * (eps_of_batch(model, x + v, tb) - eps_of_batch(model, x, tb))
    return x[0] if single else x


def move_along(x_t: Tensor, v: Tensor, alpha: float) -> Tensor:
    """The first version of Park et al.'s edit: `x_t + alpha * v`.

    >>> move_along(torch.zeros(2), torch.ones(2), 3.0)
    tensor([3., 3.])
    """
    if not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number, got {alpha!r}")
    if v.shape != x_t.shape[-v.dim():]:
        raise ValueError(f"v must have the shape of one sample of x_t {tuple(x_t.shape[-v.dim():])}, "
                         f"got {tuple(v.shape)}")
    return x_t + alpha * v.to(x_t)


def transport(u: Tensor, svd_at_new_point: SVD) -> Tensor:
    """Park et al.'s parallel transport of an h-direction u to a new point: `V'(U'^T u)`, normalised.

    Args:
        u: an h-space direction, `h_shape` (e.g. the `U[i]` of the old point's pullback).
        svd_at_new_point: `pullback(model, x_new, t, k)` (Park et al. use k = 50).

    Returns:
        the x-space direction at the new point, unit norm, `sample_shape`.

    >>> svd = SVD(U=torch.eye(3)[:2], S=torch.tensor([2.0, 1.0]), V=torch.eye(4)[:2])
    >>> transport(torch.tensor([0.0, 3.0, 4.0]), svd)
    tensor([0., 1., 0., 0.])
    """
    U, V = svd_at_new_point.U, svd_at_new_point.V
    if not isinstance(u, Tensor) or u.shape != U.shape[1:]:
        raise ValueError(f"u must have the shape of one h, {tuple(U.shape[1:])}, got "
                         f"{tuple(u.shape) if isinstance(u, Tensor) else type(u).__name__}")
    coef = U.flatten(1) @ u.flatten().to(U)  # (k,)
    v = (coef @ V.flatten(1)).reshape(V.shape[1:])
    norm = v.norm()
    if norm == 0:
        raise ValueError("u is orthogonal to every U' of the new point: nothing to transport (raise k)")
    return v / norm


def edit_and_denoise(model: Model, x_t: Tensor, t_edit: int, v: Tensor, *, steps: int = 50, rule: str = "guidance",
                     strength: float = 0.1, n: int = 16, t_boost: int | None = None,
                     generator: torch.Generator | None = None) -> Tensor:
    """Edit x_t at `t_edit` (x-space guidance, or `x_t + strength * v` with rule="move") and denoise.

    DDIM continues from the edited x_t with eta = 0, and eta = 1 below `t_boost` (default 0.2 T, as
    Park et al.). Returns x_0 in the shape of `x_t`.
    """
    if rule not in ("guidance", "move"):
        raise ValueError(f"rule must be 'guidance' (x_space_guidance) or 'move' (x_t + strength v), got {rule!r}")
    grid = ddim_timesteps(model, steps).tolist()
    if t_edit not in grid:
        raise ValueError(f"t_edit must be a timestep of the {steps}-step grid "
                         f"({grid[0]}, {grid[1]}, ..., {grid[-1]}), got {t_edit!r}")
    t_boost = model.num_train_timesteps // 5 if t_boost is None else t_boost
    x = (x_space_guidance(model, x_t, t_edit, v, gamma=strength, n=n) if rule == "guidance"
         else move_along(x_t, v, strength))
    return ddim_sample(model, x, steps, t_start=t_edit, t_boost=t_boost, generator=generator, progress=False)


def multi_edit(model: Model, x_t: Tensor, t: int, i: int = 0, *, edits: int = 3, k: int = 3, strength: float = 0.1,
               n: int = 16, rule: str = "guidance", svd: SVD | None = None, **svd_options) -> list[Tensor]:
    """The talk's multi-edit loop: edit along v_i, recompute the tangent space at the new point,
    carry the chosen h-direction u_i over by `transport`, edit again (`edits` times).

    Returns the x_t after each edit (`edits` tensors, one sample's shape). The first edit uses the
    pullback at x_t (`svd`, if already computed with this k); every later one the pullback at the
    current point with u_i of the first.
    """
    xb, single = check_x(model, x_t)
    if len(xb) != 1:
        raise ValueError(f"x_t must be one sample, got a batch of {len(xb)}")
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < k:
        raise ValueError(f"i must be a direction index from 0 to {k - 1} (k = {k}), got {i!r}")
    if isinstance(edits, bool) or not isinstance(edits, int) or edits < 1:
        raise ValueError(f"edits must be a positive integer, got {edits!r}")
    svd = pullback(model, xb[0], t, k, **svd_options) if svd is None else svd  # checked first: this is the slow part
    if len(svd.S) != k:
        raise ValueError(f"svd must hold k = {k} triplets (the pullback at x_t), got {len(svd.S)}")
    u, v, x, out = svd.U[i], svd.V[i], xb[0], []
    for e in range(edits):
        if e > 0:
            v = transport(u, pullback(model, x, t, k, **svd_options))  # V'(U'^T u): sign-free, u is fixed
        x = x_space_guidance(model, x, t, v, gamma=strength, n=n) if rule == "guidance" else move_along(x, v, strength)
        out.append(x)
    return out


@torch.no_grad()
def linearity_error(f: Callable[[Tensor], Tensor], x: Tensor, v: Tensor, steps: Sequence[float], *,
                    jv: Tensor | None = None, fd_step: float | None = None) -> Tensor:
    """Relative error of f's linearisation along v: `|f(x + s v) - f(x) - s Jv| / |f(x + s v) - f(x)|`.

    The error is 0 for a linear map and grows like the step for a smooth non-linear one. J v is
    `jv` if given (exact, e.g. `jacobians.jacobian_products(...)[0](v)` for x_t -> h), else a central
    difference with step `fd_step` (default 1e-3 times the smallest of `steps`). In float32 the
    difference has a round-off floor of about 0.05 for a U-Net at these steps: pass `jv`, or run
    the model in float64 (`load_model(dtype=torch.float64)`).

    >>> one = torch.ones(1, dtype=torch.float64)
    >>> [round(e, 9) for e in linearity_error(lambda x: 3 * x, one, one, [0.1, 1.0]).tolist()]
    [0.0, 0.0]
    >>> [round(e, 3) for e in linearity_error(lambda x: x**2, one, one, [0.1, 1.0]).tolist()]
    [0.048, 0.333]
    """
    steps = [float(s) for s in steps]
    if not steps or min(steps) <= 0:
        raise ValueError(f"steps must be positive numbers, got {steps}")
    fx = f(x)
    if jv is None:
        eps = 1e-3 * min(steps) if fd_step is None else float(fd_step)
        if not eps > 0:
            raise ValueError(f"fd_step must be a positive number, got {fd_step!r}")
        jv = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    elif jv.shape != fx.shape:
        raise ValueError(f"jv must have the shape of f(x), {tuple(fx.shape)}, got {tuple(jv.shape)}")
    errs = []
    for s in steps:
        d = f(x + s * v) - fx
        errs.append(((d - s * jv).norm() / d.norm().clamp_min(1e-30)).item())
    return torch.tensor(errs)


def linearity_errors(f: Callable[[Tensor], Tensor | tuple[Tensor, ...]], x: Tensor, directions: Tensor,
                     steps: Sequence[float], *, fd_step: float | None = None) -> Tensor | tuple[Tensor, ...]:
    """`linearity_error` for several directions at once, with every point evaluated in ONE call of f.

    f maps a batch `(B, *x.shape)` to a batch `(B, ...)`, or to a tuple of batches (several maps of
    the same points from one pass, e.g. h and eps from one U-Net call: `hspace.eps_of_batch(...,
    record=...)`); `directions` is `(n, *x.shape)`. The 1 + 2n + n len(steps) points (x, the
    central-difference pairs x +- fd_step v_j, and x + s v_j) go through f together. Returns
    `(n, len(steps))` (a tuple of them if f returns a tuple): row j is `linearity_error(f1, x,
    directions[j], steps)` for the unbatched f1, the same definition `|f(x + s v) - f(x) - s Jv| /
    |f(x + s v) - f(x)|` with J v a central difference of step `fd_step` (default 1e-3 times the
    smallest step).

    >>> one = torch.ones(1, 1, dtype=torch.float64)
    >>> [round(e, 3) for e in linearity_errors(lambda x: x**2, one[0], one, [0.1, 1.0])[0].tolist()]
    [0.048, 0.333]
    >>> sq, lin = linearity_errors(lambda x: (x**2, 3 * x), one[0], one, [1.0])
    >>> round(sq.item(), 3), round(lin.item(), 9)
    (0.333, 0.0)
    """
    steps = [float(s) for s in steps]
    if not steps or min(steps) <= 0:
        raise ValueError(f"steps must be positive numbers, got {steps}")
    if not isinstance(directions, Tensor) or directions.dim() != x.dim() + 1 or directions.shape[1:] != x.shape:
        got = tuple(directions.shape) if isinstance(directions, Tensor) else type(directions).__name__
        raise ValueError(f"directions must be (n, *x.shape) = (n, {', '.join(map(str, x.shape))}), got {got}")
    eps = 1e-3 * min(steps) if fd_step is None else float(fd_step)
    if not eps > 0:
        raise ValueError(f"fd_step must be a positive number, got {fd_step!r}")
    n = directions.shape[0]
    scale = torch.tensor(steps, dtype=x.dtype).view(-1, 1, *([1] * x.dim()))  # (len(steps), 1, ...)
    points = torch.cat([x[None], x + eps * directions, x - eps * directions,
                        (x + scale * directions).flatten(0, 1)])
    outs = f(points)

    def errors(out: Tensor) -> Tensor:
        fx, plus, minus = out[0], out[1:1 + n], out[1 + n:1 + 2 * n]
        jv = (plus - minus) / (2 * eps)  # (n, ...)
        d = out[1 + 2 * n:].reshape(len(steps), n, *fx.shape) - fx  # (len(steps), n, ...)
        s = torch.tensor(steps, dtype=d.dtype).view(-1, 1, *([1] * fx.dim()))
        err = (d - s * jv).flatten(2).norm(dim=2) / d.flatten(2).norm(dim=2).clamp_min(1e-30)
        return err.T.contiguous()

    return tuple(errors(o) for o in outs) if isinstance(outs, tuple) else errors(outs)
