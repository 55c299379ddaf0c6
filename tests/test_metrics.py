"""latentlab.metrics on synthetic cases with known answers: a stand-in probe that reads attributes
as linear functions of the pixels, exactly linear and random edits, and sklearn's R^2."""
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import latentlab as ll
from latentlab.metrics import (
    additivity_error,
    in_range_units,
    largest_changes,
    leakage,
    measure_edit,
    pixel_change,
    read_edit,
    right_way,
    scaling_r2,
    selectivity,
)

from helpers import LinearProbe, gen


def test_right_way_rules():
    # continuous: movable when more than 0.1 smile units (5 % of the range) from the goal
    movable, moved = right_way(torch.tensor([0.0, 0.0, 0.95, -0.5]), torch.tensor([0.3, 0.05, 1.0, -0.7]), "smile", 1.0)
    assert movable.tolist() == [True, True, False, True] and moved.tolist() == [True, False, False, False]
    # binary: movable when on the other side of 0.5, moved when it crossed
    movable, moved = right_way(torch.tensor([0.1, 0.9, 0.2]), torch.tensor([0.8, 0.95, 0.4]), "glasses", 1.0)
    assert movable.tolist() == [True, False, True] and moved.tolist() == [True, False, False]


def test_an_exactly_linear_edit_has_r2_one_and_changes_scale():
    probe = LinearProbe()
    base = torch.tanh(torch.randn(6, 3, 32, 32, generator=gen(2)))
    v = torch.randn(3, 32, 32, generator=gen(3)) * 0.01
    scales = [0.0, 0.5, 1.0, 2.0, 3.0]
    changes = [read_edit(base, base + c * v, attr="smile", goal=1.0, probe=probe).delta["smile"].mean().item()
               for c in scales]
    assert scaling_r2(scales, changes) == pytest.approx(1.0, abs=1e-9)
    r = read_edit(base, base + 2 * v, attr="smile", goal=1.0, probe=probe)
    expected = (probe(base + 2 * v)["smile"] - probe(base)["smile"])
    torch.testing.assert_close(r.delta["smile"], expected)
    assert r.pixel_change == pytest.approx((2 * v).pow(2).mean().sqrt().item(), rel=1e-5)


def test_a_random_edit_moves_half_the_movable_samples_the_right_way():
    probe = LinearProbe()
    n = 2000
    base = 0.3 * torch.randn(n, 3, 32, 32, generator=gen(4))
    edited = base + 0.3 * torch.randn(n, 3, 32, 32, generator=gen(5))  # a different random direction per sample
    r = read_edit(base, edited, attr="hair_color", goal=1.0, probe=probe)
    assert r.n_movable > 1000
    # moved by more than the threshold towards the goal: about half of those that moved at all
    assert 0.3 < r.right_way < 0.7


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


@pytest.mark.parametrize("x0, x0_edit, match", [
    (torch.zeros(2, 3, 32, 32), torch.zeros(3, 3, 32, 32), "same shape"),
    (torch.zeros(3, 32, 32), torch.zeros(3, 32, 32), r"x0 must be an image batch \(N, C, H, W\)"),
    (torch.zeros(2, 3, 32, 32), None, "x0_edit must be an image batch"),
])
def test_read_edit_bad_input(x0, x0_edit, match):
    with pytest.raises(ValueError, match=match):
        read_edit(x0, x0_edit, probe=LinearProbe())
    with pytest.raises(ValueError, match="attr and goal go together"):
        read_edit(torch.zeros(2, 3, 32, 32), torch.zeros(2, 3, 32, 32), goal=1.0, probe=LinearProbe())


def test_measure_edit_no_longer_reads_without_sampling():
    model = ll.tiny_model(sample_size=32)
    with pytest.raises(TypeError, match="use read_edit"):
        measure_edit(model, torch.zeros(2, 3, 32, 32), None, probe=LinearProbe())
    with pytest.raises(TypeError, match="x_T must be a torch.Tensor"):
        measure_edit(model, None, torch.zeros(model.h_shape), probe=LinearProbe())


def test_measure_edit_samples_with_and_without_the_edit():
    model = ll.tiny_model(sample_size=32)
    x_T = torch.randn(2, 3, 32, 32, generator=gen(7))
    dh = torch.randn(model.h_shape, generator=gen(8))
    r = measure_edit(model, x_T, dh, steps=3, t_edit=300, probe=LinearProbe())
    torch.testing.assert_close(r.x0, ll.ddim_sample(model, x_T, 3, progress=False))
    torch.testing.assert_close(r.x0_edit, ll.ddim_sample(model, x_T, 3, dh=dh, t_edit=300, progress=False))
    read = read_edit(r.x0, r.x0_edit, probe=LinearProbe())  # the reading half alone gives the same numbers
    for k in ll.ATTRIBUTES:
        torch.testing.assert_close(read.delta[k], r.delta[k])
    torch.testing.assert_close(read.manifold_after, r.manifold_after)
    with pytest.raises(ValueError, match="no right way"):
        r.right_way


