"""The comparison protocol against cases with known answers: a stand-in probe linear in the pixels, a
"sampler" x_T -> tanh(x_T), a method whose candidates push along the probe's own weights for the
attribute (the best possible direction) and one that pushes along random pixels; the registry's
methods end to end on a tiny model, their pixel change measured again by hand; the matched random
rows; and the judge's columns recomputed from a direct call of the judge on the edited faces."""
import pytest
import torch

import latentlab as ll
from latentlab.compare import choose_and_scale, compare_methods, matched_baseline
from latentlab.methods import METHODS, Workbench

from helpers import LinearProbe, gen

ATTR = "hair_color"


def unit(v):
    return v / v.pow(2).mean().sqrt()  # unit RMS: pixel change = c exactly


def weights(probe, attr=ATTR):
    return unit(probe.w.detach()[list(ll.ATTRIBUTES).index(attr)].reshape(3, 32, 32))


def setting():
    probe = LinearProbe()
    w = weights(probe)
    r = unit(torch.randn(3, 32, 32, generator=gen(1)))
    push = lambda d: lambda x, c: torch.tanh(x) + c * d  # noqa: E731
    methods = {
        "probe weights": lambda attr, goal: {"+w": push(w), "-w": push(-w)},
        "pixels": lambda attr, goal: {"r": push(r)},
        "nothing for glasses": lambda attr, goal: {} if attr == "glasses" else {"r": push(r)},
    }
    x_calib = torch.randn(64, 3, 32, 32, generator=gen(2))
    x_test = torch.randn(128, 3, 32, 32, generator=gen(3))
    return probe, methods, x_calib, x_test


def tanh_bases(x_calib, x_test):
    return {"base_calib": torch.tanh(x_calib), "base_test": torch.tanh(x_test)}


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
    w = weights(probe)
    r = unit(torch.randn(3, 32, 32, generator=gen(9)))
    candidates = {"large, mostly noise": lambda x, c: torch.tanh(x) + c * (0.2 * w + 2.0 * r),
                  "tiny, pure": lambda x, c: torch.tanh(x) + c * 0.01 * w}
    label, c, changes = choose_and_scale(candidates, x_calib, torch.tanh(x_calib), ATTR, 1.0, probe, pixel_budget=0.05)
    assert label == "tiny, pure" and changes["tiny, pure"] > changes["large, mostly noise"]
    assert c == pytest.approx(5.0, rel=1e-3)  # 0.01 c = 0.05


def test_a_sub_linear_candidate_is_refined_to_the_budget():
    """Pixel change sqrt(c): one proportional step from c = 1 overshoots c; the secant on logs recovers."""
    probe, _, x_calib, _ = setting()
    r = unit(torch.randn(3, 32, 32, generator=gen(10)))
    label, c, _ = choose_and_scale({"sqrt": lambda x, c: torch.tanh(x) + c ** 0.5 * r}, x_calib, torch.tanh(x_calib),
                                   ATTR, 1.0, probe, pixel_budget=0.05)
    assert c == pytest.approx(0.05 ** 2, rel=0.04)  # independent: sqrt(c) = 0.05 by construction


def test_compare_methods_ranks_the_known_best_first():
    probe, methods, x_calib, x_test = setting()
    df = compare_methods(ll.tiny_model(sample_size=32), {ATTR: 1.0, "glasses": 1.0}, x_calib, x_test, methods=[],
                         extra=methods, pixel_budget=0.05, probe=probe, progress=False, **tanh_bases(x_calib, x_test))
    assert len(df) == 5  # 2 attributes x 3 methods, less the one with nothing for glasses
    assert (df.baseline == "").all()  # random not compared: no matched baseline
    hair = df[df.attr == ATTR].set_index("method")
    assert hair.loc["probe weights", "choice"] == "+w" and hair.loc["probe weights", "candidates"] == 2
    assert hair.loc["probe weights", "change"] > hair.loc["pixels", "change"]
    assert hair.loc["probe weights", "right_way"] > hair.loc["pixels", "right_way"]
    assert (df.pixel_change - 0.05).abs().max() < 2e-3  # every method edits by the same budget


