"""Exercise checks of lab 07 (of the optional lecture 07), the Jacobian as a tensor: a truncated HOSVD
by hand and the energy its core keeps (07.1), and Tucker's parameter count against a flattened SVD's
at the same budget (07.2), and HOOI, the iteration that refines a HOSVD, written out (07.3).

The references are SVDs of the mode unfoldings, the counts in closed form, and the package's own
`latentlab.hosvd.hosvd(T, ranks, n_iter=...)` (tensorly's HOOI).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from latentlab.hosvd import hosvd

from .feedback import Hint, as_number, as_tensor, call_answer, checker

__all__ = ["check_hosvd_energy", "check_parameter_budget", "check_hooi"]


def _unfold(T: Tensor, mode: int) -> Tensor:
    return T.movedim(mode, 0).reshape(T.shape[mode], -1)


@checker("07.1 HOSVD by hand", ("factors", "energy"),
         "Fill in `factors` (top-r left singular vectors per mode) and `energy`.")
def check_hosvd_energy(T: Tensor, ranks: Sequence[int], factors: Any, energy: Any) -> str:
    """Exercise 07.1: a truncated HOSVD from the mode unfoldings, and the energy its core keeps.

    >>> T = torch.zeros(2, 2, 2); T[0, 0, 0] = 3.0; T[1, 1, 1] = 1.0
    >>> e1 = torch.tensor([[1.0], [0.0]])
    >>> check_hosvd_energy(T, (1, 1, 1), [e1, e1, e1], 0.9).ok
    True
    """
    T = as_tensor(T, "T")
    ranks = tuple(int(r) for r in ranks)
    if not isinstance(factors, (list, tuple)) or len(factors) != T.dim():
        raise Hint(f"`factors` should be a list of {T.dim()} matrices, one per mode.")
    A = []
    for n, (f, r) in enumerate(zip(factors, ranks)):
        f = as_tensor(f, f"factors[{n}]")
        if tuple(f.shape) == (r, T.shape[n]) and r != T.shape[n]:
            raise Hint(f"`factors[{n}]` is {tuple(f.shape)}: put the singular vectors in columns, ({T.shape[n]}, {r}).")
        if tuple(f.shape) != (T.shape[n], r):
            raise Hint(f"`factors[{n}]` should have shape ({T.shape[n]}, {r}), yours has shape {tuple(f.shape)}.")
        ref = torch.linalg.svd(_unfold(T, n), full_matrices=False).U[:, :r]
        overlap = torch.linalg.svdvals(ref.T @ f).min().item() if r else 1.0
        if overlap < 0.999:
            raise Hint(f"`factors[{n}]` does not span the top-{r} left singular space of the mode-{n} unfolding "
                       f"(T.movedim({n}, 0).reshape({T.shape[n]}, -1)).")
        A.append(f)
    core = T
    for n, f in enumerate(A):
        core = torch.tensordot(core, f, dims=([0], [0]))  # contracts mode n; the new axis goes last
    want = (core.norm() ** 2 / T.norm() ** 2).item()
    e = as_number(energy, "energy")
    if abs(e - want) > 1e-3:  # a value read off a printout to 3 decimals passes
        if abs(e - want ** 0.5) < 1e-3:
            raise Hint("Energy is a squared norm: |core|^2 / |T|^2, not |core| / |T|.")
        raise Hint(f"The factors are right; `energy` = {e:.4f}, but the "
                   f"core T x_1 A_1^T ... keeps {want:.4f} of |T|^2.")
    return (f"the {ranks} core keeps {want:.1%} of |T|^2 in "
            f"{math.prod(ranks) + sum(a * b for a, b in zip(T.shape, ranks))} of {T.numel()} numbers.")


@checker("07.2 equal parameter budgets", ("n_tucker", "k"),
         "Fill in `n_tucker` and the largest SVD rank `k` within it.")
def check_parameter_budget(shape: Sequence[int], ranks: Sequence[int], n_tucker: Any, k: Any,
                           out_modes: int = 3) -> str:
    """Exercise 07.2: Tucker's parameter count, and the flattened SVD's rank at the same budget.

    >>> check_parameter_budget((4, 2, 3), (2, 2, 2), 26, 2, out_modes=1).ok
    True
    """
    shape, ranks = tuple(int(s) for s in shape), tuple(int(r) for r in ranks)
    want = math.prod(ranks) + sum(n * r for n, r in zip(shape, ranks))
    m, n = math.prod(shape[:out_modes]), math.prod(shape[out_modes:])
    want_k = want // (m + n + 1)
    got = as_number(n_tucker, "n_tucker")
    if got != want:
        if got == math.prod(ranks):
            raise Hint("That is the core alone; add the factor matrices, sum_n (size_n x rank_n).")
        if got == sum(a * b for a, b in zip(shape, ranks)):
            raise Hint("That is the factors alone; add the core, prod_n rank_n.")
        raise Hint(f"`n_tucker` = {got:g}: count the core (prod of the ranks) plus each factor (size x rank).")
    kk = as_number(k, "k")
    if kk != want_k:
        if kk == math.ceil(want / (m + n + 1)):
            raise Hint("That SVD stores more than the Tucker model: round down, k (m + n + 1) <= n_tucker.")
        raise Hint(f"A rank-k SVD of the {m} x {n} flattened J stores k (m + n + 1) numbers; `k` = {kk:g} does not "
                   f"give the largest k within {want}.")
    return f"{want:,} numbers: Tucker {ranks}, SVD rank {want_k}."


def _project_all_but(T: Tensor, factors: Sequence[Tensor], skip: int) -> Tensor:
    """T multiplied by every factor's transpose except mode `skip`'s; the modes keep their order."""
    for m, A in enumerate(factors):
        if m != skip:
            T = torch.tensordot(A, T.movedim(m, 0), dims=([0], [0])).movedim(0, m)
    return T


def _hooi_sweeps(T: Tensor, ranks: Sequence[int], n_iter: int, *, jacobi: bool = False,
                 project: bool = True) -> float:
    """The energy a HOOI variant keeps: right (Gauss-Seidel: each new factor used at once), or with a typical
    slip: `jacobi` (a sweep's factors all from the previous sweep's), `project=False` (no projection)."""
    A = [torch.linalg.svd(_unfold(T, n), full_matrices=False).U[:, :r] for n, r in enumerate(ranks)]
    for _ in range(n_iter):
        old = list(A)
        for n, r in enumerate(ranks):
            Y = _project_all_but(T, old if jacobi else A, n) if project else T
            A[n] = torch.linalg.svd(_unfold(Y, n), full_matrices=False).U[:, :r]
    core = _project_all_but(T, A, -1)
    return (core.norm() ** 2 / T.norm() ** 2).item()


@checker("07.3 HOOI by hand", ("hooi",),
         "Fill in `hooi`: a function `hooi(T, ranks, n_iter)` that returns `(core, factors)`.")
def check_hooi(T: Any, ranks: Sequence[int], hooi: Any, n_iters: Sequence[int] = (0, 1, 8)) -> str:
    """Exercise 07.3: higher-order orthogonal iteration (De Lathauwer, De Moor & Vandewalle 2000b) from the
    truncated HOSVD, against `latentlab.hosvd.hosvd(T, ranks, n_iter)`: the student's `hooi` runs at each
    of `n_iters`, and the energy its core keeps, |core|^2 / |T|^2, must match the package's within 1e-6.

    >>> def hooi(T, ranks, n_iter):
    ...     return hosvd(T, ranks, n_iter=n_iter)
    >>> T = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> check_hooi(T, (2, 2, 2), hooi).ok
    True
    """
    T = as_tensor(T, "T")
    ranks = tuple(int(r) for r in ranks)
    energies = []
    for n_iter in n_iters:
        out = call_answer(hooi, "hooi", T.clone(), ranks, n_iter)
        if out is None:
            raise Hint("`hooi` returned None: end it with `return core, factors`.")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Hint(f"`hooi` should return a pair `(core, factors)`, not a {type(out).__name__}.")
        core, factors = out
        if not isinstance(factors, (tuple, list)) or len(factors) != T.dim():
            raise Hint(f"`factors` should be a list of {T.dim()} matrices, one per mode.")
        A = []
        for n, (f, r) in enumerate(zip(factors, ranks)):
            f = as_tensor(f, f"factors[{n}]")
            if tuple(f.shape) == (r, T.shape[n]) and r != T.shape[n]:
                raise Hint(f"`factors[{n}]` is {tuple(f.shape)}: put the singular vectors in columns, "
                           f"({T.shape[n]}, {r}).")
            if tuple(f.shape) != (T.shape[n], r):
                raise Hint(f"`factors[{n}]` should have shape ({T.shape[n]}, {r}), yours has {tuple(f.shape)}.")
            if not torch.allclose(f.T @ f, torch.eye(r, dtype=f.dtype), atol=1e-6):
                raise Hint(f"The columns of `factors[{n}]` are not orthonormal: take them from an SVD's U.")
            A.append(f)
        core = as_tensor(core, "core", ranks)
        if (core - _project_all_but(T, A, -1)).norm() > 1e-6 * T.norm():
            raise Hint("`core` is not T x_1 A_1^T x_2 A_2^T x_3 A_3^T for your factors: project T on every final "
                       "factor (transposed) after the last sweep.")
        got = (core.norm() ** 2 / T.norm() ** 2).item()
        c, f = hosvd(T, ranks, n_iter=n_iter)
        want = (c.norm() ** 2 / T.norm() ** 2).item()
        if abs(got - want) > 1e-6:
            plain = _hooi_sweeps(T, ranks, 0)
            if n_iter == 0:
                raise Hint(f"With n_iter = 0 `hooi` should return the truncated HOSVD (exercise 07.1), keeping "
                           f"{want:.6f} of |T|^2; yours keeps {got:.6f}.")
            if abs(got - plain) <= 1e-9:
                raise Hint(f"After {n_iter} sweep(s) your core keeps what the HOSVD keeps ({plain:.6f}); HOOI "
                           f"keeps {want:.6f}. In each sweep, project T on the *other* modes' current factors "
                           "(transposed) before taking the SVD of the mode-n unfolding.")
            if abs(got - _hooi_sweeps(T, ranks, n_iter, jacobi=True)) <= 1e-9:
                raise Hint("Each sweep builds every factor from the previous sweep's; HOOI uses each new factor at "
                           "once, for the next modes of the same sweep (replace A[n] inside the loop over n).")
            if abs(got - _hooi_sweeps(T, ranks, n_iter, project=False)) <= 1e-9:
                raise Hint("Project T on the other modes' factors before each mode's SVD.")
            raise Hint(f"After {n_iter} sweep(s) your core keeps {got:.6f} of |T|^2, the reference {want:.6f}. "
                       "A sweep: for each mode n in turn, Y = T times every other factor's transpose, then "
                       "A_n = top r_n left singular vectors of Y's mode-n unfolding.")
        energies.append(want)
    kept = " -> ".join(f"{e:.4f}" for e in energies)
    return (f"{kept} of |T|^2 after {', '.join(map(str, n_iters))} sweeps: HOOI can only raise what the HOSVD "
            f"keeps; here by {energies[-1] - energies[0]:.4f}.")
