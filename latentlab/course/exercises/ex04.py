"""Exercise checks of lab 04 (lecture 04, Asyrp's learned editors): scaling and adding two editors (04.1), and
whether an editor's dh depends on the face (04.2, f_t(h) against the raw dh).

The references call the editors themselves on random h.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .feedback import Hint, as_number, as_tensor, checker, is_close

__all__ = ["check_editor_mix", "check_editor_dependence"]


def _probe_h(editor, n: int = 3) -> tuple[list[int], Tensor]:
    g = torch.Generator().manual_seed(0)
    return [int(editor.t_edit), 500, 900], torch.randn(n, *editor.h_shape, generator=g)


@checker("04.1 scale and add editors", ("dh",),
         "Fill in a function `lambda t, h: ...` that returns 1.5 times "
         "the smile editor's dh plus 0.5 times the glasses editor's.")
def check_editor_mix(smile: Any, glasses: Any, dh: Any, weights: tuple[float, float] = (1.5, 0.5)) -> str:
    """Exercise 04.1: a callable `(t, h) -> a * smile(t, h) + b * glasses(t, h)`.

    Checked at three timesteps on random h; a wrong mix is reported by the weights it has.

    >>> f = lambda t, h: torch.ones_like(h); g = lambda t, h: h
    >>> f.h_shape = g.h_shape = (2, 1, 1); f.t_edit = g.t_edit = 0
    >>> check_editor_mix(f, g, lambda t, h: 1.5 * f(t, h) + 0.5 * g(t, h)).ok
    True
    """
    if not callable(dh):
        raise Hint(f"`dh` should be a function of (t, h), e.g. `lambda t, h: ...`, not a {type(dh).__name__}.")
    ts, hs = _probe_h(smile)
    a, b = weights
    coef, worst = [], 0.0
    for t in ts:
        out = dh(t, hs.float())
        out = as_tensor(out, "dh(t, h)", tuple(hs.shape)).flatten()
        s, gl = smile(t, hs).double().flatten(), glasses(t, hs).double().flatten()
        want = a * s + b * gl
        worst = max(worst, (out - want).norm().item() / max(want.norm().item(), 1e-12))
        coef.append(torch.linalg.lstsq(torch.stack([s, gl], 1), out[:, None]).solution.flatten())
    if worst < 1e-4:
        return (f"dh(t, h) = {a} smile + {b} glasses at every t: Asyrp's linearity says the edits then scale and "
                "add in the image too (lecture 04 measures how far that holds).")
    for t in ts:
        if is_close(dh(t, hs.float()).double(), a * smile(t, a * hs).double() + b * glasses(t, b * hs).double(), 1e-4):
            raise Hint("You scaled h inside the editors; scale their outputs: 1.5 * smile(t, h).")
    c = torch.stack(coef).mean(0)
    fit = max((dh(t, hs.float()).double().flatten() - (c[0] * smile(t, hs).double().flatten()
              + c[1] * glasses(t, hs).double().flatten())).norm().item()
              / max(dh(t, hs.float()).double().norm().item(), 1e-12) for t in ts)
    if fit < 1e-3:
        raise Hint(f"Your dh is {c[0].item():.2f} smile + {c[1].item():.2f} "
                   f"glasses; the exercise asks for {a} and {b}.")
    raise Hint("Your dh is not a combination of the two editors' outputs: return a * smile(t, h) + b * glasses(t, h).")


@checker("04.2 f against raw dh", ("cos_f", "cos_dh"),
         "Fill in `cos_f` and `cos_dh`: the cosine similarity between "
         "the dh each editor gives face 0 and face 1.")
def check_editor_dependence(f_editor: Any, dh_editor: Any, h: Tensor, t: int, cos_f: Any, cos_dh: Any) -> str:
    """Exercise 04.2: does the editor's dh depend on the face? Cosines between two faces' dh.

    >>> f = lambda t, h: h; d = lambda t, h: torch.ones_like(h)
    >>> h = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> check_editor_dependence(f, d, h, 500, 0.0, 1.0).ok
    True
    """
    h = as_tensor(h, "h").float()
    if h.dim() < 2 or h.shape[0] < 2:
        raise Hint("`h` should hold the h of (at least) two faces, stacked on axis 0.")
    want = {}
    for name, ed in (("cos_f", f_editor), ("cos_dh", dh_editor)):
        d = ed(t, h[:2]).double().flatten(1)
        want[name] = torch.nn.functional.cosine_similarity(d[0], d[1], dim=0).item()
    got = {"cos_f": as_number(cos_f, "cos_f"), "cos_dh": as_number(cos_dh, "cos_dh")}
    for name in got:
        if not -1 - 1e-6 <= got[name] <= 1 + 1e-6:
            raise Hint(f"`{name}` = {got[name]:.3f} is not a cosine (it lies in [-1, 1]): divide by both norms.")
    if abs(got["cos_dh"] - want["cos_dh"]) > 1e-3:
        raise Hint(f"`cos_dh` = {got['cos_dh']:.3f}: the raw-dh editor stores one dh per timestep, whatever h is "
                   f"(evaluate dh_editor(t, h) for both faces and compare).")
    if abs(got["cos_f"] - want["cos_f"]) > 1e-3:
        raise Hint(f"`cos_f` = {got['cos_f']:.3f} does not match the f editor's outputs for the two faces: flatten "
                   f"each face's dh and take their cosine similarity.")
    return (f"the raw dh is the same for every face (cosine {want['cos_dh']:.3f}), f_t(h) is not (cosine "
            f"{want['cos_f']:.3f}): f can adapt the edit to each face, the raw dh cannot.")
