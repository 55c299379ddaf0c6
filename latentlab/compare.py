"""Which method finds the best direction for an attribute: one protocol for every method, measured.

A method offers candidates for an attribute (its components, its singular vectors, its learned
editor...); each candidate is an *edit function* `edit(x_T, c) -> x_0` that samples x_T edited at
strength c. The protocol, the same for every method:
1. on a calibration set, scale every candidate to a common pixel budget (one proportional step from
   c = 1) and pick the one that moves the attribute most towards the goal at that size (the rule a
   user of that method would follow: look at what each component does, keep the best);
2. refine its strength until its mean pixel change on the calibration set is within 2 % of the
   budget, so that no method wins by simply editing more;
3. measure it on held-out samples (`measure_edit`): change, right-way fraction, leakage, on-manifold
   error, and the wall time of the whole method (candidates, choice, scale, held-out edits).

None of the three papers compares methods on ground truth; the faces world's probe makes it possible.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import check_goal
from .metrics import measure_edit
from .model import Model, _check_x
from .probe import Probe, load_probe
from .scale import map_samples

__all__ = ["EditFn", "choose_and_scale", "compare_methods", "standard_methods", "shipped_results", "SHIPPED_RESULTS",
           "intervals", "paired_test", "manifold_shift"]

#: The comparison's results on the bundled model, as `benchmarks/compare_methods.py` wrote them.
SHIPPED_RESULTS = Path(__file__).resolve().parent.parent / "data" / "compare"

EditFn = Callable[[Tensor, float], Tensor]  # (x_T, strength) -> edited x_0


def _pixel_change(a: Tensor, b: Tensor) -> float:
    return float(((a - b) ** 2).flatten(1).mean(1).sqrt().mean())


def choose_and_scale(candidates: Mapping[str, EditFn], x_calib: Tensor, base_calib: Tensor, attr: str, goal: float,
                     probe: Probe, pixel_budget: float, *, rtol: float = 0.02,
                     max_steps: int = 6) -> tuple[str, float, dict[str, float]]:
    """Steps 1 and 2 of the protocol: every candidate at the budget, the best one, its strength refined.

    Each candidate's strength is first set to meet the budget by one proportional step from c = 1
    (its pixel change at c = 1, scaled), so that candidates are compared at the same size of edit,
    not at a c = 1 that means 0.3 % of the budget for one method and 200 % for another. The one that
    moves `attr` furthest towards the goal at that size is chosen, and its strength is refined by
    secant steps on log c -> log pixel change (pixel change often grows sub-linearly in c) until its
    pixel change is within `rtol` of the budget (at most `max_steps` more edits).

    Returns `(label, c, changes)` where `changes` maps every candidate to its mean change of `attr`
    towards the goal at the first-step strength over the calibration samples that can move (NaN for a
    candidate that changes no pixel, which is never chosen).
    """
    if not candidates:
        raise ValueError(f"a method must offer at least one candidate for {attr}")
    if not pixel_budget > 0:
        raise ValueError(f"pixel_budget must be a positive RMS pixel change, got {pixel_budget!r}")
    changes, points = {}, {}
    for label, edit in candidates.items():
        p1 = _pixel_change(edit(x_calib, 1.0), base_calib)
        if not p1 > 0:
            changes[label] = math.nan
            continue
        c = pixel_budget / p1
        x0 = edit(x_calib, c)
        r = measure_edit(None, None, None, attr=attr, goal=goal, probe=probe, base=base_calib, x0_edit=x0)
        changes[label], points[label] = r.change, [(1.0, p1), (c, _pixel_change(x0, base_calib))]
    if not points:
        raise ValueError(f"no candidate changes any pixel at strength 1, so none can be scaled: {list(candidates)}")
    label = max(points, key=lambda k: -math.inf if math.isnan(changes[k]) else changes[k])  # NaN: nothing could move
    (c0, p0), (c, p) = points[label]
    for _ in range(max_steps):
        if abs(p / pixel_budget - 1) <= rtol or p <= 0:
            break
        slope = math.log(p / p0) / math.log(c / c0) if c != c0 and p0 > 0 and p != p0 else 1.0
        slope = min(max(slope, 0.2), 5.0)  # a flat or erratic response: step as if linear at worst x5
        c0, p0, c = c, p, c * (pixel_budget / p) ** (1 / slope)
        p = _pixel_change(candidates[label](x_calib, c), base_calib)
    return label, c, changes


def compare_methods(model: Model, methods: Mapping[str, Callable[[str, float], Mapping[str, EditFn]]],
                    goals: Mapping[str, float], x_calib: Tensor, x_test: Tensor, *, pixel_budget: float = 0.15,
                    steps: int = 20, probe: Probe | None = None, base_calib: Tensor | None = None,
                    base_test: Tensor | None = None, samples: bool = False, progress: bool = True):
    """Run the protocol for every method and attribute; one row each, as a pandas DataFrame.

    Args:
        methods: name -> `builder(attr, goal) -> {label: edit(x_T, c) -> x_0}`; a builder returns an
            empty mapping for an attribute it has nothing for (e.g. no shipped editor).
        goals: attribute -> goal value (`{"smile": 1.0, "glasses": 1.0}`).
        x_calib, x_test: starting noise of the calibration and held-out sets.
        pixel_budget: the common RMS pixel change every chosen edit is scaled to.
        base_calib, base_test: their unedited x_0 (default: plain DDIM with `steps`).
        samples: also return the held-out measurements per sample (for paired tests between methods:
            every method edits the same held-out faces).

    Returns:
        DataFrame with columns attr, method, choice, c, change, right_way, k, n_movable, spread,
        worst_leak, worst_leak_attr, pixel_change, manifold_after, manifold_before, seconds; with
        `samples=True` also a long DataFrame with one row per attribute, method and held-out sample:
        attr, method, sample, movable, right_way (moved towards the goal), change (towards the goal,
        attribute units), leak (mean |change| of the other attributes, as a fraction of their ranges),
        pixel_change (RMS), manifold_before and manifold_after (the face's on-manifold error).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    probe = load_probe() if probe is None else probe
    for attr, goal in goals.items():
        check_goal(attr, goal)
    xc, _ = _check_x(model, x_calib, "x_calib")
    xt, _ = _check_x(model, x_test, "x_test")
    # Under `accelerate launch` every edit runs data-parallel: each process edits its share of the
    # samples and all get every x_0, so the choice, the scaling and the measurement see the same
    # tensors everywhere and every process builds the same table (print or save it on `is_main()`).
    plain = lambda x: ddim_sample(model, x, steps, progress=False)  # noqa: E731
    base_calib = map_samples(plain, xc) if base_calib is None else base_calib
    base_test = map_samples(plain, xt) if base_test is None else base_test
    rows, per_sample = [], []
    jobs = [(a, g, m) for a, g in goals.items() for m in methods]
    for attr, goal, name in tqdm(jobs, disable=not progress, leave=False, desc="methods"):
        start = time.perf_counter()
        candidates = {k: _sharded(e) for k, e in methods[name](attr, goal).items()}
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
        if samples:
            per_sample.append(_per_sample(r, attr, goal, name))
    table = pd.DataFrame(rows)
    if samples:
        return table, (pd.concat(per_sample, ignore_index=True) if per_sample else pd.DataFrame())
    return table


def shipped_results(seed: int = 0):
    """The shipped run of `benchmarks/compare_methods.py` with `--seed seed`: `(table, samples)`.

    `table` is `compare_methods`'s table (one row per attribute and method), `samples` its per-sample
    measurements (`samples=True`). Runs with seeds 0 and 1 are shipped (the command that rebuilds
    them is in the benchmark's docstring and in `data/compare/README.md`).

    >>> table, samples = shipped_results(0)
    >>> sorted(table.attr.unique())
    ['glasses', 'hair_color', 'smile']
    """
    import pandas as pd

    files = [SHIPPED_RESULTS / f"table_seed{seed}.csv", SHIPPED_RESULTS / f"samples_seed{seed}.csv"]
    missing = [f for f in files if not f.is_file()]
    if missing:
        have = sorted(int(p.stem.removeprefix("table_seed")) for p in SHIPPED_RESULTS.glob("table_seed*.csv"))
        raise FileNotFoundError(f"no shipped comparison for seed={seed!r} ({missing[0]} does not exist); "
                                f"shipped seeds: {have}")
    return pd.read_csv(files[0]), pd.read_csv(files[1])


def _sharded(edit: EditFn) -> EditFn:
    """The edit applied data-parallel (one process: the edit itself); it must treat samples independently."""
    return lambda x_T, c: map_samples(lambda xs: edit(xs, c), x_T)


def _check_samples(samples, attr: str, methods) -> None:
    need = {"attr", "method", "sample", "movable", "right_way", "change"}
    if not need <= set(getattr(samples, "columns", ())):
        raise ValueError(f"samples must be compare_methods' per-sample DataFrame with columns {sorted(need)}")
    if attr not in set(samples.attr):
        raise ValueError(f"attr {attr!r} is not in these samples; they have {sorted(set(samples.attr))}")
    have = set(samples[samples.attr == attr].method)
    for m in methods:
        if m not in have:
            raise ValueError(f"method {m!r} has no samples for {attr}; it has {sorted(have)}")


def intervals(samples, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Mean change towards the goal per attribute and method, with a bootstrap interval over the faces.

    Only the faces that can move count (as in `EditResult.change`); resampling them with replacement
    `n_boot` times gives the percentile interval at `level`.

    Returns:
        DataFrame: attr, method, n (movable faces), change, lo, hi, right_way (fraction of n).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": "m", "sample": range(4), "movable": True,
    ...                   "right_way": [True, True, True, False], "change": [0.1, 0.2, 0.3, -0.2]})
    >>> r = intervals(s).iloc[0]
    >>> int(r.n), float(r.change), float(r.right_way)
    (4, 0.1, 0.75)
    """
    import numpy as np
    import pandas as pd

    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for (attr, method), s in samples[samples.movable.astype(bool)].groupby(["attr", "method"], sort=False):
        x = s.change.to_numpy(float)
        boot = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(1)
        lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"attr": attr, "method": method, "n": len(x), "change": round(float(x.mean()), 4),
                     "lo": float(lo), "hi": float(hi), "right_way": float(s.right_way.mean())})
    return pd.DataFrame(rows)


def paired_test(samples, attr: str, a: str, b: str) -> dict[str, float]:
    """Method `a` against method `b` on the same held-out faces (those that can move).

    Two paired tests, both two-sided: Wilcoxon's signed-rank test on the per-face change towards the
    goal, and McNemar's exact test on moved-the-right-way (`metrics.mcnemar`). `p` is the one that
    fits the attribute: McNemar for a binary attribute (glasses), where the change is a probability
    and many tiny nudges of it can pass a rank test without a single face crossing over; Wilcoxon
    for a continuous one.

    Returns:
        `{"n", "mean_diff", "p_wilcoxon", "k_a", "k_b", "p_mcnemar", "test", "p"}`; mean_diff = mean
        change of a minus b, k_a / k_b the faces each moved the right way.
    """
    from scipy.stats import wilcoxon

    from .metrics import mcnemar

    _check_samples(samples, attr, (a, b))
    s = samples[(samples.attr == attr) & samples.movable.astype(bool)]
    sa, sb = (s[s.method == m].set_index("sample").sort_index() for m in (a, b))
    if not sa.index.equals(sb.index):
        raise ValueError(f"methods {a!r} and {b!r} were not measured on the same faces")
    d = sa.change.to_numpy(float) - sb.change.to_numpy(float)
    p_w = float(wilcoxon(d).pvalue) if (d != 0).any() else 1.0
    ok_a, ok_b = (torch.tensor(x.right_way.to_numpy(bool)) for x in (sa, sb))
    from .faces import BINARY_ATTRIBUTES

    p_m = mcnemar(ok_a, ok_b)
    test = "McNemar" if attr in BINARY_ATTRIBUTES else "Wilcoxon"
    return {"n": len(d), "mean_diff": float(d.mean()), "p_wilcoxon": p_w, "k_a": int(ok_a.sum()),
            "k_b": int(ok_b.sum()), "p_mcnemar": p_m, "test": test, "p": p_m if test == "McNemar" else p_w}


def manifold_shift(samples):
    """Does a method's edit move faces off the data manifold? Per method, each face counted once: its
    log(after / before) on-manifold error averaged over the attributes the method edited it for, then
    the median ratio over the faces and Wilcoxon's signed-rank test (two-sided) of the log ratios
    against 0. (Pooling the rows instead would count one face up to three times as if independent.)

    Returns:
        DataFrame: method, n (faces), median_ratio, p.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"method": "m", "sample": [0, 1, 2], "manifold_before": [1.0, 2.0, 4.0],
    ...                   "manifold_after": [2.0, 4.0, 8.0]})
    >>> manifold_shift(s)[["n", "median_ratio"]].values.tolist()
    [[3.0, 2.0]]
    """
    import numpy as np
    import pandas as pd
    from scipy.stats import wilcoxon

    need = {"method", "sample", "manifold_before", "manifold_after"}
    if not need <= set(getattr(samples, "columns", ())):
        raise ValueError(f"samples must have the columns {sorted(need)} (compare_methods(..., samples=True))")
    rows = []
    logs = samples.assign(r=np.log(samples.manifold_after.astype(float) / samples.manifold_before.astype(float)))
    for method, s in logs.groupby("method", sort=False):
        r = s.groupby("sample").r.mean().to_numpy()
        p = float(wilcoxon(r).pvalue) if (r != 0).any() else 1.0
        rows.append({"method": method, "n": len(r), "median_ratio": float(np.exp(np.median(r))), "p": p})
    return pd.DataFrame(rows)


def _per_sample(r, attr: str, goal: float, method: str):
    import pandas as pd
    from .faces import ATTRIBUTES
    from .metrics import right_way

    movable, moved = right_way(r.before[attr], r.after[attr], attr, goal)
    towards = torch.sign(torch.as_tensor(goal) - r.before[attr]) * r.delta[attr]
    leak = torch.stack([d.abs() / (ATTRIBUTES[k].high - ATTRIBUTES[k].low) for k, d in r.delta.items() if k != attr]).mean(0)
    pixels = (r.x0_edit - r.x0).pow(2).flatten(1).mean(1).sqrt()
    return pd.DataFrame({"attr": attr, "method": method, "sample": range(len(towards)), "movable": movable.numpy(),
                         "right_way": (moved & movable).numpy(), "change": towards.float().numpy(),
                         "leak": leak.float().numpy(), "pixel_change": pixels.float().numpy(),
                         "manifold_before": r.manifold_before.float().numpy(),
                         "manifold_after": r.manifold_after.float().numpy()})


def standard_methods(model: Model, *, probe: Probe | None = None, steps: int = 20, n_trajectories: int = 128,
                     seed: int = 0, k: int = 3, k_pca: int = 5, k_transport: int = 8, t_park: int | None = None,
                     progress: bool = False) -> dict[str, Callable[[str, float], dict[str, EditFn]]]:
    """The kit's methods as `compare_methods` builders, each with its papers' own settings.

    - mean difference: probe-labelled groups of `n_trajectories` sampler trajectories (above / below
      the middle of the range), asymmetric, every step; paired: `paired_direction` (64 render pairs);
    - Asyrp dh and f: the shipped editors (none for other attributes), at their t_edit;
    - Haas PCA (+- each of `k_pca` components, c sigma_k(t) pc_k(t)), Haas Jacobian (+- v_i of one
      sample at the middle step, scaled by s_i(t)), Haas supervised (top / bottom 10 %, the other
      attributes' directions projected out): symmetric steps, every step, as Haas et al.;
    - Park pullback (guidance) and (move): +- v_i of each sample's own pullback at `t_park` (default
      0.6 T), signs aligned through h with a reference sample's u_i, x-space guidance (gamma 0.1,
      16 steps) on c v_i, or x_t + 2 c v_i; Park transported: the reference's u_i carried to each
      sample (`transport`, k = `k_transport`), then guidance. DDIM continues deterministically
      (no eta = 1 below 0.2 T, so that the unedited samples are the same run);
    - random (baseline): +- each of `k_pca` Gaussian h-directions (unit norm at every step),
      asymmetric, every step: as many candidates as Haas PCA, so the choice on the calibration set
      favours it as much; what any method must beat.

    Per-sample results (x_t at t_park, pullbacks) are cached by the x_T tensor passed in, so keep the
    calibration and held-out tensors alive for the whole comparison.
    """
    from .asyrp import load_editor, shipped_editors
    from .ddim import ddim_timesteps
    from .directions import StepDirection, h_trajectory, mean_difference, paired_direction, random_direction
    from .faces import ATTRIBUTES
    from .geometry import pullback
    from .haas import jacobian_directions, pca_directions, supervised_direction
    from .park import transport, x_space_guidance

    probe = load_probe() if probe is None else probe
    grid = ddim_timesteps(model, steps).tolist()
    t_park = min(grid, key=lambda t: abs(t - 0.6 * model.num_train_timesteps)) if t_park is None else t_park
    if t_park not in grid:
        raise ValueError(f"t_park must be a timestep of the {steps}-step grid, got {t_park!r}")
    cache: dict = {}

    def g(offset: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed * 1000 + offset)

    def towards(attr: str, goal: float) -> float:
        lo, hi = ATTRIBUTES[attr]
        return 1.0 if goal > (lo + hi) / 2 else -1.0

    def trajectories():
        if "tr" not in cache:
            x = torch.randn(n_trajectories, *model.sample_shape, generator=g(1))
            cache["tr"] = tr = h_trajectory(model, x, steps, progress=progress)
            with torch.no_grad():
                cache["scores"] = {a: v.float() for a, v in probe(tr.x0).items()}
        return cache["tr"], cache["scores"]

    def h_edit(d, asymmetric: bool = True, t_edit: int = 0) -> EditFn:
        if isinstance(d, StepDirection):
            return lambda x, c: ddim_sample(model, x, steps, dh=c * d, t_edit=t_edit, asymmetric=asymmetric, progress=False)
        return lambda x, c: ddim_sample(model, x, steps, dh=lambda t, h: c * d(t, h), t_edit=t_edit,
                                        asymmetric=asymmetric, progress=False)

    def mean_diff(attr, goal):
        tr, scores = trajectories()
        lo, hi = ATTRIBUTES[attr]
        labels = scores[attr] > (lo + hi) / 2
        return {"mean difference": h_edit(towards(attr, goal) * StepDirection(tr.timesteps, mean_difference(tr.h, labels)))}

    def paired(attr, goal):
        return {"paired": h_edit(towards(attr, goal) * paired_direction(model, attr, steps, n=64, seed=seed))}

    def asyrp(kind):
        def build(attr, goal):
            if (attr, float(goal), kind) not in shipped_editors():
                return {}
            ed = load_editor(attr, goal, kind)
            if ed.h_shape != tuple(model.h_shape):  # the shipped editors belong to the bundled model
                return {}
            return {f"editor {kind}": h_edit(ed, t_edit=ed.t_edit)}
        return build

    def haas_pca(attr, goal):
        if "pca" not in cache:
            cache["pca"] = pca_directions(model, None, steps, k_pca, trajectory=trajectories()[0])
        pcs = cache["pca"]
        return {f"{s}pc_{i + 1}": h_edit(sign * pcs.direction(i), asymmetric=False)
                for i in range(k_pca) for s, sign in (("+", 1.0), ("-", -1.0))}

    def haas_jacobian(attr, goal):
        if "jac" not in cache:
            x = torch.randn(*model.sample_shape, generator=g(2))
            cache["jac"] = jacobian_directions(model, x, steps, k, t_index=len(grid) // 2, progress=progress)
        jd = cache["jac"]
        return {f"{s}v_{i + 1}": h_edit(sign * jd.direction(i), asymmetric=False)
                for i in range(k) for s, sign in (("+", 1.0), ("-", -1.0))}

    def haas_supervised(attr, goal):
        tr, scores = trajectories()
        dirs = {a: supervised_direction(tr.h, scores[a]) for a in ATTRIBUTES}
        d = supervised_direction(tr.h, scores[attr], project_out=[dirs[a] for a in ATTRIBUTES if a != attr])
        return {"supervised": h_edit(towards(attr, goal) * StepDirection(tr.timesteps, d), asymmetric=False)}

    def random(attr, goal):
        if "random" not in cache:
            cache["random"] = [random_direction(grid, torch.ones(len(grid)), generator=g(4 + i), h_shape=model.h_shape)
                               for i in range(k_pca)]
        return {f"{s}r_{i + 1}": h_edit(sign * d) for i, d in enumerate(cache["random"])
                for s, sign in (("+", 1.0), ("-", -1.0))}

    def at_t_park(x: Tensor) -> Tensor:
        key = ("x_t", x.data_ptr(), tuple(x.shape))
        if key not in cache:
            _, xs = ddim_sample(model, x, steps, return_trajectory=True, progress=False)
            cache[key] = xs[grid.index(t_park)]
        return cache[key]

    def svds(x: Tensor, kk: int) -> list:
        key = ("svd", kk, x.data_ptr(), tuple(x.shape))
        if key not in cache:
            cache[key] = [pullback(model, xt, t_park, kk, seed=seed) for xt in at_t_park(x)]
        return cache[key]

    def reference():
        if "ref" not in cache:
            x = torch.randn(1, *model.sample_shape, generator=g(3))
            cache["ref"] = pullback(model, at_t_park(x)[0], t_park, k, seed=seed)
        return cache["ref"]

    def denoise(x_t: Tensor) -> Tensor:
        return ddim_sample(model, x_t, steps, t_start=t_park, progress=False)

    def park(rule: str):
        def build(attr, goal):
            u_ref = reference().U

            def edit_i(i: int, sign: float) -> EditFn:
                def edit(x, c):
                    x_t = at_t_park(x)
                    V = torch.stack([s.V[i] * torch.sign((s.U[i] * u_ref[i]).sum()) for s in svds(x, k)]) * sign
                    if rule == "guidance":
                        return denoise(x_space_guidance(model, x_t, t_park, c * V))
                    return denoise(x_t + 2.0 * c * V)  # x_t + alpha v_i, each sample its own v_i
                return edit
            return {f"{s}v_{i + 1}": edit_i(i, sign) for i in range(k) for s, sign in (("+", 1.0), ("-", -1.0))}
        return build

    def park_transported(attr, goal):
        u_ref = reference().U

        def edit_i(i: int, sign: float) -> EditFn:
            def edit(x, c):
                V = torch.stack([transport(sign * u_ref[i], s) for s in svds(x, k_transport)])
                return denoise(x_space_guidance(model, at_t_park(x), t_park, c * V))
            return edit
        return {f"{s}u_{i + 1}": edit_i(i, sign) for i in range(k) for s, sign in (("+", 1.0), ("-", -1.0))}

    return {"mean difference": mean_diff, "paired": paired, "Asyrp dh": asyrp("dh"), "Asyrp f": asyrp("f"),
            "Haas PCA": haas_pca, "Haas Jacobian": haas_jacobian, "Haas supervised": haas_supervised,
            "Park pullback (guidance)": park("guidance"), "Park pullback (move)": park("move"),
            "Park transported": park_transported, "random": random}
