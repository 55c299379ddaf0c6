"""Checks for the exercises at the end of notebooks 01-10: each says what is right, or what is wrong
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
    "check_strength_reading", "check_glasses_off", "check_additivity",
    "check_h_scaling", "check_pullback_cost", "check_checkpoint_folder",
    "check_bootstrap_interval", "check_beats_random", "check_rank_correlation",
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
    if residual <= 1e-3 * ref.S[0].item():
        raise _Hint(f"|J v| = {residual:.1e}: nearly 0, as typed-in (rounded) numbers leave it; compute v in code "
                    "(the last row of the full SVD's Vh) rather than typing it.")
    raise _Hint(f"|J v| = {residual:.1e}, not 0: the kernel is spanned by the rows of Vh beyond the rank of J.")


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
            f"editing only the first, noisiest steps (t >= {tc:g}) is not enough; this editor adds glasses "
            f"through the steps below t = {tc:g}. (Try the candidates below {before} too: where does the "
            f"effect stop growing?)")


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
        raise _Hint(f"`cos` = {c:.3f}, but cos(u, J_B v) = {want:.3f}: push v through J_B (a jvp of h_of "
                    f"inside `with ll.forward_ad(model):`, a small finite difference, or the SVD: J_B V_B[i] = s_i U_B[i]).")
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
    if abs(e - want) > 1e-3:  # a value read off a printout to 3 decimals passes
        if abs(e - want ** 0.5) < 1e-3:
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


# ----------------------------------------------------------------------------- 08 the widget editor


def _x_T_batch(model, x_T: Any) -> Tensor:
    x_T = _tensor(x_T, "x_T").float()
    if x_T.dim() == len(model.sample_shape):
        x_T = x_T[None]
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != tuple(model.sample_shape):
        raise _Hint(f"`x_T` should be one face's noise, ({', '.join(map(str, model.sample_shape))}), e.g. `editor.x_T`.")
    return x_T


def _edited_readings(model, x_T: Tensor, dhs: Sequence[Any], probe, t_edit: int, steps: int) -> dict[str, Tensor]:
    """The probe's readings of x_T edited by each dh (None: unedited), by direct calls of `ddim_sample`."""
    from .ddim import ddim_sample

    images = torch.cat([ddim_sample(model, x_T, steps, dh=dh, t_edit=t_edit, asymmetric=True, progress=False)
                        for dh in dhs])
    return {k: v.detach().double() for k, v in probe(images).items()}


@_checker("08.1 strength from Python", ("change",),
          "Fill in `smile_change`: set `editor.strength.value = 1.5`, call `editor.wait()`, then subtract "
          "`editor.readings_before['smile']` from `editor.readings_after['smile']`.")
