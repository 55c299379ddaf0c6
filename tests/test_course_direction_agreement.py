"""latentlab.course.direction_agreement against oracles built here: scipy's pairwise cosine distances,
numpy's quantiles, the dense Jacobian's SVD, and numpy's SVD of each half's centred h."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

import latentlab as ll
from latentlab.course.direction_agreement import (
    agreement_summary,
    jacobian_v1,
    pairwise_abs_cos,
    sharing_row,
    split_half_cosines,
    split_half_rows,
    what_moves,
)

from helpers import gen


def test_pairwise_abs_cos_is_scipys_cosine_distance():
    V = torch.randn(7, 3, 2, generator=gen(0))
    want = np.abs(1 - pdist(V.flatten(1).numpy(), "cosine"))
    np.testing.assert_allclose(pairwise_abs_cos(V).numpy(), want, atol=1e-6)


def test_agreement_summary_quantiles_and_chance():
    V = torch.randn(9, 16, generator=gen(1))
    c = np.abs(1 - pdist(V.numpy(), "cosine"))
    s = agreement_summary(V)
    assert s["median"] == pytest.approx(np.quantile(c, 0.5), abs=1e-4)
    assert s["q10"] == pytest.approx(np.quantile(c, 0.1), abs=1e-4)
    assert s["q90"] == pytest.approx(np.quantile(c, 0.9), abs=1e-4)
    assert (s["min"], s["max"]) == pytest.approx((c.min(), c.max()), abs=1e-4)
    assert s["chance"] == pytest.approx(0.25)
    assert sharing_row(V, 300) == {"measure": "jacobian v_1 across faces", "t": 300, "n_faces": 9, **s}


@pytest.mark.slow  # a full DDIM run or the bundled model: `make test` runs it, `make check` does not
def test_jacobian_v1_is_the_dense_jacobians_top_right_singular_vector():
    torch.set_num_threads(1)
    model = ll.tiny_model()
    x = torch.randn(2, 3, 16, 16, generator=gen(2))
    V = jacobian_v1(model, x, 2, [1, 0], k=2, tol=1e-6, progress=False)
    _, xs = ll.ddim_sample(model, x, 2, return_trajectory=True, progress=False)
    grid = ll.ddim_timesteps(model, 2).tolist()
    for f in range(2):
        for j, s in enumerate([1, 0]):
            J = ll.dense_jacobian(lambda dh: ll.eps_of(model, xs[s][f], grid[s], dh=dh), torch.zeros(model.h_shape))
            v = torch.linalg.svd(J.double()).Vh[0]
            assert abs(float(v @ V[f, j].flatten().double())) > 0.999


def test_split_half_cosines_against_numpy_svd_of_each_half():
    torch.set_num_threads(1)
    model = ll.tiny_model()
    tr = ll.h_trajectory(model, torch.randn(12, 3, 16, 16, generator=gen(3)), 2, progress=False)
    cos = split_half_cosines(model, tr, k=2)
    for s in range(2):
        tops = []
        for i in (0, 1):
            H = tr.h[i::2, s].flatten(1).double().numpy()
            tops.append(np.linalg.svd(H - H.mean(0), full_matrices=False)[2][:2])
        np.testing.assert_allclose(cos[s].numpy(), np.abs((tops[0] * tops[1]).sum(1)), atol=1e-4)
    rows = split_half_rows(model, tr, k=2)
    assert [r["t"] for r in rows] == tr.timesteps.tolist()
    assert rows[0]["pc_2"] == pytest.approx(float(cos[0, 1]), abs=1e-4)


def test_bad_input_is_named():
    model = ll.tiny_model()
    with pytest.raises(ValueError, match="V must be a tensor of at least 2"):
        pairwise_abs_cos(torch.ones(1, 3))
    with pytest.raises(ValueError, match="t_indices must be steps of the 2-step grid"):
        jacobian_v1(model, torch.zeros(1, 3, 16, 16), 2, [5], progress=False)
    with pytest.raises(TypeError, match="trajectory must be an HTrajectory"):
        split_half_cosines(model, torch.zeros(3), k=2)


def test_what_moves_against_numpy():
    from latentlab.faces import ATTRIBUTES
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(9, len(ATTRIBUTES))) * np.linspace(0.1, 2.0, len(ATTRIBUTES))
    delta = {a: torch.tensor(raw[:, i]) for i, a in enumerate(ATTRIBUTES)}
    units = raw / np.array([r.span for r in ATTRIBUTES.values()])
    m = np.abs(units).mean(0)
    top = int(np.argmax(m))
    w = what_moves(delta)
    assert w["top"] == list(ATTRIBUTES)[top] and w["n"] == 9
    assert w["mean_abs"] == pytest.approx(m[top]) and w["change"] == pytest.approx(units[:, top].mean())
    assert w["selectivity"] == pytest.approx(m[top] / m.sum())
    assert w["same_top"] == int((np.abs(units).argmax(1) == top).sum())
    assert w["same_sign"] == int((np.sign(units[:, top]) == np.sign(units[:, top].mean())).sum())


def test_what_moves_rejects_a_missing_attribute():
    with pytest.raises(ValueError):
        what_moves({"smile": torch.zeros(3)})
