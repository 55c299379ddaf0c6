"""The latent-basis measurements of lecture 06 against scipy's principal angles, plain DDIM runs read by
a probe with known answers, and the pullback recomputed on its own."""
import numpy as np
import pytest
import scipy.linalg
import torch

import latentlab as ll
from latentlab.course.latent_basis import (
    against_random,
    attribute_changes,
    by_timestep,
    latent_basis_row,
    per_face,
    strongest_change,
    subspace_similarity,
)
from latentlab.quality import neighbour_correlation

from helpers import LinearProbe, gen


def test_subspace_similarity_is_the_mean_squared_cosine_of_scipys_principal_angles():
    a = torch.randn(5, 3, 4, 4, generator=gen(0), dtype=torch.float64)
    b = torch.randn(5, 3, 4, 4, generator=gen(1), dtype=torch.float64) + 0.7 * a
    angles = scipy.linalg.subspace_angles(a.flatten(1).T.numpy(), b.flatten(1).T.numpy())
    assert subspace_similarity(a, b) == pytest.approx(float(np.mean(np.cos(angles) ** 2)), abs=1e-10)


def test_subspace_similarity_ignores_the_basis_and_knows_random_spans():
    a = torch.randn(4, 200, generator=gen(2), dtype=torch.float64)
    mix = torch.randn(4, 4, generator=gen(3), dtype=torch.float64)
    assert subspace_similarity(a, mix @ a) == pytest.approx(1.0, abs=1e-10)
    sims = [subspace_similarity(torch.randn(4, 200, generator=gen(10 + i)), torch.randn(4, 200, generator=gen(50 + i)))
            for i in range(40)]
    assert np.mean(sims) == pytest.approx(4 / 200, rel=0.3)  # E = k / d for random k-spans of R^d


def test_subspace_similarity_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="trailing shape"):
        subspace_similarity(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="a must be"):
        subspace_similarity(torch.ones(3), torch.ones(2, 3))


def test_attribute_changes_equal_separate_ddim_runs_read_by_the_probe(model):
    probe = LinearProbe(size=16)
    grid = ll.ddim_timesteps(model, 10).tolist()
    t = grid[4]
    x = torch.randn(3, 16, 16, generator=gen(4))
    d = torch.randn(2, 3, 16, 16, generator=gen(5))
    got = attribute_changes(model, probe, x, t, d, alpha=1.5, steps=10)
    with torch.no_grad():
        base = probe(ll.ddim_sample(model, x[None], 10, t_start=t, progress=False))
        for i in range(2):
            edited = probe(ll.ddim_sample(model, (x + 1.5 * d[i])[None], 10, t_start=t, progress=False))
            want = [(edited[a] - base[a]).item() / r.span for a, r in ll.ATTRIBUTES.items()]
            np.testing.assert_allclose(got[i].numpy(), want, atol=1e-4)


def test_strongest_change_is_the_largest_absolute_change():
    c = torch.randn(6, 11, generator=gen(6))
    np.testing.assert_allclose(strongest_change(c).numpy(), np.abs(c.numpy()).max(1))
    with pytest.raises(ValueError, match="changes must be"):
        strongest_change(torch.ones(3))


def test_latent_basis_row_matches_its_parts_recomputed(model):
    probe = LinearProbe(size=16)
    grid = ll.ddim_timesteps(model, 10).tolist()
    ts = (grid[2], grid[5])
    row = latent_basis_row(model, probe, 3, seed=1, timesteps=ts, t_edit=grid[5], k=2, steps=10, n_edit=1)
    assert row == latent_basis_row(model, probe, 3, seed=1, timesteps=ts, t_edit=grid[5], k=2, steps=10, n_edit=1)
    x_T = torch.randn(1, 3, 16, 16, generator=gen(100_000 + 7))  # face 2 * 3 + 1 of seed 1
    _, traj = ll.ddim_sample(model, x_T, 10, return_trajectory=True, progress=False)
    svd = ll.pullback(model, traj[5][0], grid[5], k=2, seed=0)
    assert row["b_face"] == 7
    assert row["b_s1_t%d" % grid[5]] == pytest.approx(svd.S[0].item(), rel=1e-4)
    assert row["b_nc_v1_t%d" % grid[5]] == pytest.approx(neighbour_correlation(svd.V[:1])[0].item(), abs=1e-4)
    change = attribute_changes(model, probe, traj[5][0], grid[5], svd.V[:1], steps=10)
    assert row["b_str_v1"] == pytest.approx(change.abs().max().item(), abs=1e-4)
    assert 0 <= row["sim_V_t%d" % ts[0]] <= 1


