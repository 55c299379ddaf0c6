"""Which method finds the best direction for an attribute: one protocol for every method, measured.

The methods and their settings live in the registry (`latentlab.methods`): a `Workbench` hands out
each method's candidates for an attribute (its components, its +-v_i, its learned editor...), each
an edit `edit(x_T, c) -> x_0` that samples x_T edited at strength c. The protocol, the same for
every method:
1. on a calibration set, scale every candidate to a common pixel budget (one proportional step from
   c = 1) and pick the one that moves the attribute most towards the goal at that size, as read by
   the main probe (the rule a user of that method would follow: look at what each component does,
   keep the best);
2. refine its strength until its mean pixel change on the calibration set is within 2 % of the
   budget, so that no method wins by simply editing more;
3. measure it on held-out faces: change, right-way fraction, leakage, on-manifold error, and the
   wall time of the whole method (candidates, choice, scale, held-out edits). Every held-out edit is
   read by the main probe and, if given, by an independent *judge* probe, which never chooses.

Two things keep the comparison fair. The random baseline gets as many candidates as the method it is
tested against: for every distinct number n of candidates among the compared methods there is a row
`random (n)` (the best of n signed random draws), and each method's `baseline` column names its
matched row; a method with one candidate is not tested against the best of ten random pushes. And
the Asyrp editors are trained through the main probe's gradients, so the main probe is their
training loss: the judge's columns score every method with an instrument none of them saw.

None of the three papers compares methods on ground truth; the faces world's probe makes it possible.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor

from .ddim import ddim_sample
from .faces import check_goal
from .methods import METHODS, Workbench, method
from .metrics import leakage, pixel_change, read_edit, right_way
from .model import Model, check_x
from .probe import Probe
from .scale import is_main, map_samples

__all__ = ["EditFn", "Builder", "choose_and_scale", "compare_methods", "matched_baseline", "measure_choice",
           "read_by_judge", "shipped_results", "summarize_samples", "SHIPPED_RESULTS"]

#: The comparison's results on the bundled model, as `benchmarks/compare_methods.py` wrote them.
SHIPPED_RESULTS = Path(__file__).resolve().parent.parent / "data" / "compare"

EditFn = Callable[[Tensor, float], Tensor]  # (x_T, strength) -> edited x_0
Builder = Callable[[str, float], Mapping[str, EditFn]]  # (attr, goal) -> {label: edit}


def _pixel_change(a: Tensor, b: Tensor) -> float:
    """Mean over the faces of each face's RMS pixel change."""
    return float(pixel_change(a, b).mean())


def choose_and_scale(candidates: Mapping[str, EditFn], x_calib: Tensor, base_calib: Tensor, attr: str, goal: float,
                     probe: Probe, pixel_budget: float, *, rtol: float = 0.02,
                     max_steps: int = 6) -> tuple[str, float, dict[str, float]]:
    """Steps 1 and 2 of the protocol: every candidate at the budget, the best one, its strength refined.

    Each candidate's strength is first set to meet the budget by one proportional step from c = 1
    (its pixel change at c = 1, scaled), so that candidates are compared at the same size of edit,
    not at a c = 1 whose size differs from method to method (the shipped runs meet the budget
    anywhere from c = 0.34 to c = 16, and the random rows near c = 70). The one that
    `probe` reads as moving `attr` furthest towards the goal at that size is chosen, and its strength
    is refined by secant steps on log c -> log pixel change (pixel change often grows sub-linearly
    in c) until its pixel change is within `rtol` of the budget (at most `max_steps` more edits).

    Returns `(label, c, changes)` where `changes` maps every candidate to its mean change of `attr`
    towards the goal at the first-step strength over the calibration samples that can move (NaN for a
    candidate that changes no pixel, which is never chosen).

    >>> from latentlab.faces import ATTRIBUTES
    >>> x = torch.zeros(4, 3, 32, 32); probe = lambda im: {a: im.mean((1, 2, 3)) for a in ATTRIBUTES}
    >>> edits = {"up": lambda x, c: x + 0.1 * c, "down": lambda x, c: x - 0.1 * c}
    >>> label, c, _ = choose_and_scale(edits, x, x, "hair_color", 1.0, probe, pixel_budget=0.05)
    >>> label, round(c, 6)
    ('up', 0.5)
    """
    if not candidates:
        raise ValueError(f"candidates must hold at least one edit for {attr}, got none")
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
        changes[label] = read_edit(base_calib, x0, attr=attr, goal=goal, probe=probe).change
        points[label] = [(1.0, p1), (c, _pixel_change(x0, base_calib))]
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


