"""What every exercise check shares: the `Feedback` it returns, the `checker` decorator that turns any
problem with a student's answer into a hint, and readers of answers (`as_tensor`, `as_number`, ...)
that raise a `Hint` saying what is wrong instead of an error.

>>> Feedback(False, "S should hold 2 numbers.", "01.1")
Not yet (01.1): S should hold 2 numbers.
"""
from __future__ import annotations

import functools
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

import latentlab as ll

__all__ = ["Feedback", "Hint", "checker", "as_tensor", "as_number", "abs_cos", "is_close", "as_model", "svd_parts",
           "grid_t", "call_answer"]


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
        # Wrapped at 100 characters: a notebook shows the repr as plain text, and the course prints
        # no line wider than that.
        return textwrap.fill(f"{self._head()}: {self.message}", 100, break_on_hyphens=False)

    __str__ = __repr__

    def _repr_markdown_(self) -> str:
        return f"{'✅' if self.ok else '✍️'} **{self._head()}**: {self.message}"


class Hint(Exception):
    """Raised inside a checker to return its message as a hint."""


def checker(exercise: str, answers: Sequence[str],
            blank: str) -> Callable[[Callable[..., str]], Callable[..., Feedback]]:
    """Wraps a check that returns the praise or raises a `Hint`: blank answers (`None`, `...`) get `blank`, a
    `Hint` its message, any other error a hint too, so that a student's answer never ends in a traceback.

    >>> @checker("0.1 a demo", ("x",), "Fill in `x`.")
    ... def check_demo(x: Any) -> str:
    ...     if as_number(x, "x") != 2:
    ...         raise Hint("`x` should be 2.")
    ...     return "x is 2."
    >>> for answer in (None, "two", 2):
    ...     print(check_demo(answer))
    Not yet (0.1 a demo): Fill in `x`.
    Not yet (0.1 a demo): `x` should be numbers (a list, an array or a tensor), not a str.
    Right (0.1 a demo): x is 2.
    """

    def wrap(fn: Callable[..., str]) -> Callable[..., Feedback]:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def check(*args: Any, **kwargs: Any) -> Feedback:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as e:
                return Feedback(False, "This check was called with the wrong arguments "
                                       f"({e}); call it as `{fn.__name__}{sig}`.", exercise)
            if any(bound.arguments.get(a) is None or bound.arguments.get(a) is ... for a in answers):
                return Feedback(False, blank, exercise)
            try:
                with torch.no_grad():
                    message = fn(*args, **kwargs)
            except Hint as h:
                return Feedback(False, str(h), exercise)
            except Exception as e:  # a student's answer must never end in a traceback
                return Feedback(False, f"Could not check this answer ({type(e).__name__}: {e}). {blank}", exercise)
            return Feedback(True, message, exercise)

        check.__signature__ = sig.replace(return_annotation="Feedback")  # what a caller gets back
        check.__annotations__ = {**fn.__annotations__, "return": "Feedback"}
        return check

    return wrap


