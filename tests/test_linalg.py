"""topk_svd and dense_jacobian against outside oracles: torch.linalg.svd and finite differences."""

import math

import pytest
import torch

from latentlab.linalg import SVD, dense_jacobian, topk_svd

M, N = 120, 80  # test matrices are M x N: the map R^N -> R^M
SPECTRA = ("fast", "slow", "clustered")
TOL = {torch.float64: 1e-6, torch.float32: 1e-5}  # float32 products carry ~1e-7 relative noise



def spectrum(name: str) -> torch.Tensor:
    i = torch.arange(N, dtype=torch.float64)
    if name == "fast":
        return 0.7**i
    if name == "slow":
        return (1 + i) ** -0.5
    # clustered: s3 and s4 within 1%, so the top-3 subspace is not defined (only those ending
    # at a gap are); 1.5 and a 0.8^i tail after them
    head = torch.tensor([10.0, 5.0, 3.0, 2.98, 1.5], dtype=i.dtype)
    return torch.cat([head, 0.8 ** i[1 : N - 4]])


def known_matrix(name: str, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """A = Q1 diag(s) Q2^T with random orthonormal Q1 (M x N), Q2 (N x N)."""
    gen = torch.Generator().manual_seed(seed)
    s = spectrum(name)
    Q1 = torch.linalg.qr(torch.randn(M, N, generator=gen, dtype=torch.float64))[0]
    Q2 = torch.linalg.qr(torch.randn(N, N, generator=gen, dtype=torch.float64))[0]
    return ((Q1 * s) @ Q2.T).to(dtype)


def matrix_svd(A: torch.Tensor, k: int, **options) -> SVD:
    return topk_svd(lambda v: A @ v, lambda u: A.T @ u, (A.shape[1],), k, dtype=A.dtype, **options)


def largest_angle(V: torch.Tensor, V_true: torch.Tensor) -> float:
    """Largest principal angle between row spaces (sin = |(I - P_true) V^T|_2), in float64."""
    V, V_true = V.double(), V_true.double()
    return torch.linalg.matrix_norm(V - (V @ V_true.T) @ V_true, ord=2).clamp(max=1).asin().item()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("name", SPECTRA)
def test_known_spectra(name: str, k: int, dtype: torch.dtype) -> None:
    A = known_matrix(name, dtype)
    svd = matrix_svd(A, k, tol=TOL[dtype])
    true = torch.linalg.svd(A.double())
    assert svd.U.shape == (k, M) and svd.S.shape == (k,) and svd.V.shape == (k, N)
    assert svd.S.dtype == dtype and bool((svd.S[:-1] >= svd.S[1:]).all())
    torch.testing.assert_close(svd.S.double(), true.S[:k], rtol=1e-4, atol=0)
    for j in range(1, k + 1):  # every top-j subspace that ends at a gap
        if name == "clustered" and j == 3:
            continue
        assert largest_angle(svd.V[:j], true.Vh[:j]) < 1e-3, f"top-{j} right subspace"
        assert largest_angle(svd.U[:j], true.U.T[:j]) < 1e-3, f"top-{j} left subspace"
    assert torch.linalg.vector_norm(svd.V.double(), dim=1).sub(1).abs().max() < 1e-5
    assert torch.linalg.vector_norm(svd.U.double(), dim=1).sub(1).abs().max() < 1e-5
    JV = (A.double() @ svd.V.double().T).T  # row i: J v_i
    assert (JV - svd.S.double()[:, None] * svd.U.double()).norm(dim=1).max() < 1e-4 * true.S[0]


def test_clustered_vector_stays_in_its_cluster() -> None:
    # k = 3 cuts the pair s3 ~ s4: V[2] is only defined up to a rotation inside span(v3, v4)
    A = known_matrix("clustered", torch.float64)
    svd = matrix_svd(A, 3, tol=1e-6)
    true = torch.linalg.svd(A)
    assert largest_angle(svd.V[2:3], true.Vh[2:4]) < 1e-3


def mlp(seed: int = 0):
    """A tanh MLP R^(4 x 10) -> R^30 with float64 weights drawn from its own generator."""
    gen = torch.Generator().manual_seed(seed)
    W1 = torch.randn(64, 40, generator=gen, dtype=torch.float64) / math.sqrt(40)
    b1 = torch.randn(64, generator=gen, dtype=torch.float64)
    W2 = torch.randn(30, 64, generator=gen, dtype=torch.float64) / math.sqrt(64)
    x = torch.randn(4, 10, generator=gen, dtype=torch.float64)
    return (lambda z: W2 @ torch.tanh(W1 @ z.reshape(40) + b1)), x, (W1, b1, W2)


def test_mlp_jacobian_svd_matches_dense() -> None:
    f, x, _ = mlp()
    _, vjp_fn = torch.func.vjp(f, x)
    jvp = lambda v: torch.func.jvp(f, (x,), (v,))[1]  # noqa: E731
    svd = topk_svd(jvp, lambda u: vjp_fn(u)[0], x.shape, k=5, dtype=x.dtype, tol=1e-8)
    true = torch.linalg.svd(dense_jacobian(f, x))  # (30, 40) dense oracle
    assert svd.U.shape == (5, 30) and svd.V.shape == (5, 4, 10)
    torch.testing.assert_close(svd.S, true.S[:5], rtol=1e-6, atol=0)
    assert largest_angle(svd.V.reshape(5, 40), true.Vh[:5]) < 1e-6
    assert largest_angle(svd.U, true.U.T[:5]) < 1e-6


@pytest.mark.parametrize("mode, chunk_size", [
    ("auto", None), ("rev", 7), ("fwd", None), ("fwd", 9),
])
def test_dense_jacobian_matches_finite_differences(mode: str, chunk_size: int | None) -> None:
    f, x, params = mlp(seed=1)
    for p in params:
        p.requires_grad_(True)  # an outer graph that must not leak into the result
    h, n = 1e-6, x.numel()
    cols = []
    for j in range(n):  # central differences, float64
        e = torch.zeros(n, dtype=x.dtype)
        e[j] = h
        with torch.no_grad():
            cols.append((f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * h))
    fd = torch.stack(cols, dim=1)  # (30, 40)
    jac = dense_jacobian(f, x, mode=mode, chunk_size=chunk_size)
    assert jac.shape == (30, 40) and not jac.requires_grad
    assert ((jac - fd).norm() / fd.norm()).item() <= 1e-6


def test_product_count_beats_park_subspace_iteration() -> None:
    for spectrum in ("fast", "slow"):
        A = known_matrix(spectrum, torch.float64, seed=2)
        true_s = torch.linalg.svdvals(A)[:3]
        park_products, park_s = park_subspace_iteration(A, 3)
        svd, info = matrix_svd(A, 3, return_info=True)  # default tol = 1e-4, like Park's atol
        assert info["converged"] and info["products"] == info["jvps"] + info["vjps"]
        assert info["products"] < park_products, (spectrum, info, park_products)
        for s in (svd.S, park_s):  # equal accuracy
            torch.testing.assert_close(s, true_s, rtol=1e-4, atol=0)


def park_subspace_iteration(A: torch.Tensor, k: int, atol: float = 1e-4):
    """Park et al.'s loop (oracle for the count): V <- right singular vectors of (A V)^T A, at least
    10 and at most 50 rounds, stop when V moves by < atol; returns (#products, s)."""
    gen = torch.Generator().manual_seed(0)
    V = torch.linalg.qr(torch.randn(A.shape[1], k, generator=gen, dtype=A.dtype))[0]  # (n, k)
    products = 0
    for it in range(1, 51):
        M_ = (A @ V).T @ A  # k jvps, then k vjps
        products += 2 * k
        _, s2, Vh = torch.linalg.svd(M_, full_matrices=False)
        V_new = Vh.T * torch.sign((Vh.T * V).sum(0))  # align signs before measuring the change
        change = (V_new - V).abs().max().item()
        V = V_new
        if it >= 10 and change < atol:
            break
    return products, s2.sqrt()


def test_reported_counts_match_calls() -> None:
    A = known_matrix("slow", torch.float64)
    calls = {"jvp": 0, "vjp": 0}

    def jvp(v):
        calls["jvp"] += 1
        return A @ v

    def vjp(u):
        calls["vjp"] += 1
        return A.T @ u

    _, info = topk_svd(jvp, vjp, (N,), 3, dtype=A.dtype, vectorize=False, return_info=True)
    assert (info["jvps"], info["vjps"]) == (calls["jvp"], calls["vjp"])


def test_signs_seed_and_warm_start() -> None:
    A = known_matrix("slow", torch.float64)
    svd, info = matrix_svd(A, 3, return_info=True)
    again = matrix_svd(A, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(svd.V, again.V)  # seed=0 is the same as that generator
    top = svd.V.gather(1, svd.V.abs().argmax(1, keepdim=True))
    assert bool((top > 0).all())
    warm, warm_info = matrix_svd(A, 3, v0=svd.V, return_info=True)
    assert warm_info["iterations"] == 1 and warm_info["products"] < info["products"]
    torch.testing.assert_close(warm.S, svd.S, rtol=1e-6, atol=0)


def test_rank_deficient_and_restart() -> None:
    gen = torch.Generator().manual_seed(4)
    L, R = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in [(50, 2), (2, 40)])
    A = L @ R  # rank 2: s3 = 0
    svd, info = matrix_svd(A, 3, return_info=True)
    assert info["converged"]
    torch.testing.assert_close(svd.S, torch.linalg.svdvals(A)[:3], rtol=1e-8, atol=1e-10)
    B = known_matrix("slow", torch.float64)
    svd, info = matrix_svd(B, 3, oversample=1, max_basis=8, return_info=True)
    assert info["restarts"] > 0 and info["converged"]
    torch.testing.assert_close(svd.S, torch.linalg.svdvals(B)[:3], rtol=1e-4, atol=0)


def test_warns_when_not_converged() -> None:
    A = known_matrix("slow", torch.float64)
    with pytest.warns(RuntimeWarning, match="max_iters=1"):
        matrix_svd(A, 3, max_iters=1)


def test_bad_input_raises() -> None:
    A = torch.randn(20, 30, generator=torch.Generator().manual_seed(5))
    jvp, vjp = (lambda v: A @ v), (lambda u: A.T @ u)
    with pytest.raises(ValueError, match=r"k must .* got k=0"):
        topk_svd(jvp, vjp, (30,), k=0)
    with pytest.raises(ValueError, match=r"k must .*out_numel=20.* got k=21"):
        topk_svd(jvp, vjp, (30,), k=21)
    with pytest.raises(ValueError, match=r"k must .*in_numel=30.* got k=31"):
        topk_svd(jvp, vjp, (30,), k=31)
    calls = []

    def shifty_jvp(v):  # a different output shape on each call
        calls.append(1)
        return (A @ v)[: 21 - len(calls)]

    shape_error = r"jvp returned a tensor of shape \(19,\), expected \(20,\)"
    with pytest.raises(ValueError, match=shape_error):
        topk_svd(shifty_jvp, lambda u: A[: len(u)].T @ u, (30,), k=3)
    with pytest.raises(ValueError, match=r"vjp returned a tensor of shape \(29,\).*in_shape"):
        topk_svd(jvp, lambda u: (A.T @ u)[:-1], (30,), k=3)
    with pytest.raises(ValueError, match="jvp returned non-finite"):
        topk_svd(lambda v: A @ v * float("nan"), vjp, (30,), k=3)
    with pytest.raises(ValueError, match="vjp returned non-finite"):
        topk_svd(jvp, lambda u: A.T @ u / 0.0, (30,), k=3)
    with pytest.raises(ValueError, match="oversample must be an int >= 0, got -1"):
        topk_svd(jvp, vjp, (30,), k=3, oversample=-1)
    with pytest.raises(ValueError, match="v0 must have shape"):
        topk_svd(jvp, vjp, (30,), k=3, v0=torch.zeros(3, 29))


@pytest.mark.parametrize("name", SPECTRA)
def test_range_start_matches_dense(name: str) -> None:
    """out_shape given: the start block is A^T Omega; the result is the dense SVD's, and the start's b
    vjps are counted."""
    A = known_matrix(name, torch.float64)
    svd, info = matrix_svd(A, 3, tol=1e-6, out_shape=(M,), return_info=True)
    true = torch.linalg.svd(A)
    torch.testing.assert_close(svd.S, true.S[:3], rtol=1e-6, atol=0)
    assert largest_angle(svd.V[:2], true.Vh[:2]) < 1e-5
    assert info["vjps"] == info["jvps"] + info["block"]
    with pytest.raises(ValueError, match=r"jvp returned a tensor of shape \(120,\), expected \(7,\) \(out_shape\)"):
        matrix_svd(A, 3, out_shape=(7,), v0=true.Vh[:1])  # a warm start: no sketch, the jvp's shape is checked
    with pytest.raises(ValueError,
                       match=r"out_shape must be a positive int or a sequence of positive ints, got \(0,\)"):
        matrix_svd(A, 3, out_shape=(0,))