def test_claim_helpers_accept_precomputed_unedited_samples():
    model = ll.tiny_model(sample_size=32)
    probe = LinearProbe()
    x_T = torch.randn(3, 3, 32, 32, generator=gen(9))
    base = ll.ddim_sample(model, x_T, 3, progress=False)
    dh = torch.randn(model.h_shape, generator=gen(10))
    a = ll.asymmetry(model, x_T, dh, attr="smile", goal=1.0, probe=probe, steps=3, base=base)
    torch.testing.assert_close(a["symmetric"].x0_edit,
                               ll.ddim_sample(model, x_T, 3, dh=dh, asymmetric=False, progress=False))
    rows = ll.sweep(model, x_T, dh, "t_edit", [0, 500], attr="smile", goal=1.0, probe=probe, steps=3, base=base,
                    progress=False)
    assert [r["t_edit"] for r in rows] == [0, 500]
    s = ll.scaling(model, x_T, dh, [0.0, 1.0, 2.0], attr="smile", goal=1.0, probe=probe, steps=3, base=base,
                   progress=False)
    assert s["change"][0] == 0.0
    torch.testing.assert_close(s["results"][2].x0_edit, ll.ddim_sample(model, x_T, 3, dh=2.0 * dh, progress=False))


def _random_delta(n, seed):
    return {k: torch.randn(n, generator=gen(seed + j)) for j, k in enumerate(ll.ATTRIBUTES)}


def test_pixel_change_is_the_per_image_rms():
    a, b = torch.randn(4, 3, 8, 8, generator=gen(20)), torch.randn(4, 3, 8, 8, generator=gen(21))
    expected = torch.tensor([((a[i] - b[i]) ** 2).mean().sqrt().item() for i in range(4)])  # image by image
    torch.testing.assert_close(pixel_change(a, b), expected)
    assert pixel_change(a, a).eq(0).all()
    with pytest.raises(ValueError, match="same shape"):
        pixel_change(a, b[:2])


def test_range_units_leakage_and_selectivity_against_a_numpy_loop():
    import numpy as np
    delta = _random_delta(5, 30)
    span = {"smile": 2.0, "pos_x": 2.0, "pos_y": 2.0}  # written out: the ranges of ATTRIBUTES, others 1
    M = np.array([[delta[k][i].item() / span.get(k, 1.0) for k in ll.ATTRIBUTES] for i in range(5)])
    np.testing.assert_allclose(in_range_units(delta).numpy(), M, rtol=1e-6)
    j = list(ll.ATTRIBUTES).index("hair_color")
    np.testing.assert_allclose(leakage(delta, "hair_color").numpy(), np.abs(np.delete(M, j, 1)).mean(1), rtol=1e-6)
    np.testing.assert_allclose(selectivity(in_range_units(delta)).numpy(), np.abs(M).max(1) / np.abs(M).sum(1),
                               rtol=1e-6)
    np.testing.assert_allclose(selectivity(in_range_units(delta), "hair_color").numpy(),
                               np.abs(M[:, j]) / np.abs(M).sum(1), rtol=1e-6)
    # EditResult.leakage() is per attribute; averaged over the attributes it is the mean of leakage(delta, attr)
    r = read_edit(torch.zeros(5, 3, 32, 32), torch.zeros(5, 3, 32, 32), probe=LinearProbe())
    r.after = {k: r.before[k] + delta[k] for k in ll.ATTRIBUTES}
    r.attr = "hair_color"
    per_attr = r.leakage()
    assert "hair_color" not in per_attr and len(per_attr) == 10
    assert sum(per_attr.values()) / 10 == pytest.approx(leakage(r.delta, "hair_color").mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="missing"):
        leakage({"smile": torch.zeros(2)}, "smile")
    with pytest.raises(ValueError, match="attr must be one of"):
        leakage(delta, "beard")
    with pytest.raises(ValueError, match=r"changes must be a tensor \(\.\.\., 11\)"):
        selectivity(torch.zeros(3, 4))


def test_leakage_is_differentiable():
    delta = {k: v.requires_grad_() for k, v in _random_delta(3, 40).items()}
    leakage(delta, "smile").sum().backward()
    assert delta["smile"].grad is None and delta["glasses"].grad.abs().gt(0).all()  # the target takes no part


def test_largest_changes_ranks_range_fractions():
    r = {a: torch.zeros(4) for a in ll.ATTRIBUTES}
    r["smile"] = torch.tensor([0.0, 1.2, -0.4, 0.0])  # largest |change| 0.6 of its range of 2
    r["eye_size"] = torch.tensor([0.5, 0.5, 0.5, -0.2])  # -0.7 of its range of 1
    r["pos_y"] = torch.tensor([0.0, 0.2, 0.0, 0.0])  # 0.1
    assert largest_changes(r) == [("eye_size", pytest.approx(-0.7)), ("smile", pytest.approx(0.6)),
                                  ("pos_y", pytest.approx(0.1))]
    assert [a for a, _ in largest_changes(r, top=2, exclude=("eye_size",))] == ["smile", "pos_y"]
    with pytest.raises(ValueError, match="missing"):
        largest_changes({"smile": torch.zeros(2)})
    with pytest.raises(ValueError, match="reference must index"):
        largest_changes(r, reference=4)


def test_the_attribute_range_is_high_minus_low():
    for name, rng in ll.ATTRIBUTES.items():
        assert rng.span == rng[1] - rng[0] > 0, name
