"""Exercise checks of notebook 03, h-space: Asyrp's asymmetric step written out (03.1), down to which
t_edit a glasses edit still works on half the faces, found by bisection (03.2), and Asyrp's whole
sampler loop written by the student (03.3).

The references are `eps_of` with the closed-form step, DDIM runs of the edit itself, and
`ddim_sample(..., dh=, t_edit=, asymmetric=True)`.
"""
from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor

import latentlab as ll

from .feedback import Hint, as_model, as_number, as_tensor, call_answer, checker, grid_t, is_close

__all__ = ["check_asymmetric_step", "check_glasses_t_half", "check_asyrp_loop"]


def _clip_as_scheduler(model: ll.Model, x0: Tensor) -> Tensor:
    """P_t clipped exactly as the model's diffusers scheduler clips it (its config decides)."""
    c = model.scheduler.config
    if c.thresholding:
        return model.scheduler._threshold_sample(x0)
    if c.clip_sample:
        return x0.clamp(-c.clip_sample_range, c.clip_sample_range)
    return x0


@checker("03.1", ("x_prev",), "Fill in x_400: P_t(edited eps), clipped, + D_t(unedited eps).")
def check_asymmetric_step(model: Any, x_t: Tensor, t: int, dh: Tensor, x_prev: Any, steps: int = 10) -> str:
    """Exercise 03.1: Asyrp's asymmetric step, x_prev = sqrt(a_prev) P_t(eps_edit) + D_t(eps).

    The reference uses `eps_of` (with and without `dh`) and the closed form, with P_t clipped as the
    model's scheduler clips it.

    >>> import latentlab as ll
    >>> m = ll.tiny_model(); x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> check_asymmetric_step(m, x, 500, torch.ones(16, 8, 8), None).ok
    False
    """
    model = as_model(model)
    x_t = as_tensor(x_t, "x_t").float()
    t = grid_t(model, t, steps)
    x_prev = as_tensor(x_prev, "x_prev", tuple(x_t.shape))
    dh = as_tensor(dh, "dh").float()
    eps, eps_e = ll.eps_of(model, x_t, t).double(), ll.eps_of(model, x_t, t, dh=dh).double()
    ac = model.scheduler.alphas_cumprod.double()
    prev = t - model.num_train_timesteps // steps
    a_t = ac[t]
    a_prev = ac[prev] if prev >= 0 else torch.tensor(float(model.scheduler.final_alpha_cumprod), dtype=torch.float64)

    def step(e_p: Tensor, e_d: Tensor, clip: bool = True) -> Tensor:
        p = (x_t.double() - (1 - a_t).sqrt() * e_p) / a_t.sqrt()
        return a_prev.sqrt() * (_clip_as_scheduler(model, p) if clip else p) + (1 - a_prev).sqrt() * e_d

    ref = step(eps_e, eps)
    if is_close(x_prev, ref, 1e-4):
        moved = (step(eps_e, eps) - step(eps, eps)).norm().item()
        sym = (step(eps_e, eps_e) - step(eps, eps)).norm().item()
        return f"the edit moves x_prev by {moved:.2f}; symmetric, by {sym:.2f} (D_t cancels part)."
    if is_close(x_prev, step(eps_e, eps_e), 1e-4):
        raise Hint("You used the edited eps in D_t too: that is the symmetric step. Asyrp edits P_t only and keeps "
                   "D_t = sqrt(1 - a_prev) eps from the unedited U-Net.")
    if is_close(x_prev, step(eps, eps), 1e-4):
        raise Hint("Your step has no edit in it: P_t must use eps_of(model, x_t, t, dh=dh).")
    if is_close(x_prev, step(eps, eps_e), 1e-4):
        raise Hint("The other way round: the edited eps goes into P_t, the unedited one into D_t.")
    if is_close(x_prev, step(eps_e, eps, clip=False), 1e-4):
        raise Hint("Right except where P_t leaves [-1, 1]: clip P_t as the scheduler does (clamp(-1, 1)).")
    raise Hint(f"Your x_prev differs from the asymmetric step by up to {(x_prev - ref).abs().max().item():.3f}: "
               f"a = alphas_cumprod, t_prev = t - {model.num_train_timesteps // steps}.")


