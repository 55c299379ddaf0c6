"""LOCO Edit (`latentlab.loco`) and the faces' region masks, against outside oracles: the renderer itself
(a region holds every pixel its attributes change), a dense Jacobian (torch.func) decomposed by numpy's
SVD, central finite differences, and a linear map whose answer is known in closed form."""
import numpy as np
import pytest
import torch

import latentlab as ll
from latentlab.ddim import P_t, alpha_bar
from latentlab.faces import REGIONS, region_mask, render_faces
from latentlab.hspace import eps_of_batch
from latentlab.linalg import dense_jacobian
from latentlab.loco import LOCO_SETTINGS, face_mask, loco_basis, loco_directions, loco_edit, posterior_mean_products

from helpers import gen

T = 600


# ----------------------------------------------------------------------------- region masks

@pytest.mark.parametrize("region", list(REGIONS))
def test_region_holds_every_change_of_its_attributes(region):
    for attr in REGIONS[region]:
        lo, hi = ll.ATTRIBUTES[attr]
        for seed in (0, 1):
            a_lo, attrs = render_faces(32, seed=seed, **{attr: lo})
            a_hi, _ = render_faces(32, seed=seed, **{attr: hi})
            changed = (a_lo - a_hi).abs().amax(1) > 0  # (n, H, W)
            mask = region_mask(attrs, region, dilate=0)
            assert changed.any(dim=(1, 2)).all()  # the attribute is drawn on every face
            assert not (changed & ~mask).any(), f"{attr} changes pixels outside the {region} mask"
            assert mask.float().mean() < 0.15  # local: a small part of the image


def test_region_mask_dilation_and_sizes():
    _, a = render_faces(3, seed=2)
    m0, m1 = region_mask(a, "mouth", dilate=0), region_mask(a, "mouth", dilate=1)
    assert (m1 | m0).equal(m1) and m1.sum() > m0.sum()
    grown = torch.nn.functional.max_pool2d(m0[:, None].float(), 3, 1, 1)[:, 0] > 0  # scipy-free oracle: one pixel
    assert m1.equal(grown)
    assert region_mask(a, "eyes", 64).shape == (3, 64, 64)


@pytest.mark.parametrize("kwargs, match", [
    ({"region": "nose"}, "region must be one of mouth, eyes"),
    ({"region": "eyes", "size": 30}, "size must be a multiple of 8"),
    ({"region": "eyes", "dilate": -1}, "dilate must be an int >= 0"),
])
def test_region_mask_errors(kwargs, match):
    _, a = render_faces(2)
    with pytest.raises(ValueError, match=match):
        region_mask(a, **kwargs)
    with pytest.raises(ValueError, match="missing face_size"):
        region_mask({"pos_x": a["pos_x"], "pos_y": a["pos_y"]}, "eyes")
    with pytest.raises(ValueError, match="pos_x must lie in"):
        region_mask({**a, "pos_x": a["pos_x"] + 5}, "eyes")


def test_face_mask_from_the_probe_matches_the_true_region():
    x, a = render_faces(16, seed=7)
    for region in REGIONS:
        true, read = region_mask(a, region), face_mask(ll.load_probe(), x, region)
        iou = (true & read).sum((1, 2)) / (true | read).sum((1, 2))
        assert iou.min() > 0.8, iou


# ----------------------------------------------------------------------------- products and directions

def _mask16() -> torch.Tensor:
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[9:13, 4:12] = True  # a "mouth" of 32 pixels, 96 entries
    return mask


def _dense(model, x, t=T) -> np.ndarray:
    """J = d x0_hat / d x_t by torch.func (rows: the flattened x0_hat), float64."""
    a = alpha_bar(model, t)
    f = lambda z: P_t(z[None], eps_of_batch(model, z[None], torch.tensor([t])), a)[0]  # noqa: E731
    with ll.forward_ad(model):
        return dense_jacobian(f, x).double().numpy()


@pytest.fixture(scope="module")
def point():
    m = ll.tiny_model(dtype=torch.float64)
    x = torch.randn(3, 16, 16, generator=gen(0), dtype=torch.float64)
    return m, x, _dense(m, x)


