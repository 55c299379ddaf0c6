"""latentlab.hosvd against oracles built here: float64 central finite differences of a hook-read h,
tensors of known multilinear rank, torch.linalg.svd of unfoldings and of the flattened matrix,
brute-force rank searches by reconstruction, and ddim_sample's own trajectory."""

import itertools
import math

import pytest
import torch

import latentlab as ll
from latentlab.hosvd import (
    best_ranks,
    energy_table,
    flattened_energy,
    hosvd,
    hosvd_energies,
    jacobian_gain,
    jacobian_tensor,
    mode_spectra,
    own_patch_share,
    profile_shape,
    random_directions,
    rank1_directions,
    sensitivity_maps,
    svd_params,
    tucker_energy,
    tucker_params,
    tucker_to_tensor,
)
from latentlab.jacobians import pullback
from latentlab.metrics import edit_attributes
from latentlab.probe import Probe, ProbeConfig

T = 600



def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def small():
    """A float64 tiny U-Net at 8 px: h (16, 4, 4), x (3, 8, 8), one sample x_t, and its Jacobian tensor."""
    model = ll.tiny_model(sample_size=8).to(dtype=torch.float64)
    x = torch.randn(model.sample_shape, generator=gen(1), dtype=torch.float64)
    return model, x, jacobian_tensor(model, x, T)


def h_by_hook(model: ll.Model, x: torch.Tensor) -> torch.Tensor:
    """Oracle x -> h for a batch: the whole U-Net runs, a forward hook records the middle block's output."""
    out = []
    handle = model.unet.mid_block.register_forward_hook(lambda m, a, o: out.append(o))
    try:
        model.unet(x, T)
    finally:
        handle.remove()
    return out[0]


def tensor_of_multilinear_rank(shape, ranks, seed=0):
    """core x_n Q_n with random orthonormal Q_n (n_n x r_n): multilinear rank exactly `ranks`."""
    g = gen(seed)
    core = torch.randn(ranks, generator=g, dtype=torch.float64)
    Qs = [torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64))[0] for n, r in zip(shape, ranks)]
    letters = "abcdefgh"[: len(shape)]
    spec = letters + "," + ",".join(f"{c.upper()}{c}" for c in letters) + "->" + letters.upper()
    return torch.einsum(spec, core, *Qs), Qs


def unfold(X: torch.Tensor, n: int) -> torch.Tensor:
    return X.movedim(n, 0).reshape(X.shape[n], -1)


def projector(U: torch.Tensor) -> torch.Tensor:
    return U @ U.T


# ----------------------------------------------------------------------------- the Jacobian tensor


def test_jacobian_tensor_equals_central_differences(small):
    model, x, J = small
    assert J.shape == (*model.h_shape, *model.sample_shape) == (16, 4, 4, 3, 8, 8)
    n, delta = x.numel(), 1e-5
    steps = delta * torch.eye(n, dtype=torch.float64).reshape(n, *x.shape)
    with torch.no_grad():
        diff = (h_by_hook(model, x + steps) - h_by_hook(model, x - steps)) / (2 * delta)  # (n_in, *h_shape)
    fd = diff.reshape(n, -1).T.reshape(J.shape)
    torch.testing.assert_close(J, fd, rtol=1e-6, atol=1e-8)


def test_jacobian_tensor_flattened_top_vector_is_the_pullbacks(small):
    model, x, J = small
    M = J.reshape(math.prod(model.h_shape), -1)
    true = torch.linalg.svd(M)
    svd = pullback(model, x, T, k=1, tol=1e-8, dtype=torch.float64)
    torch.testing.assert_close(svd.S, true.S[:1], rtol=1e-6, atol=0)
    assert abs(svd.V.flatten() @ true.Vh[0]) > 1 - 1e-6
    torch.testing.assert_close(jacobian_gain(J, svd.V), svd.S, rtol=1e-6, atol=0)


def test_jacobian_tensor_accepts_a_batch_of_one_and_rejects_more(small):
    model, x, J = small
    torch.testing.assert_close(jacobian_tensor(model, x[None], T), J)
    with pytest.raises(ValueError, match="x_t must be one sample"):
        jacobian_tensor(model, torch.stack([x, x]), T)
    with pytest.raises(ValueError, match="chunk_size must be None or a positive integer, got 0"):
        jacobian_tensor(model, x, T, chunk_size=0)
    with pytest.raises(ValueError, match="t must lie in"):
        jacobian_tensor(model, x, 1000)


