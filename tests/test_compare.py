"""The comparison protocol on a synthetic case with a known best method: a stand-in probe linear in the
pixels, a "sampler" x_T -> tanh(x_T), one method whose candidates push along the probe's own weights
for the attribute (the best possible direction) and one that pushes along random pixels."""
import pytest
import torch

import latentlab as ll
from helpers import LinearProbe, gen
from latentlab.compare import choose_and_scale, compare_methods

ATTR = "hair_color"


def setting():
    probe = LinearProbe()
    j = list(ll.ATTRIBUTES).index(ATTR)
    w = probe.w.detach()[j].reshape(3, 32, 32)
    w = w / w.pow(2).mean().sqrt()  # unit RMS: pixel change = c exactly
    r = torch.randn(3, 32, 32, generator=gen(1))
    r = r / r.pow(2).mean().sqrt()
    methods = {
        "probe weights": lambda attr, goal: {"+w": lambda x, c: torch.tanh(x) + c * w, "-w": lambda x, c: torch.tanh(x) - c * w},
        "random": lambda attr, goal: {"r": lambda x, c: torch.tanh(x) + c * r},
        "nothing for glasses": lambda attr, goal: {} if attr == "glasses" else {"r": lambda x, c: torch.tanh(x) + c * r},
    }
    x_calib = torch.randn(64, 3, 32, 32, generator=gen(2))
    x_test = torch.randn(128, 3, 32, 32, generator=gen(3))
    return probe, methods, x_calib, x_test


def test_the_known_best_candidate_is_chosen_and_scaled_to_the_budget():
    probe, methods, x_calib, _ = setting()
    label, c, changes = choose_and_scale(methods["probe weights"](ATTR, 1.0), x_calib, torch.tanh(x_calib), ATTR, 1.0,
                                         probe, pixel_budget=0.05)
    assert label == "+w" and changes["+w"] > 0 > changes["-w"]
    assert c == pytest.approx(0.05, rel=1e-4)  # unit-RMS direction: the budget is the strength


def test_candidates_are_compared_at_the_budget_not_at_c_1():
    """A pure but tiny direction against a large one that is mostly noise: at c = 1 the large one moves
    the attribute more, at the same pixel change the pure one does (the rule must pick it)."""
    probe, _, x_calib, _ = setting()
    j = list(ll.ATTRIBUTES).index(ATTR)
    w = probe.w.detach()[j].reshape(3, 32, 32)
    w = w / w.pow(2).mean().sqrt()
    r = torch.randn(3, 32, 32, generator=gen(9))
    r = r / r.pow(2).mean().sqrt()
    candidates = {"large, mostly noise": lambda x, c: torch.tanh(x) + c * (0.2 * w + 2.0 * r),
                  "tiny, pure": lambda x, c: torch.tanh(x) + c * 0.01 * w}
    label, c, changes = choose_and_scale(candidates, x_calib, torch.tanh(x_calib), ATTR, 1.0, probe, pixel_budget=0.05)
    assert label == "tiny, pure" and changes["tiny, pure"] > changes["large, mostly noise"]
    assert c == pytest.approx(5.0, rel=1e-3)  # 0.01 c = 0.05


def test_a_sub_linear_candidate_is_refined_to_the_budget():
    """Pixel change sqrt(c): one proportional step from c = 1 overshoots c; the secant on logs recovers."""
    probe, _, x_calib, _ = setting()
    r = torch.randn(3, 32, 32, generator=gen(10))
    r = r / r.pow(2).mean().sqrt()
    base = torch.tanh(x_calib)
    label, c, _ = choose_and_scale({"sqrt": lambda x, c: torch.tanh(x) + c ** 0.5 * r}, x_calib, base, ATTR, 1.0,
                                   probe, pixel_budget=0.05)
    assert c == pytest.approx(0.05 ** 2, rel=0.04)  # independent: sqrt(c) = 0.05 by construction


