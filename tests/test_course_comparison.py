"""latentlab.course.comparison and compare's row helpers, against scipy and numpy computed here."""
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import binomtest, spearmanr, wilcoxon

from latentlab.compare import compare_methods, measure_choice, summarize_samples
from latentlab.course.comparison import (
    leakage_tests,
    matched_tests,
    method_costs,
    rank_agreement,
    right_way_table,
    show_costs,
    show_local_global,
    show_right_way,
    show_run_intervals,
    show_strengths,
    strength_at_budget,
)

from helpers import gen


def _run(seed: int, shifts: dict, attr: str = "smile", n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for m, d in shifts.items():
        ch = d + 0.2 * rng.standard_normal(n)
        rows.append(pd.DataFrame({"attr": attr, "method": m, "sample": range(n), "movable": True,
                                  "right_way": ch > 0, "change": ch}))
    return pd.concat(rows, ignore_index=True)


def _table(methods, attr="smile"):
    return pd.DataFrame({"attr": attr, "method": methods + ["random (1)"],
                         "baseline": ["random (1)"] * len(methods) + [""]})


def test_matched_tests_follow_scipy_and_bonferroni():
    shifts = {"strong": 0.4, "weak": 0.1, "none": 0.0, "random (1)": 0.0}
    r1, r2 = _run(0, shifts), _run(1, shifts)
    out = matched_tests(_table(["strong", "weak", "none"]), [r1, r2]).set_index("method")
    ps = {}
    for m in ("strong", "weak", "none"):
        d = [(r[r.method == m].change.to_numpy() - r[r.method == "random (1)"].change.to_numpy()) for r in (r1, r2)]
        ps[m] = [wilcoxon(x).pvalue for x in d]
        assert out.loc[m, "p_1"] == pytest.approx(ps[m][0], rel=1e-6)
        assert out.loc[m, "diff_2"] == pytest.approx(d[1].mean())
    found = [m for m in ps if ps[m][0] < 0.05 / 3 and out.loc[m, "diff_1"] > 0]
    for m in ps:
        want = "-" if m not in found else ("replicated" if ps[m][1] < 0.05 / len(found) and out.loc[m, "diff_2"] > 0
                                           else "not replicated")
        assert out.loc[m, "verdict"] == want
    assert out.loc["strong", "verdict"] == "replicated" and out.loc["none", "verdict"] == "-"


def test_matched_tests_use_mcnemar_for_glasses():
    n = 20
    a = pd.DataFrame({"attr": "glasses", "method": "m", "sample": range(n), "movable": True,
                      "right_way": np.arange(n) < 12, "change": 0.3})
    b = a.assign(method="random (1)", right_way=np.arange(n) < 1, change=0.0)
    s = pd.concat([a, b])
    out = matched_tests(_table(["m"], "glasses"), [s, s]).iloc[0]
    assert out.test == "McNemar"
    assert out.p_1 == pytest.approx(binomtest(11, 11, 0.5).pvalue)  # 11 discordant faces, all for m


def test_rank_agreement_matches_spearman():
    names = ["Asyrp f", "a", "b", "c", "d"]
    t1 = pd.DataFrame({"attr": "smile", "method": names, "change": [0.9, 0.1, 0.4, 0.2, 0.3],
                       "candidates": [1, 6, 6, 1, 10], "choice": ["f", "+v_1", "-v_2", "x", "+pc_1"]})
    t2 = t1.iloc[::-1].assign(change=[0.5, 0.1, 0.35, 0.2, 0.8], choice=["+pc_2", "x", "-v_2", "+v_3", "f"])
    r = rank_agreement(t1, t2, "smile")
    b = t2.set_index("method").change.reindex(names)
    assert r["rho"] == pytest.approx(spearmanr(t1.change, b).statistic)
    assert r["rho_without"] == pytest.approx(spearmanr(t1.change[1:], b[1:]).statistic)
    assert (r["winner_1"], r["winner_2"], r["same_choice"], r["multi"]) == ("Asyrp f", "Asyrp f", 1, 3)
    with pytest.raises(ValueError, match="same methods"):
        rank_agreement(t1, t2[t2.method != "a"], "smile")


def test_method_costs_counts_each_face_once():
    t = pd.DataFrame({"method": ["m", "m", "r"], "worst_leak": [0.1, 0.2, 0.4], "seconds": [1.0, 3.0, 5.0]})
    rng = np.random.default_rng(0)
    before = rng.uniform(1, 2, 12)
    s = pd.concat([pd.DataFrame({"method": "m", "sample": range(12), "manifold_before": before,
                                 "manifold_after": before * f}) for f in (2.0, 8.0)]  # two attributes
                  + [pd.DataFrame({"method": "r", "sample": range(12), "manifold_before": before,
                                   "manifold_after": before})])
    out = method_costs([(t, s)]).set_index("method")
    assert out.loc["m", "manifold_1"] == pytest.approx(4.0)  # geometric mean of 2 and 8 per face
    assert out.loc["m", "leak_1"] == pytest.approx(0.15) and out.loc["r", "seconds_1"] == 5.0
    assert out.loc["m", "p_1"] == pytest.approx(wilcoxon(np.full(12, np.log(4.0))).pvalue)
    assert out.loc["m", "shift_1"] == "higher" and out.loc["r", "shift_1"] == "-"


def test_show_right_way_draws_one_panel_per_attribute():
    import matplotlib.pyplot as plt
    t = pd.concat([_table(["m"], a).assign(k=[5, 1], n_movable=[10, 10], change=[0.3, 0.0])
                   for a in ("smile", "glasses")])
    fig = show_right_way({1: t, 2: t})
    assert len(fig.axes) == 2
    plt.close(fig)


def test_summarize_samples_against_numpy():
    s = _run(0, {"m": 0.2}).assign(pixel_change=np.linspace(0.1, 0.2, 30))
    s.loc[s["sample"] % 4 == 0, "movable"] = False
    faces = range(5, 17)
    out = summarize_samples(s, "smile", "m", faces=faces)
    sel = s[s["sample"].isin(faces)]
    mov = sel[sel.movable]
    assert out["faces"] == 12 and out["n_movable"] == len(mov) and out["k"] == int(mov.right_way.sum())
    assert out["change"] == pytest.approx(mov.change.mean(), abs=1e-6)
    assert out["pixel_change"] == pytest.approx(sel.pixel_change.mean(), abs=1e-6)
    with pytest.raises(ValueError, match="not among"):
        summarize_samples(s, "smile", "m", faces=[99])
    with pytest.raises(ValueError, match="no samples"):
        summarize_samples(s, "glasses", "m")


@pytest.mark.slow  # a full-size U-Net or a training run: `make test` runs it, `make check` does not
def test_measure_choice_repeats_the_compared_row(bench):
    x = torch.randn(5, *bench.model.sample_shape, generator=gen(3))
    table, smp = compare_methods(bench, {"smile": 1.0}, x[:2], x[2:], methods=["random"], samples=True,
                                 progress=False)
    row = table.iloc[0]
    live, live_smp = measure_choice(bench, "smile", 1.0, "random", row.choice, row.c, x[2:])
    assert live["c"] == row.c and live["change"] == pytest.approx(row.change, abs=1e-5)
    np.testing.assert_allclose(live_smp.change.to_numpy(), smp.change.to_numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="choice must be one of"):
        measure_choice(bench, "smile", 1.0, "random", "nope", 1.0, x[2:])
    with pytest.raises(TypeError, match="Workbench"):
        measure_choice(bench.model, "smile", 1.0, "random", "+r_1", 1.0, x[2:])


def _leaks(seed: int, shifts: dict, attr: str = "smile", n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"attr": attr, "method": m, "sample": range(n),
                                    "leak": 0.2 + d + 0.02 * rng.standard_normal(n)}) for m, d in shifts.items()],
                     ignore_index=True)