# ----------------------------------------------------------------------------- HOSVD


@pytest.mark.parametrize("n_iter", [0, 2])
def test_hosvd_recovers_a_tensor_of_known_multilinear_rank(n_iter):
    shape, ranks = (6, 4, 5, 3, 7), (3, 2, 4, 2, 3)
    X, Qs = tensor_of_multilinear_rank(shape, ranks)
    core, factors = hosvd(X, ranks, n_iter=n_iter)
    assert core.shape == ranks and [tuple(U.shape) for U in factors] == list(zip(shape, ranks))
    approx = torch.einsum("abcde,Aa,Bb,Cc,Dd,Ee->ABCDE", core, *factors)
    assert (approx - X).norm() / X.norm() < 1e-6
    for U, Q in zip(factors, Qs):
        torch.testing.assert_close(U.T @ U, torch.eye(U.shape[1], dtype=U.dtype), atol=1e-10, rtol=0)
        torch.testing.assert_close(projector(U), projector(Q), atol=1e-8, rtol=0)  # same subspace
    assert tucker_energy(X, core, factors) == pytest.approx(1.0, abs=1e-10)


def test_hosvd_factors_are_the_left_singular_vectors_of_the_unfoldings():
    X = torch.randn(5, 4, 6, generator=gen(2), dtype=torch.float64)
    ranks = (2, 3, 2)
    core, factors = hosvd(X, ranks)
    for n, (U, r) in enumerate(zip(factors, ranks)):
        true = torch.linalg.svd(unfold(X, n), full_matrices=False)
        torch.testing.assert_close(projector(U), projector(true.U[:, :r]), atol=1e-8, rtol=0)
    # the core is X projected on the factors, so the model's energy is ||core||^2 / ||X||^2
    torch.testing.assert_close(core, torch.einsum("abc,aA,bB,cC->ABC", X, *factors))
    assert tucker_energy(X, core, factors) == pytest.approx((core.norm() / X.norm()).item() ** 2, abs=1e-12)


def test_hooi_never_captures_less_than_the_hosvd():
    X = torch.randn(6, 5, 4, 3, generator=gen(3), dtype=torch.float64)
    ranks = (2, 2, 2, 2)
    e0 = tucker_energy(X, *hosvd(X, ranks))
    e3 = tucker_energy(X, *hosvd(X, ranks, n_iter=3))
    assert e3 >= e0 - 1e-12


def test_tucker_to_tensor_is_the_multilinear_product():
    g = gen(4)
    core = torch.randn(2, 3, generator=g)
    A, B = torch.randn(4, 2, generator=g), torch.randn(5, 3, generator=g)
    torch.testing.assert_close(tucker_to_tensor(core, [A, B]), A @ core @ B.T)


def test_mode_spectra_are_the_singular_values_of_the_unfoldings():
    X = torch.randn(5, 3, 4, 2, generator=gen(5), dtype=torch.float64)
    core, _ = hosvd(X, X.shape)
    for n, s in enumerate(mode_spectra(core)):
        torch.testing.assert_close(s, torch.linalg.svdvals(unfold(X, n)), atol=1e-10, rtol=0)


# ----------------------------------------------------------------------------- parameters and energies


def test_parameter_counts():
    assert tucker_params((128, 4, 4, 3, 32, 32), (8, 2, 2, 2, 4, 4)) == 1024 + 1024 + 8 + 8 + 6 + 128 + 128
    assert tucker_params((5, 6), (5, 6)) == 30 + 25 + 36
    assert svd_params(2048, 3072, 5) == 5 * (2048 + 3072 + 1)


def test_flattened_energy_equals_the_svd_of_the_matrix():
    X = torch.randn(3, 4, 2, 5, generator=gen(6), dtype=torch.float64)
    for out_modes in (1, 2, 3):
        M = X.reshape(math.prod(X.shape[:out_modes]), -1)
        s2 = torch.linalg.svdvals(M) ** 2
        torch.testing.assert_close(flattened_energy(X, out_modes), s2.cumsum(0) / s2.sum(), atol=1e-12, rtol=0)


