"""LOCO Edit: local edit directions from the Jacobian of the posterior mean, one step in x_t.

The posterior mean predictor x0_hat(x_t) = P_t(x_t, eps(x_t)) = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)
(DDIM's predicted x_0) is close to linear in x_t over a band of t, with a low-rank Jacobian
J = d x0_hat / d x_t. Split J's rows by a region mask M (the pixels to change) and its complement:
J_in = M J, J_out = (1 - M) J. The edit directions are the top right singular vectors v of J_in
(the moves of x_t that change x0_hat most inside the region), with their components along the top
right singular vectors of J_out removed, v <- (I - V_out^T V_out) v, normalised, so that to first
order the predicted image outside the region stays as it is. The edit adds the direction to x_t at
one timestep; plain DDIM then finishes the sample.

Both SVDs are matrix-free (`linalg.topk_svd`): J v and J^T u of x0_hat come from one recorded
U-Net pass, J^T u by a backward pass through it, J v by a backward pass through that backward pass
(reverse over reverse, as `jacobians.jacobian_products` does for the pullback).

What the authors' code does (github ChicyChen/LOCO-Edit, `src/modules/edit.py`, class
`EditUncondDiffusion`, read for this module): the mask selects output pixels of x0_hat (the rows
of J; the input x_t is whole), on all three channels; V_out are the top `pca_rank_null` right
singular vectors of J_out and the projection is `v - V_out^T (V_out v)`, each row then unit norm;
the edit is `x_space_guidance_num_step` additions of `x_space_guidance_scale * edit_step * v` to
x_t (no model call in between: a straight move of 16 x 0.5 = 8 along the unit v), after which
DDIM continues. Their CelebA-HQ script (`main_celeba_hf_null_space_projection.sh`) uses t = 0.6 T
on a 100-step grid, rank 1, null-space rank 5, 16 steps of 0.5, and eta = 1 below 0.2 T
(`performance_boosting_t`) where this kit's registry runs deterministic DDIM.

In the kit: `loco_directions(model, x_t, t, face_mask(probe, x0, region))` at the grid step nearest
0.6 T, then `loco_edit(x_t, c * v)` and `ddim_sample(..., t_start=t)`; `faces.REGIONS` says which
region holds which attribute (smile, mouth_open: "mouth"; glasses, eye_size: "eyes").

References
- Chen, Zhang, Guo, Lu, Wang & Qu (2024), "Exploring Low-Dimensional Subspaces in Diffusion Models
  for Controllable Image Editing", NeurIPS 2024, arXiv:2409.02374 (LOCO Edit).
- Zhu et al. (2021), "Low-Rank Subspaces in GANs", NeurIPS: the same masked Jacobian and null-space
  projection for a GAN's latent code.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor

from .ddim import P_t, alpha_bar, eps_from_output
from .faces import ATTRIBUTES, region_mask
from .hspace import eps_of_batch
from .linalg import LinearMap, topk_svd
from .model import Model, check_t, check_x, forward_ad

__all__ = ["LOCO_SETTINGS", "LocoDirections", "posterior_mean_products", "loco_basis", "loco_directions",
           "loco_edit", "face_mask"]

#: LOCO Edit's CelebA-HQ settings, from the authors' script `src/scripts/main_celeba_hf_null_space_projection.sh`
#: (github ChicyChen/LOCO-Edit): edit at 0.6 T, the top `rank` = 1 direction of the masked Jacobian,
#: `null_rank` = 5 outside directions projected out, `n_steps` = 16 additions of `step` = 0.5 times the
#: unit direction (x_space_guidance_num_step, x_space_guidance_scale x edit_step); their DDIM then runs
#: eta = 1 below `t_boost` = 0.2 T. Their images are 256 px: `step` is in x_t units and is not rescaled here.
LOCO_SETTINGS: dict[str, Any] = {"t_edit": 0.6, "rank": 1, "null_rank": 5, "n_steps": 16, "step": 0.5,
                                 "t_boost": 0.2}


class LocoDirections(NamedTuple):
    """LOCO's directions at one x_t (all in x_t-space, rows unit norm).

    V: `(rank, C, H, W)` the edit directions, V_in projected off V_out and normalised.
    S: `(rank,)` singular values of J_in = M d x0_hat / d x_t for V_in, descending.
    V_in: `(rank, C, H, W)` the top right singular vectors of J_in, before the projection.
    U: `(rank, C, H, W)` where V_in goes: J_in V_in[i] = S[i] U[i] (zero outside the mask).
    V_out: `(null_rank, C, H, W)` the top right singular vectors of J_out = (1 - M) J.
    S_out: `(null_rank,)` their singular values.
    kept: `(rank,)` the norm of V_in[i] left after the projection (1: V_in already outside V_out's span).
    """

    V: Tensor
    S: Tensor
    V_in: Tensor
    U: Tensor
    V_out: Tensor
    S_out: Tensor
    kept: Tensor


class _PosteriorMeanGraph:
    """One recorded pass Y = x0_hat(X) at X = the point repeated b times, per block size b; J^T U is a
    backward pass through Y, J V a backward pass through G = J^T Uz (linear in Uz, so any Uz serves).
    The first vjp of a size records G at Uz = U, the pass the jvps then reuse."""

    def __init__(self, model: Model, x: Tensor, t: int):
        self.model, self.point, self.t = model, x[0].detach(), t
        self.a_t = alpha_bar(model, t).to(device=x.device, dtype=x.dtype)
        self.graphs: dict[int, list] = {}

    def f(self, X: Tensor) -> Tensor:
        tb = torch.full((len(X),), self.t, dtype=torch.long, device=X.device)
        return P_t(X, eps_from_output(self.model, eps_of_batch(self.model, X, tb), X, self.t), self.a_t)

    def _recorded(self, b: int) -> list:
        if b not in self.graphs:
            with torch.enable_grad(), forward_ad(self.model):  # the MATH attention kernel has a double backward
                X = self.point.expand(b, *self.point.shape).clone().requires_grad_(True)
                self.graphs[b] = [X, self.f(X), None, None]
        return self.graphs[b]

    def _transpose(self, g: list, U: Tensor) -> Tensor:
        with torch.enable_grad(), forward_ad(self.model):
            Uz = U.detach().to(g[1].dtype).clone().requires_grad_(True)
            g[2], g[3] = Uz, torch.autograd.grad(g[1], g[0], Uz, create_graph=True)[0]
        return g[3]

    def vjp(self, U: Tensor) -> Tensor:
        g = self._recorded(len(U))
        if g[3] is None:
            return self._transpose(g, U).detach()
        return torch.autograd.grad(g[1], g[0], U.to(g[1].dtype), retain_graph=True)[0]

    def jvp(self, V: Tensor) -> Tensor:
        g = self._recorded(len(V))
        if g[3] is None:
            self._transpose(g, torch.zeros_like(g[1]))
        return torch.autograd.grad(g[3], g[2], V.to(g[2].dtype), retain_graph=True)[0]


def _batched(fn: Callable[[Tensor], Tensor], shape: torch.Size) -> LinearMap:
    """fn on a batch (b, *shape), also accepting one tensor of `shape`; marked for `topk_svd`."""
    def call(v: Tensor) -> Tensor:
        if not isinstance(v, Tensor) or (v.shape != shape and v.shape[1:] != shape):
            got = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"expected a tensor of shape {tuple(shape)} or a batch (b, *{tuple(shape)}), got {got}")
        return fn(v[None])[0] if v.shape == shape else fn(v)
    call.takes_batches = True  # type: ignore[attr-defined]
    return call


def posterior_mean_products(model: Model, x_t: Tensor, t: int | Tensor) -> tuple[LinearMap, LinearMap]:
    """J v and J^T u for J = d x0_hat / d x_t, x0_hat = P_t(x_t, eps(x_t)) (DDIM Eq. 12; LOCO's PMP).

    x0_hat is not clipped (LOCO differentiates the unclipped prediction). Both products take one
    tensor of the sample's shape or a batch `(b, C, H, W)`; a batch runs as one U-Net batch.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> jvp, vjp = posterior_mean_products(m, torch.zeros(3, 16, 16), 500)
    >>> jvp(torch.ones(3, 16, 16)).shape, vjp(torch.ones(4, 3, 16, 16)).shape
    (torch.Size([3, 16, 16]), torch.Size([4, 3, 16, 16]))
    """
    x, single = check_x(model, x_t)
    if len(x) != 1:
        raise ValueError(f"x_t must be one sample, (C, H, W) or (1, C, H, W), got a batch of {len(x)}")
    t = int(check_t(model, t, 1)[0])
    graph = _PosteriorMeanGraph(model, x, t)
    shape = torch.Size(model.sample_shape)
    return _batched(graph.jvp, shape), _batched(graph.vjp, shape)


def _check_region(mask: Any) -> Tensor:
    """A boolean mask with something inside and something outside."""
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.dim() < 1:
        got = f"a {mask.dtype} tensor" if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a boolean torch.Tensor (True inside the region to edit), got {got}")
    inside = int(mask.sum())
    if inside == 0:
        raise ValueError("mask is empty (no True entry): there is no region to edit")
    if inside == mask.numel():
        raise ValueError("mask is True everywhere: there is no outside to keep fixed; a global edit is "
                         "the SVD of the whole Jacobian (e.g. Park et al.'s pullback)")
    return mask


def _check_mask(mask: Any, shape: torch.Size) -> Tensor:
    """A boolean mask of the sample's `(C, H, W)`, or its `(H, W)` broadcast over the channels."""
    if isinstance(mask, Tensor) and mask.shape == shape[1:]:
        mask = mask.expand(shape)
    if isinstance(mask, Tensor) and mask.shape != shape:
        raise ValueError(f"mask must have shape {tuple(shape[1:])} (H, W) or {tuple(shape)} (C, H, W), "
                         f"got {tuple(mask.shape)}")
    return _check_region(mask)


def _check_ranks(rank: Any, null_rank: Any, inside: int, outside: int) -> None:
    for name, value, low, high, where in (("rank", rank, 1, inside, "inside"),
                                          ("null_rank", null_rank, 0, outside, "outside")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"{name} must satisfy {low} <= {name} <= {high} (the mask's entries {where}, "
                             f"pixels x channels), got {name}={value}")


def loco_basis(jvp: LinearMap, vjp: LinearMap, mask: Tensor, *, rank: int = 1, null_rank: int = 5,
               tol: float = 1e-3, seed: int = 0, oversample: int | None = None,
               **options: Any) -> LocoDirections:
    """LOCO's directions for any linear map J from x-space to an image of the same shape, given by
    its products: the top right singular vectors of M J, projected off the top `null_rank` right
    singular vectors of (1 - M) J (Chen et al. 2024; Zhu et al. 2021 for GANs).

    Args:
        jvp, vjp: v -> J v and u -> J^T u on tensors of `mask`'s full shape (vmappable, or marked
            ``takes_batches`` as `posterior_mean_products`' are).
        mask: boolean, `(C, H, W)`, or `(H, W)` for every channel; True in the region to edit.
        rank: how many edit directions (1 <= rank <= the mask's entries).
        null_rank: how many outside directions are projected out (0: none, LOCO without the projection).
        tol, seed, oversample, **options: passed to `topk_svd` for both SVDs. The default oversample
            makes both SVDs use blocks of max(rank, null_rank) vectors, so a model's recorded pass
            serves both.

    Returns:
        `LocoDirections` (shapes as the mask's full shape).

    Pixels 0, 1 inside, 2, 3 outside; moving x_0 changes pixel 0 most, but also the outside pixel 2:

    >>> A = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5]))
    >>> A[2, 0] = 1.0
    >>> d = loco_basis(lambda v: A @ v, lambda u: A.T @ u, torch.tensor([True, True, False, False]),
    ...                null_rank=1, tol=1e-6)
    >>> d.V_in[0].round(decimals=2) + 0, d.V[0].round(decimals=2) + 0
    (tensor([1., 0., 0., 0.]), tensor([ 0.7100,  0.0000, -0.7100,  0.0000]))
    >>> (A @ d.V[0]).round(decimals=2) + 0  # pixel 2 is left as it was
    tensor([2.1200, 0.0000, 0.0000, 0.0000])
    """
    shape = _check_region(mask).shape
    inside = int(mask.sum())
    _check_ranks(rank, null_rank, inside, mask.numel() - inside)
    block = max(rank, null_rank)
    options |= {"tol": tol, "seed": seed, "out_shape": shape}
    m_in = mask.to(torch.get_default_dtype())

    def masked(weight: Tensor) -> tuple[LinearMap, LinearMap]:
        def j(v: Tensor) -> Tensor:
            return jvp(v) * weight.to(v.dtype)

        def jt(u: Tensor) -> Tensor:
            return vjp(u * weight.to(u.dtype))
        j.takes_batches = jt.takes_batches = getattr(jvp, "takes_batches", False)  # type: ignore[attr-defined]
        return j, jt

    svd_in = topk_svd(*masked(m_in), shape, rank,
                      oversample=block - rank if oversample is None else oversample, **options)
    V_in, V = svd_in.V, svd_in.V
    V_out = svd_in.V[:0]
    S_out = svd_in.S[:0]
    if null_rank:
        svd_out = topk_svd(*masked(1 - m_in), shape, null_rank,
                           oversample=block - null_rank if oversample is None else oversample, **options)
        V_out, S_out = svd_out.V, svd_out.S
        flat_out = V_out.reshape(null_rank, -1)
        flat = V_in.reshape(rank, -1)
        V = (flat - (flat @ flat_out.T) @ flat_out).reshape(V_in.shape)
    kept = V.reshape(rank, -1).norm(dim=1)
    if (kept < 1e-6).any():
        raise ValueError(f"an edit direction lies inside the span of the {null_rank} outside directions "
                         f"(kept norm {kept.min():.1e}): lower null_rank")
    V = V / kept.view(-1, *[1] * (V.dim() - 1))
    return LocoDirections(V, svd_in.S, V_in, svd_in.U, V_out, S_out, kept)


def loco_directions(model: Model, x_t: Tensor, t: int | Tensor, mask: Tensor, *, rank: int = 1,
                    null_rank: int = 5, tol: float = 1e-3, seed: int = 0, **options: Any) -> LocoDirections:
    """LOCO Edit's directions at one x_t: the masked Jacobian of the posterior mean, its outside null
    space projected out (Chen et al. 2024).

    Args:
        model: from ``load_model`` or ``tiny_model``.
        x_t: one sample, `(C, H, W)` or `(1, C, H, W)`, at timestep t (LOCO: t = 0.6 T).
        t: the timestep, in [0, T).
        mask: boolean `(H, W)` or `(C, H, W)`, True in the region to edit: `faces.region_mask` for a
            render, `face_mask` for a generated face; a user without the kit's renderer draws it by hand
            or takes it from a segmentation model (LOCO's authors use CelebAMask-HQ's masks and SAM).
        rank: edit directions (LOCO: 1). null_rank: outside directions projected out (LOCO: 5).
        tol, seed, **options: `topk_svd`'s residual tolerance, start and other options.

    Returns:
        `LocoDirections`; V[i] are the unit edit directions in x_t-space, for `loco_edit`.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> mask = torch.zeros(16, 16, dtype=torch.bool); mask[4:8, 4:12] = True
    >>> x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> d = loco_directions(m, x, 600, mask, rank=1, null_rank=5)
    >>> d.V.shape, d.V_out.shape, round(float(d.V.norm()), 4)
    (torch.Size([1, 3, 16, 16]), torch.Size([5, 3, 16, 16]), 1.0)
    """
    x, _ = check_x(model, x_t)
    if len(x) != 1:
        raise ValueError(f"x_t must be one sample, (C, H, W) or (1, C, H, W), got a batch of {len(x)}; "
                         "call once per face")
    shape = torch.Size(model.sample_shape)
    mask = _check_mask(mask, shape).to(x.device)
    jvp, vjp = posterior_mean_products(model, x, t)
    options.setdefault("dtype", torch.promote_types(x.dtype, torch.float32))
    options.setdefault("device", x.device)
    return loco_basis(jvp, vjp, mask, rank=rank, null_rank=null_rank, tol=tol, seed=seed, **options)


def loco_edit(x_t: Tensor, v: Tensor, strength: float = 1.0, *, n_steps: int = LOCO_SETTINGS["n_steps"],
              step: float = LOCO_SETTINGS["step"]) -> Tensor:
    """LOCO's edit of x_t: `n_steps` additions of `strength * step * v` (their x-space step, no model
    call in between), i.e. `x_t + strength * n_steps * step * v`; DDIM then continues from x_t.

    With LOCO's settings (16 steps of 0.5) strength 1 moves x_t by 8 along a unit v; a negative
    strength edits the other way. The edit needs neither the model nor t. (Park et al.'s x-space
    guidance, `park.x_space_guidance`, instead moves by eps differences, 16 model calls.)

    Args:
        x_t: `(B, C, H, W)` or one sample `(C, H, W)`.
        v: a direction of one sample's shape, or one per face `(B, C, H, W)`.
        strength: the multiple of LOCO's move. n_steps, step: LOCO's 16 and 0.5.

    >>> loco_edit(torch.zeros(3, 2, 2), torch.ones(3, 2, 2), 0.25)[0]
    tensor([[2., 2.],
            [2., 2.]])
    """
    for name, value in (("strength", strength), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    for name, value in (("x_t", x_t), ("v", v)):
        if not isinstance(value, Tensor) or value.dim() not in (3, 4):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"{name} must be a tensor (C, H, W) or (B, C, H, W), got {got}")
    if v.shape != x_t.shape[-3:] and v.shape != x_t.shape:
        raise ValueError(f"v must have the shape of one sample {tuple(x_t.shape[-3:])} or of x_t {tuple(x_t.shape)}, "
                         f"got {tuple(v.shape)}")
    if not torch.isfinite(v).all():
        raise ValueError("v contains NaN or infinite values")
    v = v.to(x_t)
    for _ in range(n_steps):  # LOCO's loop of additions (the same sum as one product, up to rounding)
        x_t = x_t + strength * step * v
    return x_t


def face_mask(probe: Callable[[Tensor], dict[str, Tensor]], x0: Tensor, region: str, *,
              dilate: int = 1) -> Tensor:
    """The mouth or eyes region of generated faces, placed by the probe's reading of each face's position
    and size (`pos_x`, `pos_y`, `face_size`, clamped to their ranges) and drawn by `faces.region_mask`.

    For the faces world only: its faces share one layout, so where the probe puts the head fixes
    where the mouth and eyes are. On real images (LOCO's CelebA-HQ) a user draws the mask by hand or
    takes it from a segmentation model (the authors use CelebAMask-HQ's labels, and SAM elsewhere).

    Args:
        probe: `probe.load_probe()` (or any callable returning those readings).
        x0: `(n, 3, H, W)` images in [-1, 1], e.g. the unedited samples. region: "mouth" or "eyes".
        dilate: pixels of margin (`region_mask`).

    Returns:
        boolean `(n, H, W)`.

    >>> from latentlab.faces import render_faces
    >>> from latentlab.probe import Probe, ProbeConfig
    >>> x, _ = render_faces(2, seed=0)
    >>> face_mask(Probe(ProbeConfig.tiny()), x, "eyes").shape
    torch.Size([2, 32, 32])
    """
    if not isinstance(x0, Tensor) or x0.dim() != 4 or x0.shape[-1] != x0.shape[-2]:
        got = tuple(x0.shape) if isinstance(x0, Tensor) else type(x0).__name__
        raise ValueError(f"x0 must be a batch of square images (n, 3, H, W), got {got}")
    with torch.no_grad():
        readings = probe(x0)
    geometry = {k: readings[k].float().cpu().clamp(*ATTRIBUTES[k]) for k in ("pos_x", "pos_y", "face_size")}
    return region_mask(geometry, region, x0.shape[-1], dilate=dilate).to(x0.device)