def test_latent_basis_row_rejects_timesteps_off_the_grid(model):
    with pytest.raises(ValueError, match="grid"):
        latent_basis_row(model, LinearProbe(size=16), 0, timesteps=(801,), steps=10)


def test_per_face_splits_pairs():
    rows = [{"pair": 2, "a_face": 4, "b_face": 5, "a_s": 1.0, "b_s": 3.0, "sim": 0.1}]
    assert per_face(rows) == [{"pair": 2, "face": 4, "s": 1.0}, {"pair": 2, "face": 5, "s": 3.0}]
    with pytest.raises(ValueError, match="pair rows"):
        per_face([{"pair": 0}])


def _rows(n_pairs=6, seed=7):
    g = np.random.default_rng(seed)
    rows = []
    for p in range(n_pairs):
        r = {"pair": p, "a_face": 2 * p, "b_face": 2 * p + 1}
        for t in (800, 200):
            r |= {f"{f}_{k}_t{t}": float(g.random()) for f in "ab" for k in ("nc_v1", "nc_top", "s1")}
            r |= {f"{k}_t{t}": float(g.random()) for k in ("sim_V", "sim_U", "sim_Vr")}
        r |= {f"{f}_str_{d}1": float(g.random()) for f in "ab" for d in "vr"}
        rows.append(r)
    return rows


def test_by_timestep_gives_numpys_medians_and_quartiles():
    rows = _rows()
    out = by_timestep(rows)
    assert [o["t"] for o in out] == [800, 200]
    nc = [r[f"{f}_nc_v1_t200"] for r in rows for f in "ab"]
    assert out[1]["nc_v1"] == pytest.approx(np.median(nc))
    assert out[1]["nc_v1_q1"] == pytest.approx(np.quantile(nc, 0.25))
    assert out[0]["sim_U"] == pytest.approx(np.median([r["sim_U_t800"] for r in rows]))
    with pytest.raises(ValueError, match="pair rows"):
        by_timestep([{"pair": 0}])


def test_against_random_is_scipys_sign_test():
    from scipy.stats import binomtest

    rows = _rows(n_pairs=15, seed=3)
    out = against_random(rows, 1)
    v = np.array([r[f"{f}_str_v1"] for r in rows for f in "ab"])
    r_ = np.array([r[f"{f}_str_r1"] for r in rows for f in "ab"])
    assert (out["wins"], out["n"]) == (int((v > r_).sum()), 30)
    assert out["sign_test_p"] == pytest.approx(binomtest(int((v > r_).sum()), 30).pvalue)
    assert out["median_v"] == pytest.approx(np.median(v))
    with pytest.raises(ValueError, match="direction the run edited"):
        against_random(rows, 4)


def test_linearity_errors_match_the_closed_form_of_a_quadratic_map_and_reject_bad_shapes():
    from latentlab.park import linearity_errors

    x = torch.randn(3, 4, 4, generator=gen(2), dtype=torch.float64)
    v = torch.randn(5, 3, 4, 4, generator=gen(3), dtype=torch.float64)
    steps = (0.5, 1.0, 2.0)
    sq, lin = linearity_errors(lambda p: (p**2, 3 * p - 1), x, v, steps)
    # f = x^2: f(x + s v) - f(x) = 2 s x v + s^2 v^2 and J v = 2 x v, so the error is s|v^2| / |2xv + s v^2|
    want = torch.stack([torch.tensor([s * (w**2).norm() / (2 * x * w + s * w**2).norm() for s in steps])
                        for w in v]).double()
    assert torch.allclose(sq, want, atol=1e-8)
    assert lin.shape == (5, 3) and lin.abs().max() < 1e-8  # an affine map is exactly linear
    with pytest.raises(ValueError, match="directions"):
        linearity_errors(lambda p: p, x, v[0], steps)
    with pytest.raises(ValueError, match="steps"):
        linearity_errors(lambda p: p, x, v, (0.0, 1.0))