def check_strength_reading(editor: Any, change: Any, strength: float = 1.5, *, attr: str = "smile", goal: float = 1.0,
                           kind: str = "f", t_edit: int = 200) -> str:
    """Exercise 08.1: the probe's change of `attr` when the editor's Asyrp editor runs at `strength`.

    The reference is a direct `ddim_sample` of the editor's face (`editor.x_T`) with the shipped editor
    (`load_editor(attr, goal, kind)`, asymmetric at t >= t_edit, `editor.steps` steps), read by `editor.probe`.

    >>> check_strength_reading(None, None).message[:22]
    'Fill in `smile_change`'
    """
    from .asyrp import load_editor
    from .widgets import Editor

    if not isinstance(editor, Editor):
        raise _Hint(f"pass the notebook's `editor` (a latentlab.widgets.Editor) first, not a {type(editor).__name__}.")
    got = _number(change, "smile_change")
    f = load_editor(attr, goal, kind)
    x_T = _x_T_batch(editor.model, editor.x_T)
    r = _edited_readings(editor.model, x_T, [None, lambda t, h: strength * f(t, h)], editor.probe, t_edit, editor.steps)[attr]
    before, after = r[0].item(), r[1].item()
    want = after - before
    tol = 0.01
    if abs(got - want) <= tol:
        return (f"at c = {strength:g} the {attr} reading goes from {before:+.2f} to {after:+.2f} ({want:+.2f}); "
                f"`editor.wait()` matters: without it you read whatever image was shown last (a preview or an older strength).")
    if abs(got - after) <= tol:
        raise _Hint(f"{got:+.2f} is the edited face's reading; the change is that minus the original's "
                    f"(`editor.readings_before['{attr}']`).")
    if abs(got + want) <= tol:
        raise _Hint("Right size, wrong sign: the change is after minus before.")
    if abs(got - want / 2) <= tol:
        raise _Hint(f"That is the change as a fraction of {attr}'s range (-1 to +1); give it in the probe's units.")
    if abs(float(editor.strength.value) - strength) > 1e-9:
        raise _Hint(f"The editor's strength is {float(editor.strength.value):g}: set `editor.strength.value = {strength:g}` "
                    f"and call `editor.wait()` before reading.")
    if (editor.method.value, editor.target.value) != (f"Asyrp {kind}", f"{attr} -> {goal:+g}"):
        raise _Hint(f"The editor shows {editor.method.value} / {editor.target.value}: set it back to Asyrp {kind}, "
                    f"{attr} -> {goal:+g} (the notebook's first settings).")
    raise _Hint(f"{got:+.3f} is not the change at c = {strength:g}: did you call `editor.wait()` before reading? "
                f"Until then the readings are those of the last image shown.")


@_checker("08.2 when the smile edit takes the glasses off", ("c_off", "smile_kept"),
          "Fill in `c_off` (the smallest strength of the grid whose edited face reads glasses < 0.5) and "
          "`smile_kept` (the smile reading at the strength just below it).")
def check_glasses_off(model: Any, x_T: Any, c_off: Any, smile_kept: Any, *, editor: Any = None, probe: Any = None,
                      strengths: Sequence[float] = tuple(0.25 * i for i in range(1, 13)), t_edit: int = 200,
                      steps: int = 20) -> str:
    """Exercise 08.2: from which strength does a smile editor also remove the glasses, and how much smile
    does the strength just below reach?

    The reference edits the face itself at `c_off` and at the grid's strength below it (two DDIM runs,
    asymmetric at t >= t_edit). `editor` defaults to the shipped smile f editor, `probe` to the shipped probe.

    >>> check_glasses_off(None, None, None, None).message[:14]
    'Fill in `c_off'
    """
    from .asyrp import load_editor
    from .probe import load_probe

    model = _model(model)
    x_T = _x_T_batch(model, x_T)
    c = _number(c_off, "c_off")
    grid = [float(s) for s in strengths]
    match = [i for i, s in enumerate(grid) if abs(s - c) < 1e-9]
    if not match:
        raise _Hint(f"`c_off` should be one of the grid's strengths {grid[0]:g}, {grid[1]:g}, ..., {grid[-1]:g}; got {c:g}.")
    kept = _number(smile_kept, "smile_kept")
    editor = editor if editor is not None else load_editor("smile", 1.0, kind="f")
    probe = probe if probe is not None else load_probe()
    i = match[0]
    dhs = [None] + [(lambda t, h, s=s: s * editor(t, h)) for s in ([grid[i - 1]] if i > 0 else []) + [c]]
    r = _edited_readings(model, x_T, dhs, probe, t_edit, steps)
    if r["glasses"][0] < 0.5:
        raise _Hint("This face has no glasses to begin with (its glasses reading is below 0.5): use the notebook's seed 1.")
    if r["glasses"][-1] >= 0.5:
        raise _Hint(f"At c = {c:g} the face still reads glasses {r['glasses'][-1].item():.2f} (>= 0.5): try a larger strength.")
    if i == 0:
        return f"already the smallest strength, c = {c:g}, takes the glasses off."
    if r["glasses"][1] < 0.5:
        raise _Hint(f"At c = {grid[i - 1]:g} the glasses are already off ({r['glasses'][1].item():.2f}): the question is "
                    f"the smallest strength that takes them off.")
    want = r["smile"][1].item()
    if abs(kept - want) > 0.01:
        if abs(kept - r["smile"][2].item()) <= 0.01:
            raise _Hint(f"{kept:+.2f} is the smile at c = {c:g}, where the glasses are gone; give it at c = {grid[i - 1]:g}.")
        if abs(kept - (want - r["smile"][0].item())) <= 0.01:
            raise _Hint("That is the change of smile; give the edited face's smile reading itself.")
        raise _Hint(f"`smile_kept` = {kept:+.2f} is not the smile reading at c = {grid[i - 1]:g} (the strength below c_off).")
    return (f"up to c = {grid[i - 1]:g} the edit keeps the glasses and reaches smile {want:+.2f} (from "
            f"{r['smile'][0].item():+.2f}); at c = {c:g} they are gone: the editor was trained for smile, not to keep "
            f"everything else, and its strength trades one for the other.")


