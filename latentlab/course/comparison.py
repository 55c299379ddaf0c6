"""The method comparison's two shipped runs, read: which methods beat their matched random baseline
and replicate, whether they leak more or less than it, how alike two runs rank the methods, what each
method's edits cost (leakage, the on-manifold error), and the lecture's figures.

The runs are `latentlab.compare.shipped_results(seed)` (seeds 0 and 1); the tests are
`latentlab.stats.paired_test` (Wilcoxon's signed-rank test, or McNemar's exact test for glasses) with
Bonferroni's correction, and `latentlab.stats.manifold_shift`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from latentlab.stats import manifold_shift, paired_test, signed_rank_test

__all__ = ["right_way_table", "matched_tests", "leakage_tests", "rank_agreement", "method_costs",
           "strength_at_budget", "show_right_way", "show_strengths", "show_costs", "show_local_global",
           "show_run_intervals"]


def _baselines(table) -> dict[tuple[str, str], str]:
    if not {"attr", "method", "baseline"} <= set(getattr(table, "columns", ())):
        raise ValueError("table must be compare_methods' table with the columns attr, method and baseline")
    return {(r.attr, r.method): r.baseline for r in table.itertuples() if isinstance(r.baseline, str) and r.baseline}


def right_way_table(table_1, table_2, attr: str):
    """Per method of `attr` (the random rows left out), in two runs: the faces moved the right way of
    the movable ones (`moved`, k/n), its matched random row's (`matched random`), and the mean change
    towards the goal (`change`); columns grouped under "run 1" and "run 2", sorted by run 1's change.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"attr": "smile", "method": ["m", "random (1)"], "baseline": ["random (1)", ""],
    ...                   "candidates": [1, 1], "k": [8, 2], "n_movable": [10, 10], "change": [0.5, 0.0]})
    >>> out = right_way_table(t, t, "smile")
    >>> out[("run 1", "moved")].tolist(), out[("run 2", "matched random")].tolist()
    (['8/10'], ['2/10'])
    """
    import pandas as pd

    cols = {}
    for r, t in enumerate((table_1, table_2), 1):
        t = t[t.attr == attr].set_index("method")
        if not len(t):
            raise ValueError(f"no rows for attr={attr!r} in table_{r}")
        kn = (t.k.astype(int).astype(str) + "/" + t.n_movable.astype(int).astype(str))
        cols[r] = (t[t.baseline.astype(str) != ""], kn)
    ours = cols[1][0]
    out = {("", "method"): ours.index, ("", "n"): ours.candidates.astype(int).to_numpy()}
    for r, (t, kn) in cols.items():
        t = t.reindex(ours.index)
        out |= {(f"run {r}", "moved"): kn.reindex(ours.index).to_numpy(),
                (f"run {r}", "matched random"): kn.reindex(t.baseline).to_numpy(),
                (f"run {r}", "change"): t.change.to_numpy()}
    out = pd.DataFrame(out)
    return out.sort_values(("run 1", "change"), ascending=False, kind="stable").reset_index(drop=True)


def matched_tests(table, readings: Sequence, alpha: float = 0.05):
    """Each method against its matched random row, in a first run and its replication in a second.

    For every (attr, method) of `table` with a `baseline`, `stats.paired_test` on the same held-out
    faces of each run in `readings` (two per-sample DataFrames, e.g. both shipped runs' `samples`).
    A *discovery* is a positive difference at p < alpha / (number of tests) in the first run
    (Bonferroni); the second run tests only the discoveries, each at alpha / (number of discoveries):
    `verdict` is "replicated", "not replicated", or "-" for no discovery.

    Returns:
        DataFrame: attr, method, baseline, test, then per run r = 1, 2: n_r (movable faces), diff_r (mean
        change minus the baseline's), p_r, k_r and kb_r (faces moved the right way by the method and by
        its baseline); discovery, verdict. `.attrs` holds alpha_1, alpha_2 and the counts.

    >>> import pandas as pd
    >>> s = pd.concat([pd.DataFrame({"attr": "smile", "method": m, "sample": range(8), "movable": True,
    ...                              "right_way": d > 0, "change": d + 0.01 * np.arange(8)})
    ...                for m, d in (("m", 0.5), ("random (1)", 0.0))])
    >>> t = pd.DataFrame({"attr": ["smile", "smile"], "method": ["m", "random (1)"], "baseline": ["random (1)", ""]})
    >>> matched_tests(t, [s, s]).verdict.tolist()
    ['replicated']
    """
    import pandas as pd

    if len(readings) != 2:
        raise ValueError(f"readings must hold two runs' per-sample DataFrames, got {len(readings)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    rows = []
    for (attr, m), b in _baselines(table).items():
        row = {"attr": attr, "method": m, "baseline": b}
        for r, smp in enumerate(readings, 1):
            t = paired_test(smp, attr, m, b)
            row |= {"test": t["test"], f"n_{r}": t["n"], f"diff_{r}": t["mean_diff"], f"p_{r}": t["p"],
                    f"k_{r}": t["k_a"], f"kb_{r}": t["k_b"]}
        rows.append(row)
    out = pd.DataFrame(rows)
    a1 = alpha / len(out)
    out["discovery"] = (out.p_1 < a1) & (out.diff_1 > 0)
    found = int(out.discovery.sum())
    a2 = alpha / found if found else 0.0
    ok = (out.p_2 < a2) & (out.diff_2 > 0)
    out["verdict"] = np.where(~out.discovery, "-", np.where(ok, "replicated", "not replicated"))
    out.attrs |= {"alpha_1": a1, "alpha_2": a2, "tests": len(out), "discoveries": found,
                  "replicated": int((out.verdict == "replicated").sum())}
    return out


def leakage_tests(table, readings: Sequence, alpha: float = 0.05):
    """Does a method leak more or less than its matched random row, on the same faces, in both runs?

    For every (attr, method) of `table` with a `baseline` and each run in `readings` (two per-sample
    DataFrames): the per-face `leak` (mean |change| of the other attributes, each as a fraction of its
    range; `metrics.leakage`) of the method minus its baseline's, over all held-out faces, and
    Wilcoxon's signed-rank test of those differences (`stats.signed_rank_test`, two-sided), each run
    at alpha / (number of tests) (Bonferroni). `shift_r` is "less", "more" or "-"; `verdict` says
    "less in both runs", "more in both runs", "one run only" or "-".

    Returns:
        DataFrame: attr, method, baseline, then per run r = 1, 2: n_r (faces), diff_r (mean leak minus
        the baseline's), p_r, shift_r; verdict. `.attrs` holds alpha and the counts per run.

    >>> import pandas as pd
    >>> s = pd.DataFrame({"attr": "smile", "method": ["m"] * 8 + ["random (1)"] * 8, "sample": list(range(8)) * 2,
    ...                   "leak": [0.1 + 0.01 * i for i in range(8)] + [0.3] * 8})
    >>> t = pd.DataFrame({"attr": ["smile", "smile"], "method": ["m", "random (1)"], "baseline": ["random (1)", ""]})
    >>> leakage_tests(t, [s, s])[["diff_1", "p_1", "verdict"]].round(4).values.tolist()
    [[-0.165, 0.0078, 'less in both runs']]
    """
    import pandas as pd

    if len(readings) != 2:
        raise ValueError(f"readings must hold two runs' per-sample DataFrames, got {len(readings)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    for r, smp in enumerate(readings, 1):
        if not {"attr", "method", "sample", "leak"} <= set(getattr(smp, "columns", ())):
            raise ValueError(f"readings[{r - 1}] must have the columns attr, method, sample and leak")
    pairs = _baselines(table)
    a = alpha / len(pairs)
    rows = []
    for (attr, m), b in pairs.items():
        row = {"attr": attr, "method": m, "baseline": b}
        for r, smp in enumerate(readings, 1):
            s = smp[smp.attr == attr]
            la, lb = (s[s.method == k].set_index("sample").leak.sort_index() for k in (m, b))
            if not len(la) or not la.index.equals(lb.index):
                raise ValueError(f"run {r}: {m!r} and {b!r} have no leak measured on the same faces for {attr!r}")
            d = la.to_numpy(float) - lb.to_numpy(float)
            p = signed_rank_test(d)
            row |= {f"n_{r}": len(d), f"diff_{r}": float(d.mean()), f"p_{r}": p,
                    f"shift_{r}": "-" if p >= a else ("less" if d.mean() < 0 else "more")}
        rows.append(row)
    out = pd.DataFrame(rows)
    same = (out.shift_1 == out.shift_2) & (out.shift_1 != "-")
    one = (out.shift_1 != "-") | (out.shift_2 != "-")
    out["verdict"] = np.where(same, out.shift_1 + " in both runs", np.where(one, "one run only", "-"))
    out.attrs |= {"alpha": a, "tests": len(out)}
    for r in (1, 2):
        out.attrs |= {f"less_{r}": int((out[f"shift_{r}"] == "less").sum()),
                      f"more_{r}": int((out[f"shift_{r}"] == "more").sum())}
    return out


def strength_at_budget(tables: Sequence):
    """Per method, the range of the strength `c` (in the method's own units) at which its chosen
    candidate met the pixel budget, over the attributes and the runs in `tables` (`compare_methods`'
    tables): a c of 4 means the method's own "strength 1" edits about a quarter of the budget.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["m", "m", "r"], "c": [2.0, 4.0, 0.5]})
    >>> strength_at_budget([t, t.assign(c=[3.0, 1.0, 0.6])]).values.tolist()
    [['m', 1.0, 4.0], ['r', 0.5, 0.6]]
    """
    import pandas as pd

    if not tables:
        raise ValueError("tables must hold at least one compare_methods table")
    c = pd.concat([t[["method", "c"]] for t in tables])
    out = c.groupby("method", sort=False).c.agg(c_min="min", c_max="max")
    return out.reset_index()


def rank_agreement(table_1, table_2, attr: str, *, leave_out: str = "Asyrp") -> dict:
    """How alike two runs rank the methods of `attr`: Spearman's rho of their `change` (methods matched
    by name), over all rows and without the rows whose name starts with `leave_out` (the learned
    editors); each run's winner; in how many multi-candidate rows both runs chose the same label.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"attr": "smile", "method": ["Asyrp f", "a", "b", "c"], "change": [0.9, 0.1, 0.2, 0.3],
    ...                   "candidates": [1, 6, 6, 1], "choice": ["f", "+v_1", "-v_2", "d"]})
    >>> r = rank_agreement(t, t, "smile"); r["rho"], r["rho_without"], r["same_choice"], r["multi"]
    (1.0, 1.0, 2, 2)
    """
    from scipy.stats import spearmanr

    a = table_1[table_1.attr == attr].set_index("method")
    b = table_2[table_2.attr == attr].set_index("method").reindex(a.index)
    if len(a) < 3 or b.change.isna().any():
        raise ValueError(f"both tables must hold the same methods (at least 3) for {attr!r}")
    rest = ~a.index.str.startswith(leave_out)
    multi = a.index[a.candidates > 1]
    return {"attr": attr, "rho": float(spearmanr(a.change, b.change).statistic), "n": len(a),
            "rho_without": float(spearmanr(a.change[rest], b.change[rest]).statistic), "n_without": int(rest.sum()),
            "winner_1": a.change.idxmax(), "winner_2": b.change.idxmax(),
            "same_choice": int(sum(a.choice[m] == b.choice[m] for m in multi)), "multi": len(multi)}


def method_costs(runs: Sequence, alpha: float = 0.05):
    """What each method's edits cost, per run: the worst leakage (`worst_leak`, the other attribute that
    moved most, as a fraction of its range) averaged over the attributes the method was run on, and
    the on-manifold error as `stats.manifold_shift` defines it (each face counted once: its after /
    before ratio, geometric mean over the attributes; the median over the faces) with its p, and
    "higher" / "lower" / "-" at alpha / (methods x runs); the first run's seconds per attribute.

    `runs` holds `(table, samples)` pairs (`compare.shipped_results(seed)`).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["m", "m"], "worst_leak": [0.1, 0.3], "seconds": [2.0, 4.0]})
    >>> s = pd.DataFrame({"method": "m", "sample": range(6), "manifold_before": 1.0, "manifold_after": 2.0})
    >>> method_costs([(t, s)])[["leak_1", "manifold_1", "seconds_1"]].values.tolist()
    [[0.2, 2.0, 3.0]]
    """
    import pandas as pd

    if not runs:
        raise ValueError("runs must hold at least one (table, samples) pair")
    cols, n_tests = [], 0
    for r, (table, samples) in enumerate(runs, 1):
        shift = manifold_shift(samples).set_index("method")
        n_tests += len(shift)
        cols += [table.groupby("method", sort=False).worst_leak.mean().rename(f"leak_{r}"),
                 shift.median_ratio.rename(f"manifold_{r}"), shift.p.rename(f"p_{r}")]
    out = pd.concat(cols + [runs[0][0].groupby("method", sort=False).seconds.mean().rename("seconds_1")], axis=1)
    for r in range(1, len(runs) + 1):
        sig = out[f"p_{r}"] < alpha / n_tests
        out[f"shift_{r}"] = np.where(~sig, "-", np.where(out[f"manifold_{r}"] > 1, "higher", "lower"))
    out.attrs["alpha"] = alpha / n_tests
    return out.rename_axis("method").reset_index()


def show_right_way(tables: Mapping[int, object], scale: float = 1.0):
    """The comparison at a glance: per attribute, each method's fraction of movable held-out faces moved
    the right way (filled marker) beside its matched random row's (open marker, joined by a line),
    one row of markers per run. `tables` maps a label (the run) to `compare_methods`' table.

    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"attr": "smile", "method": ["m", "random (1)"], "baseline": ["random (1)", ""],
    ...                   "k": [8, 2], "n_movable": [10, 10], "change": [0.5, 0.0]})
    >>> fig = show_right_way({1: t}); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    runs = list(tables)
    first = tables[runs[0]]
    attrs = list(dict.fromkeys(first.attr))
    fig, axes = plt.subplots(1, len(attrs), figsize=(scale * 3.4 * len(attrs), scale * 3.0), squeeze=False)
    colours = ["C0", "C1", "C2", "C3"]
    for ax, attr in zip(axes[0], attrs):
        a = first[(first.attr == attr) & (first.baseline.astype(str) != "")].sort_values("change")
        order = a.method.tolist()
        for j, run in enumerate(runs):
            t = tables[run]
            t = t[t.attr == attr].set_index("method")
            rate = t.k / t.n_movable
            y = np.arange(len(order)) + (j - (len(runs) - 1) / 2) * 0.3
            base = [rate[t.baseline[m]] for m in order]
            ax.hlines(y, base, rate[order], color=colours[j], lw=0.8, alpha=0.6)
            ax.plot(base, y, "o", mfc="white", mec=colours[j], ms=4, label=f"matched random, run {run}")
            ax.plot(rate[order], y, "o", color=colours[j], ms=4, label=f"method, run {run}")
        ax.set_yticks(range(len(order)), order, fontsize=7)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(attr, fontsize=9)
        ax.set_xlabel("fraction moved the right way", fontsize=7)
        ax.tick_params(axis="x", labelsize=6)
    axes[0, 0].legend(fontsize=6, frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3)
    return fig