_RUNS: dict = {}  # a check repeated is free: (ids, t_edit, steps, x_T's bytes) -> (the objects, glasses readings)


def _glasses_after(model, x_T: Tensor, editor, probe, t_edit: int | None, steps: int) -> Tensor:
    key = (id(model), id(editor), id(probe), t_edit, steps, hashlib.sha1(x_T.numpy().tobytes()).hexdigest())
    if key not in _RUNS:
        dh = None if t_edit is None else editor
        x0 = ll.ddim_sample(model, x_T, steps, dh=dh, t_edit=t_edit or 0, progress=False)
        # the entry holds the objects themselves, so that their ids cannot be reused while it lives
        _RUNS[key] = (model, editor, probe, probe(x0)["glasses"].detach())
        if len(_RUNS) > 32:
            _RUNS.pop(next(iter(_RUNS)))
    return _RUNS[key][-1]


@checker("03.2 when is glasses decided?", ("t_half",),
         "Fill in `t_half`: the largest t_edit of the 20-step grid from which the edit still adds glasses to at "
         "least half of the faces (bisect: each try is one `ll.ddim_sample`).")
def check_glasses_t_half(model: Any, x_T: Tensor, t_half: Any, *, editor: Any = None, probe: Any = None,
                         steps: int = 20) -> str:
    """Exercise 03.2: the largest `t_edit` of the `steps` grid from which the glasses edit (applied at
    t >= t_edit only) still adds glasses to at least half of the faces `x_T` (none with glasses unedited).

    The reference runs the edit itself from `t_half` and from the next grid timestep up (about three
    DDIM runs; repeated checks reuse them). `editor` defaults to the shipped raw-dh glasses editor,
    `probe` to the shipped probe.

    >>> check_glasses_t_half(None, None, None).message[:16]
    'Fill in `t_half`'
    """
    model = as_model(model)
    x_T = as_tensor(x_T, "x_T").float()
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != tuple(model.sample_shape):
        raise Hint(f"`x_T` should be a batch of noise, (n, {', '.join(map(str, model.sample_shape))}).")
    tc = as_number(t_half, "t_half")
    if tc % 1:
        raise Hint(f"`t_half` should be a timestep of the {steps}-step grid (an integer), got {tc:g}.")
    t = grid_t(model, int(tc), steps, "t_half")
    editor = editor if editor is not None else ll.load_editor("glasses", 1.0, kind="dh")
    probe = probe if probe is not None else ll.load_probe()
    had = _glasses_after(model, x_T, editor, probe, None, steps) > 0.5
    n = int((~had).sum())
    if n < len(x_T):
        raise Hint(f"{len(x_T) - n} of these faces have glasses unedited: use faces without glasses.")

    def added(t_edit: int) -> int:
        return int(((_glasses_after(model, x_T, editor, probe, t_edit, steps) > 0.5) & ~had).sum())

    k = added(t)
    if 2 * k < n:
        more = "none" if k == 0 else f"only {k} of {n}"
        raise Hint(f"From t_edit = {t} the edit adds glasses to {more}: t_half lies below (edit from an "
                   "earlier t_edit, more steps edited). Bisect: halve the interval that contains the switch.")
    grid = ll.ddim_timesteps(model, steps).tolist()
    i = grid.index(t)
    if i == 0:
        return f"even from t_edit = {t}, the first step alone, the edit adds glasses to {k} of {n} faces."
    above = int(grid[i - 1])
    k_above = added(above)
    if 2 * k_above >= n:
        raise Hint(f"From t_edit = {above} the edit still adds glasses to {k_above} of {n}: t_half is larger. "
                   "Bisect: halve the interval that contains the switch.")
    return (f"from t_edit = {t}: glasses on {k} of {n} faces; from {above}: on {k_above}. Half the faces have "
            f"their glasses decided between t = {above} and {t}.")