@_checker("08.3 are two edits additive?", ("error",),
          "Fill in `error`: `ll.additivity_error(delta_a, delta_b, delta_ab)` from the probe's changes (edited minus "
          "original) of edit A alone, edit B alone, and A and B together.")
def check_additivity(model: Any, x_T: Any, error: Any, *, edits: Sequence[Any] | None = None, probe: Any = None,
                     strengths: tuple[float, float] = (1.0, 1.0), t_edit: int = 200, steps: int = 20) -> str:
    """Exercise 08.3: additivity of two h-space edits on one face, as `additivity_error` measures it.

    The reference makes the four images itself (original, A, B, A + B added in h) with `ddim_sample`,
    asymmetric at t >= t_edit. `edits` default to the shipped f editors smile -> +1 and glasses -> 0.

    >>> check_additivity(None, None, None).message[:15]
    'Fill in `error`'
    """
    from .asyrp import load_editor
    from .faces import ATTRIBUTES
    from .metrics import additivity_error
    from .probe import load_probe

    model = _model(model)
    x_T = _x_T_batch(model, x_T)
    got = _number(error, "error")
    a, b = edits if edits is not None else (load_editor("smile", 1.0, "f"), load_editor("glasses", 0.0, "f"))
    ca, cb = strengths
    probe = probe if probe is not None else load_probe()
    dha = lambda t, h: ca * a(t, h)  # noqa: E731
    dhb = lambda t, h: cb * b(t, h)  # noqa: E731
    r = _edited_readings(model, x_T, [None, dha, dhb, lambda t, h: dha(t, h) + dhb(t, h)], probe, t_edit, steps)
    r = {k: r[k] for k in ATTRIBUTES}
    delta = [{k: v[i:i + 1] - v[:1] for k, v in r.items()} for i in (1, 2, 3)]
    want = additivity_error(*delta)
    if abs(got - want) <= 0.005 + 0.01 * want:
        gap = {k: ((delta[2][k] - delta[0][k] - delta[1][k]) / (hi - lo)).item() for k, (lo, hi) in ATTRIBUTES.items()}
        worst = max(gap, key=lambda k: abs(gap[k]))
        return (f"error {want:.2f}: the two edits together are {'close to' if want < 0.1 else 'far from'} the sum of the "
                f"single edits on this face; the largest gap is {worst} ({gap[worst]:+.2f} of its range).")
    raw = [{k: v[i:i + 1] for k, v in r.items()} for i in (1, 2, 3)]
    try:
        from_readings = additivity_error(*raw)
    except ValueError:
        from_readings = float("nan")
    if abs(got - from_readings) <= 0.005 + 0.01 * from_readings:
        raise _Hint("You used the readings of the edited faces; use their changes, edited minus original.")
    A, B, AB = (torch.stack([d[k] for k in ATTRIBUTES]).flatten() for d in delta)
    if abs(got - (AB - A - B).norm().item()) <= 1e-3 + 0.01 * got:
        raise _Hint("Divide by |delta_a + delta_b|, and put each attribute on its range: `ll.additivity_error` does both.")
    if abs(got - ((AB - A - B).norm() / (A + B).norm()).item()) <= 1e-3 + 0.01 * got:
        raise _Hint("Put each attribute on its range first (glasses is 0..1, smile -1..+1): `ll.additivity_error` does it.")
    raise _Hint(f"`error` = {got:.3f} does not match: the combined edit adds the two dh in h (`editor.render(A, B)`), "
                f"and each delta is a dict of one-element tensors, edited minus original.")


