"""latentlab.metrics on synthetic cases with known answers: a stand-in probe that reads attributes
as linear functions of the pixels, exactly linear and random edits, and sklearn's R^2."""
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import latentlab as ll
from helpers import LinearProbe, gen
from latentlab.metrics import additivity_error, measure_edit, right_way, scaling_r2


def test_right_way_rules():
    # continuous: movable when more than 0.1 smile units (5 % of the range) from the goal
    movable, moved = right_way(torch.tensor([0.0, 0.0, 0.95, -0.5]), torch.tensor([0.3, 0.05, 1.0, -0.7]), "smile", 1.0)
    assert movable.tolist() == [True, True, False, True] and moved.tolist() == [True, False, False, False]
    # binary: movable when on the other side of 0.5, moved when it crossed
    movable, moved = right_way(torch.tensor([0.1, 0.9, 0.2]), torch.tensor([0.8, 0.95, 0.4]), "glasses", 1.0)
    assert movable.tolist() == [True, False, True] and moved.tolist() == [True, False, False]


def test_an_exactly_linear_edit_has_r2_one_and_changes_scale():
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    x_T = torch.randn(6, 3, 32, 32, generator=gen(1))
    base = torch.tanh(torch.randn(6, 3, 32, 32, generator=gen(2)))
    v = torch.randn(3, 32, 32, generator=gen(3)) * 0.01
    scales = [0.0, 0.5, 1.0, 2.0, 3.0]
    changes = [measure_edit(model, x_T, None, attr="smile", goal=1.0, probe=probe, base=base, x0_edit=base + c * v
                            ).delta["smile"].mean().item() for c in scales]
    assert scaling_r2(scales, changes) == pytest.approx(1.0, abs=1e-9)
    r = measure_edit(model, None, None, attr="smile", goal=1.0, probe=probe, base=base, x0_edit=base + 2 * v)
    expected = (probe(base + 2 * v)["smile"] - probe(base)["smile"])
    torch.testing.assert_close(r.delta["smile"], expected)
    assert r.pixel_change == pytest.approx((2 * v).pow(2).mean().sqrt().item(), rel=1e-5)


def test_a_random_edit_moves_half_the_movable_samples_the_right_way():
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    n = 2000
    base = 0.3 * torch.randn(n, 3, 32, 32, generator=gen(4))
    edited = base + 0.3 * torch.randn(n, 3, 32, 32, generator=gen(5))  # a different random direction per sample
    r = measure_edit(model, torch.zeros(n, 3, 32, 32), None, attr="hair_color", goal=1.0, probe=probe, base=base,
                     x0_edit=edited)
    assert r.n_movable > 1000
    assert 0.3 < r.right_way < 0.7  # moved by more than the threshold towards the goal: about half of those that moved at all


def test_scaling_r2_equals_sklearn():
    c = torch.linspace(0, 2, 9, dtype=torch.float64)
    y = 0.3 * c + 0.1 * torch.randn(9, generator=gen(6), dtype=torch.float64)
    fit = LinearRegression().fit(c[:, None].numpy(), y.numpy())
    assert scaling_r2(c, y) == pytest.approx(r2_score(y.numpy(), fit.predict(c[:, None].numpy())), abs=1e-9)
    with pytest.raises(ValueError, match="at least 3"):
        scaling_r2([0, 1], [0, 1])


def test_additivity_error_against_hand_computation():
    z = {k: torch.zeros(2) for k in ll.ATTRIBUTES}
    a, b, ab = dict(z), dict(z), dict(z)
    a["smile"] = torch.tensor([0.4, 0.4])  # 0.2 of smile's range
    b["hair_color"] = torch.tensor([0.2, 0.2])
    ab["smile"], ab["hair_color"] = torch.tensor([0.4, 0.4]), torch.tensor([0.1, 0.1])
    # sum of effects: (0.2, 0.2) per sample; together: (0.2, 0.1): error 0.1 / sqrt(0.08) per sample
    assert additivity_error(a, b, ab) == pytest.approx(0.1 / 0.08**0.5)
    with pytest.raises(ValueError, match="missing"):
        additivity_error({"smile": torch.zeros(2)}, b, ab)


@pytest.mark.parametrize("kwargs, match", [
    (dict(attr="beard", goal=1.0), "attr must be one of"),
    (dict(attr="smile", goal=2.0), r"goal must lie in smile's range \[-1.0, 1.0\]"),
    (dict(attr="glasses", goal=0.5), "goal must be 0 or 1 for the binary attribute glasses"),
    (dict(attr="smile"), "attr and goal go together"),
])
def test_measure_edit_bad_input(kwargs, match):
    model = ll.tiny_model(sample_size=32)
    with pytest.raises(ValueError, match=match):
        measure_edit(model, torch.zeros(2, 3, 32, 32), torch.zeros(model.h_shape), probe=LinearProbe(), **kwargs)


def test_measure_edit_samples_with_and_without_the_edit():
    model = ll.tiny_model(sample_size=32)
    x_T = torch.randn(2, 3, 32, 32, generator=gen(7))
    dh = torch.randn(model.h_shape, generator=gen(8))
    r = measure_edit(model, x_T, dh, steps=3, t_edit=300, probe=LinearProbe())
    torch.testing.assert_close(r.x0, ll.ddim_sample(model, x_T, 3, progress=False))
    torch.testing.assert_close(r.x0_edit, ll.ddim_sample(model, x_T, 3, dh=dh, t_edit=300, progress=False))
    with pytest.raises(ValueError, match="no right way"):
        r.right_way


def test_claim_helpers_accept_precomputed_unedited_samples():
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    x_T = torch.randn(3, 3, 32, 32, generator=gen(9))
    base = ll.ddim_sample(model, x_T, 3, progress=False)
    dh = torch.randn(model.h_shape, generator=gen(10))
    a = ll.asymmetry(model, x_T, dh, attr="smile", goal=1.0, probe=probe, steps=3, base=base)
    torch.testing.assert_close(a["symmetric"].x0_edit, ll.ddim_sample(model, x_T, 3, dh=dh, asymmetric=False, progress=False))
    rows = ll.sweep(model, x_T, dh, "t_edit", [0, 500], attr="smile", goal=1.0, probe=probe, steps=3, base=base, progress=False)
    assert [r["t_edit"] for r in rows] == [0, 500]
    s = ll.scaling(model, x_T, dh, [0.0, 1.0, 2.0], attr="smile", goal=1.0, probe=probe, steps=3, base=base, progress=False)
    assert s["change"][0] == 0.0
    torch.testing.assert_close(s["results"][2].x0_edit, ll.ddim_sample(model, x_T, 3, dh=2.0 * dh, progress=False))


def test_mcnemar_against_the_binomial_by_hand():
    from latentlab.metrics import mcnemar
    a = torch.tensor([True, True, True, False, True, False])
    b = torch.tensor([False, False, False, True, True, False])
    assert mcnemar(a, b) == pytest.approx(0.625)  # 3 discordant for a, 1 for b: 2 * P(X <= 1 | Bin(4, 1/2)) = 2 * 5/16
    assert mcnemar(a, a) == 1.0
    with pytest.raises(ValueError, match="same faces"):
        mcnemar(a, b[:3])
