"""Exercise checks of notebook 05, Haas et al.'s directions: the first principal direction of h and its
share of the variance (05.1), the supervised top-minus-bottom direction (05.2), and Haas's Jacobian
directions found by the student's power iteration on d eps / dh (05.3).

The references are a dense SVD of the centred h, the means of the sorted faces, and `eps_jacobian`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

import latentlab as ll

from .feedback import Hint, abs_cos, as_model, as_number, as_tensor, checker, is_close

__all__ = ["check_pca_direction", "check_supervised_direction", "check_haas_power_iteration"]


@checker("05.1 the first principal direction", ("pc1", "explained"),
         "Fill in `pc1` (unit norm) and `explained` (in [0, 1]).")
def check_pca_direction(h: Tensor, pc1: Any, explained: Any) -> str:
    """Exercise 05.1: PCA of h at one timestep by hand, against a dense SVD of the centred data.

    >>> h = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]]) + 3
    >>> check_pca_direction(h, [1.0, 0.0], 0.8).ok
    True
    """
    h = as_tensor(h, "h")
    X = h.flatten(1)
    pc1 = as_tensor(pc1, "pc1")
    if pc1.numel() != X.shape[1]:
        raise Hint(f"`pc1` should have the shape of one h, {tuple(h.shape[1:])}; yours has shape {tuple(pc1.shape)}.")
    if tuple(pc1.shape) != tuple(h.shape[1:]):
        raise Hint(f"`pc1` has the right entries count but shape {tuple(pc1.shape)}: reshape it to one h's shape "
                   f"{tuple(h.shape[1:])}, as a direction in h is used.")
    p = pc1.flatten()
    if abs(p.norm().item() - 1) > 1e-3:
        raise Hint(f"`pc1` should have unit norm (yours: {p.norm().item():.3f}).")
    Xc = X - X.mean(0)
    _, s, Vh = torch.linalg.svd(Xc, full_matrices=False)
    share = (s[0] ** 2 / (s ** 2).sum()).item()
    if abs_cos(p, Vh[0]) < 0.99:
        if abs_cos(p, torch.linalg.svd(X, full_matrices=False).Vh[0]) > 0.99:
            raise Hint("That is the top singular vector of the uncentred h, which points at the mean. Subtract "
                       "the mean over the samples first.")
        raise Hint(f"`pc1` is not the top principal direction (|cosine| {abs_cos(p, Vh[0]):.2f} with it).")
    e = as_number(explained, "explained")
    if abs(e - share) > 1e-3:
        if abs(e - (s[0] / s.sum()).item()) < 1e-3:
            raise Hint("Variance goes with sigma squared: explained = sigma_1^2 / sum_k sigma_k^2.")
        if abs(e - 100 * share) < 0.1:
            raise Hint("Give the share as a fraction in [0, 1], not in per cent.")
        raise Hint(f"`pc1` is right; `explained` = {e:.3f} is not sigma_1^2 / sum_k sigma_k^2 of the centred h.")
    return f"pc_1 carries {share:.0%} of the variance (average: {1 / min(X.shape):.1%})."


@checker("05.2 a supervised direction", ("d",),
         "Fill in `d_hair`: mean h of the top 10 % minus that of the bottom 10 % (the kit's `top`).")
def check_supervised_direction(h: Tensor, scores: Tensor, d: Any, top: float = 0.1) -> str:
    """Exercise 05.2: Haas et al.'s supervised direction (Eq. 11), mean(h[top]) - mean(h[bottom]).

    >>> h = torch.arange(10.0)[:, None]
    >>> check_supervised_direction(h, torch.arange(10.0), [9.0]).ok
    True
    """
    h, scores = as_tensor(h, "h"), as_tensor(scores, "scores")
    n = max(1, int(round(top * len(h))))
    order = scores.argsort()
    want = h[order[-n:]].mean(0) - h[order[:n]].mean(0)
    d = as_tensor(d, "d")
    if d.numel() != want.numel():
        raise Hint(f"`d` should have the shape of one h, {tuple(h.shape[1:])}; yours has shape {tuple(d.shape)}.")
    d = d.reshape(want.shape)
    if is_close(d, want, 1e-4):
        return f"the top {n} minus the bottom {n} of {len(h)} faces."
    if is_close(d, -want, 1e-4):
        raise Hint("The sign is flipped: top minus bottom, so that adding d raises the score.")
    above = scores > scores.median()
    if is_close(d, h[above].mean(0) - h[~above].mean(0), 1e-4):
        raise Hint(f"That splits at the median (a mean difference of all faces); take only the top and bottom "
                   f"{top:.0%} ({n} faces each).")
    if abs(abs_cos(d, want) - 1) < 1e-4:
        raise Hint(f"The right direction with a different length ({d.norm().item():.3f} against "
                   f"{want.norm().item():.3f}): don't normalise it, and average (not sum) each group.")
    raise Hint(f"Sort the faces by score (argsort), take the {n} highest and the {n} lowest, and subtract their means.")


@checker("05.3 Haas's directions by power iteration", ("S", "V"),
         "Fill in `S, V = power_directions(jvp, vjp, h_shape, k=2)`: repeat V <- orthonormalised vjp(jvp(V)), "
         "then S[i] = |jvp(V[i])|.")
def check_haas_power_iteration(model: Any, x_t: Tensor, t: int, S: Any, V: Any, k: int = 2) -> str:
    """Exercise 05.3: the top-k right singular vectors of J = d eps / dh (Haas et al. 2023, Sec. 4), found
    by the student's block power iteration on J^T J, against `ll.eps_jacobian` (a block Krylov SVD)
    at `x_t`, `t`.

    >>> import latentlab as ll
    >>> check_haas_power_iteration(ll.tiny_model(), torch.zeros(3, 16, 16), 500, None, None).message[:9]
    'Fill in `'
    """
    model = as_model(model)
    x_t = as_tensor(x_t, "x_t").float()
    h_shape, out_shape = tuple(model.h_shape), tuple(x_t.shape[-3:])
    V = as_tensor(V, "V")
    if tuple(V.shape) == (k, *out_shape) and out_shape != h_shape:
        raise Hint(f"V has rows of eps's shape {out_shape}: those are output directions (U). Haas's directions live "
                   f"in h, shape {h_shape}: are jvp and vjp swapped? V <- vjp(jvp(V)).")
    if tuple(V.shape) == h_shape:
        raise Hint(f"V is one direction; stack k = {k} of them, shape ({k}, {', '.join(map(str, h_shape))}).")
    V = as_tensor(V, "V", (k, *h_shape)).flatten(1)
    S = as_tensor(S, "S")
    if S.numel() != k:
        raise Hint(f"S should hold {k} singular values, one per row of V; yours has shape {tuple(S.shape)}.")
    S = S.flatten()
    norms = V.norm(dim=1)
    if (norms - 1).abs().max() > 1e-3:
        raise Hint(f"The rows of V should have unit norm (yours: {norms.numpy().round(3).tolist()}): normalise, "
                   "or orthonormalise the block with torch.linalg.qr.")
    overlap = abs_cos(V[0], V[1]) if k >= 2 else 0.0
    if overlap > 0.5:
        raise Hint(f"Your rows are nearly parallel (|cosine| {overlap:.2f}): without orthogonalisation every row "
                   "converges to v_1. Orthonormalise the block after each product (Q, _ = torch.linalg.qr(W.T)).")
    ref = ll.eps_jacobian(model, x_t, t, k=k + 1, tol=1e-6)
    R = ref.V.double().flatten(1)
    cos = [abs_cos(V[i], R[i]) for i in range(k)]
    if min(cos) < 0.99:
        if k >= 2 and abs_cos(V[0], R[1]) > 0.99 and abs_cos(V[1], R[0]) > 0.99:
            raise Hint("The right directions in the wrong order: sort them by S, largest first.")
        rates = [(ref.S[i + 1] / ref.S[i]).item() ** 2 for i in range(k)]
        raise Hint(f"|cosine| with eps_jacobian's V: {[round(c, 3) for c in cos]}, not yet above 0.99. Each "
                   f"iteration shrinks the error only by (s_(i+1)/s_i)^2 = {[round(r, 2) for r in rates]} here: "
                   "iterate more (30 iterations suffice).")
    want = ref.S[:k].double()
    if is_close(S, want ** 2, 1e-2):
        raise Hint("S holds s_i^2, the eigenvalues of J^T J: the singular values are |J v_i| = |jvp(V[i])|.")
    if not is_close(S, want, 1e-2):
        raise Hint(f"V is right; S = {S.numpy().round(4).tolist()} is not (eps_jacobian: "
                   f"{want.numpy().round(4).tolist()}): s_i = |jvp(V[i])|, the norm of J v_i.")
    return (f"s = {want.numpy().round(4).tolist()} and |cosine| {min(cos):.4f} or better with eps_jacobian's V: "
            f"Haas's top {k} directions in h, found from products alone.")
