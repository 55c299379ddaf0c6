"""Asyrp's asymmetric reverse process (lecture 03, sections 3-4): why the edited eps goes into P_t only,
and what an edit does when it starts at t_edit.

A DDIM step is `x_{t-1} = sqrt(a_{t-1}) P_t(eps) + D_t(eps)` with `P_t = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)`
and `D_t = sqrt(1 - a_{t-1}) eps`. A shift `d` of eps moves x_{t-1} by `w_P d` through P_t and by
`w_D d` through D_t, with `w_P = -sqrt(a_{t-1}) sqrt(1 - a_t) / sqrt(a_t)` and `w_D = sqrt(1 - a_{t-1})`.
The symmetric step (the edited eps in both terms) moves it by `(w_P + w_D) d`, the asymmetric one
(Asyrp: in P_t only) by `w_P d`; the two weights have opposite signs, so they partly cancel.

Reference: Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space" (ICLR;
arXiv 2210.10960): the asymmetric reverse process, and the editing interval [t_edit, T].
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

import latentlab as ll

__all__ = ["step_weights", "symmetric_share", "edit_rows", "face_outcomes"]


def step_weights(model: ll.Model, steps: int) -> dict[str, Tensor]:
    """Per step of the `steps`-step DDIM grid (descending t): how a shift of eps moves x_{t-1}
    through P_t (`w_P`) and through D_t (`w_D`), before any clipping of P_t.

    Returns `{"timesteps", "w_P", "w_D"}`, float64 tensors of length `steps`.

    >>> w = step_weights(ll.tiny_model(), 10)
    >>> w["timesteps"][:2].tolist(), bool((w["w_P"] < 0).all()), bool((w["w_D"] >= 0).all())
    ([900, 800], True, True)
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= model.num_train_timesteps:
        raise ValueError(f"steps must be an int from 1 to {model.num_train_timesteps}, got {steps!r}")
    grid = ll.ddim_timesteps(model, steps)
    ac = model.scheduler.alphas_cumprod.double()
    final = torch.as_tensor(float(model.scheduler.final_alpha_cumprod), dtype=torch.float64)
    a_t = ac[grid]
    prev = grid - model.num_train_timesteps // steps  # diffusers' rule; negative after the last step
    a_prev = torch.stack([ac[p] if p >= 0 else final for p in prev.tolist()])
    return {"timesteps": grid, "w_P": -(a_prev * (1 - a_t) / a_t).sqrt(), "w_D": (1 - a_prev).sqrt()}


def symmetric_share(model: ll.Model, steps: int) -> float:
    """How much of the asymmetric edit's shift of x_{t-1} the symmetric edit keeps, over a DDIM grid:
    `sum |w_P + w_D| / sum |w_P|` (each step weighted by how much it can move P_t at all).

    >>> round(symmetric_share(ll.tiny_model(), 1000), 3) < 0.05
    True
    """
    w = step_weights(model, steps)
    return float((w["w_P"] + w["w_D"]).abs().sum() / w["w_P"].abs().sum())


@torch.no_grad()
def edit_rows(model: ll.Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], *, attr: str,
              goal: float, steps: int, t_edits: Sequence[int], symmetric_at: int | None = None,
              probe: ll.Probe | None = None, label: str = "") -> list[dict]:
    """One edit of the faces `x_T`, read by the probe: one row per `t_edit` (asymmetric, edited at the
    steps with t >= t_edit), and a symmetric row at `symmetric_at` (the same edit in P_t and D_t).
    All rows share one unedited sample.

    Returns rows `{"editor", "mode", "t_edit", "n", **EditResult.summary()}`.

    >>> from latentlab.probe import Probe, ProbeConfig
    >>> m = ll.tiny_model(sample_size=32); x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> rows = edit_rows(m, x, torch.zeros(m.h_shape), attr="smile", goal=1.0, steps=2, t_edits=[0],
    ...                  symmetric_at=0, probe=Probe(ProbeConfig.tiny()))
    >>> [(r["mode"], r["t_edit"], r["pixel_change"]) for r in rows]
    [('asymmetric', 0, 0.0), ('symmetric', 0, 0.0)]
    """
    probe = ll.load_probe() if probe is None else probe
    base = ll.ddim_sample(model, x_T, steps, progress=False)
    runs = [("asymmetric", int(t)) for t in t_edits]
    if symmetric_at is not None:
        runs.append(("symmetric", int(symmetric_at)))
    rows = []
    for mode, t in runs:
        r = ll.measure_edit(model, x_T, dh, attr=attr, goal=goal, steps=steps, t_edit=t,
                            asymmetric=mode == "asymmetric", probe=probe, base=base)
        rows.append({"editor": label, "mode": mode, "t_edit": t, "n": len(x_T), **r.summary()})
    return rows


@torch.no_grad()
def face_outcomes(model: ll.Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor], *, attr: str,
                  goal: float, steps: int, t_edit: int, probe: ll.Probe | None = None) -> list[dict]:
    """The asymmetric and the symmetric edit from `t_edit`, face by face, for paired tests: one row per
    face `{"face", "movable", "right_way_asym", "right_way_sym", "change_asym", "change_sym",
    "pixel_asym", "pixel_sym"}`. `right_way_*` is `metrics.right_way`'s `moved` (False where the face
    cannot move), `change_*` the target's change signed towards `goal`, `pixel_*` the RMS pixel change.

    >>> from latentlab.probe import Probe, ProbeConfig
    >>> m = ll.tiny_model(sample_size=32); x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> rows = face_outcomes(m, x, torch.zeros(m.h_shape), attr="smile", goal=1.0, steps=2, t_edit=0,
    ...                      probe=Probe(ProbeConfig.tiny()))
    >>> [(r["face"], r["change_asym"], r["pixel_sym"]) for r in rows]
    [(0, 0.0, 0.0), (1, 0.0, 0.0)]
    """
    from latentlab.metrics import pixel_change, right_way

    probe = ll.load_probe() if probe is None else probe
    base = ll.ddim_sample(model, x_T, steps, progress=False)
    out = {}
    for mode in ("asym", "sym"):
        r = ll.measure_edit(model, x_T, dh, attr=attr, goal=goal, steps=steps, t_edit=int(t_edit),
                            asymmetric=mode == "asym", probe=probe, base=base)
        movable, moved = right_way(r.before[attr], r.after[attr], attr, goal)
        sign = torch.sign(torch.as_tensor(goal) - r.before[attr])
        out[mode] = (movable, moved, r.delta[attr] * sign, pixel_change(r.x0_edit, r.x0))
    return [{"face": i, "movable": bool(out["asym"][0][i]),
             "right_way_asym": bool(out["asym"][1][i]), "right_way_sym": bool(out["sym"][1][i]),
             "change_asym": round(float(out["asym"][2][i]), 4), "change_sym": round(float(out["sym"][2][i]), 4),
             "pixel_asym": round(float(out["asym"][3][i]), 4), "pixel_sym": round(float(out["sym"][3][i]), 4)}
            for i in range(len(x_T))]
