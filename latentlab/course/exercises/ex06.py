"""Exercise checks of notebook 06, Park et al.'s pullback: transporting a direction to another face
(06.1), and whether the transported direction keeps its meaning in h (06.2).

The references are the closed forms V'(U'^T u) and J_B v = sum_i s_i (V_B[i] . v) U_B[i].
"""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from .feedback import Hint, abs_cos, as_number, as_tensor, checker, is_close, svd_parts

__all__ = ["check_transport", "check_transport_meaning"]


def _svd_of(svd: Any, name: str) -> tuple[Tensor, Tensor, Tensor]:
    try:
        return svd_parts(svd)
    except Hint:
        raise Hint(f"`{name}` should be a pullback's SVD (with .U, .S, .V).") from None


@checker("06.1 transport a direction", ("v",),
         "Fill in `v_AB` = V_B (U_B^T u), normalised.")
def check_transport(u: Tensor, svd_B: Any, v: Any) -> str:
    """Exercise 06.1: Park et al.'s transport `V'(U'^T u) / |.|`, computed here in closed form.

    >>> import torch, latentlab as ll
    >>> svd = ll.SVD(U=torch.eye(3)[:2], S=torch.tensor([2.0, 1.0]), V=torch.eye(4)[:2])
    >>> check_transport(torch.tensor([0.0, 3.0, 4.0]), svd, [0.0, 1.0, 0.0, 0.0]).ok
    True
    """
    U, S, V = _svd_of(svd_B, "svd_B")
    u = as_tensor(u, "u")
    v = as_tensor(v, "v")
    x_shape = tuple(V.shape[1:])
    if tuple(v.shape) == tuple(U.shape[1:]) and tuple(v.shape) != x_shape:
        raise Hint(f"`v` has h's shape {tuple(v.shape)}; the transported direction lives in x-space, "
                   f"{x_shape}: combine the rows of V_B, with weights U_B^T u.")
    if tuple(v.shape) != x_shape:
        raise Hint(f"`v` should have the shape of one x_t, {x_shape}; yours has shape {tuple(v.shape)}.")
    coef = U.flatten(1) @ u.flatten()
    want = (coef @ V.flatten(1)).reshape(x_shape)
    want = want / want.norm()
    if is_close(v, want, 1e-4):
        return f"u keeps {coef.norm().item() / u.norm().item():.0%} of its norm in span(U_B)."
    if abs_cos(v, want) > 0.9999:
        raise Hint(f"Right direction; normalise it to unit length (yours: {v.norm().item():.3f}).")
    scaled = ((coef * S) @ V.flatten(1)).reshape(x_shape)
    scaled_inv = ((coef / S) @ V.flatten(1)).reshape(x_shape)
    if abs_cos(v, scaled) > 0.9999 or abs_cos(v, scaled_inv) > 0.9999:
        raise Hint("Park et al.'s transport uses V_B (U_B^T u) without the singular values: drop S.")
    raise Hint("Compute the weights c = U_B^T u (one per singular triplet, on flattened tensors), then v = "
               "sum_i c_i V_B[i], normalised.")


@checker("06.2 does it still mean the same?", ("cos", "keeps_meaning"),
         "Fill in `cos_meaning` and `keeps_meaning`.")
def check_transport_meaning(u: Tensor, svd_B: Any, v: Tensor, cos: Any, keeps_meaning: Any,
                            threshold: float = 0.7) -> str:
    """Exercise 06.2: cos(u, J_B v), where J_B v = sum_i s_i (V_B[i] . v) U_B[i] exactly for v in span(V_B).

    A finite difference of h (`h_of(x + e v) - h_of(x)`) is accepted within 0.05.

    >>> import torch, latentlab as ll
    >>> svd = ll.SVD(U=torch.eye(3)[:2], S=torch.tensor([2.0, 1.0]), V=torch.eye(4)[:2])
    >>> check_transport_meaning(torch.tensor([0.0, 3.0, 4.0]), svd, torch.tensor([0.0, 1.0, 0, 0]), 0.6, False).ok
    True
    """
    U, S, V = _svd_of(svd_B, "svd_B")
    u, v = as_tensor(u, "u").flatten(), as_tensor(v, "v").flatten()
    Jv = (S * (V.flatten(1) @ v)) @ U.flatten(1)
    want = (u @ Jv).item() / (u.norm() * Jv.norm()).item()
    c = as_number(cos, "cos")
    one_bool = isinstance(keeps_meaning, (bool, np.bool_))
    if not one_bool and not (isinstance(keeps_meaning, Tensor) and keeps_meaning.numel() == 1):
        raise Hint("`keeps_meaning` should be True or False.")
    keeps = bool(keeps_meaning)
    if abs(c - want) > 0.05:
        if abs(c - abs_cos(u, U.flatten(1).T @ (U.flatten(1) @ u))) < 0.02:
            raise Hint("That is how much of u lies in span(U_B); the question is about J_B v, which weights each "
                       "U_B[i] by s_i: J_B v = sum_i s_i (V_B[i] . v) U_B[i].")
        raise Hint(f"`cos` = {c:.3f}, but cos(u, J_B v) = {want:.3f}: push v through J_B (a jvp of h_of "
                   f"inside `with ll.forward_ad(model):`, a small finite difference, or the SVD: "
                   f"J_B V_B[i] = s_i U_B[i]).")
    if keeps != (want >= threshold):
        raise Hint(f"`cos` is right ({want:.2f}); with the threshold "
                   f"{threshold}, keeps_meaning should be {want >= threshold}.")
    verdict = "keeps" if keeps else "loses"
    return f"cos(u, J_B v) = {want:.2f}: it {verdict} its meaning in h."