def test_hosvd_energies_equal_the_reconstruction_of_every_truncation():
    X = torch.randn(4, 3, 2, 3, generator=gen(7), dtype=torch.float64)
    energies = hosvd_energies(hosvd(X, X.shape)[0])
    for ranks in itertools.product(*(range(1, n + 1) for n in X.shape)):
        expected = tucker_energy(X, *hosvd(X, ranks))
        assert energies[tuple(r - 1 for r in ranks)].item() == pytest.approx(expected, abs=1e-10), ranks


def test_energy_table_against_a_brute_force_search_and_a_direct_svd():
    X = torch.randn(4, 3, 3, 5, generator=gen(8), dtype=torch.float64)
    rows = energy_table(X, ks=(1, 2, 3), out_modes=2)
    s2 = torch.linalg.svdvals(X.reshape(12, 15)) ** 2
    all_ranks = list(itertools.product(*(range(1, n + 1) for n in X.shape)))
    for row in rows:
        k = row["k"]
        assert row["params"] == k * (12 + 15 + 1)
        assert row["svd_energy"] == pytest.approx((s2[:k].sum() / s2.sum()).item(), abs=1e-12)
        feasible = [r for r in all_ranks if math.prod(r) + sum(n * q for n, q in zip(X.shape, r)) <= row["params"]]
        best = max(tucker_energy(X, *hosvd(X, r)) for r in feasible)
        assert row["tucker_energy"] == pytest.approx(best, abs=1e-10)
        assert row["tucker_params"] <= row["params"]
        assert row["tucker_params"] == tucker_params(X.shape, row["tucker_ranks"])
        assert tucker_energy(X, *hosvd(X, row["tucker_ranks"])) == pytest.approx(row["tucker_energy"], abs=1e-10)
    assert energy_table(X, ks=(1, 2, 3), out_modes=2, core=hosvd(X, X.shape)[0]) == rows
    hooi = energy_table(X, ks=(2,), out_modes=2, n_iter=3)[0]
    assert hooi["tucker_energy"] >= rows[1]["tucker_energy"] - 1e-12


# ----------------------------------------------------------------------------- directions


def test_rank1_directions_are_separable_unit_images_with_the_core_energy_as_gain(small):
    model, x, J = small
    core, factors = hosvd(J, J.shape)
    V, index = rank1_directions(core, factors, k=4)
    assert V.shape == (4, *model.sample_shape) and len(set(index)) == 4
    torch.testing.assert_close(V.flatten(1).norm(dim=1), torch.ones(4, dtype=V.dtype))
    for v, (a, b, c) in zip(V, index):
        assert torch.linalg.matrix_rank(v.reshape(3, -1)) == 1 and torch.linalg.matrix_rank(v[0]) == 1
        outer = torch.einsum("c,h,w->chw", factors[3][:, a], factors[4][:, b], factors[5][:, c])
        assert abs((v * outer).sum()) == pytest.approx(1.0, abs=1e-10)
    gains = torch.einsum("ijkchw,nchw->nijk", J, V).flatten(1).norm(dim=1)  # ||J v|| directly
    torch.testing.assert_close(jacobian_gain(J, V), gains)
    weights = core.square().sum((0, 1, 2))
    torch.testing.assert_close(gains, weights.flatten().sort(descending=True).values[:4].sqrt())
    assert gains[0] <= torch.linalg.svdvals(J.reshape(256, -1))[0] + 1e-10  # no direction beats v_1


def test_a_direction_splits_into_its_v1_part_and_a_part_whose_response_is_orthogonal_to_u1(small):
    """The notebook's arithmetic: for w orthogonal to v_1, J w is orthogonal to u_1, so
    ||J v||^2 = cos^2 s_1^2 + ||J w||^2, checked against the dense SVD of the flattened J."""
    model, x, J = small
    M = J.reshape(math.prod(model.h_shape), -1)
    svd = torch.linalg.svd(M, full_matrices=False)
    v1, u1, s1 = svd.Vh[0], svd.U[:, 0], svd.S[0]
    v = torch.randn(M.shape[1], generator=gen(12), dtype=torch.float64)
    v = v / v.norm()
    c = v @ v1
    w = v - c * v1
    assert abs(u1 @ (M @ w)) < 1e-10 * s1
    gain_v, gain_w = jacobian_gain(J, torch.stack([v, w]).reshape(2, *model.sample_shape))
    assert (gain_v**2).item() == pytest.approx(((c * s1) ** 2 + gain_w**2).item(), rel=1e-10)


# ----------------------------------------------------------------------------- reading the factors and baselines


