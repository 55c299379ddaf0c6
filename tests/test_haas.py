"""Haas et al.'s directions against oracles built here: numpy's SVD of the centred h (PCA), the dense
Jacobian of eps with respect to h, and hand-computed supervised differences."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.haas import jacobian_directions, pca_directions, supervised_direction

from helpers import gen


@pytest.fixture(scope="module")
def setting():
    torch.set_num_threads(1)
    model = ll.tiny_model()
    x_T = torch.randn(12, 3, 16, 16, generator=gen(0))
    return model, x_T, pca_directions(model, x_T, 3, k=3, progress=False)


def test_pca_matches_numpy_svd_of_the_centred_h(setting):
    model, x_T, pcs = setting
    x0, xs = ll.ddim_sample(model, x_T, 3, return_trajectory=True, progress=False)
    for s, t in enumerate(pcs.timesteps.tolist()):
        H = ll.h_of(model, xs[s], t).flatten(1).double().numpy()
        Hc = H - H.mean(0)
        _, sv, Vt = np.linalg.svd(Hc, full_matrices=False)
        np.testing.assert_allclose(pcs.sigma[s].numpy(), sv[:3] / np.sqrt(len(H) - 1), rtol=1e-4)
        cos = np.abs((pcs.components[s].flatten(1).double().numpy() * Vt[:3]).sum(1))
        np.testing.assert_allclose(cos, 1.0, atol=1e-4)  # the same components up to sign
        np.testing.assert_allclose(pcs.mean[s].flatten().numpy(), H.mean(0), atol=1e-5)


def test_signs_are_aligned_along_the_trajectory(setting):
    _, _, pcs = setting
    cos = (pcs.components[1:].flatten(2) * pcs.components[:-1].flatten(2)).sum(-1)
    assert (cos > 0).all()


def test_pca_direction_is_c_sigma_pc(setting):
    _, _, pcs = setting
    d = pcs.direction(1, c=-2.0)
    for s, t in enumerate(pcs.timesteps.tolist()):
        torch.testing.assert_close(d.at(t), -2.0 * pcs.sigma[s, 1] * pcs.components[s, 1])


def test_jacobian_directions_have_the_dense_jacobians_singular_values():
    model = ll.tiny_model()
    x_T = torch.randn(3, 16, 16, generator=gen(1))
    jd = jacobian_directions(model, x_T, 2, k=2, t_index=1, progress=False, tol=1e-6)
    _, xs = ll.ddim_sample(model, x_T, 2, return_trajectory=True, progress=False)
    for s, t in enumerate(jd.timesteps.tolist()):
        J = ll.dense_jacobian(lambda dh: ll.eps_of(model, xs[s], t, dh=dh), torch.zeros(model.h_shape))
        sv = torch.linalg.svdvals(J.double())
        torch.testing.assert_close(jd.S[s].double(), sv[:2], rtol=1e-3, atol=1e-6)
        if s == 1:  # the kept directions are that step's right singular vectors: |J v_i| = s_i
            torch.testing.assert_close((J @ jd.V.flatten(1).T).norm(dim=0).double(), sv[:2], rtol=1e-3, atol=1e-6)
    d = jd.direction(0, c=3.0)
    torch.testing.assert_close(d.at(int(jd.timesteps[0])), 3.0 * jd.S[0, 0] * jd.V[0])


def test_supervised_direction_against_hand_computation():
    h = torch.randn(20, 2, 4, 1, 1, generator=gen(2), dtype=torch.float64)  # (N, S, C, 1, 1)
    scores = torch.randn(20, generator=gen(3))
    order = scores.argsort(descending=True)
    expected = h[order[:4]].mean(0) - h[order[-4:]].mean(0)
    torch.testing.assert_close(supervised_direction(h, scores, top=0.2), expected)
    other = torch.randn(2, 4, 1, 1, generator=gen(4), dtype=torch.float64)
    d = supervised_direction(h, scores, top=0.2, project_out=[other])
    for s in range(2):  # orthogonal to the other direction at every timestep, and the rest kept
        assert abs((d[s] * other[s]).sum()) < 1e-12
        o = other[s].flatten() / other[s].norm()
        torch.testing.assert_close(d[s].flatten(), expected[s].flatten() - o * (o @ expected[s].flatten()))


@pytest.mark.parametrize("call, match", [
    (lambda m, x: pca_directions(m, x[:3], 2, k=3, progress=False), "more samples than components: N = 3 with k = 3"),
    (lambda m, x: pca_directions(m, x, 2, k=0, progress=False), "k must be a positive integer"),
    (lambda m, x: jacobian_directions(m, x, 2, k=2, progress=False), "x_T must be one sample"),
    (lambda m, x: jacobian_directions(m, x[0], 2, k=2, t_index=5, progress=False), "t_index must be a step"),
    (lambda m, x: supervised_direction(torch.zeros(4, 3), torch.zeros(5)), r"scores must have shape \(4,\)"),
    (lambda m, x: supervised_direction(torch.zeros(4, 3), torch.zeros(4), top=0.9), "top must be a fraction"),
    (lambda m, x: supervised_direction(torch.zeros(4, 3), torch.arange(4.0), project_out=[torch.ones(2)]),
     "project_out directions must have shape"),
])
def test_bad_input(call, match):
    model = ll.tiny_model()
    with pytest.raises(ValueError, match=match):
        call(model, torch.randn(4, 3, 16, 16, generator=gen(5)))


def test_direction_index_past_k(setting):
    _, _, pcs = setting
    with pytest.raises(ValueError, match=r"i must be a direction index from 0 to 2 \(k = 3 were computed\), got 3"):
        pcs.direction(3)


def test_pca_on_given_trajectories_equals_sampling_them(setting):
    model, x_T, pcs = setting
    tr = ll.h_trajectory(model, x_T, 3, progress=False)
    again = pca_directions(model, None, 3, k=3, trajectory=tr)
    torch.testing.assert_close(again.components, pcs.components)
    assert again.trajectory is tr and pcs.trajectory.h.shape == tr.h.shape
    with pytest.raises(ValueError, match="more samples than components"):
        pca_directions(model, None, 3, k=3, trajectory=tr._replace(h=tr.h[:3]))


def test_jacobian_directions_keep_every_steps_vectors():
    model = ll.tiny_model()
    x_T = torch.randn(3, 16, 16, generator=gen(1))
    jd = jacobian_directions(model, x_T, 2, k=2, t_index=0, progress=False)
    other = jd.at_step(1)
    _, xs = ll.ddim_sample(model, x_T, 2, return_trajectory=True, progress=False)
    svd = ll.eps_jacobian(model, xs[1], int(jd.timesteps[1]), 2)
    assert other.t_index == 1 and (other.V.flatten(1) * svd.V.flatten(1)).sum(1).abs().min() > 0.99
    with pytest.raises(ValueError, match=r"t_index must be a step of the grid from 0 to 1 \(2 in all\)"):
        jd.at_step(2)
