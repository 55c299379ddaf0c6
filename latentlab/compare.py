"""Which method finds the best direction for an attribute: one protocol for every method, measured.

A method offers candidates for an attribute (its components, its singular vectors, its learned
editor...); each candidate is an *edit function* `edit(x_T, c) -> x_0` that samples x_T edited at
strength c. The protocol, the same for every method:
1. on a calibration set, pick the candidate that moves the attribute most towards the goal at c = 1
   (the rule a user of that method would follow: look at what each component does, keep the best);
2. scale it so that its mean pixel change on the calibration set meets a common budget (two secant
   steps from c = 1), so that no method wins by simply editing more;
3. measure it on held-out samples (`measure_edit`): change, right-way fraction, leakage, on-manifold
   error, and the wall time of the whole method (candidates, choice, scale, held-out edits).

None of the three papers compares methods on ground truth; the faces world's probe makes it possible.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import check_goal
from .metrics import measure_edit
from .model import Model, _check_x
from .probe import Probe, load_probe

__all__ = ["EditFn", "choose_and_scale", "compare_methods"]

EditFn = Callable[[Tensor, float], Tensor]  # (x_T, strength) -> edited x_0


def _pixel_change(a: Tensor, b: Tensor) -> float:
    return float(((a - b) ** 2).flatten(1).mean(1).sqrt().mean())


def choose_and_scale(candidates: Mapping[str, EditFn], x_calib: Tensor, base_calib: Tensor, attr: str, goal: float,
                     probe: Probe, pixel_budget: float) -> tuple[str, float, dict[str, float]]:
    """Steps 1 and 2 of the protocol: the best candidate at c = 1, and its strength for the budget.

    Returns `(label, c, change_at_1)` where `change_at_1` maps every candidate to its mean change of
    `attr` towards the goal at c = 1 over the calibration samples that can move.
    """
    if not candidates:
        raise ValueError(f"a method must offer at least one candidate for {attr}")
    if not pixel_budget > 0:
        raise ValueError(f"pixel_budget must be a positive RMS pixel change, got {pixel_budget!r}")
    changes, edited = {}, {}
    for label, edit in candidates.items():
        x0 = edit(x_calib, 1.0)
        r = measure_edit(None, None, None, attr=attr, goal=goal, probe=probe, base=base_calib, x0_edit=x0)
        changes[label], edited[label] = r.change, x0
    label = max(changes, key=lambda k: (changes[k] if changes[k] == changes[k] else -float("inf")))
    edit, c, p = candidates[label], 1.0, _pixel_change(edited[label], base_calib)
    for _ in range(2):  # secant on c -> pixel change through the origin: exact for a change linear in c
        if p == 0:
            raise ValueError(f"candidate {label!r} changes no pixel at strength {c:g}, so it cannot be scaled")
        c = c * pixel_budget / p
        p = _pixel_change(edit(x_calib, c), base_calib)
    return label, c, changes


def compare_methods(model: Model, methods: Mapping[str, Callable[[str, float], Mapping[str, EditFn]]],
                    goals: Mapping[str, float], x_calib: Tensor, x_test: Tensor, *, pixel_budget: float = 0.15,
                    steps: int = 20, probe: Probe | None = None, base_calib: Tensor | None = None,
                    base_test: Tensor | None = None, progress: bool = True):
    """Run the protocol for every method and attribute; one row each, as a pandas DataFrame.

    Args:
        methods: name -> `builder(attr, goal) -> {label: edit(x_T, c) -> x_0}`; a builder returns an
            empty mapping for an attribute it has nothing for (e.g. no shipped editor).
        goals: attribute -> goal value (`{"smile": 1.0, "glasses": 1.0}`).
        x_calib, x_test: starting noise of the calibration and held-out sets.
        pixel_budget: the common RMS pixel change every chosen edit is scaled to.
        base_calib, base_test: their unedited x_0 (default: plain DDIM with `steps`).

    Returns:
        DataFrame with columns attr, method, choice, c, change, right_way, k, n_movable, spread,
        worst_leak, worst_leak_attr, pixel_change, manifold_after, manifold_before, seconds.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    probe = load_probe() if probe is None else probe
    for attr, goal in goals.items():
        check_goal(attr, goal)
    xc, _ = _check_x(model, x_calib, "x_calib")
    xt, _ = _check_x(model, x_test, "x_test")
    base_calib = ddim_sample(model, xc, steps, progress=False) if base_calib is None else base_calib
    base_test = ddim_sample(model, xt, steps, progress=False) if base_test is None else base_test
    rows = []
    jobs = [(a, g, m) for a, g in goals.items() for m in methods]
    for attr, goal, name in tqdm(jobs, disable=not progress, leave=False, desc="methods"):
        start = time.perf_counter()
        candidates = methods[name](attr, goal)
        if not candidates:
            continue
        label, c, _ = choose_and_scale(candidates, xc, base_calib, attr, goal, probe, pixel_budget)
        x0 = candidates[label](xt, c)
        r = measure_edit(None, None, None, attr=attr, goal=goal, probe=probe, base=base_test, x0_edit=x0)
        s = r.summary()
        rows.append({"attr": attr, "method": name, "choice": label, "c": round(c, 3), "change": s["change"],
                     "right_way": s["right_way"], "k": round(r.right_way * r.n_movable) if r.n_movable else 0,
                     "n_movable": r.n_movable, "spread": s["spread"], "worst_leak": s["worst_leak"],
                     "worst_leak_attr": s["worst_leak_attr"], "pixel_change": s["pixel_change"],
                     "manifold_after": s["manifold_after"], "manifold_before": s["manifold_before"],
                     "seconds": round(time.perf_counter() - start, 1)})
    return pd.DataFrame(rows)
