"""The Jacobian J = dh/dx_t as a 6-way tensor, and its higher-order SVD (Tucker) against the flattened SVD.

J maps x_t, `(C, H, W)`, to h, `(C_h, H_h, W_h)`: it is a tensor of shape `(C_h, H_h, W_h, C, H, W)`.
Park et al. flatten it to a `(C_h H_h W_h) x (C H W)` matrix and keep its top singular vectors; the
talk asked whether a higher-order SVD, which keeps one factor matrix per mode (h-channel, h-row,
h-column, colour, row, column), says more. Here: the tensor (`jacobian_tensor`), its HOSVD/HOOI
(`hosvd`, via tensorly), the energy both models capture at equal parameter budgets
(`energy_table`), the per-mode spectra, rank-1 image directions built from the input-mode
factors (`rank1_directions`), the shape of a factor's profile (`profile_shape`), where each h
position reads the image (`sensitivity_maps`, `own_patch_share`) and random unit directions, plain
or blurred, as a baseline for edits (`random_directions`; their empirical p-values are
`latentlab.stats.empirical_p`). Edits along these directions are
measured by `latentlab.metrics.edit_attributes`.

References
- De Lathauwer, De Moor & Vandewalle (2000), "A multilinear singular value decomposition",
  SIAM J. Matrix Anal. Appl. 21(4): the HOSVD, its all-orthogonal ordered core, and truncation.
- De Lathauwer, De Moor & Vandewalle (2000), "On the best rank-1 and rank-(R1, ..., RN)
  approximation of higher-order tensors", SIAM J. Matrix Anal. Appl. 21(4): HOOI.
- Tucker (1966), "Some mathematical notes on three-mode factor analysis", Psychometrika 31(3).
- Kolda & Bader (2009), "Tensor decompositions and applications", SIAM Review 51(3) (notation).
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the flattened SVD of J and the edit x_t + alpha v.
- Minster, Saibaba & Kilmer (2020), "Randomized algorithms for low-rank tensor decompositions in
  the Tucker format", SIMODS 2(1); Sun, Guo, Luo, Tropp & Udell (2020), "Low-rank Tucker
  approximation of a tensor from streaming data", SIMODS 2(4): Tucker models from sketches
  (products with random test matrices), without the dense tensor. Not implemented here.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import torch
from torch import Tensor

from .jacobians import jacobian_products
from .model import Model

__all__ = [
    "jacobian_tensor", "hosvd", "tucker_to_tensor", "tucker_params", "svd_params", "tucker_energy",
    "flattened_energy", "hosvd_energies", "best_ranks", "energy_table", "mode_spectra",
    "rank1_directions", "jacobian_gain", "profile_shape", "sensitivity_maps", "own_patch_share",
    "random_directions",
]


# ----------------------------------------------------------------------------- the tensor


def jacobian_tensor(model: Model, x_t: Tensor, t: int | Tensor, *, chunk_size: int | None = 128) -> Tensor:
    """The encoder's Jacobian dh/dx_t at one sample as a tensor (Park et al. 2023, unflattened).

    Computed densely by reverse mode, one vector-Jacobian product per entry of h, through
    `jacobians.jacobian_products` (the pullback's own products: each chunk of rows is one U-Net
    batch, and the U-Net stops after its middle block).

    Args:
        model: from `load_model` or `tiny_model`.
        x_t: one sample, `(C, H, W)` or `(1, C, H, W)`.
        t: the timestep.
        chunk_size: rows per U-Net batch (memory against speed); None: all at once. 128 was
            fastest for the bundled model on one thread (8 s, against 10.5 s for 256).

    Returns:
        J of shape `(*model.h_shape, *model.sample_shape)`, detached, in x_t's dtype:
        `J[c, i, j, :, :, :]` is the gradient of `h[c, i, j]` with respect to x_t.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(sample_size=8)
    >>> jacobian_tensor(m, torch.zeros(3, 8, 8), 600).shape
    torch.Size([16, 4, 4, 3, 8, 8])
    """
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or a positive integer, got {chunk_size!r}")
    _, vjp, _ = jacobian_products(model, x_t, t, "pullback", jvp_mode="double_vjp")  # checks x_t, t
    p = next(model.unet.parameters())
    n = math.prod(model.h_shape)
    rows = torch.eye(n, dtype=p.dtype, device=p.device).reshape(n, *model.h_shape)
    jac = torch.cat([vjp(chunk) for chunk in rows.split(chunk_size or n)])  # (n, C, H, W): row i = dh_i/dx
    return jac.reshape(*model.h_shape, *model.sample_shape).to(x_t.dtype)


# ----------------------------------------------------------------------------- checks


def _check_tensor(J, name: str = "J") -> Tensor:
    if not isinstance(J, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(J).__name__}")
    if not J.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {J.dtype}")
    if J.dim() < 2 or J.numel() == 0:
        raise ValueError(f"{name} must have at least 2 non-empty modes, got shape {tuple(J.shape)}")
    if not torch.isfinite(J).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return J.detach()


def _check_ranks(shape: Sequence[int], ranks, name: str = "ranks") -> tuple[int, ...]:
    shape = tuple(shape)
    if isinstance(ranks, (str, bytes)) or not isinstance(ranks, Sequence):
        raise ValueError(f"{name} must be a sequence of {len(shape)} ints (one per mode of {shape}), got {ranks!r}")
    if len(ranks) != len(shape):
        raise ValueError(f"{name} must have one entry per mode: {len(shape)} for shape {shape}, got {len(ranks)}: "
                         f"{tuple(ranks)}")
    for i, (r, n) in enumerate(zip(ranks, shape)):
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or not 1 <= r <= n:
            raise ValueError(f"{name}[{i}] must be an int from 1 to the mode size {n} (shape {shape}), got {r!r}")
    return tuple(int(r) for r in ranks)


def _check_out_modes(J: Tensor, out_modes) -> int:
    if isinstance(out_modes, bool) or not isinstance(out_modes, numbers.Integral) or not 1 <= out_modes < J.dim():
        raise ValueError(f"out_modes must be an int from 1 to {J.dim() - 1} (J has {J.dim()} modes), got {out_modes!r}")
    return int(out_modes)


# ----------------------------------------------------------------------------- HOSVD / HOOI


def _left_singular(matrix: Tensor, n_eigenvecs: int | None = None, **_) -> tuple[Tensor, Tensor, Tensor]:
    """Thin SVD for tensorly's `svd=` hook: a wide unfolding goes through its small Gram matrix.

    An unfolding is (n_i, N / n_i) with n_i <= 128 here: the eigenvectors of the n_i x n_i Gram
    matrix are its left singular vectors, far cheaper than LAPACK's SVD of the wide matrix.
    """
    m, n = matrix.shape
    if m > n:
        U, S, Vh = torch.linalg.svd(matrix, full_matrices=False)
    else:
        w, U = torch.linalg.eigh(matrix @ matrix.T)
        w, U = w.flip(0), U.flip(1)
        S = w.clamp_min(0).sqrt()
        Vh = (U.T @ matrix) / S.clamp_min(torch.finfo(S.dtype).tiny)[:, None]
    k = len(S) if n_eigenvecs is None else min(n_eigenvecs, len(S))
    return U[:, :k], S[:k], Vh[:k]


def hosvd(J: Tensor, ranks: Sequence[int], *, n_iter: int = 0) -> tuple[Tensor, list[Tensor]]:
    """Truncated HOSVD (De Lathauwer, De Moor & Vandewalle 2000, "A multilinear SVD"), refined by HOOI.

    The factor of mode n holds the leading r_n left singular vectors of the mode-n unfolding; the
    core is J multiplied by every factor's transpose (Tucker 1966's model
    J ~ core x_1 U_1 ... x_N U_N). `n_iter > 0` runs that many sweeps of higher-order orthogonal
    iteration (HOOI, De Lathauwer et al. 2000b), which can only raise the captured energy.
    Computed with tensorly's `tucker(init="svd")` on the pytorch backend, in J's dtype.

    Args:
        J: a tensor with at least two modes (e.g. from `jacobian_tensor`).
        ranks: one rank per mode, 1 <= ranks[n] <= J.shape[n]; `J.shape` gives the full HOSVD
            (all-orthogonal core with the same norm as J).
        n_iter: HOOI sweeps after the HOSVD (0: the plain truncated HOSVD).

    Returns:
        (core, factors): core of shape `ranks`, factors[n] of shape `(J.shape[n], ranks[n])` with
        orthonormal columns, ordered by the mode-n singular values.

    >>> J = torch.randn(16, 4, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> core, factors = hosvd(J, (4, 2, 2, 3, 4, 4))
    >>> core.shape, [tuple(U.shape) for U in factors]
    (torch.Size([4, 2, 2, 3, 4, 4]), [(16, 4), (4, 2), (4, 2), (3, 3), (8, 4), (8, 4)])
    """
    import tensorly as tl
    from tensorly.decomposition import tucker

    J = _check_tensor(J)
    ranks = _check_ranks(J.shape, ranks)
    if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or n_iter < 0:
        raise ValueError(f"n_iter must be an int >= 0 (HOOI sweeps), got {n_iter!r}")
    with tl.backend_context("pytorch", local_threadsafe=True):
        # tol=0: exactly n_iter sweeps; n_iter=0 returns tensorly's SVD initialisation, the HOSVD.
        # random_state: tensorly pads a factor with random columns when a rank exceeds the product
        # of the others (an unreachable rank); seeded, so results are repeatable.
        core, factors = tucker(J, rank=list(ranks), init="svd", svd=_left_singular, n_iter_max=int(n_iter), tol=0,
                               random_state=0)
    return core, list(factors)


def tucker_to_tensor(core: Tensor, factors: Sequence[Tensor]) -> Tensor:
    """The full tensor of a Tucker model, core x_1 U_1 x_2 ... x_N U_N (Tucker 1966; Kolda & Bader Eq. 4.1).

    >>> core, factors = torch.ones(1, 1), [torch.ones(2, 1), torch.ones(3, 1)]
    >>> tucker_to_tensor(core, factors).shape
    torch.Size([2, 3])
    """
    if len(factors) != core.dim():
        raise ValueError(f"factors must have one matrix per mode of core ({core.dim()}), got {len(factors)}")
    out = core
    for n, U in enumerate(factors):
        if U.dim() != 2 or U.shape[1] != core.shape[n]:
            raise ValueError(f"factors[{n}] must have shape (size, {core.shape[n]}), got {tuple(U.shape)}")
        out = torch.tensordot(U, out.movedim(n, 0), dims=1).movedim(0, n)  # mode-n product
    return out


# ----------------------------------------------------------------------------- energy at equal budgets


def tucker_params(shape: Sequence[int], ranks: Sequence[int]) -> int:
    """Numbers a Tucker model stores: the core, prod(r_n), plus the factors, sum(n_n r_n) (Tucker 1966).

    >>> tucker_params((128, 4, 4, 3, 32, 32), (1, 1, 1, 1, 1, 1))
    204
    """
    ranks = _check_ranks(shape, ranks)
    return math.prod(ranks) + sum(n * r for n, r in zip(shape, ranks))


def svd_params(m: int, n: int, k: int) -> int:
    """Numbers a rank-k SVD of an m x n matrix stores: k (m + n + 1) (U, V and the singular values).

    >>> svd_params(2048, 3072, 1)
    5121
    """
    for name, v in (("m", m), ("n", n), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if k > min(m, n):
        raise ValueError(f"k must be at most min(m, n) = {min(m, n)}, got {k}")
    return k * (m + n + 1)


def tucker_energy(J: Tensor, core: Tensor, factors: Sequence[Tensor]) -> float:
    """Fraction of ||J||^2 a Tucker model captures: 1 - ||J - approx||^2 / ||J||^2.

    For orthonormal factors and core = J x_n U_n^T (HOSVD, HOOI) this is ||core||^2 / ||J||^2.
    """
    J = _check_tensor(J)
    approx = tucker_to_tensor(core.to(J.dtype), [U.to(J.dtype) for U in factors])
    if approx.shape != J.shape:
        raise ValueError(f"the Tucker model has shape {tuple(approx.shape)}, J has {tuple(J.shape)}")
    return 1.0 - ((J - approx).square().sum() / J.square().sum()).item()


def flattened_energy(J: Tensor, out_modes: int = 3) -> Tensor:
    """Fraction of ||J||^2 captured by the best rank-k approximation of J flattened (Eckart-Young), every k.

    J is read as a matrix (product of the first `out_modes` sizes) x (product of the rest), as
    Park et al. do; the squared singular values are the eigenvalues of its smaller Gram matrix,
    taken in float64.

    Args:
        J: the tensor; out_modes: how many leading modes index the rows (3 for `jacobian_tensor`).

    Returns:
        `(min(m, n),)` float64, entry k-1 = sum of the top k squared singular values / ||J||^2.

    >>> flattened_energy(torch.eye(4).reshape(2, 2, 4), out_modes=2)
    tensor([0.2500, 0.5000, 0.7500, 1.0000], dtype=torch.float64)
    """
    J = _check_tensor(J)
    out_modes = _check_out_modes(J, out_modes)
    M = J.reshape(math.prod(J.shape[:out_modes]), -1).double()
    G = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
    s2 = torch.linalg.eigvalsh(G).flip(0).clamp_min(0)
    return s2.cumsum(0) / M.square().sum()


def hosvd_energies(core: Tensor) -> Tensor:
    """Energy of every truncated HOSVD at once, from the full HOSVD's core (De Lathauwer et al. 2000).

    With complete orthogonal factors, truncating to ranks r keeps the leading block
    `core[:r_1, ..., :r_N]`, and the model captures that block's squared norm.

    Args:
        core: the core of `hosvd(J, J.shape)`.

    Returns:
        E, float64, the shape of core: `E[r_1 - 1, ..., r_N - 1]` = ||core[:r_1, ..., :r_N]||^2 / ||core||^2.

    >>> hosvd_energies(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor([[0.8000, 0.8000],
            [0.8000, 1.0000]], dtype=torch.float64)
    """
    E = _check_tensor(core, "core").double().square()  # float64: 6.3 M terms are summed
    for n in range(E.dim()):
        E = E.cumsum(n)
    return E / E.flatten()[-1]


def _param_grid(shape: Sequence[int]) -> Tensor:
    """tucker_params of every rank tuple: entry [r_1 - 1, ..., r_N - 1], as a broadcast tensor."""
    prod = torch.ones((), dtype=torch.long)
    linear = torch.zeros((), dtype=torch.long)
    for n, size in enumerate(shape):
        r = torch.arange(1, size + 1).reshape([size if i == n else 1 for i in range(len(shape))])
        prod, linear = prod * r, linear + size * r
    return prod + linear


def _best(energies: Tensor, grid: Tensor, budget: int) -> tuple[tuple[int, ...], float]:
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
        raise ValueError(f"budget must be an int (a number of parameters), got {budget!r}")
    feasible = grid <= budget
    if not feasible.any():
        smallest = tucker_params(energies.shape, (1,) * energies.dim())
        raise ValueError(f"budget must allow the smallest Tucker model ({smallest} parameters for shape "
                         f"{tuple(energies.shape)}), got {budget!r}")
    flat = torch.where(feasible, energies, torch.tensor(-1.0, dtype=energies.dtype)).flatten()
    best = int(flat.argmax())
    ranks = tuple(int(i) + 1 for i in torch.unravel_index(torch.tensor(best), energies.shape))
    return ranks, flat[best].item()


def best_ranks(energies: Tensor, budget: int) -> tuple[tuple[int, ...], float]:
    """The truncation ranks that capture the most energy with at most `budget` Tucker parameters.

    An exhaustive search over every rank tuple (vectorised; 6.3 M tuples for the faces Jacobian),
    scored by the truncated HOSVD's energy (De Lathauwer et al. 2000).

    Args:
        energies: from `hosvd_energies`.
        budget: the most numbers the model may store (counted by `tucker_params`).

    Returns:
        (ranks, energy).

    >>> ranks, energy = best_ranks(hosvd_energies(torch.tensor([[2.0, 0.0], [0.0, 1.0]])), budget=5)
    >>> ranks, round(energy, 6)
    ((1, 1), 0.8)
    """
    energies = _check_tensor(energies, "energies")
    return _best(energies, _param_grid(energies.shape), budget)


def energy_table(
    J: Tensor, ks: Sequence[int] = (1, 2, 4, 8, 16, 32, 64), *, out_modes: int = 3, n_iter: int = 0,
    core: Tensor | None = None,
) -> list[dict]:
    """Tucker (HOSVD) against the flattened SVD at equal parameter budgets (De Lathauwer et al. 2000; Eckart-Young).

    For each k the budget is the rank-k flattened SVD's size, `svd_params(m, n, k)`; the Tucker
    model gets the truncation ranks that capture the most energy within it (`best_ranks`),
    refined by `n_iter` HOOI sweeps.

    Args:
        J: the tensor (e.g. from `jacobian_tensor`).
        ks: flattened SVD ranks, each from 1 to min(m, n).
        out_modes: how many leading modes are the output side (3 for `jacobian_tensor`).
        n_iter: HOOI sweeps for each row's Tucker model (0: truncated HOSVD, no extra cost).
        core: the core of `hosvd(J, J.shape)` if already computed (else it is computed here).

    Returns:
        One dict per k: `k`, `params` (the budget), `svd_energy`, `tucker_ranks`,
        `tucker_params` (<= params) and `tucker_energy`, energies as fractions of ||J||^2.

    >>> J = torch.randn(4, 3, 5, 2, generator=torch.Generator().manual_seed(0))
    >>> [sorted(row) for row in energy_table(J, ks=(1,), out_modes=2)][0]
    ['k', 'params', 'svd_energy', 'tucker_energy', 'tucker_params', 'tucker_ranks']
    """
    J = _check_tensor(J)
    out_modes = _check_out_modes(J, out_modes)
    m, n = math.prod(J.shape[:out_modes]), math.prod(J.shape[out_modes:])
    flat = flattened_energy(J, out_modes)
    if core is None:
        core, _ = hosvd(J, J.shape)
    elif core.shape != J.shape:
        raise ValueError(f"core must be the full HOSVD core, of J's shape {tuple(J.shape)}, got {tuple(core.shape)}")
    energies, grid = hosvd_energies(core), _param_grid(J.shape)
    rows = []
    for k in ks:
        budget = svd_params(m, n, k)
        ranks, energy = _best(energies, grid, budget)
        if n_iter:
            energy = tucker_energy(J, *hosvd(J, ranks, n_iter=n_iter))
        rows.append({"k": int(k), "params": budget, "svd_energy": flat[k - 1].item(), "tucker_ranks": ranks,
                     "tucker_params": tucker_params(J.shape, ranks), "tucker_energy": energy})
    return rows


def mode_spectra(core: Tensor, *, energy: bool = False) -> list[Tensor]:
    """The mode-n singular values of J, from its full HOSVD core (De Lathauwer et al. 2000).

    sigma^(n)_i = ||core with index i in mode n||, descending; they are the singular values of
    the mode-n unfolding of J (from a truncated core, of the truncated model).

    Args:
        core: from `hosvd(J, J.shape)`.
        energy: return each mode's energy fractions sigma_i^2 / sum_j sigma_j^2 instead.

    Returns:
        One `(J.shape[n],)` tensor per mode.

    >>> [s.tolist() for s in mode_spectra(torch.tensor([[4.0, 0.0], [0.0, 3.0]]))]
    [[4.0, 3.0], [4.0, 3.0]]
    >>> mode_spectra(torch.tensor([[4.0, 0.0], [0.0, 3.0]]), energy=True)[0]
    tensor([0.6400, 0.3600])
    """
    core = _check_tensor(core, "core")
    spectra = [core.movedim(n, 0).reshape(core.shape[n], -1).norm(dim=1) for n in range(core.dim())]
    return [s.square() / s.square().sum() for s in spectra] if energy else spectra


# ----------------------------------------------------------------------------- directions and edits


def rank1_directions(
    core: Tensor, factors: Sequence[Tensor], k: int = 3, *, in_modes: int = 3
) -> tuple[Tensor, list[tuple[int, ...]]]:
    """Separable x-space directions u_colour (x) u_row (x) u_col from HOSVD input factors (De Lathauwer 2000).

    Each combination (a, b, c) of columns of the last `in_modes` factors is a unit-norm separable
    image; combinations are ranked by the core energy they carry, ||core[..., a, b, c]||^2, which
    with complete output factors is ||J v||^2, the squared gain of J along that image.

    Args:
        core, factors: from `hosvd`; k: how many directions; in_modes: the trailing input modes.

    Returns:
        (V, index): V `(k, *input sizes)`, unit-norm rows with their largest-magnitude entry
        positive; index[i] the factor columns (a, b, c) of V[i].

    >>> J = torch.randn(16, 4, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> V, index = rank1_directions(*hosvd(J, (4, 2, 2, 3, 4, 4)), k=2)
    >>> V.shape, len(index)
    (torch.Size([2, 3, 8, 8]), 2)
    """
    core = _check_tensor(core, "core")
    if len(factors) != core.dim():
        raise ValueError(f"factors must have one matrix per mode of core ({core.dim()}), got {len(factors)}")
    if isinstance(in_modes, bool) or not isinstance(in_modes, numbers.Integral) or not 1 <= in_modes < core.dim():
        raise ValueError(f"in_modes must be an int from 1 to {core.dim() - 1}, got {in_modes!r}")
    weight = core.square().reshape(-1, *core.shape[core.dim() - in_modes:]).sum(0)  # (r_C, r_H, r_W)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= weight.numel():
        raise ValueError(f"k must be an int from 1 to {weight.numel()} (input-mode rank combinations), got {k!r}")
    order = weight.flatten().argsort(descending=True)[:k]
    index = [tuple(int(i) for i in torch.unravel_index(j, weight.shape)) for j in order]
    ins = factors[core.dim() - in_modes:]
    V = []
    for idx in index:
        v = ins[0][:, idx[0]]
        for U, i in zip(ins[1:], idx[1:]):
            v = torch.outer(v.flatten(), U[:, i]).reshape(*v.shape, U.shape[0])  # outer product
        v = v / v.norm()
        V.append(v * torch.sign(v.flatten()[v.abs().argmax()]))
    return torch.stack(V), index


def jacobian_gain(J: Tensor, V: Tensor, *, in_modes: int = 3) -> Tensor:
    """||J v|| for each row of V: how strongly h responds to a unit step along v (Park et al.'s s_i for v_i).

    >>> jacobian_gain(2 * torch.eye(3).reshape(3, 3), torch.eye(3)[:1], in_modes=1)
    tensor([2.])
    """
    J = _check_tensor(J)
    if isinstance(in_modes, bool) or not isinstance(in_modes, numbers.Integral) or not 1 <= in_modes < J.dim():
        raise ValueError(f"in_modes must be an int from 1 to {J.dim() - 1}, got {in_modes!r}")
    in_shape = J.shape[J.dim() - in_modes:]
    if tuple(V.shape[1:]) != tuple(in_shape):
        raise ValueError(f"V must have shape (k, {', '.join(map(str, in_shape))}), got {tuple(V.shape)}")
    return (J.reshape(-1, math.prod(in_shape)) @ V.reshape(len(V), -1).to(J.dtype).T).norm(dim=0)


# ----------------------------------------------------------------------------- reading the factors


def profile_shape(u: Tensor, *, rel: float = 0.2) -> tuple[int, int, int]:
    """The shape of a 1-D factor profile: (sign changes, first, last index) over its large entries.

    Entries smaller than `rel * max|u|` are ignored (a profile near zero flips sign on rounding
    noise); the sign changes are counted along the remaining entries in order, and the support is
    the span from the first to the last of them.

    Args:
        u: a vector, e.g. a column of a row or column factor from `hosvd`.
        rel: the threshold, a fraction of max|u| in (0, 1].

    Returns:
        (sign_changes, first, last), indices into u.

    >>> profile_shape(torch.tensor([0.01, -0.02, 0.5, 1.0, 0.4, -0.3, -0.6, 0.05]))
    (1, 2, 6)
    """
    if not isinstance(u, Tensor) or u.dim() != 1 or u.numel() == 0 or not u.is_floating_point():
        raise ValueError(f"u must be a non-empty 1-D float tensor, got "
                         f"{tuple(u.shape) if isinstance(u, Tensor) else type(u).__name__}")
    if not torch.isfinite(u).all() or not u.abs().max() > 0:
        raise ValueError("u must be finite and not all zero")
    if isinstance(rel, bool) or not isinstance(rel, numbers.Real) or not 0 < rel <= 1:
        raise ValueError(f"rel must be a number in (0, 1] (a fraction of max|u|), got {rel!r}")
    big = (u.abs() >= rel * u.abs().max()).nonzero().flatten()
    signs = torch.sign(u[big])
    return int((signs[1:] != signs[:-1]).sum()), int(big[0]), int(big[-1])


def sensitivity_maps(J: Tensor) -> Tensor:
    """Where each h position reads the image: sum over h channels and colours of J^2 (Park et al.'s J, unflattened).

    Args:
        J: `(C_h, H_h, W_h, C, H, W)`, from `jacobian_tensor`.

    Returns:
        `(H_h, W_h, H, W)`: map[i, j, y, x] = sum over c_h, c of J[c_h, i, j, c, y, x]^2; each map
        sums to the energy of that h position's rows of J.

    >>> sensitivity_maps(torch.ones(2, 4, 4, 3, 8, 8)).shape
    torch.Size([4, 4, 8, 8])
    """
    J = _check_tensor(J)
    if J.dim() != 6:
        raise ValueError(f"J must have 6 modes (C_h, H_h, W_h, C, H, W), got shape {tuple(J.shape)}")
    return J.square().sum((0, 3))


def own_patch_share(maps: Tensor) -> Tensor:
    """For each h position, the share of its sensitivity map that lies in its own patch of the image.

    The image `(H, W)` is cut into an `H_h x W_h` grid of patches (8 x 8 pixels for h 4 x 4 at
    32 px); h position (i, j) owns patch (i, j). A map spread evenly scores 1 / (H_h W_h).

    Args:
        maps: `(H_h, W_h, H, W)`, non-negative, from `sensitivity_maps`; H_h must divide H and W_h W.

    Returns:
        `(H_h, W_h)`: own-patch energy / map energy.

    >>> own_patch_share(torch.ones(2, 2, 4, 4))
    tensor([[0.2500, 0.2500],
            [0.2500, 0.2500]])
    """
    maps = _check_tensor(maps, "maps")
    if maps.dim() != 4 or maps.shape[2] % maps.shape[0] or maps.shape[3] % maps.shape[1]:
        raise ValueError(f"maps must have shape (H_h, W_h, H, W) with H_h dividing H and W_h dividing W, "
                         f"got {tuple(maps.shape)}")
    if (maps < 0).any() or (maps.flatten(2).sum(2) <= 0).any():
        raise ValueError("maps must be non-negative, each with a positive sum")
    hh, wh, H, W = maps.shape
    blocks = maps.reshape(hh, wh, hh, H // hh, wh, W // wh).sum((3, 5))  # (i, j, patch row, patch column)
    i, j = torch.meshgrid(torch.arange(hh), torch.arange(wh), indexing="ij")
    return blocks[i, j, i, j] / blocks.sum((2, 3))


# ----------------------------------------------------------------------------- baselines


def random_directions(
    n: int, shape: Sequence[int], *, blur: float = 0.0, generator: torch.Generator | None = None
) -> Tensor:
    """Random unit-norm images: Gaussian noise, optionally blurred, a baseline for edit directions.

    Each image is i.i.d. standard normal noise; `blur > 0` convolves every channel with a Gaussian
    of standard deviation `blur` pixels (separable, truncated at 3 blur, zero padding, so the image
    keeps its size); then each image is scaled to unit norm. Blurred noise is the fairer baseline
    for smooth directions such as the pullback's v_1 (J responds more to smooth images).

    Args:
        n: how many; shape: one image, `(C, H, W)`; blur: the Gaussian's std in pixels (0: none);
        generator: for repeatable draws.

    Returns:
        `(n, C, H, W)` float32, every image of unit norm.

    >>> V = random_directions(4, (3, 8, 8), blur=1.5, generator=torch.Generator().manual_seed(0))
    >>> V.shape, V.flatten(1).norm(dim=1).round(decimals=4).tolist()
    (torch.Size([4, 3, 8, 8]), [1.0, 1.0, 1.0, 1.0])
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if (isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) != 3
            or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in shape)):
        raise ValueError(f"shape must be (C, H, W), three positive ints, got {shape!r}")
    if isinstance(blur, bool) or not isinstance(blur, numbers.Real) or not 0 <= blur < math.inf:
        raise ValueError(f"blur must be a finite number >= 0 (a std in pixels), got {blur!r}")
    C, H, W = (int(d) for d in shape)
    z = torch.randn(n, C, H, W, generator=generator)
    if blur > 0:
        r = math.ceil(3 * blur)
        x = torch.arange(-r, r + 1, dtype=z.dtype)
        k = torch.exp(-x.square() / (2 * blur**2))
        z = z.reshape(n * C, 1, H, W)
        z = torch.nn.functional.conv2d(z, k.reshape(1, 1, 1, -1), padding=(0, r))  # horizontally, within each row
        z = torch.nn.functional.conv2d(z, k.reshape(1, 1, -1, 1), padding=(r, 0))  # vertically, within each column
        z = z.reshape(n, C, H, W)
    return z / z.flatten(1).norm(dim=1)[:, None, None, None]