# ----------------------------------------------------------------------------- 09 real checkpoints
# (appended as one block; the other notebooks' checkers are above)


def _shape3(x: Any, name: str) -> tuple[int, ...]:
    """A shape (C, H, W) from a tuple, list, torch.Size or tensor of three whole numbers, or a `_Hint`."""
    if isinstance(x, Tensor) and x.dim() > 1:
        raise _Hint(f"`{name}` should be a shape, like `tuple(h.shape[1:])`, not the tensor h itself.")
    t = _tensor(list(x) if isinstance(x, torch.Size) else x, name)
    if t.dim() != 1 or (t != t.round()).any() or (t < 1).any():
        raise _Hint(f"`{name}` should be a shape: three whole numbers (channels, height, width).")
    if len(t) == 4:
        raise _Hint(f"`{name}` has four numbers; drop the batch dimension: (channels, height, width).")
    if len(t) != 3:
        raise _Hint(f"`{name}` should hold three numbers (channels, height, width), yours holds {len(t)}.")
    return tuple(int(v) for v in t.tolist())


@_checker("09.1 h at scale", ("h_256", "h_128", "factor"),
          "Fill in `h_256` and `h_128` (h's shape (C, H, W) for inputs of 256 and 128 px) and `factor` (input side / "
          "h's side).")