def test_profile_shape_counts_the_sign_changes_of_known_profiles():
    x = torch.linspace(0, 1, 41, dtype=torch.float64)[1:-1]
    for m in (1, 2, 3, 4):
        u = torch.sin(math.pi * m * x)  # m - 1 sign changes inside (0, 1)
        changes, first, last = profile_shape(u, rel=0.2)
        assert changes == m - 1
        big = [i for i in range(len(u)) if abs(u[i]) >= 0.2 * u.abs().max()]
        assert (first, last) == (big[0], big[-1])
    u = torch.zeros(30, dtype=torch.float64)
    u[8:20] = 1.0
    u[[2, 4, 25]] = torch.tensor([-0.05, 0.05, -0.1], dtype=torch.float64)  # small noise: ignored at rel 0.2
    assert profile_shape(u) == (0, 8, 19)
    assert profile_shape(u, rel=0.04) == (2, 2, 25)  # -, +, +..., -: two changes once the noise counts


def test_sensitivity_maps_and_own_patch_share_against_loops():
    J = torch.randn(5, 2, 3, 3, 4, 6, generator=gen(13), dtype=torch.float64)
    maps = sensitivity_maps(J)
    assert maps.shape == (2, 3, 4, 6)
    share = own_patch_share(maps)
    for i in range(2):
        for j in range(3):
            m = sum(J[c, i, j, k] ** 2 for c in range(5) for k in range(3))
            torch.testing.assert_close(maps[i, j], m)
            own = m[2 * i:2 * i + 2, 2 * j:2 * j + 2].sum() / m.sum()  # patches of 2 x 2 pixels
            assert share[i, j].item() == pytest.approx(own.item(), rel=1e-12)
    assert maps.sum().item() == pytest.approx(J.square().sum().item(), rel=1e-12)
    local = torch.zeros(2, 3, 4, 6)
    for i in range(2):
        for j in range(3):
            local[i, j, 2 * i:2 * i + 2, 2 * j:2 * j + 2] = 1.0
    torch.testing.assert_close(own_patch_share(local), torch.ones(2, 3))
    torch.testing.assert_close(own_patch_share(torch.ones(2, 3, 4, 6)), torch.full((2, 3), 1 / 6))


def toeplitz_gaussian(n: int, sigma: float) -> torch.Tensor:
    """Oracle: the n x n matrix of a Gaussian blur truncated at 3 sigma with zero padding."""
    r = math.ceil(3 * sigma)
    K = torch.zeros(n, n)
    for a in range(n):
        for b in range(n):
            if abs(a - b) <= r:
                K[a, b] = math.exp(-((a - b) ** 2) / (2 * sigma**2))
    return K


