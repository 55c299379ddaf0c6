"""Exercise checks of lab 11, after the papers: LOCO Edit's null-space projection written out (11.1), and
whether the projection keeps the predicted image outside the mask, to first order (mini-project 11.2).

The references are numpy's projection on the flattened directions and the Jacobian-vector products of
the posterior mean (`loco.posterior_mean_products`), called directly on the notebook's face.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...loco import LocoDirections, posterior_mean_products
from .feedback import Hint, as_number, as_tensor, call_answer, checker

__all__ = ["check_null_project", "check_null_space_effect"]


def _reference(v: np.ndarray, V_out: np.ndarray) -> np.ndarray:
    p = v - V_out.T @ (V_out @ v)
    return p / np.linalg.norm(p)


@checker("11.1 the null-space projection", ("null_project",), "Write `null_project(v, V_out)` as the exercise says.")
def check_null_project(null_project: Any, d: LocoDirections) -> str:
    """Exercise 11.1: `null_project(v, V_out)` removes from v its components along the rows of V_out
    (orthonormal, flattened) and normalises what is left; checked on the notebook's LOCO directions and
    on a small case against numpy.

    >>> from latentlab.loco import loco_basis
    >>> A = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5])); A[2, 0] = 1.0
    >>> d = loco_basis(lambda v: A @ v, lambda u: A.T @ u, torch.tensor([True, True, False, False]),
    ...                rank=1, null_rank=1)
    >>> def mine(v, V_out):
    ...     p = v - (V_out @ v) @ V_out
    ...     return p / p.norm()
    >>> check_null_project(mine, d).ok
    True
    >>> check_null_project(lambda v, V_out: v, d).message[:20]
    'Your direction still'
    >>> check_null_project(lambda v, V_out: None, d).message[:30]
    '`null_project` returns None: f'
    """
    V_in, V_out = d.V_in.reshape(len(d.V_in), -1).double(), d.V_out.reshape(len(d.V_out), -1).double()
    g = np.random.default_rng(0)
    Q, _ = np.linalg.qr(g.standard_normal((7, 3)))
    cases = [(V_in[0], V_out), (torch.from_numpy(g.standard_normal(7)), torch.from_numpy(Q.T.copy()))]
    for v, W in cases:
        out = call_answer(null_project, "null_project", v.clone(), W.clone())
        if out is None:
            raise Hint("`null_project` returns None: fill in its body and `return` the direction.")
        got = as_tensor(out, "null_project(v, V_out)")
        got = got.reshape(-1)
        if got.numel() != v.numel():
            raise Hint(f"`null_project` should return a direction of v's {v.numel()} entries, got {got.numel()}.")
        want = torch.from_numpy(_reference(v.numpy(), W.numpy()))
        left = float((W @ got).norm() / max(float(got.norm()), 1e-12))
        if left > 1e-4:
            raise Hint(f"Your direction still has {left:.2f} of its length along the rows of V_out: subtract "
                       "V_out^T (V_out v), the part of v in their span, not the other way round.")
        if abs(float(got.norm()) - 1) > 1e-4:
            raise Hint(f"Your direction has norm {float(got.norm()):.3f}: normalise it to unit length.")
        if float(got @ want) < 1 - 1e-6:
            raise Hint("Your direction is orthogonal to V_out but not v's own remainder: project v itself, "
                       "keep its sign, then normalise.")
    kept = float(d.kept[0])
    return (f"v loses {1 - kept:.1%} of its length to the {len(V_out)} outside directions; what is left moves "
            "the predicted image outside the mask not at all, to first order, along those directions.")


@checker("11.2 does the null space keep the outside?", ("ratio_raw", "ratio_projected"),
         "Fill in `ratio_raw` and `ratio_projected`, as the mini-project says.")
def check_null_space_effect(model: Any, x_t: Tensor, t: int, mask: Tensor, d: LocoDirections, ratio_raw: Any,
                            ratio_projected: Any) -> str:
    """Mini-project 11.2: |(1 - M) J v| / |M J v| for LOCO's direction before the projection (V_in[0]) and
    after it (V[0]), J = d x0_hat / d x_t at the notebook's face (the mask on every channel).

    >>> import latentlab as ll
    >>> from latentlab.loco import loco_directions
    >>> m = ll.tiny_model(); x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> mask = torch.zeros(16, 16, dtype=torch.bool); mask[4:8, 4:12] = True
    >>> d = loco_directions(m, x, 600, mask, null_rank=3)
    >>> check_null_space_effect(m, x, 600, mask, d, None, 0.1).ok
    False
    """
    raw, proj = as_number(ratio_raw, "ratio_raw"), as_number(ratio_projected, "ratio_projected")
    jvp, _ = posterior_mean_products(model, x_t, t)
    m = mask.to(torch.float32).expand(*d.V.shape[1:])
    want = []
    for v in (d.V_in[0], d.V[0]):
        Jv = jvp(v)
        want.append(float(((1 - m) * Jv).norm() / (m * Jv).norm()))
    for name, got, ref in (("ratio_raw", raw, want[0]), ("ratio_projected", proj, want[1])):
        if abs(got - 1 / ref) < 0.02 * ref ** -1 and abs(got - ref) > 0.02 * ref:
            raise Hint(f"`{name}` is inside over outside; the mini-project asks for outside over inside.")
        if abs(got - ref) > 0.02 * ref:
            raise Hint(f"`{name}` = {got:.3f}, the Jacobian-vector product gives {ref:.3f}: take J v with "
                       "`posterior_mean_products(model, x_t, t)`, then the norms of its parts outside and inside the "
                       "mask (on every channel).")
    change = "lowers" if want[1] < want[0] else "does not lower"
    return (f"the projection {change} the outside change, {want[0]:.2f} -> {want[1]:.2f} of the inside's: it removes "
            "only the top outside directions, so the rest of J_out still acts on v.")