def check_h_scaling(h_256: Any, h_128: Any, factor: Any, width: int = 16) -> str:
    """Exercise 09.1: h of celebahq-256 at reduced width, from the config alone: C = last block's channels / width,
    side = input side / 2^(levels - 1) (one downsampling between levels, none after the last).

    >>> check_h_scaling((32, 8, 8), (32, 4, 4), 32).ok
    True
    """
    from .architectures import CELEBAHQ_256_UNET

    chans = CELEBAHQ_256_UNET["block_out_channels"]
    C, want_f = chans[-1] // width, 2 ** (len(chans) - 1)
    want = {256: (C, 256 // want_f, 256 // want_f), 128: (C, 128 // want_f, 128 // want_f)}
    got = {256: _shape3(h_256, "h_256"), 128: _shape3(h_128, "h_128")}
    for size, name in ((256, "h_256"), (128, "h_128")):
        g = got[size]
        if g == (chans[-1], *want[size][1:]):
            raise _Hint(f"`{name}` has the full-size model's {chans[-1]} channels; at width={width} every channel "
                        f"count is divided by {width}.")
        if g[0] != C:
            raise _Hint(f"`{name}` has {g[0]} channels; h has the last block's channels ({chans[-1]} / width).")
        if g == (C, size, size) or g == (C, size // 2 ** len(chans), size // 2 ** len(chans)):
            raise _Hint(f"`{name}`: count the downsamplings: {len(chans)} levels downsample {len(chans) - 1} times.")
    if got[128] == got[256]:
        raise _Hint("`h_128` equals `h_256`: build the model with sample_size=128 and look again; h's side follows "
                    "the input's.")
    for size, name in ((256, "h_256"), (128, "h_128")):
        if got[size] != want[size]:
            raise _Hint(f"`{name}` = {got[size]}, but a {size} px input gives h of shape {want[size]}: ask the model "
                        f"(`tuple(ll.h_of(m, x, 500).shape[1:])`).")
    f = _number(factor, "factor")
    if f != want_f:
        if f == 2 ** len(chans):
            raise _Hint(f"{len(chans)} levels downsample {len(chans) - 1} times (none after the last): 2^{len(chans) - 1}.")
        raise _Hint(f"`factor` = {f:g}: divide the input's side by h's side ({256} / {want[256][1]}).")
    return (f"h is {C} x {256 // want_f} x {256 // want_f} at 256 px and {C} x {128 // want_f} x {128 // want_f} at "
            f"128 px: its side is the input's / {want_f}, its channels do not depend on the input, so its size grows "
            f"with the input's area.")


@_checker("09.2 what a pullback costs", ("seconds", "info", "products_per_iter", "est_seconds"),
          "Fill in `seconds` and `info` (time `ll.pullback(..., k=3, max_iters=2, return_info=True)`), "
          "`products_per_iter` and `est_seconds`.")
def check_pullback_cost(seconds: Any, info: Any, products_per_iter: Any, est_seconds: Any, k: int = 3,
                        iters: int = 27) -> str:
    """Exercise 09.2: a block iteration of `pullback` costs k forward-mode products (J V) and k reverse-mode ones
    (U^T J), 2k in all; a run of `iters` iterations at the measured speed costs iters * 2k * seconds / products.

    >>> check_pullback_cost(1.2, {"iterations": 2, "products": 12}, 6, 16.2).ok
    True
    """
    s = _number(seconds, "seconds")
    if s <= 0:
        raise _Hint("`seconds` should be the wall time of your pullback call, a positive number (time.perf_counter()).")
    if not isinstance(info, dict) or not {"iterations", "products"} <= set(info):
        raise _Hint("`info` should be the dict `ll.pullback(..., return_info=True)` returns as its second value.")
    done = int(info["products"])
    p = _number(products_per_iter, "products_per_iter")
    if p != 2 * k:
        if p == k:
            raise _Hint(f"J V gives the k forward-mode products; each iteration also needs k reverse-mode ones (U^T J).")
        if p == 2:
            raise _Hint("That is per direction; a block iteration works on all k = 3 directions at once.")
        raise _Hint(f"`products_per_iter` = {p:g}: count the Jacobian products of one block iteration for k = {k} "
                    f"(compare info['products'] / info['iterations']).")
    want = iters * 2 * k * s / done
    e = _number(est_seconds, "est_seconds")
    if abs(e - want) <= 0.02 * want:
        return (f"{iters} iterations = {iters * 2 * k} products: about {want:.0f} s here. On celebahq-256 (14-82 s per "
                f"iteration on 2 CPU cores, depending on the load) the same run takes {iters * 14 / 60:.0f}-"
                f"{iters * 82 / 60:.0f} minutes.")
    if abs(e - iters * s) <= 0.02 * iters * s:
        raise _Hint(f"Your time covered {info['iterations']} iterations, not one: divide by them (or by its "
                    f"{done} products) before multiplying.")
    if abs(e - iters * k * s / done) <= 0.02 * want:
        raise _Hint("Use 2k products per iteration (forward and reverse), not k.")
    raise _Hint(f"`est_seconds` = {e:.3g}: the cost of one product is seconds / info['products']; a run of {iters} "
                f"iterations needs {iters} x products_per_iter of them.")


@_checker("09.3 a checkpoint folder, safetensors only", ("folder", "loaded", "refused"),
          "Fill in `folder` (where write_pipeline saved the model), `loaded` (load_model of it) and `refused` (the "
          "exception load_model raised on the pickle-only folder).")
def check_checkpoint_folder(model: Any, folder: Any, loaded: Any, refused: Any) -> str:
    """Exercise 09.3: the saved folder holds safetensors only, loads back to the same network (oracle: the two
    U-Nets' own forward passes), and a pickle-only folder is refused.

    >>> check_checkpoint_folder(None, None, None, None).ok
    False
    """
    from pathlib import Path

    model = _model(model)
    if not isinstance(folder, (str, Path)) or not Path(folder).is_dir():
        raise _Hint("`folder` should be the path of a folder that exists: the one you gave `write_pipeline`.")
    folder = Path(folder)
    if not (folder / "model_index.json").is_file() or not list((folder / "unet").glob("*.safetensors")):
        raise _Hint("`folder` should be a pipeline folder (model_index.json, unet/*.safetensors): save it with "
                    "`write_pipeline(model, folder)`.")
    if any(p.suffix in (".bin", ".ckpt", ".pt", ".pth", ".pkl") for p in folder.rglob("*")):
        raise _Hint("`folder` holds pickle files too; keep the pickle copy in a folder of its own.")
    if loaded is model:
        raise _Hint("`loaded` is the model you saved; load it back from the folder with `ll.load_model(folder)`.")
    loaded = _model(loaded)
    if tuple(loaded.sample_shape) != tuple(model.sample_shape):
        raise _Hint(f"`loaded` takes inputs {loaded.sample_shape}, the saved model {model.sample_shape}: load `folder`.")
    x = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    a = model.unet(x.to(model.device, model.dtype), 500).sample.double().cpu()
    b = loaded.unet(x.to(loaded.device, loaded.dtype), 500).sample.double().cpu()
    if not _close(b, a, 1e-4):
        raise _Hint("`loaded` computes something else than the saved model: load the folder you saved it to.")
    if not isinstance(refused, BaseException):
        raise _Hint("`refused` should be the exception load_model raised (`except ValueError as e: refused = e`); "
                    "if it loaded, the folder held safetensors: save with `safe_serialization=False`.")
    text = str(refused)
    if isinstance(refused, FileNotFoundError):
        raise _Hint(f"load_model said: {text[:120]}. Save the pickle copy first: "
                    "`model.unet.save_pretrained(other_folder, safe_serialization=False)`.")
    if "pickle" not in text:
        raise _Hint(f"That exception is not the refusal of pickle weights ({type(refused).__name__}: {text[:100]}).")
    return ("the folder holds safetensors only and loads back to the same network; the pickle copy is refused, "
            "because loading a pickle can run code.")


__all__ += ["check_h_scaling", "check_pullback_cost", "check_checkpoint_folder"]


# ----------------------------------------------------------------------------- 10 which direction method


def _frame(x: Any, name: str, columns: Sequence[str]):
    if not hasattr(x, "columns") or not set(columns) <= set(x.columns):
        raise _Hint(f"pass the notebook's `{name}` (a pandas DataFrame with the columns {', '.join(columns)}), "
                    f"not a {type(x).__name__}.")
    return x


@_checker("10.1 an interval by hand", ("mean", "lo", "hi"),
          "Fill in `mean`, `lo` and `hi`: the mean change over the faces that can move (`movable`), and the "
          "2.5 % and 97.5 % quantiles of that mean over 2,000 resamples of those faces with replacement.")
def check_bootstrap_interval(samples: Any, attr: str, method: str, mean: Any, lo: Any, hi: Any) -> str:
    """Exercise 10.1: a method's mean change towards the goal and its 95 % bootstrap interval.

    The reference mean is exact; the interval is checked against the normal approximation
    mean +- 1.96 SE (within 25 %, the play of a 2,000-resample bootstrap).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": "m", "movable": [True] * 4 + [False],
    ...                   "change": [0.1, 0.2, 0.3, 0.4, 9.0]})
    >>> check_bootstrap_interval(s, "smile", "m", 0.25, 0.15, 0.35).ok
    True
    >>> check_bootstrap_interval(s, "smile", "m", 2.0, 0.15, 0.35).message[:27]
    'That mean counts every face'
    """
    s = _frame(samples, "samples", ("attr", "method", "movable", "change"))
    s = s[(s.attr == attr) & (s.method == method)]
    if not len(s):
        raise _Hint(f"no rows for attr={attr!r} and method={method!r} in these samples: check the names.")
    mean, lo, hi = _number(mean, "mean"), _number(lo, "lo"), _number(hi, "hi")
    x = s[s.movable.astype(bool)].change.to_numpy(float)
    ref, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))
    if abs(mean - float(s.change.mean())) < 1e-6 and abs(mean - ref) > 1e-6:
        raise _Hint(f"That mean counts every face, {len(s)} of them; the comparison counts only the {len(x)} that "
                    "can move towards the goal (`movable`): a face already at the goal cannot show an effect.")
    if abs(mean - ref) > 1e-4:
        raise _Hint(f"The mean change over the movable faces is not {mean:.4f}: select `movable` rows of this "
                    "attribute and method, then average `change`.")
    if lo > hi:
        raise _Hint("`lo` is above `hi`: the lower end is the 2.5 % quantile of the resampled means.")
    half = 1.96 * se
    if not (lo <= ref <= hi):
        raise _Hint(f"The interval [{lo:.3f}, {hi:.3f}] does not contain the mean {ref:.3f}: resample the faces "
                    "(with replacement), average each resample, and take quantiles of those averages.")
    width = hi - lo
    if width > 4 * half:
        raise _Hint(f"Your interval ({width:.3f} wide) is much wider than the mean's uncertainty (about {2 * half:.3f}): "
                    "resample and *average* each resample; the quantiles of single faces' changes give the spread "
                    "of the faces, not of their mean.")
    if width < 1.2 * half:
        raise _Hint(f"Your interval ({width:.3f} wide) is narrower than a 95 % interval (about {2 * half:.3f}): use "
                    "the 2.5 % and 97.5 % quantiles, not 16 % and 84 % (one standard error).")
    if abs(lo - (ref - half)) > 0.25 * half or abs(hi - (ref + half)) > 0.25 * half:
        raise _Hint(f"Close, but [{lo:.3f}, {hi:.3f}] is off from about [{ref - half:.3f}, {ref + half:.3f}]: use "
                    "2,000 resamples of the movable faces.")
    return (f"mean {ref:+.3f}, 95 % interval about [{ref - half:+.3f}, {ref + half:+.3f}] over {len(x)} faces: "
            + ("it excludes 0." if ref - half > 0 or ref + half < 0 else "it includes 0, so this change alone is not shown."))


@_checker("10.2 which methods beat random", ("answer",),
          "Fill in `answer`: the set of method names whose change beats the random baseline's for this "
          "attribute, by a paired test on the same faces at alpha = 0.05 / 28, with a positive difference.")
def check_beats_random(samples: Any, attr: str, answer: Any, n_tests: int = 28) -> str:
    """Exercise 10.2: which methods beat the random baseline for a continuous attribute (Wilcoxon,
    Bonferroni over `n_tests`); the reference calls scipy on the merged per-face changes.

    >>> import pandas as pd
    >>> rows = [{"attr": "hair_color", "method": m, "sample": i, "movable": True, "change": d + 0.01 * i}
    ...         for m, d in (("good", 1.0), ("random", 0.0), ("bad", -1.0)) for i in range(20)]
    >>> check_beats_random(pd.DataFrame(rows), "hair_color", {"good"}).ok
    True
    """
    from scipy.stats import wilcoxon

    s = _frame(samples, "samples", ("attr", "method", "sample", "movable", "change"))
    s = s[(s.attr == attr) & s.movable.astype(bool)]
    if "random" not in set(s.method):
        raise _Hint(f"these samples have no 'random' method for {attr!r}: pass the notebook's per-sample table.")
    if isinstance(answer, str):
        answer = {answer}
    if not isinstance(answer, (set, list, tuple, frozenset)) or not all(isinstance(a, str) for a in answer):
        raise _Hint("`answer` should be a set of method names (strings), e.g. {'paired', 'mean difference'}.")
    answer = set(answer)
    wide = s.pivot(index="sample", columns="method", values="change")
    pvals = {m: (float(wilcoxon(wide[m] - wide["random"]).pvalue) if (wide[m] != wide["random"]).any() else 1.0,
                 float((wide[m] - wide["random"]).mean())) for m in wide.columns if m != "random"}
    ref = {m for m, (p, d) in pvals.items() if p < 0.05 / n_tests and d > 0}
    loose = {m for m, (p, d) in pvals.items() if p < 0.05 and d > 0}
    unknown = answer - set(pvals) - {"random"}
    if unknown:
        raise _Hint(f"{sorted(unknown)} are not methods of this table; they are {sorted(pvals)}.")
    if "random" in answer:
        raise _Hint("'random' is the baseline itself: it cannot beat itself.")
    if answer == ref:
        return (f"{sorted(ref)} beat random at 0.05 / {n_tests}" + (f"; {sorted(loose - ref)} only at an uncorrected "
                "0.05, which with 28 tests is what chance gives about once." if loose - ref else "."))
    worse = {m for m in answer if pvals[m][1] <= 0}
    if worse:
        raise _Hint(f"{sorted(worse)} changed the attribute *less* than random (a negative difference): a small p there "
                    "means worse, not better.")
    if answer == loose and loose != ref:
        raise _Hint(f"That is the list at an uncorrected 0.05; with {n_tests} tests each must pass 0.05 / {n_tests}: "
                    f"drop {sorted(loose - ref)}.")
    if answer < ref:
        raise _Hint(f"Some methods that beat random are missing ({len(ref - answer)}); test every method of this attribute.")
    raise _Hint(f"Not the list the tests give: {len(answer & ref)} of yours pass, {len(answer - ref)} do not. Test each "
                "method's per-face change minus random's (same faces) with `scipy.stats.wilcoxon`.")


@_checker("10.3 do two runs rank alike?", ("rho",),
          "Fill in `rho`: Spearman's rank correlation between the two runs' `change` of the methods of this "
          "attribute (random included), leaving out the two Asyrp editors, with the methods matched by name.")
def check_rank_correlation(table_1: Any, table_2: Any, attr: str, rho: Any) -> str:
    """Exercise 10.3: how alike two runs rank the unlearned methods (Spearman, methods matched by name).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"attr": "smile", "method": list("abcd"), "change": [0.1, 0.2, 0.3, 0.4]})
    >>> check_rank_correlation(a, a.iloc[::-1], "smile", 1.0).ok
    True
    """
    from scipy.stats import pearsonr, spearmanr

    t1 = _frame(table_1, "table_1", ("attr", "method", "change"))
    t2 = _frame(table_2, "table_2", ("attr", "method", "change"))
    rho = _number(rho, "rho")
    a = t1[(t1.attr == attr) & ~t1.method.str.startswith("Asyrp")].set_index("method").change
    b = t2[(t2.attr == attr) & ~t2.method.str.startswith("Asyrp")].set_index("method").change.reindex(a.index)
    if len(a) < 3 or b.isna().any():
        raise _Hint(f"the two tables do not share the methods of {attr!r}: pass both runs' tables.")
    ref = float(spearmanr(a, b).statistic)
    if abs(rho - ref) < 5e-3:
        return (f"rho = {ref:+.2f} over {len(a)} methods: " + ("the runs largely agree on the order." if ref > 0.7 else
                "the order of the unlearned methods is not reproducible from one run to the next."))
    no_random = a.drop("random", errors="ignore")
    if len(no_random) >= 3 and abs(rho - float(spearmanr(no_random, b.reindex(no_random.index)).statistic)) < 5e-3:
        raise _Hint("Keep the random baseline in, as section 5 does: it is one of the ranked methods.")
    aa = t1[t1.attr == attr].set_index("method").change
    if abs(rho - float(spearmanr(aa, t2[t2.attr == attr].set_index("method").change.reindex(aa.index)).statistic)) < 5e-3:
        raise _Hint("That includes the two Asyrp editors, which top both runs and lift the correlation: leave them out.")
    if abs(rho - float(pearsonr(a, b).statistic)) < 5e-3:
        raise _Hint("That is Pearson's correlation of the values; Spearman's correlates their ranks (`scipy.stats.spearmanr`).")
    unaligned = t2[(t2.attr == attr) & ~t2.method.str.startswith("Asyrp")].change.to_numpy()
    if len(unaligned) == len(a) and abs(rho - float(spearmanr(a.to_numpy(), unaligned).statistic)) < 5e-3:
        raise _Hint("The two runs' rows are in different orders: match the methods by name (e.g. `set_index('method')` "
                    "and `reindex`) before correlating.")
    raise _Hint(f"Not {rho:+.3f}: rank both runs' changes of the same methods (without the Asyrp editors) and correlate.")