def _is_random(methods) -> np.ndarray:
    return np.asarray([str(m).startswith("random") for m in methods])


def show_strengths(tables: Mapping[int, object], scale: float = 1.0):
    """What "strength 1" means per method: the strength `c` at which each method's chosen candidate met
    the pixel budget, one marker per attribute and run, on a log axis with c = 1 marked. `tables` maps
    a run label to `compare_methods`' table.

    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"attr": ["smile", "smile"], "method": ["m", "random (1)"], "c": [2.0, 50.0]})
    >>> fig = show_strengths({1: t}); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    runs = list(tables)
    first = tables[runs[0]]
    order = first.groupby("method", sort=False).c.median().sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(scale * 5.2, scale * 3.2))
    for j, run in enumerate(runs):
        t = tables[run]
        y = np.array([order.index(m) for m in t.method]) + (j - (len(runs) - 1) / 2) * 0.25
        ax.plot(t.c, y, "o", ms=3.5, color=f"C{j}", alpha=0.8, label=f"run {run}")
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set_xlabel("strength c at the pixel budget (method's own units; dashed: c = 1)", fontsize=7)
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3)
    return fig


def show_costs(cost, scale: float = 1.0):
    """What an edit costs, per method: its worst leakage (left) and its on-manifold error after / before
    (right; 1, dashed, is the unedited faces' error), from `method_costs`' `leak_r` and `manifold_r`;
    one marker per run, the random rows drawn open.

    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> c = pd.DataFrame({"method": ["m", "random (1)"], "leak_1": [0.2, 0.17], "manifold_1": [1.5, 0.9]})
    >>> fig = show_costs(c); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    runs = sorted(int(c.split("_")[1]) for c in cost.columns if c.startswith("leak_"))
    if not runs or not all(f"manifold_{r}" in cost for r in runs):
        raise ValueError("cost must be method_costs' DataFrame with leak_r and manifold_r columns")
    cost = cost.sort_values(f"manifold_{runs[0]}").reset_index(drop=True)
    rnd = _is_random(cost.method)
    fig, axes = plt.subplots(1, 2, figsize=(scale * 6.4, scale * 3.2), sharey=True)
    markers = ["o", "s", "^", "D"]
    for ax, what, label in ((axes[0], "leak", "worst leakage (fraction of a range)"),
                            (axes[1], "manifold", "on-manifold error, after / before")):
        for j, r in enumerate(runs):
            x = cost[f"{what}_{r}"].to_numpy()
            y = np.arange(len(cost)) + (j - (len(runs) - 1) / 2) * 0.25
            ax.plot(x[~rnd], y[~rnd], markers[j], color=f"C{j}", ms=4, label=f"method, run {r}")
            ax.plot(x[rnd], y[rnd], markers[j], mfc="white", mec=f"C{j}", ms=4, label=f"random row, run {r}")
        ax.set_xlabel(label, fontsize=7)
        ax.tick_params(axis="x", labelsize=6)
    axes[1].axvline(1.0, color="0.4", lw=0.8, ls="--")
    axes[0].set_yticks(range(len(cost)), cost.method, fontsize=7)
    axes[1].legend(fontsize=6, frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3)
    return fig


def show_local_global(tables: Mapping[int, object], attrs: Sequence[str] = ("hair_color", "smile"),
                      scale: float = 1.0):
    """A global change against a local one: per unlearned method (the random rows and the `Asyrp`
    editors left out), the fraction of movable held-out faces it moved the right way minus its matched
    random row's, one colour per attribute, one marker per run; 0 is "no better than random".

    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> t = pd.DataFrame({"attr": "smile", "method": ["m", "random (1)"], "baseline": ["random (1)", ""],
    ...                   "k": [8, 2], "n_movable": [10, 10]})
    >>> fig = show_local_global({1: t}, attrs=("smile",)); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    runs = list(tables)
    first = tables[runs[0]]
    keep = (first.baseline.astype(str) != "") & ~first.method.str.startswith("Asyrp")
    order = list(dict.fromkeys(first.method[keep & first.attr.isin(attrs)]))
    fig, ax = plt.subplots(figsize=(scale * 5.2, scale * 3.0))
    markers = ["o", "s", "^", "D"]
    for i, attr in enumerate(attrs):
        for j, run in enumerate(runs):
            t = tables[run]
            t = t[t.attr == attr].set_index("method")
            rate = t.k / t.n_movable
            ms = [m for m in order if m in t.index]
            gain = [rate[m] - rate[t.baseline[m]] for m in ms]
            y = np.array([order.index(m) for m in ms]) + (i - (len(attrs) - 1) / 2) * 0.3
            ax.plot(gain, y, markers[j], color=f"C{i + 2}", ms=4, mfc="white" if j else None,
                    label=f"{attr}, run {run}")
    ax.axvline(0.0, color="0.4", lw=0.8, ls="--")
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set_xlabel("fraction moved the right way, minus the matched random row's", fontsize=7)
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    fig.tight_layout(pad=0.3)
    return fig


def show_run_intervals(iv, baseline: str | None = "random (1)", scale: float = 1.0):
    """`plot.show_comparison` for the comparison's runs: `iv` is `stats.intervals`' DataFrame with a
    `run` column (1, 2, ...); markers and the shaded baseline are labelled by run, not by seed.

    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> iv = pd.DataFrame({"attr": "smile", "method": ["a", "random (1)"] * 2, "change": [0.5, 0.0, 0.4, 0.1],
    ...                    "lo": [0.4, -0.1, 0.3, 0.0], "hi": [0.6, 0.1, 0.5, 0.2], "run": [1, 1, 2, 2]})
    >>> fig = show_run_intervals(iv); [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['random (1), run 1', 'run 1', 'run 2']
    >>> plt.close(fig)
    """
    from latentlab.course.plot import show_comparison

    if "run" not in getattr(iv, "columns", ()):
        raise ValueError("iv must have a `run` column (stats.intervals(samples).assign(run=r) per run)")
    fig = show_comparison(iv.assign(seed=iv["run"]), baseline=baseline, scale=scale)
    names = {f"seed {r}": f"run {r}" for r in iv["run"].unique()}
    first = sorted(iv["run"].unique())[0]
    if baseline is not None:
        names[f"{baseline} ({first})"] = f"{baseline}, run {first}"
    for ax in fig.axes:
        legend = ax.get_legend()
        for t in legend.get_texts() if legend is not None else ():
            t.set_text(names.get(t.get_text(), t.get_text()))
    return fig