def test_compare_methods_ranks_the_known_best_first():
    probe, methods, x_calib, x_test = setting()
    model = ll.tiny_model(sample_size=32)
    df = compare_methods(model, methods, {ATTR: 1.0, "glasses": 1.0}, x_calib, x_test, pixel_budget=0.05, probe=probe,
                         base_calib=torch.tanh(x_calib), base_test=torch.tanh(x_test), progress=False)
    assert len(df) == 5  # 2 attributes x 3 methods, less the one with nothing for glasses
    hair = df[df.attr == ATTR].set_index("method")
    assert hair.loc["probe weights", "choice"] == "+w"
    assert hair.loc["probe weights", "change"] > hair.loc["random", "change"]
    assert hair.loc["probe weights", "right_way"] > hair.loc["random", "right_way"]
    assert (df.pixel_change - 0.05).abs().max() < 2e-3  # every method edits by the same budget


def test_bad_input():
    probe, methods, x_calib, x_test = setting()
    with pytest.raises(ValueError, match="at least one candidate"):
        choose_and_scale({}, x_calib, torch.tanh(x_calib), ATTR, 1.0, probe, 0.05)
    with pytest.raises(ValueError, match="pixel_budget must be a positive"):
        choose_and_scale(methods["random"](ATTR, 1.0), x_calib, torch.tanh(x_calib), ATTR, 1.0, probe, 0.0)
    with pytest.raises(ValueError, match="no candidate changes any pixel"):
        choose_and_scale({"zero": lambda x, c: torch.tanh(x)}, x_calib, torch.tanh(x_calib), ATTR, 1.0, probe, 0.05)
    with pytest.raises(ValueError, match="goal must lie in"):
        compare_methods(ll.tiny_model(sample_size=32), methods, {ATTR: 2.0}, x_calib, x_test, probe=probe, progress=False)


def test_standard_methods_run_end_to_end_on_a_tiny_model():
    from latentlab.compare import standard_methods
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    methods = standard_methods(model, probe=probe, steps=2, n_trajectories=8, k=2, k_pca=2, k_transport=3, t_park=500)
    x_calib, x_test = torch.randn(3, 3, 32, 32, generator=gen(4)), torch.randn(4, 3, 32, 32, generator=gen(5))
    df = compare_methods(model, methods, {"smile": 1.0}, x_calib, x_test, pixel_budget=0.05, steps=2, probe=probe,
                         progress=False)
    # the shipped editors belong to the bundled model: the other eight methods give a row each
    assert sorted(df.method) == sorted(m for m in methods if not m.startswith("Asyrp"))
    assert (df.pixel_change - 0.05).abs().max() < 0.03


def test_per_sample_rows_add_up_to_the_table():
    probe, methods, x_calib, x_test = setting()
    model = ll.tiny_model(sample_size=32)
    df, per = compare_methods(model, methods, {ATTR: 1.0}, x_calib, x_test, pixel_budget=0.05, probe=probe,
                              base_calib=torch.tanh(x_calib), base_test=torch.tanh(x_test), samples=True, progress=False)
    assert len(per) == 3 * len(x_test) and set(per.method) == set(df.method)
    for _, row in df.iterrows():
        s = per[per.method == row.method]
        # the probe's readings, recomputed here independently of measure_edit's summary
        lo, hi = ll.ATTRIBUTES[ATTR]
        before = probe(torch.tanh(x_test))[ATTR].detach()
        assert s.movable.sum() == row.n_movable == int((1.0 - before > 0.05 * (hi - lo)).sum())
        assert s[s.movable].change.mean() == pytest.approx(row.change, abs=1e-3)
        assert s.right_way.sum() == row.k
        assert s.pixel_change.mean() == pytest.approx(row.pixel_change, abs=1e-3)


