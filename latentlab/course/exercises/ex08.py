"""Exercise checks of lab 08, the widget editor: reading the strength's effect from Python (08.1),
from which strength a smile edit takes the glasses off (08.2), whether two edits add (08.3), and a
strength set to a pixel budget by bisection (08.4).

The references run `ddim_sample` on the same face themselves and read the probe or the pixels
(`latentlab.metrics.pixel_change`); the bisection is checked against scipy's `brentq`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

import latentlab as ll
from latentlab.metrics import pixel_change

from .feedback import Hint, as_model, as_number, as_tensor, call_answer, checker

__all__ = ["check_strength_reading", "check_glasses_off", "check_additivity", "check_strength_for_budget"]


def _x_T_batch(model, x_T: Any) -> Tensor:
    x_T = as_tensor(x_T, "x_T").float()
    if x_T.dim() == len(model.sample_shape):
        x_T = x_T[None]
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != tuple(model.sample_shape):
        raise Hint(f"`x_T` should be one face's noise, ({', '.join(map(str, model.sample_shape))}), e.g. `editor.x_T`.")
    return x_T


def _edited_readings(model, x_T: Tensor, dhs: Sequence[Any], probe, t_edit: int, steps: int) -> dict[str, Tensor]:
    """The probe's readings of x_T edited by each dh (None: unedited), by direct calls of `ddim_sample`."""
    images = torch.cat([ll.ddim_sample(model, x_T, steps, dh=dh, t_edit=t_edit, asymmetric=True, progress=False)
                        for dh in dhs])
    return {k: v.detach().double() for k, v in probe(images).items()}


