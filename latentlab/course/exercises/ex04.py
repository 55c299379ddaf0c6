"""Exercise checks of lab 04 (lecture 04, Asyrp's learned editors): scaling and adding two editors (04.1),
whether an editor's dh depends on the face (04.2, f_t(h) against the raw dh), and the loss of one
Asyrp training step written by the student (04.3).

The references call the editors themselves on random h, and the package's `eps_of`, `P_t` and
probe with `latentlab.asyrp.train_editor`'s loss.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

import latentlab as ll
from latentlab.ddim import alpha_bar

from .feedback import Hint, as_model, as_number, as_tensor, call_answer, checker, is_close

__all__ = ["check_editor_mix", "check_editor_dependence", "check_editor_loss"]


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


def _editor_loss(model: ll.Model, probe: Any, x_t: Tensor, t: int, dh: Tensor, goal: float, l1: float,
                 slip: str = "") -> Tensor:
    """`latentlab.asyrp.train_editor`'s loss for smile, from the package's `eps_of` and `P_t`, with one
    typical slip switched on: the checker's map from wrong answers to hints."""
    a_t = alpha_bar(model, t)
    with torch.no_grad():
        eps = ll.eps_of(model, x_t, t)
    eps_edit = ll.eps_of(model, x_t, t, dh=dh)
    p_edit, p = ll.P_t(x_t, eps_edit, a_t), ll.P_t(x_t, eps, a_t)
    if slip == "clipped":
        p_edit, p = p_edit.clamp(-1, 1), p.clamp(-1, 1)
    span = 1.0 if slip == "unscaled" else ll.ATTRIBUTES["smile"].span
    gap = probe(p_edit)["smile"] - goal
    attr = (gap ** 2 if slip == "squared" else gap.abs()).mean() / span
    change = {"eps change": eps_edit - eps}.get(slip, p_edit - p)
    reg = (change ** 2).mean() if slip == "squared change" else change.abs().mean()
    return attr if slip == "no l1" else attr + l1 * reg


@checker("04.3 the editor's loss", ("editor_loss",),
         "Fill in `editor_loss(model, probe, x_t, t, dh, goal, l1)`: the probe's |smile - goal| / 2 on "
         "P_t(eps_edit), plus l1 times mean|P_t(eps_edit) - P_t(eps)|.")
def check_editor_loss(model: Any, probe: Any, editor_loss: Any, dh: Tensor | None = None, t: int = 600,
                      goal: float = 1.0, l1: float = 3.0, n: int = 2) -> str:
    """Exercise 04.3: the loss of one Asyrp training step (`latentlab.asyrp.train_editor`, kind "dh",
    attribute smile), its value and its gradient with respect to dh, at `n` rendered faces noised to `t`.

    `dh` defaults to the shipped raw-dh smile editor's dh at `t`.

    >>> import latentlab as ll
    >>> check_editor_loss(ll.tiny_model(), None, None).message[:20]
    'Fill in `editor_loss'
    """
    model = as_model(model)
    if not callable(probe):
        raise Hint(f"pass the notebook's `probe` as the second argument, not a {type(probe).__name__}.")
    faces, _ = ll.render_faces(n, seed=0, size=model.sample_shape[-1])
    x_t = ll.q_sample(model, faces, t, generator=torch.Generator().manual_seed(0))
    if dh is None:
        dh = ll.load_editor("smile", 1.0, kind="dh")(t, ll.h_of(model, x_t, t))
    dh = as_tensor(dh, "dh").float()

    def value_and_grad(fn: Callable[..., Any], name: str) -> tuple[Any, Tensor | None]:
        d = dh.clone().requires_grad_(True)
        with torch.enable_grad():
            out = call_answer(fn, name, model, probe, x_t, t, d, goal, l1)
            if isinstance(out, Tensor) and out.requires_grad and out.numel() == 1:
                return out, torch.autograd.grad(out.reshape(()), d, allow_unused=True)[0]
        return out, None

    loss, grad = value_and_grad(editor_loss, "editor_loss")
    if loss is None:
        raise Hint("`editor_loss` returned None: compute the loss and return it.")
    if not isinstance(loss, Tensor):
        raise Hint(f"`editor_loss` returned a {type(loss).__name__}: return the tensor itself (no .item()), so "
                   "that the optimiser can call loss.backward().")
    if loss.numel() != 1:
        raise Hint(f"The loss should be one number (a mean over the batch); yours has shape {tuple(loss.shape)}.")
    if grad is None or not grad.abs().sum() > 0:
        raise Hint("Your loss does not depend on dh: P_t(eps_edit) must come from "
                   "ll.eps_of(model, x_t, t, dh=dh), not detached and not from the unedited eps.")
    ref, ref_grad = value_and_grad(lambda *a: _editor_loss(*a), "the reference")
    value = loss.detach().double()
    if is_close(value, ref.detach().double(), 1e-4) and is_close(grad.double(), ref_grad.double(), 1e-3):
        reg = (ref - _editor_loss(model, probe, x_t, t, dh, goal, l1, "no l1")).item()
        return (f"loss {value.item():.4f} and its gradient in dh match the package's training loss: "
                f"{value.item() - reg:.4f} from the probe, {reg:.4f} from the l1 term.")
    hints = {
        "no l1": "That is the probe's term alone: add l1 * mean|P_t(eps_edit) - P_t(eps)|, Asyrp's term that "
                 "keeps the edited prediction near the unedited one.",
        "eps change": "The l1 term compares P_t's, not the noises: l1 * mean|P_t(eps_edit) - P_t(eps)|.",
        "clipped": "The training loss uses P_t unclipped: a clip would zero the gradient wherever |P_t| > 1.",
        "squared": "The probe's term is an L1 distance: mean|smile - goal| / 2, not a square.",
        "squared change": "The regulariser is an L1 distance: mean|P_t(eps_edit) - P_t(eps)|, not a square.",
        "unscaled": "Divide the probe's distance by smile's range, 2 (it runs from -1 to 1), as the package "
                    "does for every attribute.",
    }
    for slip, message in hints.items():
        if is_close(value, _editor_loss(model, probe, x_t, t, dh, goal, l1, slip).detach().double(), 1e-4):
            raise Hint(message)
    raise Hint(f"Your loss is {value.item():.4f}, the package's {ref.item():.4f}: P_t = (x_t - sqrt(1 - a_t) eps) / "
               "sqrt(a_t) with a_t = alphas_cumprod[t], probe(P_t(eps_edit))['smile'], mean over the batch.")