@pytest.mark.parametrize("blur", [0.0, 1.0, 2.5])
def test_random_directions_are_blurred_noise_of_unit_norm(blur):
    shape = (3, 10, 12)
    V = random_directions(5, shape, blur=blur, generator=gen(14))
    z = torch.randn(5, *shape, generator=gen(14))  # the same draws
    if blur:
        z = toeplitz_gaussian(10, blur) @ z @ toeplitz_gaussian(12, blur).T  # rows, then columns
    expected = z / z.flatten(1).norm(dim=1)[:, None, None, None]
    torch.testing.assert_close(V, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(V.flatten(1).norm(dim=1), torch.ones(5))
    assert not torch.allclose(V, random_directions(5, shape, blur=blur, generator=gen(15)))


def test_edit_attributes_reads_the_probe_on_the_edited_samples():
    model = ll.tiny_model(sample_size=32)
    probe = Probe(ProbeConfig.tiny()).eval()
    x = torch.randn(model.sample_shape, generator=gen(10))
    V = torch.randn(2, *model.sample_shape, generator=gen(11))
    V[1] = 0.0  # a zero direction changes nothing
    out = edit_attributes(model, probe, x, T, V, alphas=(-1.0, 2.0), steps=10)
    assert out["images"].shape == (2, 2, *model.sample_shape) and out["base"].shape == model.sample_shape
    base = ll.ddim_sample(model, x, 10, t_start=T, progress=False)
    edited = ll.ddim_sample(model, x + 2.0 * V[0], 10, t_start=T, progress=False)
    # batch 5 against batch 1: convolution kernels may round differently by batch size
    torch.testing.assert_close(out["base"], base, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out["images"][0, 1], edited, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        pb, pe = probe(base[None]), probe(edited[None])
    for name, (lo, hi) in ll.ATTRIBUTES.items():
        assert out["delta"][name][0, 1].item() == pytest.approx(((pe[name] - pb[name]) / (hi - lo)).item(), abs=1e-4)
        assert out["delta"][name][1].abs().max() < 1e-6 and out["effect"][name][1].abs() < 1e-6
        d = out["delta"][name][0]
        assert out["effect"][name][0].item() == pytest.approx(((d[1] - d[0]) / 3 * 2).item(), abs=1e-6)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("ranks, match", [
    ((2, 2), r"ranks must have one entry per mode: 3"),
    ((2, 2, 2, 2), r"ranks must have one entry per mode: 3"),
    ((2, 5, 2), r"ranks\[1\] must be an int from 1 to the mode size 4"),
    ((0, 2, 2), r"ranks\[0\] must be an int from 1"),
    ((2.0, 2, 2), r"ranks\[0\] must be an int"),
    (3, r"ranks must be a sequence of 3 ints"),
])
def test_hosvd_rejects_bad_ranks(ranks, match):
    with pytest.raises(ValueError, match=match):
        hosvd(torch.randn(3, 4, 5), ranks)


def test_bad_input_names_the_argument():
    X = torch.randn(3, 4, 5)
    with pytest.raises(ValueError, match="n_iter must be an int >= 0"):
        hosvd(X, (1, 1, 1), n_iter=-1)
    with pytest.raises(ValueError, match="J must have at least 2 non-empty modes"):
        hosvd(torch.randn(5), (2,))
    with pytest.raises(ValueError, match="J contains NaN"):
        hosvd(torch.full((2, 2), float("nan")), (1, 1))
    with pytest.raises(TypeError, match="J must be a torch.Tensor"):
        hosvd([[1.0]], (1, 1))
    with pytest.raises(ValueError, match="out_modes must be an int from 1 to 2"):
        flattened_energy(X, out_modes=3)
    with pytest.raises(ValueError, match=r"k must be at most min\(m, n\) = 3"):
        energy_table(X, ks=(4,), out_modes=1)
    with pytest.raises(ValueError, match="core must be the full HOSVD core"):
        energy_table(X, ks=(1,), out_modes=1, core=torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="budget must allow the smallest Tucker model"):
        best_ranks(hosvd_energies(X), budget=5)
    with pytest.raises(ValueError, match=r"ranks\[2\] must be an int from 1 to the mode size 5"):
        tucker_params(X.shape, (1, 1, 6))
    with pytest.raises(ValueError, match="k must be an int from 1 to"):
        rank1_directions(*hosvd(X, (2, 2, 2)), k=9, in_modes=2)
    with pytest.raises(ValueError, match=r"V must have shape \(k, 4, 5\)"):
        jacobian_gain(X, torch.randn(1, 5, 4), in_modes=2)
    with pytest.raises(ValueError, match="u must be a non-empty 1-D float tensor"):
        profile_shape(torch.ones(2, 2))
    with pytest.raises(ValueError, match="u must be finite and not all zero"):
        profile_shape(torch.zeros(3))
    with pytest.raises(ValueError, match=r"rel must be a number in \(0, 1\]"):
        profile_shape(torch.ones(3), rel=0)
    with pytest.raises(ValueError, match="J must have 6 modes"):
        sensitivity_maps(X)
    with pytest.raises(ValueError, match="H_h dividing H"):
        own_patch_share(torch.ones(3, 2, 4, 4))
    with pytest.raises(ValueError, match="maps must be non-negative"):
        own_patch_share(-torch.ones(2, 2, 4, 4))
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        random_directions(0, (3, 4, 4))
    with pytest.raises(ValueError, match=r"shape must be \(C, H, W\)"):
        random_directions(1, (4, 4))
    with pytest.raises(ValueError, match="blur must be a finite number >= 0"):
        random_directions(1, (3, 4, 4), blur=-1.0)
    model = ll.tiny_model()
    with pytest.raises(ValueError, match="directions must have shape"):
        edit_attributes(model, Probe(ProbeConfig.tiny()), torch.zeros(model.sample_shape), T, torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="alphas must be at least two distinct"):
        edit_attributes(model, Probe(ProbeConfig.tiny()), torch.zeros(model.sample_shape), T,
                        torch.zeros(1, *model.sample_shape), alphas=(1.0, 1.0))
