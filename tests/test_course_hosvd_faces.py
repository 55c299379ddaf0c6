"""latentlab.course.hosvd_faces against oracles built here: torch.linalg.svdvals of J flattened and of
its mode unfoldings, numpy's cumulative sums, scipy's binomtest with numpy's median, and
edit_attributes called directly along the dense SVD's top right singular vector."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

import latentlab as ll
from latentlab.course.hosvd_faces import (
    MODES,
    beats_baseline_test,
    derivative_shares,
    edit_tests,
    energy_summary,
    hosvd_face,
    modes_for_share,
    patch_lift,
)
from latentlab.course.runs import same_row
from latentlab.metrics import edit_attributes
from latentlab.probe import Probe, ProbeConfig


@pytest.fixture(scope="module")
def face():
    model = ll.tiny_model(sample_size=8)
    probe = Probe(ProbeConfig.tiny()).eval()
    return model, probe, hosvd_face(model, probe, 3, steps=10, ks=(1, 2, 8), n_random=3)


def test_energies_match_the_svd_of_the_flattened_jacobian(face):
    _, _, f = face
    s2 = torch.linalg.svdvals(f.J.double().reshape(256, 192)) ** 2
    for k in (1, 2, 8):
        assert f.row[f"svd_{k}"] == pytest.approx((s2[:k].sum() / s2.sum()).item(), abs=1e-6)
        assert 0 <= f.row[f"tucker_{k}"] <= 1


def test_mode_ranks_match_the_unfoldings(face):
    _, _, f = face
    for n, name in enumerate(MODES):
        s2 = (torch.linalg.svdvals(f.J.double().movedim(n, 0).reshape(f.J.shape[n], -1)) ** 2).numpy()
        c = np.cumsum(s2) / s2.sum()
        assert f.row[f"n90_{name}"] == int(np.searchsorted(c, 0.9 - 1e-9) + 1)


def test_v1_edit_matches_a_direct_edit_along_the_dense_svd(face):
    model, probe, f = face
    v = torch.linalg.svd(f.J.reshape(256, 192), full_matrices=False).Vh[0].reshape(3, 8, 8)
    assert abs(float((v * f.directions[0]).sum())) == pytest.approx(1.0, abs=1e-3)
    out = edit_attributes(model, probe, f.x_t, 600, f.directions[:1], alphas=(-2.0, 2.0), steps=10)
    strongest = max(abs(out["effect"][a][0].item()) for a in ll.ATTRIBUTES)
    assert f.row["strongest_v1"] == pytest.approx(strongest, abs=1e-5)
    assert [f.row[f"random_{i:02d}"] >= 0 for i in range(3)] == [True] * 3


def test_the_row_is_repeatable(face):
    model, probe, f = face
    assert same_row(hosvd_face(model, probe, 3, steps=10, ks=(1, 2, 8), n_random=3).row, f.row, atol=1e-6)


def test_bad_input_is_refused(face):
    model, probe, _ = face
    with pytest.raises(ValueError, match="grid"):
        hosvd_face(model, probe, 0, t=601, steps=10)
    with pytest.raises(ValueError, match="n_random"):
        hosvd_face(model, probe, 0, n_random=0)
    with pytest.raises(ValueError, match="odd"):
        beats_baseline_test([1.0], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="share"):
        modes_for_share(torch.ones(3), share=0)


def test_modes_for_share_against_numpy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = np.sort(rng.random(9))[::-1]
        want = int(np.argmax(np.cumsum(s) / s.sum() >= 0.9) + 1)
        assert modes_for_share(torch.tensor(s.copy())) == want


def test_sign_test_against_scipy():
    rng = np.random.default_rng(1)
    stat, base = rng.random(30) + 0.1, rng.random((30, 7))
    out = beats_baseline_test(stat.tolist(), base.tolist())
    above = int((stat > np.median(base, axis=1)).sum())
    assert out["above"] == above and out["faces"] == 30
    assert out["p"] == pytest.approx(binomtest(above, 30, 0.5).pvalue)


def test_edit_tests_against_scipy():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(2)
    rows = [{"strongest_v0": rng.random(), "strongest_what": rng.random() / 2, "strongest_v1": rng.random(),
             **{f"random_{i:02d}": rng.random() / 3 for i in range(5)}} for _ in range(25)]
    out = edit_tests(rows)
    base = np.array([[r[f"random_{i:02d}"] for i in range(5)] for r in rows])
    v0 = np.array([r["strongest_v0"] for r in rows])
    above = int((v0 > np.median(base, 1)).sum())
    assert out[0]["count"] == above and out[0]["p"] == pytest.approx(binomtest(above, 25).pvalue)
    d = v0 - np.array([r["strongest_v1"] for r in rows])
    assert out[2]["p"] == pytest.approx(wilcoxon(d).pvalue)
    assert out[2]["p_bonferroni"] == pytest.approx(min(1, 4 * wilcoxon(d).pvalue))
    what = np.array([r["strongest_what"] for r in rows])
    below = int((what < v0).sum())
    assert out[3]["count"] == below and out[3]["p"] == pytest.approx(binomtest(below, 25).pvalue)


def test_energy_summary_against_numpy():
    rng = np.random.default_rng(3)
    rows = [{"svd_1": rng.random(), "tucker_1": rng.random(), "svd_4": rng.random(), "tucker_4": rng.random()}
            for _ in range(9)]
    for s in energy_summary(rows):
        k = s["k"]
        svd, tucker = np.array([r[f"svd_{k}"] for r in rows]), np.array([r[f"tucker_{k}"] for r in rows])
        assert s["svd"] == pytest.approx(np.median(svd)) and s["tucker"] == pytest.approx(np.median(tucker))
        assert s["tucker_wins"] == int((tucker > svd).sum()) and s["budget"] == k * (2048 + 3072 + 1)


def test_patch_lift_against_loops():
    maps = torch.rand(4, 4, 32, 32, generator=torch.Generator().manual_seed(4)) ** 4
    lift, largest = patch_lift(maps)
    m = maps.numpy()
    share = np.zeros((4, 4, 4, 4))  # map (i, j), patch (a, b)
    for i, j, a, b in np.ndindex(4, 4, 4, 4):
        share[i, j, a, b] = m[i, j, 8 * a:8 * a + 8, 8 * b:8 * b + 8].sum() / m[i, j].sum()
    for i, j in np.ndindex(4, 4):
        assert lift[i, j].item() == pytest.approx(share[i, j, i, j] / share[:, :, i, j].mean(), rel=1e-5)
        assert bool(largest[i, j]) == (np.unravel_index(share[i, j].argmax(), (4, 4)) == (i, j))


def test_derivative_shares_against_numpy():
    U = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64))[0]
    u0 = U[:, 0].numpy()
    d1 = np.gradient(u0)
    d2 = np.gradient(d1)
    got = derivative_shares(U, k=4).numpy()
    for i in range(4):
        ui = U[:, i].numpy()
        assert got[i, 0] == pytest.approx((ui @ d1) ** 2 / (d1 @ d1))
        assert got[i, 1] == pytest.approx((ui @ d2) ** 2 / (d2 @ d2))
    assert derivative_shares(U, k=16).sum(0).numpy() == pytest.approx([1.0, 1.0])