def test_leakage_tests_follow_scipy_and_need_both_runs():
    shifts = {"less": -0.03, "more": 0.03, "same": 0.0, "random (1)": 0.0}
    r1 = _leaks(0, shifts)
    r2 = _leaks(1, shifts | {"more": 0.0})  # "more" leaks more in run 1 only
    out = leakage_tests(_table(["less", "more", "same"]), [r1, r2]).set_index("method")
    for r, run in enumerate((r1, r2), 1):
        for m in ("less", "more", "same"):
            d = run[run.method == m].leak.to_numpy() - run[run.method == "random (1)"].leak.to_numpy()
            assert out.loc[m, f"p_{r}"] == pytest.approx(wilcoxon(d).pvalue, rel=1e-6)
            assert out.loc[m, f"diff_{r}"] == pytest.approx(d.mean())
            want = "-" if wilcoxon(d).pvalue >= 0.05 / 3 else ("less" if d.mean() < 0 else "more")
            assert out.loc[m, f"shift_{r}"] == want
    assert out.loc["less", "verdict"] == "less in both runs"
    assert out.loc["more", "verdict"] == "one run only" and out.loc["same", "verdict"] == "-"
    assert out.attrs["alpha"] == pytest.approx(0.05 / 3)
    with pytest.raises(ValueError, match="leak"):
        leakage_tests(_table(["less"]), [r1.drop(columns="leak"), r2])
    with pytest.raises(ValueError, match="two runs"):
        leakage_tests(_table(["less"]), [r1])