def test_products_match_the_dense_jacobian(point):
    m, x, J = point
    jvp, vjp = posterior_mean_products(m, x, T)
    v, u = torch.randn(2, 3, 16, 16, generator=gen(1), dtype=torch.float64)
    np.testing.assert_allclose(jvp(v).flatten().numpy(), J @ v.flatten().numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(vjp(u).flatten().numpy(), J.T @ u.flatten().numpy(), rtol=1e-9, atol=1e-9)
    batch = torch.stack([v, u])
    np.testing.assert_allclose(jvp(batch)[1].flatten().numpy(), J @ u.flatten().numpy(), rtol=1e-9, atol=1e-9)


def _dense_loco(J: np.ndarray, mask: torch.Tensor, rank: int, null_rank: int):
    """LOCO by dense linear algebra: rows of J split by the mask, numpy SVDs, the projection by hand."""
    M = mask.expand(3, 16, 16).flatten().numpy()
    _, S_in, Vh_in = np.linalg.svd(J[M])
    U_out, S_out, Vh_out = np.linalg.svd(J[~M])
    V_in, V_out = Vh_in[:rank], Vh_out[:null_rank]
    V = V_in - (V_in @ V_out.T) @ V_out
    return V / np.linalg.norm(V, axis=1, keepdims=True), S_in, V_in, U_out, S_out, V_out


@pytest.mark.parametrize("rank, null_rank", [(1, 5), (2, 1), (1, 0)])
def test_directions_match_a_dense_svd(point, rank, null_rank):
    m, x, J = point
    d = loco_directions(m, x, T, _mask16(), rank=rank, null_rank=null_rank, tol=1e-10, max_iters=300)
    V, S_in, V_in, _, S_out, V_out = _dense_loco(J, _mask16(), rank, null_rank)
    flat = lambda a: a.reshape(len(a), -1).numpy()  # noqa: E731
    np.testing.assert_allclose(np.abs(np.sum(flat(d.V_in) * V_in, 1)), 1, atol=1e-6)  # |cos| = 1
    np.testing.assert_allclose(np.abs(np.sum(flat(d.V) * V, 1)), 1, atol=1e-6)
    np.testing.assert_allclose(d.S.numpy(), S_in[:rank], rtol=1e-8)
    np.testing.assert_allclose(d.S_out.numpy(), S_out[:null_rank], rtol=1e-8)
    if null_rank:  # the same subspace: the projector onto V_out's span
        np.testing.assert_allclose(flat(d.V_out).T @ flat(d.V_out), V_out.T @ V_out, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(flat(d.V), axis=1), 1, rtol=1e-12)
    inside = _mask16().expand(3, 16, 16).flatten().numpy()
    assert np.abs(flat(d.U)[:, ~inside]).max() < 1e-12  # J_in V = S U: U lives inside the mask
    np.testing.assert_allclose((J @ flat(d.V_in).T)[inside].T, d.S.numpy()[:, None] * flat(d.U)[:, inside], atol=1e-8)


@pytest.mark.parametrize("null_rank", [0, 5])
def test_outside_change_is_first_order_free_of_the_projected_directions(point, null_rank):
    """Central differences of x0_hat along V: outside the mask, nothing along the top null_rank output
    directions of J_out (dense SVD), and at most the next singular value."""
    m, x, J = point
    d = loco_directions(m, x, T, _mask16(), null_rank=5, tol=1e-10, max_iters=300)
    v = d.V[0] if null_rank else d.V_in[0]
    jvp, _ = posterior_mean_products(m, x, T)
    a, eps = alpha_bar(m, T), 1e-5
    x0 = lambda z: P_t(z[None], eps_of_batch(m, z[None], torch.tensor([T])), a)[0]  # noqa: E731
    with torch.no_grad():
        fd = ((x0(x + eps * v) - x0(x - eps * v)) / (2 * eps)).flatten().numpy()
    out = ~_mask16().expand(3, 16, 16).flatten().numpy()
    _, _, U_out, S_out, _ = _dense_loco(J, _mask16(), 1, 5)[1:]
    along = U_out[:, :5].T @ fd[out]  # the outside change along J_out's top 5 output directions
    if null_rank:
        assert np.abs(along).max() < 1e-6 * np.linalg.norm(fd[out])
        assert np.linalg.norm(fd[out]) <= S_out[5] * (1 + 1e-6)
    else:  # without the projection the top outside directions do move: the check can fail
        assert np.abs(along).max() > 1e-2 * np.linalg.norm(fd[out])
    np.testing.assert_allclose(fd, jvp(v).flatten().numpy(), atol=1e-6)


def test_a_linear_map_with_a_closed_form_answer():
    """J = a_in (s1 b1 + s2 b2)^T + s3 a_out b2^T + s4 a_out2 b3^T, b orthonormal, a_in inside the mask,
    a_out, a_out2 outside: the masked top direction is (s1 b1 + s2 b2) / norm, the outside one b2, and
    the projected direction is b1 exactly, which leaves the outside unchanged."""
    n = 40
    mask = torch.zeros(n, dtype=torch.bool)
    mask[:10] = True
    Q, _ = torch.linalg.qr(torch.randn(n, 3, generator=gen(3), dtype=torch.float64))
    b1, b2, b3 = Q.T
    a_in = torch.zeros(n, dtype=torch.float64)
    a_in[:10] = torch.randn(10, generator=gen(4), dtype=torch.float64)
    a_out, a_out2 = torch.zeros(2, n, dtype=torch.float64)
    a_out[10:25], a_out2[25:] = 1.0, 1.0
    a_in, a_out, a_out2 = (a / a.norm() for a in (a_in, a_out, a_out2))
    s1, s2, s3, s4 = 3.0, 2.0, 5.0, 1.0
    A = (s1 * torch.outer(a_in, b1) + s2 * torch.outer(a_in, b2) + s3 * torch.outer(a_out, b2)
         + s4 * torch.outer(a_out2, b3))
    d = loco_basis(lambda v: A @ v, lambda u: A.T @ u, mask, null_rank=1, tol=1e-12, dtype=torch.float64)
    norm = (s1**2 + s2**2) ** 0.5
    assert abs(float(d.V_in[0] @ (s1 * b1 + s2 * b2)) / norm) == pytest.approx(1, abs=1e-10)
    assert abs(float(d.V_out[0] @ b2)) == pytest.approx(1, abs=1e-10)
    assert abs(float(d.V[0] @ b1)) == pytest.approx(1, abs=1e-10)
    assert float(d.S[0]) == pytest.approx(norm, rel=1e-10) and float(d.S_out[0]) == pytest.approx(s3, rel=1e-10)
    assert float(d.kept[0]) == pytest.approx(s1 / norm, rel=1e-10)
    assert (A @ d.V[0])[~mask].abs().max() < 1e-12
    assert float((A @ d.V[0])[mask].norm()) == pytest.approx(s1, rel=1e-10)


# ----------------------------------------------------------------------------- errors

def test_bad_inputs_name_the_argument(model):
    x = torch.randn(3, 16, 16, generator=gen(0))
    mask = _mask16()
    cases = [
        (dict(mask=torch.ones(8, 8, dtype=torch.bool)), ValueError, "mask must have shape"),
        (dict(mask=torch.zeros(16, 16, dtype=torch.bool)), ValueError, "mask is empty"),
        (dict(mask=torch.ones(3, 16, 16, dtype=torch.bool)), ValueError, "no outside"),
        (dict(mask=mask.float()), TypeError, "mask must be a boolean"),
        (dict(rank=97), ValueError, r"rank must satisfy 1 <= rank <= 96"),
        (dict(rank=0), ValueError, "rank must satisfy"),
        (dict(null_rank=-1), ValueError, "null_rank must satisfy 0 <= null_rank"),
        (dict(null_rank=3 * 256 - 95), ValueError, "null_rank must satisfy"),
        (dict(null_rank=2.5), TypeError, "null_rank must be an int"),
        (dict(t=1000), ValueError, r"t must lie in \[0, 1000\)"),
        (dict(t=-1), ValueError, "t must lie in"),
        (dict(x_t=torch.randn(2, 3, 16, 16)), ValueError, "x_t must be one sample"),
    ]
    for kwargs, err, match in cases:
        args = dict(x_t=x, t=T, mask=mask) | kwargs
        with pytest.raises(err, match=match):
            loco_directions(model, args.pop("x_t"), args.pop("t"), args.pop("mask"), **args)


def test_loco_edit_is_their_sum_of_steps():
    x = torch.randn(2, 3, 16, 16, generator=gen(0))
    v = torch.randn(3, 16, 16, generator=gen(1))
    v = v / v.norm()
    n, step = LOCO_SETTINGS["n_steps"], LOCO_SETTINGS["step"]
    torch.testing.assert_close(loco_edit(x, v), x + n * step * v)  # 16 x 0.5 = 8 along v
    torch.testing.assert_close(loco_edit(x, v, -0.5), x - 4 * v)
    torch.testing.assert_close(loco_edit(x, torch.stack([v, -v])), torch.stack([x[0] + 8 * v, x[1] - 8 * v]))
    for kwargs, match in [(dict(strength=float("nan")), "strength must be a finite number"),
                          (dict(n_steps=0), "n_steps must be a positive integer"),
                          (dict(v=torch.ones(3, 8, 8)), "v must have the shape of one sample")]:
        with pytest.raises(ValueError, match=match):
            loco_edit(x, kwargs.pop("v", v), **kwargs)