def test_the_judge_scores_but_never_chooses():
    """Two candidates, one along the main probe's weights, one along the judge's: the main probe's is
    chosen; the judge's columns equal a direct call of the judge on the edited faces."""
    probe, judge = LinearProbe(seed=0), LinearProbe(seed=1)
    w, v = weights(probe), weights(judge)
    edits = {"main": lambda x, c: torch.tanh(x) + c * w, "judge": lambda x, c: torch.tanh(x) + c * v}
    _, _, x_calib, x_test = setting()
    df, per = compare_methods(ll.tiny_model(sample_size=32), {ATTR: 1.0}, x_calib, x_test, methods=[],
                              extra={"two": lambda attr, goal: edits}, pixel_budget=0.05, probe=probe, judge=judge,
                              samples=True, progress=False, **tanh_bases(x_calib, x_test))
    row = df.iloc[0]
    assert row.choice == "main"
    # the judge, called directly on the chosen edit at the table's strength
    base, edited = torch.tanh(x_test), torch.tanh(x_test) + row.c * w
    before, after = judge(base)[ATTR].detach(), judge(edited)[ATTR].detach()
    lo, hi = ll.ATTRIBUTES[ATTR]
    movable = (1.0 - before) > 0.05 * (hi - lo)
    towards = (after - before) * torch.sign(1.0 - before)
    assert row.judge_n_movable == int(movable.sum())
    assert row.judge_change == pytest.approx(float(towards[movable].mean()), abs=1e-3)
    assert row.judge_k == int((movable & (towards > 0.05 * (hi - lo))).sum())
    leaks = {a: float((judge(edited)[a] - judge(base)[a]).detach().abs().mean() / (r.high - r.low))
             for a, r in ll.ATTRIBUTES.items() if a != ATTR}
    assert row.judge_worst_leak_attr == max(leaks, key=leaks.get)
    assert row.judge_worst_leak == pytest.approx(max(leaks.values()), abs=1e-3)
    assert per.judge_change.to_numpy() == pytest.approx(towards.numpy(), abs=1e-5)
    assert per.judge_movable.tolist() == movable.tolist()
    assert row.change != pytest.approx(row.judge_change, abs=1e-3)  # two instruments, two readings


def registry_inputs():
    """A workbench on a tiny U-Net, 3 calibration and 2 held-out faces. The on-manifold error renders
    faces of 32 px at least; three levels put the attention at 8 px, the cheapest tiny U-Net at 32 px
    (LOCO's per-face power iterations dominate the run)."""
    bench = Workbench(ll.tiny_model(sample_size=32, levels=3), probe=LinearProbe(), steps=2, seed=0)
    return bench, torch.randn(3, 3, 32, 32, generator=gen(4)), torch.randn(2, 3, 32, 32, generator=gen(5))


def registry_run(tmp_path=None, **options):
    bench, x_calib, x_test = registry_inputs()
    df = compare_methods(bench, {"smile": 1.0}, x_calib, x_test, pixel_budget=0.05, progress=False,
                         checkpoint=tmp_path, **options)
    return bench, x_calib, x_test, df


# Park's guidance rules take two thirds of a full run even here (16 guidance steps, 8 pullback vectors
# per face); their candidates are tested in test_methods.py, and "Park pullback (move)" stands for them
SLOW = ("Park pullback (guidance)", "Park transported")


@pytest.mark.slow
def test_the_registry_runs_end_to_end_with_matched_random_rows(tmp_path):
    bench, x_calib, _, df = registry_run(tmp_path, methods=[m for m in METHODS if m not in SLOW])
    rows = df.set_index("method")
    # the shipped editors, autoencoder and sliders belong to the bundled model: every other method gives a row
    shipped = ("Asyrp dh", "Asyrp f", "SAE feature", "LoRA slider")
    methods = [m for m in METHODS if m not in shipped and m != "random" and m not in SLOW]
    assert [m for m in df.method if not m.startswith("random")] == methods
    # how many candidates each offers, from the registry's settings: one for a "goal" method, 2k for "both"
    expect = {"Haas PCA": 10, "Haas Jacobian": 6, "Park pullback (move)": 6}
    for m in methods:
        assert rows.loc[m, "candidates"] == expect.get(m, 1)
        assert rows.loc[m, "baseline"] == f"random ({expect.get(m, 1)})"
    # one random row per distinct count, each with exactly n candidates
    assert sorted(m for m in df.method if m.startswith("random")) == ["random (1)", "random (10)", "random (6)"]
    for n in (1, 6, 10):
        assert rows.loc[f"random ({n})", "candidates"] == n and rows.loc[f"random ({n})", "baseline"] == ""
    assert rows.loc["random (1)", "choice"] == "+r_1"  # one candidate: nothing to choose
    # the protocol's pixel change on the calibration faces, measured again here with plain DDIM
    base = ll.ddim_sample(bench.model, x_calib, 2, progress=False)
    for m in ("mean difference", "Haas PCA", "Park pullback (move)", "random (6)"):
        name = "random" if m.startswith("random") else m
        n = {"n": 6} if name == "random" else {}
        edit = bench.candidates(name, "smile", 1.0, **n)[rows.loc[m, "choice"]]
        x0 = edit(x_calib, float(rows.loc[m, "c"]))
        rms = ((x0 - base) ** 2).flatten(1).mean(1).sqrt().mean()
        assert float(rms) == pytest.approx(0.05, rel=0.02), m