def matched_baseline(n: int) -> str:
    """The name of the random baseline row with `n` candidates, the one a method with n is tested against.

    >>> matched_baseline(6)
    'random (6)'
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of candidates, got {n!r}")
    return f"random ({n})"


def compare_methods(bench: Workbench | Model, goals: Mapping[str, float], x_calib: Tensor, x_test: Tensor, *,
                    methods: Sequence[str] | None = None, extra: Mapping[str, Builder] | None = None,
                    pixel_budget: float = 0.15, probe: Probe | None = None, judge: Probe | None = None,
                    steps: int | None = None, seed: int | None = None, base_calib: Tensor | None = None,
                    base_test: Tensor | None = None, samples: bool = False, checkpoint: str | Path | None = None,
                    progress: bool = True):
    """Run the protocol for every method and attribute; one row each, as a pandas DataFrame.

    Args:
        bench: the `methods.Workbench` that hands out the candidates, or a model to build one on
            (with `probe`, `steps` (default 20) and `seed` (default 0)).
        goals: attribute -> goal value (`{"smile": 1.0, "glasses": 1.0}`).
        x_calib, x_test: starting noise of the calibration and held-out sets.
        methods: names from `methods.METHODS` (default: all of them). If "random" is among them, it
            gives one row `random (n)` per distinct number n of candidates among the other methods
            of that attribute (`matched_baseline`), each from `bench.candidates("random", ..., n=n)`.
        extra: more methods, name -> `builder(attr, goal) -> {label: edit(x_T, c) -> x_0}` (a method
            with a known answer, for tests); a builder returns an empty mapping for an attribute it
            has nothing for, as the Asyrp methods do for an attribute with no shipped editor.
        pixel_budget: the common RMS pixel change every chosen edit is scaled to.
        probe: the main probe, which chooses the candidate and scores (default: the workbench's).
        judge: an independent probe that only scores the held-out edits (`load_probe(judge=True)`);
            None leaves the judge's columns out. It never chooses: the choice stays with `probe`.
        base_calib, base_test: their unedited x_0 (default: plain DDIM on the workbench's grid).
        samples: also return the held-out measurements per sample (for paired tests between methods:
            every method edits the same held-out faces).
        checkpoint: a folder for each finished row (and its samples); a rerun with the same inputs
            skips the rows found there, so that a killed comparison resumes. Shared fits (e.g. the
            trajectories) are then charged to the first row that runs again.

    Returns:
        DataFrame with columns attr, method, baseline (the matched random row; empty for the random
        rows and when random is not compared), candidates (how many the method offered), choice, c,
        change, right_way, k, n_movable, spread, worst_leak, worst_leak_attr, pixel_change,
        manifold_after, manifold_before, seconds, and with a judge judge_change, judge_right_way,
        judge_k, judge_n_movable, judge_worst_leak, judge_worst_leak_attr (the judge's own reading of
        before and after, so its movable faces may differ). With `samples=True` also a long
        DataFrame with one row per attribute, method and held-out sample: attr, method, sample,
        movable, right_way (moved towards the goal), change (towards the goal, attribute units),
        leak (mean |change| of the other attributes, as a fraction of their ranges), pixel_change
        (RMS), manifold_before and manifold_after (the face's on-manifold error), and with a judge
        judge_movable, judge_right_way, judge_change, judge_leak.

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> x = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> table = compare_methods(tiny_model(sample_size=32), {"smile": 1.0}, x[:2], x[2:], methods=["random"],
    ...                         extra={"nudge": lambda attr, goal: {"+": lambda x, c: torch.tanh(x) * (1 + c)}},
    ...                         probe=Probe(ProbeConfig.tiny()), steps=2, progress=False)
    >>> table[["method", "baseline", "candidates"]].values.tolist()
    [['nudge', 'random (1)', 1], ['random (1)', '', 1]]
    """
    import pandas as pd
    from tqdm.auto import tqdm

    wb = _workbench(bench, probe, steps, seed)
    probe = wb.probe if probe is None else probe
    names = list(METHODS) if methods is None else list(methods)
    for name in names:
        method(name)
    extra = dict(extra or {})
    clash = set(extra) & set(names) | {n for n in extra if n.startswith("random (")}
    if clash:
        raise ValueError(f"extra methods must not reuse a registry name or 'random (n)', got {sorted(clash)}")
    for attr, goal in goals.items():
        check_goal(attr, goal)
    model = wb.model
    xc, _ = check_x(model, x_calib, "x_calib")
    xt, _ = check_x(model, x_test, "x_test")
    # Under `accelerate launch` every edit runs data-parallel: each process edits its share of the
    # samples and all get every x_0, so the choice, the scaling and the measurement see the same
    # tensors everywhere and every process builds the same table (print or save it on `is_main()`).
    plain = lambda x: ddim_sample(model, x, wb.steps, progress=False)  # noqa: E731
    base_calib = map_samples(plain, xc) if base_calib is None else base_calib
    base_test = map_samples(plain, xt) if base_test is None else base_test
    store = _Checkpoint(checkpoint, xc, xt, goals, pixel_budget, wb, probe, judge) if checkpoint is not None else None

    builders: dict[str, Builder] = {n: _registry_builder(wb, n) for n in names if n != "random"} | extra
    rows, per_sample = [], []
    bar = tqdm(total=len(goals) * (len(builders) + ("random" in names)), disable=not progress, leave=False,
               desc="methods")

    def run(attr: str, goal: float, name: str, build: Callable[[], Mapping[str, EditFn]]) -> None:
        done = store.load(attr, name) if store else None
        if done is None:
            start = time.perf_counter()
            candidates = {k: _sharded(e) for k, e in build().items()}
            if not candidates:
                done = (None, None)
            else:
                label, c, _ = choose_and_scale(candidates, xc, base_calib, attr, goal, probe, pixel_budget)
                x0 = candidates[label](xt, c)
                row, smp = _measure(base_test, x0, attr, goal, probe, judge, name)
                row = {"attr": attr, "method": name, "baseline": "", "candidates": len(candidates), "choice": label,
                       "c": c, **row, "seconds": round(time.perf_counter() - start, 1)}
                done = (row, smp)
            if store:
                store.save(attr, name, *done)
        if done[0] is not None:
            rows.append(done[0])
            per_sample.append(done[1])

    for attr, goal in goals.items():
        first = len(rows)
        for name, builder in builders.items():
            run(attr, goal, name, lambda: builder(attr, goal))
            bar.update()
        if "random" in names:
            ours = rows[first:]
            counts = sorted({r["candidates"] for r in ours}) or [METHODS["random"].settings["n_candidates"]]
            for r in ours:
                r["baseline"] = matched_baseline(r["candidates"])
            for n in counts:
                run(attr, goal, matched_baseline(n), lambda: wb.candidates("random", attr, goal, n=n))
            bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    if samples:
        return table, (pd.concat(per_sample, ignore_index=True) if per_sample else pd.DataFrame())
    return table


def measure_choice(bench: Workbench, attr: str, goal: float, name: str, choice: str, c: float, x_test: Tensor, *,
                   judge: Probe | None = None, base_test: Tensor | None = None, images: bool = False):
    """Step 3 of the protocol alone: method `name`'s candidate `choice` at strength `c`, measured on `x_test`.

    With the `choice` and `c` that `compare_methods` found, this re-measures a row of its table on any
    subset of its held-out faces (a shipped row's faces can be re-run live without the calibration).
    The same measurement as `compare_methods`: read by the workbench's probe and, if given, the judge.

    Returns:
        `(row, samples)`: row = {attr, method, choice, c, change, right_way, k, n_movable, ...} and the
        per-sample DataFrame, with `compare_methods(..., samples=True)`'s columns; with `images=True`
        also the unedited and the edited x_0, `(row, samples, base_test, x0)`.

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> wb = Workbench(tiny_model(sample_size=32), probe=Probe(ProbeConfig.tiny()), steps=2)
    >>> x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> row, smp = measure_choice(wb, "smile", 1.0, "random", "+r_1", 5.0, x)
    >>> row["choice"], len(smp)
    ('+r_1', 3)
    """
    if not isinstance(bench, Workbench):
        raise TypeError(f"bench must be a methods.Workbench, got {type(bench).__name__}")
    check_goal(attr, goal)
    method(name)
    xt, _ = check_x(bench.model, x_test, "x_test")
    candidates = bench.candidates(name, attr, goal)
    if choice not in candidates:
        raise ValueError(f"choice must be one of {name!r}'s candidates for {attr}, {sorted(candidates)}; "
                         f"got {choice!r}")
    if base_test is None:
        base_test = map_samples(lambda x: ddim_sample(bench.model, x, bench.steps, progress=False), xt)
    x0 = _sharded(candidates[choice])(xt, float(c))
    row, smp = _measure(base_test, x0, attr, goal, bench.probe, judge, name)
    row = {"attr": attr, "method": name, "choice": choice, "c": float(c), **row}
    return (row, smp, base_test, x0) if images else (row, smp)


def summarize_samples(samples, attr: str, method: str, faces: Sequence[int] | None = None) -> dict:
    """A comparison row's headline numbers recomputed from its per-sample measurements, on `faces`.

    Over the chosen held-out faces (default: all) of one attribute and method: how many there are,
    how many can move, how many of those moved the right way (`k`), their mean change towards the goal,
    and the mean RMS pixel change; with the judge's columns, its `judge_k` and `judge_change` too. A live
    re-run and a shipped run summarised alike can be compared with `course.runs.same_row`.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": "m", "sample": range(3), "movable": [True, True, False],
    ...                   "right_way": [True, False, False], "change": [0.5, -0.1, 0.0],
    ...                   "pixel_change": [0.1, 0.2, 0.3]})
    >>> summarize_samples(s, "smile", "m")
    {'attr': 'smile', 'method': 'm', 'faces': 3, 'n_movable': 2, 'k': 1, 'change': 0.2, 'pixel_change': 0.2}
    """
    need = {"attr", "method", "sample", "movable", "right_way", "change", "pixel_change"}
    if not need <= set(getattr(samples, "columns", ())):
        raise ValueError(f"samples must be compare_methods' per-sample DataFrame with columns {sorted(need)}")
    s = samples[(samples.attr == attr) & (samples.method == method)]
    if not len(s):
        raise ValueError(f"no samples for attr={attr!r} and method={method!r}; "
                         f"there are {sorted(set(zip(samples.attr, samples.method)))}")
    if faces is not None:
        faces = [int(f) for f in faces]
        missing = sorted(set(faces) - set(s["sample"]))
        if missing:
            raise ValueError(f"faces {missing} are not among the samples of {attr}, {method}")
        s = s[s["sample"].isin(faces)]
    out = {"attr": attr, "method": method, "faces": len(s)}
    for prefix in ("", "judge_"):
        if f"{prefix}movable" not in s:
            continue
        movable = s[f"{prefix}movable"].astype(bool)
        m = s[movable]
        out |= {f"{prefix}n_movable": int(movable.sum()), f"{prefix}k": int(m[f"{prefix}right_way"].astype(bool).sum()),
                f"{prefix}change": round(float(m[f"{prefix}change"].mean()), 6) if len(m) else math.nan}
    out["pixel_change"] = round(float(s.pixel_change.mean()), 6)
    return out


def _workbench(bench, probe, steps, seed) -> Workbench:
    if isinstance(bench, Workbench):
        given = {k: v for k, v in (("steps", steps), ("seed", seed)) if v is not None and v != getattr(bench, k)}
        if given:
            raise ValueError(f"steps and seed belong to the workbench ({bench.steps} steps, seed {bench.seed}); "
                             f"got {given}")
        return bench
    if not isinstance(bench, Model):
        raise TypeError(f"bench must be a methods.Workbench or a Model, got {type(bench).__name__}")
    return Workbench(bench, probe=probe, steps=20 if steps is None else steps, seed=0 if seed is None else seed)


def _registry_builder(wb: Workbench, name: str) -> Builder:
    return lambda attr, goal: wb.candidates(name, attr, goal)


def _sharded(edit: EditFn) -> EditFn:
    """The edit applied data-parallel (one process: the edit itself); it must treat samples independently."""
    return lambda x_T, c: map_samples(lambda xs: edit(xs, c), x_T)


def _measure(base: Tensor, x0: Tensor, attr: str, goal: float, probe: Probe, judge: Probe | None, name: str):
    """The held-out row's numbers and per-sample rows: the main probe's, and the judge's beside them."""
    import pandas as pd

    r = read_edit(base, x0, attr=attr, goal=goal, probe=probe)
    s = r.summary()
    row = {k: s[k] for k in ("change", "right_way")} | {"k": _k(r), "n_movable": r.n_movable}
    row |= {k: s[k] for k in ("spread", "worst_leak", "worst_leak_attr")}
    smp = {"attr": attr, "method": name, "sample": range(len(base)), **_per_sample(r, attr, goal)}
    if judge is not None:
        rj = read_edit(base, x0, attr=attr, goal=goal, probe=judge)
        sj = rj.summary()
        row |= {"judge_change": sj["change"], "judge_right_way": sj["right_way"], "judge_k": _k(rj),
                "judge_n_movable": rj.n_movable, "judge_worst_leak": sj["worst_leak"],
                "judge_worst_leak_attr": sj["worst_leak_attr"]}
        smp |= {f"judge_{k}": v for k, v in _per_sample(rj, attr, goal).items()}
    row |= {k: s[k] for k in ("pixel_change", "manifold_after", "manifold_before")}
    smp |= {"pixel_change": pixel_change(r.x0_edit, r.x0).float().numpy(),
            "manifold_before": r.manifold_before.float().numpy(), "manifold_after": r.manifold_after.float().numpy()}
    return row, pd.DataFrame(smp)


def _k(r) -> int:
    return round(r.right_way * r.n_movable) if r.n_movable else 0


def _per_sample(r, attr: str, goal: float) -> dict:
    movable, moved = right_way(r.before[attr], r.after[attr], attr, goal)
    towards = torch.sign(torch.as_tensor(goal) - r.before[attr]) * r.delta[attr]
    return {"movable": movable.numpy(), "right_way": (moved & movable).numpy(), "change": towards.float().numpy(),
            "leak": leakage(r.delta, attr).float().numpy()}


class _Checkpoint:
    """Each finished row of a comparison in a folder, keyed by everything the row depends on (the faces,
    the goals, the budget, the workbench's grid and seed, the model's, the probe's and the judge's
    weights, and the row's own method's registry settings)."""

    def __init__(self, folder, xc, xt, goals, budget, wb, probe, judge):
        self.folder = Path(folder)
        h = hashlib.sha1()
        tensors = [xc, xt] + [t for m in (wb.model, probe, judge) if isinstance(m, torch.nn.Module)
                              for t in m.state_dict().values()]
        for t in tensors:
            h.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
        h.update(json.dumps([sorted(goals.items()), budget, wb.steps, wb.seed, judge is not None]).encode())
        self.key = h.hexdigest()[:16]

    def _file(self, attr: str, name: str) -> Path:
        # A row depends on its own method's settings only, so adding a method to the registry keeps the
        # finished rows of the others.
        entry = METHODS["random"] if name.startswith("random (") else METHODS.get(name, name)
        settings = hashlib.sha1(repr(entry).encode()).hexdigest()[:8]
        return self.folder / f"{self.key}-{attr}-{re.sub(r'[^A-Za-z0-9]+', '_', name)}-{settings}.json"

    def load(self, attr: str, name: str):
        import pandas as pd

        f = self._file(attr, name)
        if not f.is_file():
            return None
        d = json.loads(f.read_text())
        return (d["row"], pd.DataFrame(d["samples"]) if d["row"] is not None else None)

    def save(self, attr: str, name: str, row, smp) -> None:
        if not is_main():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        f = self._file(attr, name)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps({"row": row, "samples": None if smp is None else smp.to_dict("list")},
                                  default=_jsonable))
        tmp.replace(f)


def _jsonable(v):
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, range):
        return list(v)
    raise TypeError(f"cannot store {type(v).__name__} in a checkpoint")