def _asyrp_slip(model: ll.Model, x_T: Tensor, steps: int, editor: Any, t_edit: int, slip: str) -> Tensor:
    """The asymmetric sampler with one typical slip, as the checker's map from wrong answers to hints."""
    if slip == "symmetric":
        return ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t_edit, asymmetric=False, progress=False)
    if slip == "every step":
        return ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=0, progress=False)
    if slip == "strictly above":
        return ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t_edit + 1, progress=False)
    if slip == "below":
        late = lambda t, h: editor(t, h) if t < t_edit else torch.zeros_like(h)  # noqa: E731
        return ll.ddim_sample(model, x_T, steps, dh=late, t_edit=0, progress=False)
    if slip == "unclipped":
        return ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t_edit, clip=False, progress=False)
    if slip == "no edit":
        return ll.ddim_sample(model, x_T, steps, progress=False)
    x = x_T  # "swapped": the edited eps in D_t, the unedited one in P_t
    for t in ll.ddim_timesteps(model, steps).tolist():
        eps = ll.eps_of(model, x, t)
        eps_edit = ll.eps_of(model, x, t, dh=editor(t, ll.h_of(model, x, t))) if t >= t_edit else eps
        x, _ = ll.ddim_step(model, x, t, t - model.num_train_timesteps // steps, eps_edit, eps)
    return x


@checker("03.3 Asyrp's sampler loop", ("asyrp_sample",),
         "Fill in `asyrp_sample(model, x_T, steps, editor, t_edit)`: DDIM's loop (02.3) where the steps with "
         "t >= t_edit take exercise 03.1's asymmetric step, dh = editor(t, h).")
def check_asyrp_loop(model: Any, asyrp_sample: Any, editor: Any = None, t_edit: int = 500, steps: int = 10,
                     n: int = 2) -> str:
    """Exercise 03.3: the student's asymmetric reverse process (Asyrp Eq. 4 from `t_edit` up, plain DDIM
    below), against `ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t_edit)`, from `n` noise images.

    `editor` (a callable `(t, h) -> dh`) defaults to the shipped raw-dh glasses editor.

    >>> import latentlab as ll
    >>> check_asyrp_loop(ll.tiny_model(), None).message[:28]
    'Fill in `asyrp_sample(model,'
    """
    model = as_model(model)
    editor = editor if editor is not None else ll.load_editor("glasses", 1.0, kind="dh")
    x_T = torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    out = call_answer(asyrp_sample, "asyrp_sample", model, x_T.clone(), steps, editor, t_edit)
    if out is None:
        raise Hint("`asyrp_sample` returned None: write its loop and `return x` at the end.")
    x0 = as_tensor(out, "asyrp_sample(...)", tuple(x_T.shape))
    ref = ll.ddim_sample(model, x_T, steps, dh=editor, t_edit=t_edit, progress=False).double()
    if is_close(x0, ref, 1e-4):
        plain = ll.ddim_sample(model, x_T, steps, progress=False).double()
        sym = _asyrp_slip(model, x_T, steps, editor, t_edit, "symmetric").double()
        moved, moved_sym = (ref - plain).norm().item(), (sym - plain).norm().item()
        return (f"your loop gives ll.ddim_sample's edited x_0. The edit moves x_0 by {moved:.2f}; the symmetric "
                f"step would move it by {moved_sym:.2f}.")
    hints = {
        "symmetric": "You put the edited eps into D_t too: that is Haas's symmetric step. Asyrp edits P_t only; "
                     "D_t keeps the unedited eps.",
        "swapped": "The other way round: the edited eps goes into P_t, the unedited one into D_t.",
        "every step": f"You edited every step: edit only the steps with t >= t_edit ({t_edit}); below it, "
                      "plain DDIM.",
        "below": f"You edited the steps below t_edit; the edit acts early, at t >= t_edit ({t_edit}), and the "
                 "late steps run plain DDIM.",
        "strictly above": f"The step at t = t_edit ({t_edit}) itself is edited too: t >= t_edit, not t > t_edit.",
        "unclipped": "Right except where P_t leaves [-1, 1]: clip P_t as the scheduler does (clamp(-1, 1)), at "
                     "every step, edited or not.",
        "no edit": "Your loop has no edit in it: at t >= t_edit, P_t must use "
                   "ll.eps_of(model, x, t, dh=editor(t, ll.h_of(model, x, t))).",
    }
    for slip, message in hints.items():
        if is_close(x0, _asyrp_slip(model, x_T, steps, editor, t_edit, slip).double(), 1e-4):
            raise Hint(message)
    raise Hint(f"Your x_0 differs from ll.ddim_sample's edited one by up to {(x0 - ref).abs().max().item():.3f}: "
               "check exercise 03.1's step, and that each step starts from the x the previous one returned.")