def test_a_checkpointed_comparison_resumes_without_editing_again(tmp_path):
    _, _, _, first = registry_run(tmp_path, methods=["mean difference", "random"])

    def broken(*args, **kwargs):
        raise AssertionError("every row is in the checkpoint: nothing may run again")
    bench, x_calib, x_test = registry_inputs()
    bench.candidates = broken
    again = compare_methods(bench, {"smile": 1.0}, x_calib, x_test, methods=["mean difference", "random"],
                            pixel_budget=0.05, progress=False, checkpoint=tmp_path)
    assert again.drop(columns="seconds").equals(first.drop(columns="seconds"))
    # other inputs (here other held-out faces) are another comparison: nothing is reused
    with pytest.raises(AssertionError, match="nothing may run again"):
        compare_methods(bench, {"smile": 1.0}, x_calib, x_test + 1, methods=["mean difference"], pixel_budget=0.05,
                        progress=False, checkpoint=tmp_path)


def test_per_sample_rows_add_up_to_the_table():
    probe, methods, x_calib, x_test = setting()
    df, per = compare_methods(ll.tiny_model(sample_size=32), {ATTR: 1.0}, x_calib, x_test, methods=[], extra=methods,
                              pixel_budget=0.05, probe=probe, samples=True, progress=False,
                              **tanh_bases(x_calib, x_test))
    assert len(per) == 3 * len(x_test) and set(per.method) == set(df.method)
    lo, hi = ll.ATTRIBUTES[ATTR]
    before = probe(torch.tanh(x_test))[ATTR].detach()  # the probe's readings, recomputed here
    for _, row in df.iterrows():
        s = per[per.method == row.method]
        assert s.movable.sum() == row.n_movable == int((1.0 - before > 0.05 * (hi - lo)).sum())
        assert s[s.movable].change.mean() == pytest.approx(row.change, abs=1e-3)
        assert s.right_way.sum() == row.k
        assert s.pixel_change.mean() == pytest.approx(row.pixel_change, abs=1e-3)


def test_bad_input():
    probe, methods, x_calib, x_test = setting()
    model = ll.tiny_model(sample_size=32)
    base = torch.tanh(x_calib)
    with pytest.raises(ValueError, match="at least one edit"):
        choose_and_scale({}, x_calib, base, ATTR, 1.0, probe, 0.05)
    with pytest.raises(ValueError, match="pixel_budget must be a positive"):
        choose_and_scale(methods["pixels"](ATTR, 1.0), x_calib, base, ATTR, 1.0, probe, 0.0)
    with pytest.raises(ValueError, match="no candidate changes any pixel"):
        choose_and_scale({"zero": lambda x, c: torch.tanh(x)}, x_calib, base, ATTR, 1.0, probe, 0.05)
    with pytest.raises(ValueError, match="goal must lie in"):
        compare_methods(model, {ATTR: 2.0}, x_calib, x_test, methods=[], extra=methods, probe=probe, progress=False)
    with pytest.raises(ValueError, match="method must be one of"):
        compare_methods(model, {ATTR: 1.0}, x_calib, x_test, methods=["PCA"], probe=probe, progress=False)
    with pytest.raises(ValueError, match="must not reuse a registry name"):
        compare_methods(model, {ATTR: 1.0}, x_calib, x_test, extra={"random": methods["pixels"]}, probe=probe,
                        progress=False)
    with pytest.raises(TypeError, match="bench must be a methods.Workbench or a Model"):
        compare_methods("model", {ATTR: 1.0}, x_calib, x_test, probe=probe, progress=False)
    with pytest.raises(ValueError, match="steps and seed belong to the workbench"):
        compare_methods(Workbench(model, probe=probe, steps=2), {ATTR: 1.0}, x_calib, x_test, steps=3, progress=False)
    with pytest.raises(ValueError, match="n must be a positive number"):
        matched_baseline(0)


def test_shipped_results_keeps_the_chosen_methods_and_their_matched_random_rows():
    import pandas as pd

    from latentlab.compare import SHIPPED_RESULTS, shipped_results

    raw = pd.read_csv(SHIPPED_RESULTS / "table_seed0.csv").fillna("")
    table, samples = shipped_results(0, methods=["paired", "Haas PCA"])
    want = raw[raw.method.isin(["paired", "Haas PCA"])]
    expected = set(zip(want.attr, want.method)) | set(zip(want.attr, want.baseline))
    assert set(zip(table.attr, table.method)) == expected
    assert set(zip(samples.attr, samples.method)) == expected
    with pytest.raises(ValueError, match="methods must be methods of the shipped run"):
        shipped_results(0, methods=["no such method"])