def call_answer(fn: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function `fn` (an implement-it exercise's answer) on the checker's inputs; a
    `Hint` naming `name` if it is not a function or if it raises, instead of the student's traceback.

    >>> call_answer(lambda x: 2 * x, "double", 3)
    6
    >>> call_answer(lambda x: x / 0, "double", 3)
    Traceback (most recent call last):
    ...
    latentlab.course.exercises.feedback.Hint: `double` raised ZeroDivisionError: division by zero
    """
    if not callable(fn):
        raise Hint(f"`{name}` should be a function (`def {name}(...):`), not a {type(fn).__name__}.")
    try:
        return fn(*args, **kwargs)
    except Hint:
        raise
    except Exception as e:  # the student's bug, reported as a hint
        raise Hint(f"`{name}` raised {type(e).__name__}: {e}") from None


def as_tensor(x: Any, name: str, shape: Sequence[int] | None = None) -> Tensor:
    """The answer `x` as a float64 tensor of `shape`, or a `Hint` that says what is wrong with it.

    >>> as_tensor([1, 2], "v").dtype
    torch.float64
    >>> as_tensor("12", "v")
    Traceback (most recent call last):
    ...
    latentlab.course.exercises.feedback.Hint: `v` should be numbers (a list, an array or a tensor), not a str.
    """
    if isinstance(x, (str, bytes, dict)) or callable(x) and not isinstance(x, Tensor):
        raise Hint(f"`{name}` should be numbers (a list, an array or a tensor), not a {type(x).__name__}.")
    try:
        t = x.detach().cpu().double() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=float))
    except (TypeError, ValueError) as e:
        raise Hint(f"`{name}` should be numbers (a list, an array or a tensor); could not read it ({e}).") from None
    if shape is not None and tuple(t.shape) != tuple(shape):
        if t.numel() == math.prod(shape):
            raise Hint(f"`{name}` has the right numbers of entries but shape "
                       f"{tuple(t.shape)}; reshape it to {tuple(shape)}.")
        raise Hint(f"`{name}` should have shape {tuple(shape)}, yours has shape {tuple(t.shape)}.")
    if not torch.isfinite(t).all():
        raise Hint(f"`{name}` contains NaN or inf: check for a division by zero or a square root of a negative number.")
    return t


def as_number(x: Any, name: str) -> float:
    """One finite number, or a `Hint`.

    >>> as_number(torch.tensor([2.5]), "s")
    2.5
    """
    if isinstance(x, (bool, np.bool_)):
        raise Hint(f"`{name}` should be a number, not True/False.")
    t = as_tensor(x, name)
    if t.numel() != 1:
        raise Hint(f"`{name}` should be one number, yours has shape {tuple(t.shape)}.")
    return float(t.reshape(()))


def abs_cos(a: Tensor, b: Tensor) -> float:
    """|cosine| between two flattened tensors (sign-free: a singular vector's sign is arbitrary).

    >>> abs_cos(torch.tensor([1.0, 0.0]), torch.tensor([-2.0, 0.0]))
    1.0
    """
    a, b = a.flatten().double(), b.flatten().double()
    return (a @ b).abs().item() / max(a.norm().item() * b.norm().item(), 1e-300)


def is_close(a: Tensor, b: Tensor, rel: float = 1e-4) -> bool:
    """Same shape and |a - b| <= rel |b| (norms over all entries).

    >>> is_close(torch.tensor([1.0, 1e-5]), torch.tensor([1.0, 0.0]))
    True
    """
    a, b = a.double(), b.double()
    return a.shape == b.shape and (a - b).norm().item() <= rel * max(b.norm().item(), 1e-12)


def as_model(model: Any) -> ll.Model:
    """The notebook's `model`, or a `Hint` to pass it."""
    if not isinstance(model, ll.Model):
        raise Hint(f"pass the notebook's `model` (a latentlab Model) as the first argument, not a "
                   f"{type(model).__name__}.")
    return model


def svd_parts(svd: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(U, S, V) of what `topk_svd` or `pullback` returns (or a plain 3-tuple), as float64 tensors, or a `Hint`.

    >>> [tuple(p.shape) for p in svd_parts(ll.SVD(U=torch.eye(2), S=torch.ones(2), V=torch.eye(3)[:2]))]
    [(2, 2), (2,), (2, 3)]
    """
    if isinstance(svd, tuple) and len(svd) == 2 and hasattr(svd[0], "S"):
        raise Hint("That looks like `(svd, info)` from `return_info=True`: pass only the first element, the SVD.")
    U, S, V = (getattr(svd, k, None) for k in "USV")
    if U is None and isinstance(svd, (tuple, list)) and len(svd) == 3:
        U, S, V = svd
    if U is None:
        raise Hint(f"`svd` should be what `topk_svd` returns (an SVD with .U, .S, .V), not a {type(svd).__name__}.")
    return as_tensor(U, "svd.U"), as_tensor(S, "svd.S"), as_tensor(V, "svd.V")


def grid_t(model: ll.Model, t: Any, steps: int, name: str = "t") -> int:
    """`t` as an int, or a `Hint` when it is not a timestep of the `steps`-step DDIM grid."""
    grid = ll.ddim_timesteps(model, steps).tolist()
    if isinstance(t, Tensor):
        t = t.item()
    if t not in grid:
        raise Hint(f"`{name}` = {t!r} is not a timestep of the {steps}-step grid ({grid[:3]} ... {grid[-2:]}).")
    return int(t)