@checker("08.1 strength from Python", ("change",),
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
    if not all(hasattr(editor, a) for a in ("model", "probe", "steps", "x_T", "strength", "readings_before")):
        raise Hint(f"pass the notebook's `editor` (the widget, `latentlab.course.widget`) first, "
                   f"not a {type(editor).__name__}.")
    got = as_number(change, "smile_change")
    f = ll.load_editor(attr, goal, kind)
    x_T = _x_T_batch(editor.model, editor.x_T)
    dhs = [None, lambda t, h: strength * f(t, h)]
    r = _edited_readings(editor.model, x_T, dhs, editor.probe, t_edit, editor.steps)[attr]
    before, after = r[0].item(), r[1].item()
    want = after - before
    tol = 0.01
    if abs(got - want) <= tol:
        return (f"at c = {strength:g} the {attr} reading goes from {before:+.2f} to "
                f"{after:+.2f} ({want:+.2f}); `editor.wait()` matters: without it you "
                "read whatever image was shown last (a preview or an older strength).")
    if abs(got - after) <= tol:
        raise Hint(f"{got:+.2f} is the edited face's reading; the change is that minus the original's "
                   f"(`editor.readings_before['{attr}']`).")
    if abs(got + want) <= tol:
        raise Hint("Right size, wrong sign: the change is after minus before.")
    if abs(got - want / 2) <= tol:
        raise Hint(f"That is the change as a fraction of {attr}'s range (-1 to +1); give it in the probe's units.")
    if abs(float(editor.strength.value) - strength) > 1e-9:
        raise Hint(f"The editor's strength is {float(editor.strength.value):g}: set `editor.strength.value = "
                   f"{strength:g}` and call `editor.wait()` before reading.")
    if (editor.method.value, editor.target.value) != (f"Asyrp {kind}", f"{attr} -> {goal:+g}"):
        raise Hint(f"The editor shows {editor.method.value} / {editor.target.value}: set it back to Asyrp {kind}, "
                   f"{attr} -> {goal:+g} (the notebook's first settings).")
    raise Hint(f"{got:+.3f} is not the change at c = {strength:g}: did you call `editor.wait()` before reading? "
               f"Until then the readings are those of the last image shown.")


@checker("08.2 when the smile edit takes the glasses off", ("c_off", "smile_kept"),
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
    model = as_model(model)
    x_T = _x_T_batch(model, x_T)
    c = as_number(c_off, "c_off")
    grid = [float(s) for s in strengths]
    match = [i for i, s in enumerate(grid) if abs(s - c) < 1e-9]
    if not match:
        raise Hint("`c_off` should be one of the grid's strengths "
                   f"{grid[0]:g}, {grid[1]:g}, ..., {grid[-1]:g}; got {c:g}.")
    kept = as_number(smile_kept, "smile_kept")
    editor = editor if editor is not None else ll.load_editor("smile", 1.0, kind="f")
    probe = probe if probe is not None else ll.load_probe()
    i = match[0]
    dhs = [None] + [(lambda t, h, s=s: s * editor(t, h)) for s in ([grid[i - 1]] if i > 0 else []) + [c]]
    r = _edited_readings(model, x_T, dhs, probe, t_edit, steps)
    if r["glasses"][0] < 0.5:
        raise Hint("This face has no glasses to begin with (its glasses "
                   "reading is below 0.5): use the notebook's seed 1.")
    if r["glasses"][-1] >= 0.5:
        raise Hint(f"At c = {c:g} the face still reads glasses "
                   f"{r['glasses'][-1].item():.2f} (>= 0.5): try a larger strength.")
    if i == 0:
        return f"already the smallest strength, c = {c:g}, takes the glasses off."
    if r["glasses"][1] < 0.5:
        raise Hint(f"At c = {grid[i - 1]:g} the glasses are already off ({r['glasses'][1].item():.2f}): the question "
                   "is the smallest strength that takes them off.")
    want = r["smile"][1].item()
    if abs(kept - want) > 0.01:
        if abs(kept - r["smile"][2].item()) <= 0.01:
            raise Hint(f"{kept:+.2f} is the smile at c = {c:g}, where the "
                       f"glasses are gone; give it at c = {grid[i - 1]:g}.")
        if abs(kept - (want - r["smile"][0].item())) <= 0.01:
            raise Hint("That is the change of smile; give the edited face's smile reading itself.")
        raise Hint(f"`smile_kept` = {kept:+.2f} is not the smile reading "
                   f"at c = {grid[i - 1]:g} (the strength below c_off).")
    return (f"up to c = {grid[i - 1]:g} the edit keeps the glasses and reaches smile {want:+.2f} (from "
            f"{r['smile'][0].item():+.2f}); at c = {c:g} they are gone: the editor was trained for smile, not to keep "
            f"everything else, and its strength trades one for the other.")


@checker("08.3 are two edits additive?", ("error",),
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
    model = as_model(model)
    x_T = _x_T_batch(model, x_T)
    got = as_number(error, "error")
    a, b = edits if edits is not None else (ll.load_editor("smile", 1.0, "f"), ll.load_editor("glasses", 0.0, "f"))
    ca, cb = strengths
    probe = probe if probe is not None else ll.load_probe()
    dha = lambda t, h: ca * a(t, h)  # noqa: E731
    dhb = lambda t, h: cb * b(t, h)  # noqa: E731
    r = _edited_readings(model, x_T, [None, dha, dhb, lambda t, h: dha(t, h) + dhb(t, h)], probe, t_edit, steps)
    r = {k: r[k] for k in ll.ATTRIBUTES}
    delta = [{k: v[i:i + 1] - v[:1] for k, v in r.items()} for i in (1, 2, 3)]
    want = ll.additivity_error(*delta)
    if abs(got - want) <= 0.005 + 0.01 * want:
        gap = {k: ((delta[2][k] - delta[0][k] - delta[1][k]) / (hi - lo)).item()
               for k, (lo, hi) in ll.ATTRIBUTES.items()}
        worst = max(gap, key=lambda k: abs(gap[k]))
        return (f"error {want:.2f}: the two edits together are {'close to' if want < 0.1 else 'far from'} the sum of "
                f"the single edits on this face; the largest gap is {worst} ({gap[worst]:+.2f} of its range).")
    raw = [{k: v[i:i + 1] for k, v in r.items()} for i in (1, 2, 3)]
    try:
        from_readings = ll.additivity_error(*raw)
    except ValueError:
        from_readings = float("nan")
    if abs(got - from_readings) <= 0.005 + 0.01 * from_readings:
        raise Hint("You used the readings of the edited faces; use their changes, edited minus original.")
    A, B, AB = (torch.stack([d[k] for k in ll.ATTRIBUTES]).flatten() for d in delta)
    if abs(got - (AB - A - B).norm().item()) <= 1e-3 + 0.01 * got:
        raise Hint("Divide by |delta_a + delta_b|, and put each attribute "
                   "on its range: `ll.additivity_error` does both.")
    if abs(got - ((AB - A - B).norm() / (A + B).norm()).item()) <= 1e-3 + 0.01 * got:
        raise Hint("Put each attribute on its range first (glasses is "
                   "0..1, smile -1..+1): `ll.additivity_error` does it.")
    raise Hint(f"`error` = {got:.3f} does not match: the combined edit adds the two dh in h (`editor.render(A, B)`), "
               f"and each delta is a dict of one-element tensors, edited minus original.")


# Increasing curves "strength -> RMS pixel change" with a known root: sub-linear, as the editors' are, and
# convex; (curve, budget, lo, hi).
_CURVES: tuple[tuple[Callable[[float], float], float, float, float], ...] = (
    (lambda c: 0.05 * c ** 0.7, 0.1, 0.0, 8.0),
    (lambda c: 0.02 * c + 0.01 * c * c, 0.15, 0.5, 5.0),
)


def _check_bisection(find: Any, tol: float = 1e-3) -> None:
    """The student's `find(pixels_at, budget, lo, hi, tol)` on the known curves, against scipy's brentq."""
    from scipy.optimize import brentq

    for curve, budget, lo, hi in _CURVES:
        calls = []

        def pixels_at(c: float, curve=curve) -> float:
            calls.append(float(c))
            return curve(float(c))

        got = call_answer(find, "strength_for_budget", pixels_at, budget, lo, hi, tol)
        if got is None:
            raise Hint("`strength_for_budget` returned None: end it with `return (lo + hi) / 2`.")
        got = as_number(got, "strength_for_budget(...)")
        want = brentq(lambda c: curve(c) - budget, lo, hi, xtol=1e-12)
        where = f"(a test curve with budget {budget:g} on [{lo:g}, {hi:g}], root c = {want:.4f})"
        if abs(got - want) <= 2 * tol:
            if len(calls) > 4 * math.ceil(math.log2((hi - lo) / tol)) + 4:
                raise Hint(f"Right strength, but `pixels_at` ran {len(calls)} times {where}: bisection halves the "
                           f"bracket each time, about log2((hi - lo) / tol) = {math.log2((hi - lo) / tol):.0f} calls.")
            continue
        if abs(got - budget) < 1e-9 or (calls and abs(got - curve(want)) < 1e-3 and abs(got - want) > 0.1):
            raise Hint(f"`strength_for_budget` returned {got:.4f}, a pixel change {where}; return the strength c.")
        if min(abs(got - lo), abs(got - hi)) <= 2 * tol:
            raise Hint(f"It stopped at the end of the bracket, c = {got:.4f} {where}: the update is reversed. If the "
                       "pixel change at the midpoint is below the budget, the strength must grow: lo = mid.")
        if not lo <= got <= hi:
            raise Hint(f"`strength_for_budget` returned {got:.4f}, outside the bracket [{lo:g}, {hi:g}] {where}.")
        raise Hint(f"`strength_for_budget` returned {got:.4f} {where}: halve [lo, hi] until hi - lo < tol, then "
                   "return its midpoint.")


@checker("08.4 a strength for a pixel budget", ("find", "c"),
         "Fill in `strength_for_budget` (a bisection on the strength) and `c`, what it returns for the smile edit.")
def check_strength_for_budget(model: Any, x_T: Any, find: Any, c: Any, budget: float = 0.15, *, editor: Any = None,
                              t_edit: int = 200, steps: int = 10, rtol: float = 0.03) -> str:
    """Exercise 08.4: bisection on the strength c until an edit's RMS pixel change meets `budget` (the
    comparison's protocol, lecture 10, step 2).

    The student's `find(pixels_at, budget, lo, hi, tol)` is first run on two increasing curves whose
    root scipy's `brentq` finds; then the smile editor (`editor`, default the shipped f editor for
    smile -> +1) is run on `x_T` at the student's `c` (asymmetric at t >= t_edit, `steps` DDIM steps) and
    its RMS pixel change against the unedited face must be within `rtol` of `budget`.

    >>> check_strength_for_budget(None, None, None, None).message[:29]
    'Fill in `strength_for_budget`'
    """
    model = as_model(model)
    x_T = _x_T_batch(model, x_T)
    _check_bisection(find)
    c = as_number(c, "c")
    if c <= 0:
        raise Hint(f"`c` = {c:g}: the strength that meets a budget is positive.")
    editor = editor if editor is not None else ll.load_editor("smile", 1.0, kind="f")
    base = ll.ddim_sample(model, x_T, steps, progress=False)
    edited = ll.ddim_sample(model, x_T, steps, dh=lambda t, h: c * editor(t, h), t_edit=t_edit, asymmetric=True,
                            progress=False)
    p = pixel_change(edited, base).mean().item()
    if abs(p / budget - 1) <= rtol:
        return (f"at c = {c:.3f} the smile edit changes the pixels by {p:.4f} RMS (budget {budget:g}); "
                f"every method in lecture 10 is scaled to its budget this way, so that none wins by editing more.")
    raise Hint(f"At c = {c:.3f} the edit changes the pixels by {p:.4f} RMS, not {budget:g}: run your "
               f"`strength_for_budget` with the notebook's `pixels_at` ({steps} DDIM steps, t_edit = {t_edit}).")
