"""latentlab.course.local_edits against outside oracles: the outside/inside change computed by hand with
numpy, the per-sign choice counted by hand, and the face seeds' independence of the batch."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.course.local_edits import (
    face_noise,
    loco_rows,
    loco_summary,
    loco_tests,
    outside_change,
    region_edits,
    right_way_interval,
)
from latentlab.probe import Probe, ProbeConfig


def _by_hand(x0: np.ndarray, edited: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = []
    for a, b, m in zip(x0, edited, mask):
        sq = ((b - a) ** 2).mean(0)
        ins = [sq[i, j] for i in range(m.shape[0]) for j in range(m.shape[1]) if m[i, j]]
        outs = [sq[i, j] for i in range(m.shape[0]) for j in range(m.shape[1]) if not m[i, j]]
        out.append(np.sqrt(np.mean(outs)) / np.sqrt(np.mean(ins)))
    return np.array(out)


def test_outside_change_matches_numpy_by_hand():
    g = torch.Generator().manual_seed(0)
    x0, edited = torch.randn(3, 3, 6, 5, generator=g), torch.randn(3, 3, 6, 5, generator=g)
    mask = torch.rand(3, 6, 5, generator=g) > 0.6
    got = outside_change(x0, edited, mask).numpy()
    np.testing.assert_allclose(got, _by_hand(x0.numpy(), edited.numpy(), mask.numpy()), rtol=1e-5)


def test_outside_change_is_zero_for_an_edit_inside_the_mask():
    x0 = torch.zeros(1, 3, 4, 4)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[1:3, 1:3] = True
    edited = x0 + mask.float()
    assert outside_change(x0, edited, mask).item() == 0.0


@pytest.mark.parametrize("mask", [torch.zeros(4, 4, dtype=torch.bool), torch.ones(4, 4, dtype=torch.bool),
                                  torch.ones(4, 4), torch.ones(3, 3, dtype=torch.bool)])
def test_outside_change_rejects_bad_masks(mask):
    with pytest.raises(ValueError, match="mask"):
        outside_change(torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4), mask)


def test_summary_keeps_the_sign_that_moves_more_faces():
    rows = []
    for sign, moved in ((1.0, [True, False, False]), (-1.0, [True, True, False])):
        for i, ok in enumerate(moved):
            rows.append({"attr": "smile", "method": "Park", "use": "own", "sign": sign, "movable": i < 3,
                         "moved": ok, "towards": float(ok), "leak": 0.1 * i, "outside": 1.0})
    (best,) = loco_summary(rows)
    assert (best["sign"], best["n_moved"], best["n_movable"]) == (-1.0, 2, 3)
    assert best["right_way"] == pytest.approx(2 / 3) and best["towards"] == pytest.approx(2 / 3)


def test_face_noise_is_one_generator_per_face():
    m = ll.tiny_model()
    expected = torch.randn(*m.sample_shape, generator=torch.Generator().manual_seed(7))
    assert torch.equal(face_noise(m, [5, 7])[1], expected)
    with pytest.raises(ValueError, match="seeds"):
        face_noise(m, [])


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_rows_outside_change_matches_the_edited_images():
    # 32 px for the face regions; three levels put the attention at 8 px (LOCO's products cost a third less)
    m, probe = ll.tiny_model(sample_size=32, levels=3), Probe(ProbeConfig.tiny())
    rows = loco_rows(m, probe, [0, 1], attrs=["smile"], methods=["LOCO", "random"], steps=4, progress=False)
    assert {(r["method"], r["use"]) for r in rows} == {(a, b) for a in ("LOCO", "random") for b in ("own", "transfer")}
    assert sum(r["use"] == "transfer" for r in rows) == 4  # the reference face has no transfer rows
    images, masks = region_edits(m, probe, [0, 1], "smile", {"LOCO": -1.0}, steps=4)
    want = _by_hand(images["original"].numpy(), images["LOCO"].numpy(), masks.numpy())
    got = [r["outside"] for r in rows if r["method"] == "LOCO" and r["use"] == "own" and r["sign"] == -1.0]
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_rows_reject_unknown_attributes_and_methods():
    m, probe = ll.tiny_model(sample_size=32), Probe(ProbeConfig.tiny())
    with pytest.raises(ValueError, match="attrs"):
        loco_rows(m, probe, [0], attrs=["hair_color"], progress=False)
    with pytest.raises(ValueError, match="methods"):
        loco_rows(m, probe, [0], methods=["Asyrp"], progress=False)


def test_interval_matches_wilson_by_hand():
    k, n, z = 7, 20, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = right_way_interval(k, n)
    assert lo == pytest.approx(centre - half, abs=1e-9) and hi == pytest.approx(centre + half, abs=1e-9)
    with pytest.raises(ValueError, match="k must be at most n"):
        right_way_interval(3, 2)


def test_tests_match_scipy_on_a_synthetic_case():
    from scipy.stats import binomtest, wilcoxon

    rng = np.random.default_rng(0)
    outside = {m: rng.random(10) for m in ("LOCO", "Park")}
    # the same ten faces under each method; face 9 is not movable for random, so it leaves those pairs
    moved = {"LOCO": [1, 1, 1, 0, 1, 1, 0, 1, 1, 1], "Park": [1, 0, 0, 1, 1, 0, 0, 1, 0, 1],
             "random": [0, 1, 0, 1, 0, 1, 0, 0, 0, 0]}
    rows = [{"seed": i, "attr": "smile", "method": m, "use": "own", "sign": 1.0, "movable": m != "random" or i < 9,
             "moved": bool(moved[m][i]), "towards": 0.0, "leak": 0.0,
             "outside": float(outside[m][i]) if m != "random" else 1.0}
            for i in range(10) for m in ("LOCO", "Park", "random")]
    got = {t["test"]: t for t in loco_tests(rows)}
    # McNemar on the discordant faces: LOCO only on faces 0, 2, 4, 7, 8; random only on face 3
    loco_only = sum(a and not b for a, b in zip(moved["LOCO"][:9], moved["random"][:9]))
    random_only = sum(b and not a for a, b in zip(moved["LOCO"][:9], moved["random"][:9]))
    assert (loco_only, random_only) == (5, 1)
    assert got["LOCO > random"]["p"] == pytest.approx(binomtest(5, 6, 0.5, alternative="greater").pvalue)
    assert (got["LOCO > random"]["k_a"], got["LOCO > random"]["k_b"], got["LOCO > random"]["n_a"]) == (7, 3, 9)
    assert got["LOCO vs Park"]["p"] == pytest.approx(binomtest(4, 5, 0.5).pvalue)  # LOCO-only 4, Park-only 1
    assert got["LOCO > random"]["by"] == got["LOCO vs Park"]["by"] == "McNemar"
    assert got["outside LOCO vs Park"]["p"] == pytest.approx(wilcoxon(outside["LOCO"] - outside["Park"]).pvalue)
    assert got["leak LOCO vs random"]["p"] == pytest.approx(1.0)  # every leak is 0: no difference
    assert [t["significant"] for t in got.values()] == [t["p"] < 0.05 / 6 for t in got.values()]


def test_tests_fall_back_to_fisher_when_the_signs_leave_no_face_in_common():
    """Glasses: +1 acts on the faces without glasses, -1 on those with; methods at different signs
    are tested on disjoint groups of faces, unpaired."""
    from scipy.stats import fisher_exact

    rows = []
    for i in range(12):
        has_glasses = i < 5
        for m, sign, k in (("LOCO", 1.0, 6), ("Park", 1.0, 3), ("random", -1.0, 1)):
            for s in (1.0, -1.0):
                movable = (s > 0) != has_glasses
                rows.append({"seed": i, "attr": "glasses", "method": m, "use": "own", "sign": s, "movable": movable,
                             "moved": movable and s == sign and (i - 5 if s > 0 else i) < k, "towards": 0.0,
                             "leak": 0.0, "outside": 0.0})
    got = {t["test"]: t for t in loco_tests(rows)}
    # LOCO at +1 moves 6 of the 7 faces without glasses; random at -1 moves 1 of the 5 with them
    assert (got["LOCO > random"]["k_a"], got["LOCO > random"]["n_a"], got["LOCO > random"]["k_b"],
            got["LOCO > random"]["n_b"]) == (6, 7, 1, 5)
    assert got["LOCO > random"]["by"] == "Fisher"
    assert got["LOCO > random"]["p"] == pytest.approx(fisher_exact([[6, 1], [1, 4]], alternative="greater")[1])
    assert got["LOCO vs Park"]["by"] == "McNemar"  # both at +1: the same seven faces