def _samples(change_a, change_b, ok_a, ok_b, movable=None):
    import pandas as pd
    n = len(change_a)
    movable = [True] * n if movable is None else movable
    rows = [pd.DataFrame({"attr": "smile", "method": m, "sample": range(n), "movable": movable, "right_way": ok,
                          "change": ch}) for m, ch, ok in (("a", change_a, ok_a), ("b", change_b, ok_b))]
    return pd.concat(rows, ignore_index=True)


def test_intervals_match_the_normal_approximation_and_skip_faces_that_cannot_move():
    from latentlab.compare import intervals
    x = torch.randn(400, generator=gen(7)).double().numpy()
    s = _samples(list(x) + [100.0], [0.0] * 401, [True] * 401, [False] * 401, movable=[True] * 400 + [False])
    r = intervals(s).set_index("method").loc["a"]
    assert r.n == 400 and r.change == pytest.approx(x.mean(), abs=1e-4)  # the immovable outlier is left out
    half = float(1.96 * x.std(ddof=1) / 400 ** 0.5)
    assert r.lo == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert r.hi == pytest.approx(x.mean() + half, abs=0.15 * half)
    with pytest.raises(ValueError, match="level must lie in"):
        intervals(s, level=95)


def test_paired_test_against_closed_forms():
    from latentlab.compare import paired_test
    base = torch.randn(20, generator=gen(8)).tolist()
    s = _samples([v + 0.5 + 0.01 * i for i, v in enumerate(base)], base, [True] * 20, [False] * 20)
    r = paired_test(s, "smile", "a", "b")
    assert r["n"] == 20 and r["mean_diff"] == pytest.approx(0.5 + 0.01 * 9.5)
    assert r["p_wilcoxon"] == pytest.approx(2 / 2**20)  # every difference positive: the exact two-sided tail
    assert (r["k_a"], r["k_b"]) == (20, 0) and r["p_mcnemar"] == pytest.approx(2 / 2**20)
    same = paired_test(_samples(base, base, [True] * 20, [True] * 20), "smile", "a", "b")
    assert same["p_wilcoxon"] == 1.0 and same["p_mcnemar"] == 1.0
    with pytest.raises(ValueError, match="method 'c' has no samples"):
        paired_test(s, "smile", "a", "c")
    with pytest.raises(ValueError, match="attr 'glasses' is not in these samples"):
        paired_test(s, "glasses", "a", "b")


def test_a_binary_attribute_is_tested_on_crossings_not_on_nudges():
    """Glasses is a probability: 20 tiny positive nudges and no face crossing 0.5 is no effect."""
    from latentlab.compare import paired_test
    s = _samples([1e-3 * (i + 1) for i in range(20)], [0.0] * 20, [False] * 20, [False] * 20)
    s["attr"] = "glasses"
    r = paired_test(s, "glasses", "a", "b")
    assert r["p_wilcoxon"] < 1e-4 and r["test"] == "McNemar" and r["p"] == 1.0
    s["attr"] = "smile"
    assert paired_test(s, "smile", "a", "b")["p"] == r["p_wilcoxon"]


def test_manifold_shift_against_a_known_ratio():
    import numpy as np
    import pandas as pd
    from latentlab.compare import manifold_shift
    before = np.exp(torch.randn(30, generator=gen(11)).double().numpy())
    face = range(30)
    s = pd.concat([pd.DataFrame({"method": "off", "sample": face, "manifold_before": before, "manifold_after": 1.5 * before}),
                   pd.DataFrame({"method": "same", "sample": face, "manifold_before": before, "manifold_after": before})])
    twice = pd.concat([s, s])  # the same faces edited for two attributes: still 30 faces, not 60
    assert (manifold_shift(twice).n == 30).all()
    m = manifold_shift(s).set_index("method")
    assert m.loc["off", "median_ratio"] == pytest.approx(1.5) and m.loc["off", "p"] < 1e-4  # all 30 the same sign
    assert m.loc["same", "median_ratio"] == 1.0 and m.loc["same", "p"] == 1.0
    with pytest.raises(ValueError, match="columns"):
        manifold_shift(s.drop(columns="manifold_after"))