def read_by_judge(samples):
    """`compare_methods`' per-sample measurements as the judge read them: its `movable`, `right_way`,
    `change` and `leak` in the main probe's columns, so that `stats.intervals` and `stats.paired_test`
    test the judge's readings of the same edits.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"change": [0.5], "judge_change": [0.25], "movable": [True], "judge_movable": [True],
    ...                   "right_way": [True], "judge_right_way": [False], "leak": [0.1], "judge_leak": [0.2]})
    >>> read_by_judge(s)[["change", "right_way", "leak"]].values.tolist()
    [[0.25, False, 0.2]]
    """
    cols = ["movable", "right_way", "change", "leak"]
    missing = [f"judge_{c}" for c in cols if f"judge_{c}" not in getattr(samples, "columns", ())]
    if missing:
        raise ValueError(f"samples must hold the judge's columns (compare_methods(..., judge=..., samples=True)); "
                         f"missing {missing}")
    return samples.assign(**{c: samples[f"judge_{c}"] for c in cols}).drop(columns=[f"judge_{c}" for c in cols])


def shipped_results(seed: int = 0, methods: Sequence[str] | None = None):
    """The shipped run of `benchmarks/compare_methods.py` with `--seed seed`: `(table, samples)`.

    `table` is `compare_methods`'s table (one row per attribute and method), `samples` its per-sample
    measurements (`samples=True`). Runs with seeds 0 and 1 are shipped (the command that rebuilds
    them is in the benchmark's docstring and in `data/compare/README.md`). `methods` keeps those
    methods' rows and the random rows they are matched with (default: every row).

    >>> table, samples = shipped_results(0)
    >>> sorted(table.attr.unique())
    ['glasses', 'hair_color', 'smile']
    >>> sorted(shipped_results(0, methods=["paired"])[0].method.unique())
    ['paired', 'random (1)']
    """
    import pandas as pd

    files = [SHIPPED_RESULTS / f"table_seed{seed}.csv", SHIPPED_RESULTS / f"samples_seed{seed}.csv"]
    missing = [f for f in files if not f.is_file()]
    if missing:
        have = sorted(int(p.stem.removeprefix("table_seed")) for p in SHIPPED_RESULTS.glob("table_seed*.csv"))
        raise FileNotFoundError(f"no shipped comparison for seed={seed!r} ({missing[0]} does not exist); "
                                f"shipped seeds: {have}")
    table = pd.read_csv(files[0])
    if "baseline" in table:  # the random rows' empty baseline reads back as NaN
        table["baseline"] = table["baseline"].fillna("")
    samples = pd.read_csv(files[1])
    if methods is None:
        return table, samples
    unknown = sorted(set(methods) - set(table.method))
    if unknown:
        raise ValueError(f"methods must be methods of the shipped run, got {unknown}; it has "
                         f"{', '.join(sorted(set(table.method)))}")
    mine = table.method.isin(list(methods))
    # a random row is kept for the attributes where a kept method is matched with it
    matched = set(zip(table.attr[mine], table.baseline[mine]))
    keep = mine | pd.Series([(a, m) in matched for a, m in zip(table.attr, table.method)], index=table.index)
    table = table[keep].reset_index(drop=True)
    samples = samples[samples.set_index(["attr", "method"]).index.isin(list(zip(table.attr, table.method)))]
    return table, samples.reset_index(drop=True)
