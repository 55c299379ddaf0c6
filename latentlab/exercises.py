"""Checks for the exercises at the end of notebooks 01-07: each says what is right, or what is wrong
and a hint, in a sentence or two.

Every checker has the form `check_<idea>(<given data>, <answers>) -> Feedback` and never raises on a
student's answer: a blank (`None`), a wrong type, a wrong shape or a NaN all come back as a hint.
Reference answers are computed here, independently of the student's route: a dense SVD, a closed
form from the scheduler's `alphas_cumprod`, a direct call of the package or of diffusers.

>>> import torch
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), None).ok
False
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), [0.0, 1.0, 0.0])  # doctest: +ELLIPSIS
Right (01.3 a direction in the kernel): |J v| = 0.0e+00: a step along v changes nothing...
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Feedback",
    "check_svd_by_hand", "check_topk_svd", "check_kernel_direction",
    "check_ddim_step", "check_noise_amplification",
    "check_asymmetric_step", "check_glasses_t_edit",
    "check_editor_mix", "check_editor_dependence",
    "check_pca_direction", "check_supervised_direction",
    "check_transport", "check_transport_meaning",
    "check_hosvd_energy", "check_parameter_budget",
]


@dataclass(frozen=True)
class Feedback:
    """A checker's verdict: `ok`, and a message that says what is right or what to try next.

    >>> Feedback(False, "S should hold 2 numbers.", "01.1")
    Not yet (01.1): S should hold 2 numbers.
    >>> bool(Feedback(True, "well done", "01.1"))
    True
    """

    ok: bool
    message: str
    exercise: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def _head(self) -> str:
        return ("Right" if self.ok else "Not yet") + (f" ({self.exercise})" if self.exercise else "")

    def __repr__(self) -> str:
        return f"{self._head()}: {self.message}"

    __str__ = __repr__

    def _repr_markdown_(self) -> str:
        return f"{'✅' if self.ok else '✍️'} **{self._head()}**: {self.message}"


class _Hint(Exception):
    """Raised inside a checker to return its message as a hint."""


def _checker(exercise: str, answers: Sequence[str], blank: str):
    """Wraps a check: blank answers get `blank`, a `_Hint` its message, any other error a hint too."""

    def wrap(fn: Callable[..., Feedback | str]) -> Callable[..., Feedback]:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def check(*args: Any, **kwargs: Any) -> Feedback:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as e:
                return Feedback(False, f"This check was called with the wrong arguments ({e}); call it as "
                                       f"`{fn.__name__}{sig}`.", exercise)
            if any(bound.arguments.get(a) is None or bound.arguments.get(a) is ... for a in answers):
                return Feedback(False, blank, exercise)
            try:
                with torch.no_grad():
                    message = fn(*args, **kwargs)
            except _Hint as h:
                return Feedback(False, str(h), exercise)
            except Exception as e:  # a student's answer must never end in a traceback
                return Feedback(False, f"Could not check this answer ({type(e).__name__}: {e}). {blank}", exercise)
            return Feedback(True, message, exercise)

        check.__signature__ = sig.replace(return_annotation="Feedback")  # what a caller gets back
        check.__annotations__ = {**fn.__annotations__, "return": "Feedback"}
        return check

    return wrap


def _tensor(x: Any, name: str, shape: Sequence[int] | None = None) -> Tensor:
    """The answer `x` as a float64 tensor of `shape`, or a `_Hint` that says what is wrong with it."""
    if isinstance(x, (str, bytes, dict)) or callable(x) and not isinstance(x, Tensor):
        raise _Hint(f"`{name}` should be numbers (a list, an array or a tensor), not a {type(x).__name__}.")
    try:
        t = x.detach().cpu().double() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=float))
    except (TypeError, ValueError) as e:
        raise _Hint(f"`{name}` should be numbers (a list, an array or a tensor); could not read it ({e}).") from None
    if shape is not None and tuple(t.shape) != tuple(shape):
        if t.numel() == math.prod(shape):
            raise _Hint(f"`{name}` has the right numbers of entries but shape {tuple(t.shape)}; reshape it to "
                        f"{tuple(shape)}.")
        raise _Hint(f"`{name}` should have shape {tuple(shape)}, yours has shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise _Hint(f"`{name}` contains NaN or inf: check for a division by zero or a square root of a negative number.")
    return t


def _number(x: Any, name: str) -> float:
    """One finite number, or a `_Hint`."""
    if isinstance(x, (bool, np.bool_)):
        raise _Hint(f"`{name}` should be a number, not True/False.")
    t = _tensor(x, name)
    if t.numel() != 1:
        raise _Hint(f"`{name}` should be one number, yours has shape {tuple(t.shape)}.")
    return float(t.reshape(()))


def _cos(a: Tensor, b: Tensor) -> float:
    """|cosine| between two flattened tensors (sign-free: a singular vector's sign is arbitrary)."""
    a, b = a.flatten().double(), b.flatten().double()
    return (a @ b).abs().item() / max(a.norm().item() * b.norm().item(), 1e-300)


def _close(a: Tensor, b: Tensor, rel: float = 1e-4) -> bool:
    a, b = a.double(), b.double()
    return a.shape == b.shape and (a - b).norm().item() <= rel * max(b.norm().item(), 1e-12)


def _model(model: Any):
    from .model import Model

    if not isinstance(model, Model):
        raise _Hint(f"pass the notebook's `model` (a latentlab Model) as the first argument, not a {type(model).__name__}.")
    return model


# ----------------------------------------------------------------------------- 01 pushforward and SVD


@_checker("01.1 the SVD by hand", ("S", "v1"),
          "Fill in `S` (the singular values of A, largest first: the square roots of the eigenvalues of "
          "A^T A) and `v1` (the unit eigenvector of A^T A for the largest one).")
def check_svd_by_hand(A: Tensor, S: Any, v1: Any) -> str:
    """Exercise 01.1: the singular values of a 2 x 2 matrix and its first right singular vector.

    >>> A = torch.tensor([[3.0, 0.0], [4.0, 5.0]])
    >>> check_svd_by_hand(A, [45 ** 0.5, 5 ** 0.5], [0.5 ** 0.5, 0.5 ** 0.5]).ok
    True
    >>> check_svd_by_hand(A, [3.0, 5.0], [1.0, 0.0]).message[:40]
    "Those are A's eigenvalues (its diagonal,"
    """
    A = _tensor(A, "A", (2, 2))
    ref = torch.linalg.svd(A)
    S, v1 = _tensor(S, "S", (2,)), _tensor(v1, "v1", (2,))
    eig_A = torch.linalg.eigvals(A)
    if _close(S.sort(descending=True).values, ref.S ** 2, 1e-3):
        raise _Hint("Those are the eigenvalues of A^T A, s_i^2: the singular values are their square roots.")
    if eig_A.imag.abs().max() < 1e-12 and _close(S.sort(descending=True).values, eig_A.real.sort(descending=True).values, 1e-3) \
            and not _close(S.sort(descending=True).values, ref.S, 1e-3):
        raise _Hint("Those are A's eigenvalues (its diagonal, for a triangular A), not its singular values: for a "
                    "non-symmetric A they differ. Take the square roots of the eigenvalues of A^T A.")
    if _close(S, ref.S.flip(0), 1e-3) and not _close(S, ref.S, 1e-3):
        raise _Hint("The right values, in the wrong order: list the singular values largest first, s_1 >= s_2.")
    if not _close(S, ref.S, 1e-3):
        raise _Hint(f"S = {S.numpy().round(4).tolist()} are not A's singular values: write A^T A, find its two "
                    "eigenvalues (trace and determinant give them), and take their square roots.")
    if abs(v1.norm().item() - 1) > 1e-3:
        if _cos(v1, ref.Vh[0]) > 0.999:
            raise _Hint(f"`v1` points the right way but has length {v1.norm().item():.3f}: divide it by its norm.")
        raise _Hint(f"`v1` should be a unit vector (yours has length {v1.norm().item():.3f}).")
    if _cos(v1, ref.Vh[0]) > 0.999:
        s = ref.S.numpy().round(3).tolist()
        return (f"s = {s} and v_1 = ±{ref.Vh[0].abs().numpy().round(3).tolist()}: A stretches v_1 by s_1, more than any "
                f"other unit vector, onto u_1 = A v_1 / s_1.")
    if _cos(v1, ref.U[:, 0]) > 0.999:
        raise _Hint("That is u_1 = A v_1 / s_1, the output direction (an eigenvector of A A^T). v_1 is the "
                    "eigenvector of A^T A: the input direction A stretches most.")
    raise _Hint("`v1` is not the top eigenvector of A^T A: solve (A^T A - s_1^2 I) v = 0 and normalise.")


def _svd_parts(svd: Any) -> tuple[Tensor, Tensor, Tensor]:
    if isinstance(svd, tuple) and len(svd) == 2 and hasattr(svd[0], "S"):
        raise _Hint("That looks like `(svd, info)` from `return_info=True`: pass only the first element, the SVD.")
    U, S, V = (getattr(svd, k, None) for k in "USV")
    if U is None and isinstance(svd, (tuple, list)) and len(svd) == 3:
        U, S, V = svd
    if U is None:
        raise _Hint(f"`svd` should be what `topk_svd` returns (an SVD with .U, .S, .V), not a {type(svd).__name__}.")
    return _tensor(U, "svd.U"), _tensor(S, "svd.S"), _tensor(V, "svd.V")


@_checker("01.2 topk_svd from products", ("svd",),
          "Fill in the result of `topk_svd(jvp, vjp, in_shape, k=2)`, with jvp(v) = M v and vjp(u) = M^T u.")
def check_topk_svd(M: Tensor, svd: Any, k: int = 2) -> str:
    """Exercise 01.2: `topk_svd` of a matrix given only by its products, against the dense SVD.

    >>> M = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> from latentlab.geometry import SVD
    >>> check_topk_svd(M, SVD(U=torch.eye(2), S=torch.tensor([2.0, 1.0]), V=torch.eye(3)[:2])).ok
    True
    """
    M = _tensor(M, "M")
    m, n = M.shape
    U, S, V = _svd_parts(svd)
    if V.dim() == 2 and V.shape == (k, m) and m != n:
        raise _Hint(f"Your V has rows of length {m}, the output's size: V lives in the input space (length {n}). "
                    "Are jvp and vjp swapped? jvp(v) = M @ v takes an input vector.")
    if V.shape == (n, k) and V.shape != (k, n):
        raise _Hint(f"`svd.V` should hold one direction per row, shape ({k}, {n}); yours is {tuple(V.shape)}.")
    if S.shape != (k,) or V.shape != (k, n) or U.shape != (k, m):
        raise _Hint(f"Expected S {(k,)}, V {(k, n)} and U {(k, m)} (k = {k}); yours are {tuple(S.shape)}, "
                    f"{tuple(V.shape)} and {tuple(U.shape)}: call topk_svd with in_shape=({n},) and k={k}.")
    ref = torch.linalg.svd(M, full_matrices=False)
    if not _close(S, ref.S[:k], 1e-4):
        raise _Hint(f"S = {S.numpy().round(4).tolist()}, the dense SVD gives {ref.S[:k].numpy().round(4).tolist()}: "
                    "check that vjp(u) returns M^T u (the transpose), not M u.")
    worst = min(_cos(V[i], ref.Vh[i]) for i in range(k))
    if worst < 0.999:
        raise _Hint(f"S is right but a row of V is off (|cosine| {worst:.3f} with the dense SVD's): pass svd itself.")
    if (M @ V.T - U.T * S).abs().max().item() > 1e-4 * ref.S[0].item():
        raise _Hint("S and V are right but M V[i] != S[i] U[i]: U should be the output directions, U[i] = M V[i] / S[i].")
    return (f"S = {S.numpy().round(3).tolist()} equals the dense SVD's, and M V[i] = S[i] U[i]: found from products "
            f"with M alone, never writing M down in topk_svd.")


@_checker("01.3 a direction in the kernel", ("v",),
          "Fill in a unit input direction that J sends to 0 (hint: the full SVD's last right singular vector).")
def check_kernel_direction(J: Tensor, v: Any) -> str:
    """Exercise 01.3: a unit vector v with J v = 0 for a wide Jacobian J (m < n).

    >>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), [1.0, 0.0, 0.0]).message[:24]
    'That is v_1, the directi'
    """
    J = _tensor(J, "J")
    n = J.shape[1]
    v = _tensor(v, "v", (n,))
    if v.norm().item() < 1e-12:
        raise _Hint("v = 0 is trivially sent to 0: the exercise asks for a unit vector.")
    if abs(v.norm().item() - 1) > 1e-3:
        raise _Hint(f"`v` should be a unit vector (yours has length {v.norm().item():.3f}): divide by its norm.")
    ref = torch.linalg.svd(J)
    residual = (J @ v).norm().item()
    if residual <= 1e-6 * ref.S[0].item():
        return (f"|J v| = {residual:.1e}: a step along v changes nothing to first order. It lies in the span of the "
                f"right singular vectors beyond rank J = {torch.linalg.matrix_rank(J).item()}, and G = J^T J gives it length 0.")
    if _cos(v, ref.Vh[0]) > 0.999:
        raise _Hint("That is v_1, the direction J stretches most (by s_1), the opposite of the kernel: take the "
                    "last row of the full SVD's Vh (torch.linalg.svd(J, full_matrices=True)).")
    raise _Hint(f"|J v| = {residual:.3f}, not 0: the kernel is spanned by the rows of Vh beyond the rank of J.")


# ----------------------------------------------------------------------------- 02 DDIM


def _scheduler_step(model, x_t: Tensor, t: int, steps: int) -> tuple[Tensor, Tensor]:
    """diffusers' own DDIM step at (x_t, t) on a `steps`-step grid, and eps: the reference."""
    from .hspace import eps_of

    scheduler = type(model.scheduler).from_config(model.scheduler.config)
    scheduler.set_timesteps(steps)
    eps = eps_of(model, x_t, t)
    return scheduler.step(eps, t, x_t).prev_sample, eps


def _grid_t(model, t: Any, steps: int, name: str = "t") -> int:
    from .ddim import ddim_timesteps

    grid = ddim_timesteps(model, steps).tolist()
    if isinstance(t, Tensor):
        t = t.item()
    if t not in grid:
        raise _Hint(f"`{name}` = {t!r} is not a timestep of the {steps}-step grid ({grid[:3]} ... {grid[-2:]}).")
    return int(t)


@_checker("02.1 one DDIM step by hand", ("x_prev",),
          "Fill in the next step, sqrt(a_prev) * P_t + sqrt(1 - a_prev) * eps, with P_t clipped to [-1, 1] as "
          "the scheduler does and a = model.scheduler.alphas_cumprod.")
def check_ddim_step(model: Any, x_t: Tensor, t: int, x_prev: Any, steps: int = 50) -> str:
    """Exercise 02.1: one deterministic DDIM step from `x_t` at `t` on the `steps`-step grid.

    The reference is `DDIMScheduler.step` (diffusers), with eps from `eps_of`.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> check_ddim_step(m, x, 500, x).message[:31]
    'Your x_prev equals x_t: nothing'
    """
    model = _model(model)
    x_t = _tensor(x_t, "x_t")
    t = _grid_t(model, t, steps)
    x_prev = _tensor(x_prev, "x_prev", tuple(x_t.shape))
    ref, eps = _scheduler_step(model, x_t.float(), t, steps)
    ref, eps = ref.double(), eps.double()
    ac = model.scheduler.alphas_cumprod.double()
    a_t, a_prev = ac[t], ac[t - model.num_train_timesteps // steps] if t - model.num_train_timesteps // steps >= 0 \
        else torch.tensor(float(model.scheduler.final_alpha_cumprod))
    if _close(x_prev, ref, 1e-4):
        p = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        outside = (p.abs() > 1).double().mean().item()
        return (f"your step equals diffusers' DDIMScheduler.step. At t = {t}, P_t divides eps's share by "
                f"sqrt(a_t) = {a_t.sqrt().item():.3f}, and {outside:.0%} of its entries left [-1, 1] before clipping.")
    if _close(x_prev, x_t, 1e-6):
        raise _Hint("Your x_prev equals x_t: nothing was computed. Predict x_0 with P_t, then step to t_prev.")
    p = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    if _close(x_prev, a_prev.sqrt() * p + (1 - a_prev).sqrt() * eps, 1e-4):
        raise _Hint("Right except where P_t leaves [-1, 1]: the scheduler clips it (clip_sample=True). "
                    "Clamp P_t to [-1, 1] before the step.")
    if _close(x_prev, p.clamp(-1, 1), 1e-4) or _close(x_prev, p, 1e-4):
        raise _Hint("That is P_t, the predicted x_0. The step goes on: x_prev = sqrt(a_prev) P_t + D_t, with "
                    "D_t = sqrt(1 - a_prev) eps.")
    al = model.scheduler.alphas.double()
    pa = ((x_t - (1 - al[t]).sqrt() * eps) / al[t].sqrt()).clamp(-1, 1)
    if _close(x_prev, al[t - model.num_train_timesteps // steps].sqrt() * pa
              + (1 - al[t - model.num_train_timesteps // steps]).sqrt() * eps, 1e-3):
        raise _Hint("You used `alphas` (one step's alpha_t); DDIM needs the cumulative product, `alphas_cumprod`.")
    a1 = ac[t - 1]
    if _close(x_prev, a1.sqrt() * p.clamp(-1, 1) + (1 - a1).sqrt() * eps, 1e-4):
        raise _Hint(f"You stepped to t - 1; on the {steps}-step grid the next timestep is "
                    f"t - {model.num_train_timesteps // steps}.")
    err = (x_prev - ref).abs().max().item()
    raise _Hint(f"Your x_prev differs from the scheduler's by up to {err:.3f}. Use a = alphas_cumprod: "
                f"P_t = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t), clipped, then sqrt(a_prev) P_t + sqrt(1 - a_prev) eps.")


@_checker("02.2 how P_t amplifies an error in eps", ("gain", "t_cross"),
          "Fill in `gain` (sqrt(1 - a_t) / sqrt(a_t) at every timestep of the grid) and `t_cross` (the largest "
          "grid timestep where the gain is still below 1).")
def check_noise_amplification(model: Any, gain: Any, t_cross: Any, steps: int = 50) -> str:
    """Exercise 02.2: the factor by which `P_t` multiplies an error in eps, on the DDIM grid.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); a = m.scheduler.alphas_cumprod[ll.ddim_timesteps(m, 50)]
    >>> check_noise_amplification(m, ((1 - a) / a).sqrt(), 240).ok
    True
    """
    from .ddim import ddim_timesteps

    model = _model(model)
    grid = ddim_timesteps(model, steps)
    a = model.scheduler.alphas_cumprod.double()[grid]
    ref = ((1 - a) / a).sqrt()
    gain = _tensor(gain, "gain")
    if gain.shape == (model.num_train_timesteps,):
        raise _Hint(f"One value per timestep of the {steps}-step grid (ll.ddim_timesteps(model, {steps})), not "
                    f"all {model.num_train_timesteps} training timesteps.")
    gain = _tensor(gain, "gain", (steps,))
    if _close(gain, 1 / ref, 1e-4):
        raise _Hint("That is the inverse, sqrt(a_t / (1 - a_t)) (signal to noise). P_t multiplies eps by "
                    "sqrt(1 - a_t) and divides by sqrt(a_t).")
    if _close(gain, (1 - a) / a, 1e-4):
        raise _Hint("Take the square root: P_t's factor on eps is sqrt(1 - a_t) / sqrt(a_t).")
    if _close(gain.flip(0), ref, 1e-4):
        raise _Hint("Right values in the wrong order: follow ll.ddim_timesteps(model, steps), which descends.")
    if not _close(gain, ref, 1e-4):
        raise _Hint(f"At t = {grid[0].item()} the gain should be {ref[0].item():.1f}, yours is {gain[0].item():.1f}: "
                    "use a_t = model.scheduler.alphas_cumprod[t].")
    below = grid[ref < 1]
    want = int(below.max().item()) if len(below) else None
    tc = _number(t_cross, "t_cross")
    if want is None or tc != want:
        raise _Hint(f"`gain` is right; `t_cross` = {tc:g} is not the largest grid timestep with gain < 1 "
                    f"(look at grid[gain < 1]).")
    return (f"P_t multiplies an error in eps by {ref[0].item():.0f} at t = {grid[0].item()} and by less than 1 only "
            f"from t = {want} down: at large t, P_t is mostly the amplified error of the noise prediction.")


# ----------------------------------------------------------------------------- 03 h-space


@_checker("03.1 the asymmetric step", ("x_prev",),
          "Fill in the next step: P_t from the edited eps (eps_of(..., dh=dh)), clipped to [-1, 1], plus D_t "
          "from the unedited eps.")
def check_asymmetric_step(model: Any, x_t: Tensor, t: int, dh: Tensor, x_prev: Any, steps: int = 10) -> str:
    """Exercise 03.1: Asyrp's asymmetric step, x_prev = sqrt(a_prev) P_t(eps_edit) + D_t(eps).

    The reference uses `eps_of` (with and without `dh`) and the closed form, with P_t clipped as the
    model's scheduler clips it.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> check_asymmetric_step(m, x, 500, torch.ones(16, 8, 8), None).ok
    False
    """
    from .ddim import _clip
    from .hspace import eps_of

    model = _model(model)
    x_t = _tensor(x_t, "x_t").float()
    t = _grid_t(model, t, steps)
    x_prev = _tensor(x_prev, "x_prev", tuple(x_t.shape))
    dh = _tensor(dh, "dh").float()
    eps, eps_e = eps_of(model, x_t, t).double(), eps_of(model, x_t, t, dh=dh).double()
    ac = model.scheduler.alphas_cumprod.double()
    prev = t - model.num_train_timesteps // steps
    a_t = ac[t]
    a_prev = ac[prev] if prev >= 0 else torch.tensor(float(model.scheduler.final_alpha_cumprod), dtype=torch.float64)

    def step(e_p: Tensor, e_d: Tensor, clip: bool = True) -> Tensor:
        p = (x_t.double() - (1 - a_t).sqrt() * e_p) / a_t.sqrt()
        return a_prev.sqrt() * (_clip(model, p) if clip else p) + (1 - a_prev).sqrt() * e_d

    ref = step(eps_e, eps)
    if _close(x_prev, ref, 1e-4):
        moved = (step(eps_e, eps) - step(eps, eps)).norm().item()
        sym = (step(eps_e, eps_e) - step(eps, eps)).norm().item()
        return (f"the edit moves x_prev by {moved:.2f} through P_t alone; with the edited eps in D_t too (the "
                f"symmetric step) it would move by {sym:.2f}, since D_t's change partly cancels P_t's.")
    if _close(x_prev, step(eps_e, eps_e), 1e-4):
        raise _Hint("You used the edited eps in D_t too: that is the symmetric step. Asyrp edits P_t only and keeps "
                    "D_t = sqrt(1 - a_prev) eps from the unedited U-Net.")
    if _close(x_prev, step(eps, eps), 1e-4):
        raise _Hint("Your step has no edit in it: P_t must use eps_of(model, x_t, t, dh=dh).")
    if _close(x_prev, step(eps, eps_e), 1e-4):
        raise _Hint("The other way round: the edited eps goes into P_t, the unedited one into D_t.")
    if _close(x_prev, step(eps_e, eps, clip=False), 1e-4):
        raise _Hint("Right except where P_t leaves [-1, 1]: clip P_t as the scheduler does (clamp(-1, 1)).")
    raise _Hint(f"Your x_prev differs from the asymmetric step by up to {(x_prev - ref).abs().max().item():.3f}: "
                f"a = alphas_cumprod, t_prev = t - {model.num_train_timesteps // steps}.")


_RUNS: dict = {}  # a check repeated is free: (ids, t_edit, steps, x_T's bytes) -> (the objects, glasses readings)


def _glasses_after(model, x_T: Tensor, editor, probe, t_edit: int | None, steps: int) -> Tensor:
    import hashlib

    from .ddim import ddim_sample

    key = (id(model), id(editor), id(probe), t_edit, steps, hashlib.sha1(x_T.numpy().tobytes()).hexdigest())
    if key not in _RUNS:
        dh = None if t_edit is None else editor
        x0 = ddim_sample(model, x_T, steps, dh=dh, t_edit=t_edit or 0, progress=False)
        # the entry holds the objects themselves, so that their ids cannot be reused while it lives
        _RUNS[key] = (model, editor, probe, probe(x0)["glasses"].detach())
        if len(_RUNS) > 32:
            _RUNS.pop(next(iter(_RUNS)))
    return _RUNS[key][-1]


@_checker("03.2 when a glasses edit stops working", ("t_stop",),
          "Fill in `t_stop`: the smallest of the candidate t_edit values from which the edit adds glasses to "
          "none of the faces (they start without glasses).")
def check_glasses_t_edit(model: Any, x_T: Tensor, t_stop: Any, *, editor: Any = None, probe: Any = None,
                         steps: int = 10, candidates: Sequence[int] = (0, 200, 400, 600, 800)) -> str:
    """Exercise 03.2: from which `t_edit` does a glasses edit (applied only at t >= t_edit) do nothing?

    The reference runs the edit itself at `t_stop` and at the candidate before it (about three DDIM
    runs of the faces; repeated checks reuse them). `editor` defaults to the shipped raw-dh glasses
    editor, `probe` to the shipped probe.

    >>> check_glasses_t_edit(None, None, None).message[:16]
    'Fill in `t_stop`'
    """
    from .asyrp import load_editor
    from .probe import load_probe

    model = _model(model)
    x_T = _tensor(x_T, "x_T").float()
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != tuple(model.sample_shape):
        raise _Hint(f"`x_T` should be a batch of noise, (n, {', '.join(map(str, model.sample_shape))}).")
    tc = _number(t_stop, "t_stop")
    if tc not in candidates:
        raise _Hint(f"`t_stop` should be one of the candidates {list(candidates)}, got {tc:g}.")
    editor = editor if editor is not None else load_editor("glasses", 1.0, kind="dh")
    probe = probe if probe is not None else load_probe()
    had = _glasses_after(model, x_T, editor, probe, None, steps) > 0.5
    n = int((~had).sum())
    if n == 0:
        raise _Hint("Every one of these faces already has glasses unedited: use faces without glasses.")

    def added(t: int) -> int:
        return int(((_glasses_after(model, x_T, editor, probe, t, steps) > 0.5) & ~had).sum())

    k = added(int(tc))
    if k > 0:
        raise _Hint(f"At t_edit = {tc:g} the edit still adds glasses to {k} of {n} faces: try a larger t_edit "
                    f"(fewer, earlier steps edited).")
    i = list(candidates).index(tc)
    if i == 0:
        return f"even editing every step adds glasses to none of these {n} faces."
    before = int(candidates[i - 1])
    k_before = added(before)
    if k_before == 0:
        raise _Hint(f"Edits from t_edit = {before} already add glasses to none of the {n} faces: the question is the "
                    "smallest t_edit from which it stops working.")
    return (f"from t_edit = {before} the edit adds glasses to {k_before} of {n} faces, from {tc:g} to none: "
            f"glasses are decided in the steps below t = {tc:g}, late in sampling, and an edit that stops "
            f"before them comes too early.")


# ----------------------------------------------------------------------------- 04 Asyrp editors


def _probe_h(editor, n: int = 3) -> tuple[list[int], Tensor]:
    g = torch.Generator().manual_seed(0)
    return [int(editor.t_edit), 500, 900], torch.randn(n, *editor.h_shape, generator=g)


@_checker("04.1 scale and add editors", ("dh",),
          "Fill in a function `lambda t, h: ...` that returns 1.5 times the smile editor's dh plus 0.5 times "
          "the glasses editor's.")
def check_editor_mix(smile: Any, glasses: Any, dh: Any, weights: tuple[float, float] = (1.5, 0.5)) -> str:
    """Exercise 04.1: a callable `(t, h) -> a * smile(t, h) + b * glasses(t, h)`.

    Checked at three timesteps on random h; a wrong mix is reported by the weights it has.

    >>> f = lambda t, h: torch.ones_like(h); g = lambda t, h: h
    >>> f.h_shape = g.h_shape = (2, 1, 1); f.t_edit = g.t_edit = 0
    >>> check_editor_mix(f, g, lambda t, h: 1.5 * f(t, h) + 0.5 * g(t, h)).ok
    True
    """
    if not callable(dh):
        raise _Hint(f"`dh` should be a function of (t, h), e.g. `lambda t, h: ...`, not a {type(dh).__name__}.")
    ts, hs = _probe_h(smile)
    a, b = weights
    coef, worst = [], 0.0
    for t in ts:
        out = dh(t, hs.float())
        out = _tensor(out, "dh(t, h)", tuple(hs.shape)).flatten()
        s, gl = smile(t, hs).double().flatten(), glasses(t, hs).double().flatten()
        want = a * s + b * gl
        worst = max(worst, (out - want).norm().item() / max(want.norm().item(), 1e-12))
        coef.append(torch.linalg.lstsq(torch.stack([s, gl], 1), out[:, None]).solution.flatten())
    if worst < 1e-4:
        return (f"dh(t, h) = {a} smile + {b} glasses at every t: Asyrp's claims say the edits then scale and add in the "
                f"image too (notebook 04 measures how far that holds).")
    for t in ts:
        if _close(dh(t, hs.float()).double(), a * smile(t, a * hs).double() + b * glasses(t, b * hs).double(), 1e-4):
            raise _Hint("You scaled h inside the editors; scale their outputs: 1.5 * smile(t, h).")
    c = torch.stack(coef).mean(0)
    fit = max((dh(t, hs.float()).double().flatten() - (c[0] * smile(t, hs).double().flatten()
              + c[1] * glasses(t, hs).double().flatten())).norm().item() / max(dh(t, hs.float()).double().norm().item(), 1e-12)
              for t in ts)
    if fit < 1e-3:
        raise _Hint(f"Your dh is {c[0].item():.2f} smile + {c[1].item():.2f} glasses; the exercise asks for {a} and {b}.")
    raise _Hint("Your dh is not a combination of the two editors' outputs: return a * smile(t, h) + b * glasses(t, h).")


@_checker("04.2 f against raw dh", ("cos_f", "cos_dh"),
          "Fill in `cos_f` and `cos_dh`: the cosine similarity between the dh each editor gives face 0 and face 1.")
def check_editor_dependence(f_editor: Any, dh_editor: Any, h: Tensor, t: int, cos_f: Any, cos_dh: Any) -> str:
    """Exercise 04.2: does the editor's dh depend on the face? Cosines between two faces' dh.

    >>> f = lambda t, h: h; d = lambda t, h: torch.ones_like(h)
    >>> h = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> check_editor_dependence(f, d, h, 500, 0.0, 1.0).ok
    True
    """
    h = _tensor(h, "h").float()
    if h.dim() < 2 or h.shape[0] < 2:
        raise _Hint("`h` should hold the h of (at least) two faces, stacked on axis 0.")
    want = {}
    for name, ed in (("cos_f", f_editor), ("cos_dh", dh_editor)):
        d = ed(t, h[:2]).double().flatten(1)
        want[name] = torch.nn.functional.cosine_similarity(d[0], d[1], dim=0).item()
    got = {"cos_f": _number(cos_f, "cos_f"), "cos_dh": _number(cos_dh, "cos_dh")}
    for name in got:
        if not -1 - 1e-6 <= got[name] <= 1 + 1e-6:
            raise _Hint(f"`{name}` = {got[name]:.3f} is not a cosine (it lies in [-1, 1]): divide by both norms.")
    if abs(got["cos_dh"] - want["cos_dh"]) > 1e-3:
        raise _Hint(f"`cos_dh` = {got['cos_dh']:.3f}: the raw-dh editor stores one dh per timestep, whatever h is "
                    f"(evaluate dh_editor(t, h) for both faces and compare).")
    if abs(got["cos_f"] - want["cos_f"]) > 1e-3:
        raise _Hint(f"`cos_f` = {got['cos_f']:.3f} does not match the f editor's outputs for the two faces: flatten "
                    f"each face's dh and take their cosine similarity.")
    return (f"the raw dh is the same for every face (cosine {want['cos_dh']:.3f}), f_t(h) is not (cosine "
            f"{want['cos_f']:.3f}): f can adapt the edit to each face, the raw dh cannot.")


# ----------------------------------------------------------------------------- 05 Haas et al.


@_checker("05.1 the first principal direction", ("pc1", "explained"),
          "Fill in `pc1` (the top principal direction of the centred h, unit norm, one h's shape) and `explained` "
          "(its share of the variance, sigma_1^2 / sum sigma_k^2).")
def check_pca_direction(h: Tensor, pc1: Any, explained: Any) -> str:
    """Exercise 05.1: PCA of h at one timestep by hand, against a dense SVD of the centred data.

    >>> h = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]]) + 3
    >>> check_pca_direction(h, [1.0, 0.0], 0.8).ok
    True
    """
    h = _tensor(h, "h")
    X = h.flatten(1)
    pc1 = _tensor(pc1, "pc1")
    if pc1.numel() != X.shape[1]:
        raise _Hint(f"`pc1` should have the shape of one h, {tuple(h.shape[1:])}; yours has shape {tuple(pc1.shape)}.")
    if tuple(pc1.shape) != tuple(h.shape[1:]):
        raise _Hint(f"`pc1` has the right entries count but shape {tuple(pc1.shape)}: reshape it to one h's shape "
                    f"{tuple(h.shape[1:])}, as a direction in h is used.")
    p = pc1.flatten()
    if abs(p.norm().item() - 1) > 1e-3:
        raise _Hint(f"`pc1` should have unit norm (yours: {p.norm().item():.3f}).")
    Xc = X - X.mean(0)
    _, s, Vh = torch.linalg.svd(Xc, full_matrices=False)
    share = (s[0] ** 2 / (s ** 2).sum()).item()
    if _cos(p, Vh[0]) < 0.99:
        if _cos(p, torch.linalg.svd(X, full_matrices=False).Vh[0]) > 0.99:
            raise _Hint("That is the top singular vector of the uncentred h, which points at the mean. Subtract "
                        "the mean over the samples first.")
        raise _Hint(f"`pc1` is not the top principal direction (|cosine| {_cos(p, Vh[0]):.2f} with it).")
    e = _number(explained, "explained")
    if abs(e - share) > 1e-3:
        if abs(e - (s[0] / s.sum()).item()) < 1e-3:
            raise _Hint("Variance goes with sigma squared: explained = sigma_1^2 / sum_k sigma_k^2.")
        if abs(e - 100 * share) < 0.1:
            raise _Hint("Give the share as a fraction in [0, 1], not in per cent.")
        raise _Hint(f"`pc1` is right; `explained` = {e:.3f} is not sigma_1^2 / sum_k sigma_k^2 of the centred h.")
    return (f"the first component carries {share:.0%} of the variance of h at this timestep (a random direction: "
            f"{1 / min(X.shape):.1%} on average of {min(X.shape)} components).")


@_checker("05.2 a supervised direction", ("d",),
          "Fill in the direction: the mean h of the top 10 % of faces by the score minus that of the bottom 10 %.")
def check_supervised_direction(h: Tensor, scores: Tensor, d: Any, top: float = 0.1) -> str:
    """Exercise 05.2: Haas et al.'s supervised direction, mean(h[top]) - mean(h[bottom]).

    >>> h = torch.arange(10.0)[:, None]
    >>> check_supervised_direction(h, torch.arange(10.0), [9.0]).ok
    True
    """
    h, scores = _tensor(h, "h"), _tensor(scores, "scores")
    n = max(1, int(round(top * len(h))))
    order = scores.argsort()
    want = h[order[-n:]].mean(0) - h[order[:n]].mean(0)
    d = _tensor(d, "d")
    if d.numel() != want.numel():
        raise _Hint(f"`d` should have the shape of one h, {tuple(h.shape[1:])}; yours has shape {tuple(d.shape)}.")
    d = d.reshape(want.shape)
    if _close(d, want, 1e-4):
        return (f"the top {n} minus the bottom {n} of {len(h)} faces: the extremes give a cleaner direction than "
                f"splitting at the median, at the price of fewer samples.")
    if _close(d, -want, 1e-4):
        raise _Hint("The sign is flipped: top minus bottom, so that adding d raises the score.")
    above = scores > scores.median()
    if _close(d, h[above].mean(0) - h[~above].mean(0), 1e-4):
        raise _Hint(f"That splits at the median (a mean difference of all faces); take only the top and bottom "
                    f"{top:.0%} ({n} faces each).")
    if abs(_cos(d, want) - 1) < 1e-4:
        raise _Hint(f"The right direction with a different length ({d.norm().item():.3f} against "
                    f"{want.norm().item():.3f}): don't normalise it, and average (not sum) each group.")
    raise _Hint(f"Sort the faces by score (argsort), take the {n} highest and the {n} lowest, and subtract their means.")


# ----------------------------------------------------------------------------- 06 Park et al.


def _svd_of(svd: Any, name: str) -> tuple[Tensor, Tensor, Tensor]:
    try:
        return _svd_parts(svd)
    except _Hint:
        raise _Hint(f"`{name}` should be a pullback's SVD (with .U, .S, .V).") from None


@_checker("06.1 transport a direction", ("v",),
          "Fill in the transported direction: u carried to face B's tangent space, V_B (U_B^T u), normalised.")
def check_transport(u: Tensor, svd_B: Any, v: Any) -> str:
    """Exercise 06.1: Park et al.'s transport `V'(U'^T u) / |.|`, computed here in closed form.

    >>> from latentlab.geometry import SVD
    >>> svd = SVD(U=torch.eye(3)[:2], S=torch.tensor([2.0, 1.0]), V=torch.eye(4)[:2])
    >>> check_transport(torch.tensor([0.0, 3.0, 4.0]), svd, [0.0, 1.0, 0.0, 0.0]).ok
    True
    """
    U, S, V = _svd_of(svd_B, "svd_B")
    u = _tensor(u, "u")
    v = _tensor(v, "v")
    x_shape = tuple(V.shape[1:])
    if tuple(v.shape) == tuple(U.shape[1:]) and tuple(v.shape) != x_shape:
        raise _Hint(f"`v` has h's shape {tuple(v.shape)}; the transported direction lives in x-space, "
                    f"{x_shape}: combine the rows of V_B, with weights U_B^T u.")
    if tuple(v.shape) != x_shape:
        raise _Hint(f"`v` should have the shape of one x_t, {x_shape}; yours has shape {tuple(v.shape)}.")
    coef = U.flatten(1) @ u.flatten()
    want = (coef @ V.flatten(1)).reshape(x_shape)
    want = want / want.norm()
    if _close(v, want, 1e-4):
        return (f"u keeps {coef.norm().item() / u.norm().item():.0%} of its norm in span(U_B); v is the x-direction "
                f"at B whose image under J_B is (up to the S_B weights) that part of u.")
    if _cos(v, want) > 0.9999:
        raise _Hint(f"Right direction; normalise it to unit length (yours: {v.norm().item():.3f}).")
    scaled = ((coef * S) @ V.flatten(1)).reshape(x_shape)
    scaled_inv = ((coef / S) @ V.flatten(1)).reshape(x_shape)
    if _cos(v, scaled) > 0.9999 or _cos(v, scaled_inv) > 0.9999:
        raise _Hint("Park et al.'s transport uses V_B (U_B^T u) without the singular values: drop S.")
    raise _Hint("Compute the weights c = U_B^T u (one per singular triplet, on flattened tensors), then v = "
                "sum_i c_i V_B[i], normalised.")


@_checker("06.2 does it still mean the same?", ("cos", "keeps_meaning"),
          "Fill in the cosine between u and J_B v (the image of the transported v in h) and whether it keeps "
          "the meaning (True if the cosine is at least 0.7).")
def check_transport_meaning(u: Tensor, svd_B: Any, v: Tensor, cos: Any, keeps_meaning: Any,
                            threshold: float = 0.7) -> str:
    """Exercise 06.2: cos(u, J_B v), where J_B v = sum_i s_i (V_B[i] . v) U_B[i] exactly for v in span(V_B).

    A finite difference of h (`h_of(x + e v) - h_of(x)`) is accepted within 0.05.

    >>> from latentlab.geometry import SVD
    >>> svd = SVD(U=torch.eye(3)[:2], S=torch.tensor([2.0, 1.0]), V=torch.eye(4)[:2])
    >>> check_transport_meaning(torch.tensor([0.0, 3.0, 4.0]), svd, torch.tensor([0.0, 1.0, 0, 0]), 0.6, False).ok
    True
    """
    U, S, V = _svd_of(svd_B, "svd_B")
    u, v = _tensor(u, "u").flatten(), _tensor(v, "v").flatten()
    Jv = (S * (V.flatten(1) @ v)) @ U.flatten(1)
    want = (u @ Jv).item() / (u.norm() * Jv.norm()).item()
    c = _number(cos, "cos")
    if not isinstance(keeps_meaning, (bool, np.bool_)) and not (isinstance(keeps_meaning, Tensor) and keeps_meaning.numel() == 1):
        raise _Hint("`keeps_meaning` should be True or False.")
    keeps = bool(keeps_meaning)
    if abs(c - want) > 0.05:
        if abs(c - _cos(u, U.flatten(1).T @ (U.flatten(1) @ u))) < 0.02:
            raise _Hint("That is how much of u lies in span(U_B); the question is about J_B v, which weights each "
                        "U_B[i] by s_i: J_B v = sum_i s_i (V_B[i] . v) U_B[i].")
        raise _Hint(f"`cos` = {c:.3f}, but cos(u, J_B v) = {want:.3f}: push v through J_B (a jvp of h_of, a small "
                    f"finite difference, or the SVD: J_B V_B[i] = s_i U_B[i]).")
    if keeps != (want >= threshold):
        raise _Hint(f"`cos` is right ({want:.2f}); with the threshold {threshold}, keeps_meaning should be "
                    f"{want >= threshold}.")
    verdict = "keeps" if keeps else "loses"
    return (f"cos(u, J_B v) = {want:.2f}: the transported direction {verdict} its meaning in h. It can only keep the "
            f"part of u inside span(U_B), and weights it by B's singular values.")


# ----------------------------------------------------------------------------- 07 tensors


def _unfold(T: Tensor, mode: int) -> Tensor:
    return T.movedim(mode, 0).reshape(T.shape[mode], -1)


@_checker("07.1 HOSVD by hand", ("factors", "energy"),
          "Fill in `factors` (for each mode, the top r left singular vectors of the unfolding, as columns) and "
          "`energy` (|core|^2 / |T|^2).")
def check_hosvd_energy(T: Tensor, ranks: Sequence[int], factors: Any, energy: Any) -> str:
    """Exercise 07.1: a truncated HOSVD from the mode unfoldings, and the energy its core keeps.

    >>> T = torch.zeros(2, 2, 2); T[0, 0, 0] = 3.0; T[1, 1, 1] = 1.0
    >>> e1 = torch.tensor([[1.0], [0.0]])
    >>> check_hosvd_energy(T, (1, 1, 1), [e1, e1, e1], 0.9).ok
    True
    """
    T = _tensor(T, "T")
    ranks = tuple(int(r) for r in ranks)
    if not isinstance(factors, (list, tuple)) or len(factors) != T.dim():
        raise _Hint(f"`factors` should be a list of {T.dim()} matrices, one per mode.")
    A = []
    for n, (f, r) in enumerate(zip(factors, ranks)):
        f = _tensor(f, f"factors[{n}]")
        if tuple(f.shape) == (r, T.shape[n]) and r != T.shape[n]:
            raise _Hint(f"`factors[{n}]` is {tuple(f.shape)}: put the singular vectors in columns, ({T.shape[n]}, {r}).")
        if tuple(f.shape) != (T.shape[n], r):
            raise _Hint(f"`factors[{n}]` should have shape ({T.shape[n]}, {r}), yours has shape {tuple(f.shape)}.")
        ref = torch.linalg.svd(_unfold(T, n), full_matrices=False).U[:, :r]
        overlap = torch.linalg.svdvals(ref.T @ f).min().item() if r else 1.0
        if overlap < 0.999:
            raise _Hint(f"`factors[{n}]` does not span the top-{r} left singular space of the mode-{n} unfolding "
                        f"(T.movedim({n}, 0).reshape({T.shape[n]}, -1)).")
        A.append(f)
    core = T
    for n, f in enumerate(A):
        core = torch.tensordot(core, f, dims=([0], [0]))  # contracts mode n; the new axis goes last
    want = (core.norm() ** 2 / T.norm() ** 2).item()
    e = _number(energy, "energy")
    if abs(e - want) > 1e-4:
        if abs(e - want ** 0.5) < 1e-4:
            raise _Hint("Energy is a squared norm: |core|^2 / |T|^2, not |core| / |T|.")
        raise _Hint(f"The factors are right; `energy` = {e:.4f}, but the core T x_1 A_1^T ... keeps {want:.4f} of |T|^2.")
    return (f"the rank-{ranks} core keeps {want:.1%} of |T|^2 with {math.prod(ranks) + sum(a * b for a, b in zip(T.shape, ranks))} "
            f"numbers, out of {T.numel()}.")


@_checker("07.2 equal parameter budgets", ("n_tucker", "k"),
          "Fill in `n_tucker` (numbers a Tucker model with these ranks stores: core plus factors) and the "
          "largest rank k of a flattened SVD that stores no more.")
def check_parameter_budget(shape: Sequence[int], ranks: Sequence[int], n_tucker: Any, k: Any, out_modes: int = 3) -> str:
    """Exercise 07.2: Tucker's parameter count, and the flattened SVD's rank at the same budget.

    >>> check_parameter_budget((4, 2, 3), (2, 2, 2), 26, 2, out_modes=1).ok
    True
    """
    shape, ranks = tuple(int(s) for s in shape), tuple(int(r) for r in ranks)
    want = math.prod(ranks) + sum(n * r for n, r in zip(shape, ranks))
    m, n = math.prod(shape[:out_modes]), math.prod(shape[out_modes:])
    want_k = want // (m + n + 1)
    got = _number(n_tucker, "n_tucker")
    if got != want:
        if got == math.prod(ranks):
            raise _Hint("That is the core alone; add the factor matrices, sum_n (size_n x rank_n).")
        if got == sum(a * b for a, b in zip(shape, ranks)):
            raise _Hint("That is the factors alone; add the core, prod_n rank_n.")
        raise _Hint(f"`n_tucker` = {got:g}: count the core (prod of the ranks) plus each factor (size x rank).")
    kk = _number(k, "k")
    if kk != want_k:
        if kk == math.ceil(want / (m + n + 1)):
            raise _Hint("That SVD stores more than the Tucker model: round down, k (m + n + 1) <= n_tucker.")
        raise _Hint(f"A rank-k SVD of the {m} x {n} flattened J stores k (m + n + 1) numbers; `k` = {kk:g} does not "
                    f"give the largest k within {want}.")
    return (f"{want} numbers buy Tucker ranks {ranks}, or a flattened SVD of rank {want_k} "
            f"({want_k * (m + n + 1)} numbers): notebook 07 compares the energy each keeps at such budgets.")