def test_strength_at_budget_spans_runs_and_attributes():
    t1 = pd.DataFrame({"attr": ["smile", "glasses", "smile"], "method": ["m", "m", "r"], "c": [2.0, 7.0, 70.0]})
    t2 = t1.assign(c=[0.5, 3.0, 90.0])
    out = strength_at_budget([t1, t2]).set_index("method")
    both = pd.concat([t1, t2])
    for m in ("m", "r"):
        assert out.loc[m, "c_min"] == both[both.method == m].c.min()
        assert out.loc[m, "c_max"] == both[both.method == m].c.max()


def test_right_way_table_groups_the_runs():
    t = pd.concat([_table(["a", "b"], "smile").assign(candidates=1, k=[7, 3, 2], n_movable=10,
                                                      change=[0.2, 0.5, 0.0])])
    t2 = t.assign(k=[6, 4, 5])
    out = right_way_table(t, t2, "smile")
    assert out[("", "method")].tolist() == ["b", "a"]  # sorted by run 1's change
    assert out[("run 1", "moved")].tolist() == ["3/10", "7/10"]
    assert out[("run 2", "matched random")].tolist() == ["5/10", "5/10"]


def test_the_lecture_figures_draw():
    import matplotlib.pyplot as plt
    t = pd.concat([_table(["m"], a).assign(k=[5, 1], n_movable=[10, 10], change=[0.3, 0.0], c=[2.0, 70.0])
                   for a in ("smile", "hair_color")])
    cost = pd.DataFrame({"method": ["m", "random (1)"], "leak_1": [0.2, 0.17], "manifold_1": [1.5, 0.9],
                         "leak_2": [0.2, 0.17], "manifold_2": [1.2, 0.9]})
    iv = pd.DataFrame({"attr": "smile", "method": ["m", "random (1)"] * 2, "change": [0.5, 0.0, 0.4, 0.1],
                       "lo": [0.4, -0.1, 0.3, 0.0], "hi": [0.6, 0.1, 0.5, 0.2], "run": [1, 1, 2, 2]})
    figs = [show_strengths({1: t, 2: t}), show_costs(cost), show_local_global({1: t, 2: t}),
            show_run_intervals(iv)]
    assert [len(f.axes) for f in figs] == [1, 2, 1, 1]
    labels = [x.get_text() for x in figs[3].axes[0].get_legend().get_texts()]
    assert "run 2" in labels and not any("seed" in x for x in labels)
    for f in figs:
        plt.close(f)
    with pytest.raises(ValueError, match="leak_r"):
        show_costs(cost.drop(columns=["leak_1", "leak_2"]))
