"""Exercise checks of notebook 05, Haas et al.'s directions: the first principal direction of h and its
share of the variance (05.1), and the supervised top-minus-bottom direction (05.2).

The references are a dense SVD of the centred h and the means of the sorted faces.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .feedback import Hint, abs_cos, as_number, as_tensor, checker, is_close

__all__ = ["check_pca_direction", "check_supervised_direction"]


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
