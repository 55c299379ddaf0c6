"""Exercise checks of notebook 03, h-space: Asyrp's asymmetric step written out (03.1), and from which
t_edit a glasses edit stops working (03.2).

The references are `eps_of` with the closed-form step, and DDIM runs of the edit itself.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

import latentlab as ll

from .feedback import Hint, as_model, as_number, as_tensor, checker, grid_t, is_close

__all__ = ["check_asymmetric_step", "check_glasses_t_edit"]


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


@checker("03.2", ("t_stop",), "Fill in `t_stop`: the smallest t_edit that adds no glasses.")
def check_glasses_t_edit(model: Any, x_T: Tensor, t_stop: Any, *, editor: Any = None, probe: Any = None,
                         steps: int = 10, candidates: Sequence[int] = (0, 200, 400, 600, 800)) -> str:
    """Exercise 03.2: from which `t_edit` does a glasses edit (applied only at t >= t_edit) do nothing?

    The reference runs the edit itself at `t_stop` and at the candidate before it (about three DDIM
    runs of the faces; repeated checks reuse them). `editor` defaults to the shipped raw-dh glasses
    editor, `probe` to the shipped probe.

    >>> check_glasses_t_edit(None, None, None).message[:16]
    'Fill in `t_stop`'
    """
    model = as_model(model)
    x_T = as_tensor(x_T, "x_T").float()
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != tuple(model.sample_shape):
        raise Hint(f"`x_T` should be a batch of noise, (n, {', '.join(map(str, model.sample_shape))}).")
    tc = as_number(t_stop, "t_stop")
    if tc not in candidates:
        raise Hint(f"`t_stop` should be one of the candidates {list(candidates)}, got {tc:g}.")
    editor = editor if editor is not None else ll.load_editor("glasses", 1.0, kind="dh")
    probe = probe if probe is not None else ll.load_probe()
    had = _glasses_after(model, x_T, editor, probe, None, steps) > 0.5
    n = int((~had).sum())
    if n == 0:
        raise Hint("Every one of these faces already has glasses unedited: use faces without glasses.")

    def added(t: int) -> int:
        return int(((_glasses_after(model, x_T, editor, probe, t, steps) > 0.5) & ~had).sum())

    k = added(int(tc))
    if k > 0:
        raise Hint(f"At t_edit = {tc:g} the edit still adds glasses to {k} of {n} faces: try a larger t_edit "
                   f"(fewer, earlier steps edited).")
    i = list(candidates).index(tc)
    if i == 0:
        return f"even editing every step adds glasses to none of these {n} faces."
    before = int(candidates[i - 1])
    k_before = added(before)
    if k_before == 0:
        raise Hint(f"Edits from t_edit = {before} already add glasses to none of the {n} faces: the question is the "
                   "smallest t_edit from which it stops working.")
    return f"from t_edit = {before}: glasses on {k_before} of {n}; from {tc:g}: none. Decided below t = {tc:g}."
