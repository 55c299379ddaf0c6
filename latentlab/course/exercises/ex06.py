"""Exercise checks of lab 06, Park et al.'s pullback: transporting a direction to another face (06.1),
whether the transported direction keeps its meaning in h (06.2), and x-space guidance written out
(06.3).

The references are the closed forms V'(U'^T u) and J_B v = sum_i s_i (V_B[i] . v) U_B[i], and the
package's own `latentlab.x_space_guidance`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

import latentlab as ll

from .feedback import Hint, abs_cos, as_model, as_number, as_tensor, call_answer, checker, is_close, svd_parts

__all__ = ["check_transport", "check_transport_meaning", "check_x_space_guidance"]


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


def _guided(model: ll.Model, x: Tensor, t: int, v: Tensor, gamma: float, n: int, *, sign: float = 1.0,
            fresh: bool = True, minus_eps: bool = True) -> list[Tensor]:
    """Every iterate of a guidance loop, right (the defaults) or with one typical slip: the step's sign,
    the difference frozen at the start (`fresh=False`), eps(x + v) alone (`minus_eps=False`)."""
    xs, step = [x], None
    for _ in range(n):
        if fresh or step is None:
            step = ll.eps_of(model, x + v, t) - (ll.eps_of(model, x, t) if minus_eps else 0)
        x = x + sign * gamma * step
        xs.append(x)
    return xs


@checker("06.3 x-space guidance by hand", ("guide",),
         "Fill in `guide`: a function `guide(model, x_t, t, v, gamma, n)` that returns x_t after n guidance steps.")
def check_x_space_guidance(model: Any, x_t: Any, t: int, v: Any, guide: Any) -> str:
    """Exercise 06.3: Park et al.'s x-space guidance written as a loop, n times
    `x <- x + gamma * (eps(x + v) - eps(x))` with v fixed, against `latentlab.x_space_guidance`.

    The student's `guide` runs twice, at (gamma, n) = (0.1, 16) (Park et al.'s face setting, lab 06's
    section 4) and (0.3, 2), so that a constant written into the loop instead of the arguments shows;
    the message gives the guided step's cosine with v at each setting, named.

    >>> check_x_space_guidance(None, None, 600, None, None).message[:15]
    'Fill in `guide`'
    """
    model = as_model(model)
    x_t = as_tensor(x_t, "x_t", model.sample_shape).float()
    v = as_tensor(v, "v", model.sample_shape).float()
    t = int(t)
    first, cosines = None, []
    for gamma, n in ((0.1, 16), (0.3, 2)):
        got = call_answer(guide, "guide", model, x_t.clone(), t, v.clone(), gamma, n)
        if got is None:
            raise Hint("`guide` returned None: end it with `return x`.")
        got = as_tensor(got, "guide(...)")
        if tuple(got.shape) == (1, *model.sample_shape):
            got = got[0]
        if tuple(got.shape) != tuple(model.sample_shape):
            raise Hint(f"`guide` should return one x_t of shape {tuple(model.sample_shape)}, "
                       f"yours has shape {tuple(got.shape)}.")
        want = ll.x_space_guidance(model, x_t, t, v, gamma=gamma, n=n)
        if not _same_step(got, want, x_t):
            if first is not None and _same_step(got, first, x_t):
                raise Hint("At gamma = 0.3, n = 2 your function returns what it returned at gamma = 0.1, n = 16: "
                           "use its arguments `gamma` and `n`, not numbers written into the loop.")
            raise Hint(_guidance_slip(model, x_t, t, v, gamma, n, got))
        first = want
        step, flat_v = (want - x_t).flatten().double(), v.flatten().double()
        cosines.append(f"{(step @ flat_v).item() / (step.norm() * flat_v.norm()).item():+.2f} at ({gamma:g}, {n})")
    return (f"matches `ll.x_space_guidance` at (gamma, n) = (0.1, 16) and (0.3, 2). The guided step's cosine "
            f"with v: {' and '.join(cosines)}; guidance moves x_t along the change of eps that v causes, "
            "not along v itself.")


def _same_step(got: Tensor, want: Tensor, x: Tensor, rel: float = 1e-3) -> bool:
    """`got` equals `want` to `rel` of the guided step's size (not of x_t's, which is far larger)."""
    got, want, x = got.double(), want.double(), x.double()
    return (got - want).norm().item() <= rel * (want - x).norm().item() + 1e-6 * x.norm().item()


def _guidance_slip(model: ll.Model, x: Tensor, t: int, v: Tensor, gamma: float, n: int, got: Tensor) -> str:
    """The hint for a guided x_t that is not the reference: which typical slip it matches."""
    where = f"at gamma = {gamma:g}, n = {n}"
    ref = _guided(model, x, t, v, gamma, n)
    if (got - x.double()).norm().item() <= 1e-6 * x.norm().item():
        return f"`guide` returned x_t unchanged {where}: add gamma * (eps(x + v) - eps(x)) to x, n times."
    for k, xk in enumerate(ref[:-1]):
        if _same_step(got, xk, x):
            return f"{where} your x_t is the reference after {k} step(s), not {n}: run the step exactly n times."
    if _same_step(got, _guided(model, x, t, v, gamma, n + 1)[-1], x):
        return f"{where} your x_t is the reference after {n + 1} steps, not {n}: run the step exactly n times."
    slips = {
        "Wrong sign: guidance adds gamma * (eps(x + v) - eps(x)); yours subtracts it.": dict(sign=-1.0),
        "The difference eps(x + v) - eps(x) is computed once; recompute both at the current x in every "
        "step (v stays fixed, x moves).": dict(fresh=False),
        "The step is the *difference* eps(x + v) - eps(x); subtracting eps(x) is what removes the noise "
        "prediction itself.": dict(minus_eps=False),
    }
    for message, slip in slips.items():
        if _same_step(got, _guided(model, x, t, v, gamma, n, **slip)[-1], x):
            return message
    if _same_step(got, _guided(model, x, t, v, 1.0, n)[-1], x):
        return "The step is not scaled: multiply eps(x + v) - eps(x) by gamma."
    moved = (x + gamma * n * v, x + gamma * v, x + v)
    if any(_same_step(got, m, x) for m in moved):
        return ("That moves x_t along v itself (the rule the paper's text describes); guidance steps along "
                "the change of the noise prediction that v causes, eps(x + v) - eps(x).")
    off = (got - ref[-1].double()).norm().item() / max((ref[-1] - x).norm().item(), 1e-12)
    return (f"{where} your x_t is off by {off:.0%} of the guided step. Each of the n steps: "
            "x = x + gamma * (ll.eps_of(model, x + v, t) - ll.eps_of(model, x, t)).")
