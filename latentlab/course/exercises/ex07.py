"""Exercise checks of lab 07 (of the optional lecture 07), the Jacobian as a tensor: a truncated HOSVD
by hand and the energy its core keeps (07.1), and Tucker's parameter count against a flattened SVD's
at the same budget (07.2).

The references are SVDs of the mode unfoldings and the counts in closed form.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from .feedback import Hint, as_number, as_tensor, checker

__all__ = ["check_hosvd_energy", "check_parameter_budget"]


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
