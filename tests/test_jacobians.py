"""pullback and eps_jacobian on tiny U-Nets, against oracles built here: dense Jacobians of maps
written with plain forward hooks, torch.linalg.svd, and float64 central finite differences."""

import pytest
import torch

import latentlab as ll
from latentlab.jacobians import eps_jacobian, jacobian_products, pullback
from latentlab.linalg import dense_jacobian, topk_svd

T = 600



def tiny(conditional: bool, dtype: torch.dtype = torch.float64) -> ll.Model:
    """8 px: x has 192 entries and h 256 (16 x 4 x 4), so dense Jacobians are cheap."""
    return ll.tiny_model(conditional=conditional, sample_size=8).to(dtype=dtype)


def sample(model: ll.Model, seed: int = 0) -> torch.Tensor:
    p = next(model.unet.parameters())
    return torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(seed), dtype=p.dtype)


def unet_kwargs(model: ll.Model) -> dict:
    return {"encoder_hidden_states": model.cond} if model.conditional else {}


def h_by_hook(model: ll.Model, x: torch.Tensor) -> torch.Tensor:
    """Oracle encoder x -> h: the whole U-Net runs, a forward hook records the middle block's output."""
    out = []
    handle = model.unet.mid_block.register_forward_hook(lambda m, a, o: out.append(o))
    try:
        model.unet(x[None], T, **unet_kwargs(model))
    finally:
        handle.remove()
    return out[0][0]


def eps_by_hook(model: ll.Model, x: torch.Tensor, dh: torch.Tensor) -> torch.Tensor:
    """Oracle dh -> eps: a forward hook adds dh to the middle block's output; nothing else changes."""
    handle = model.unet.mid_block.register_forward_hook(lambda m, a, o: o + dh[None])
    try:
        return model.unet(x[None], T, **unet_kwargs(model)).sample[0]
    finally:
        handle.remove()


def dense(model: ll.Model, x: torch.Tensor, which: str) -> torch.Tensor:
    """(out_numel, in_numel) Jacobian of the oracle map, by torch.func through dense_jacobian."""
    with ll.forward_ad(model):
        if which == "pullback":
            return dense_jacobian(lambda z: h_by_hook(model, z), x, chunk_size=64)
        zero = torch.zeros(model.h_shape, dtype=x.dtype)
        return dense_jacobian(lambda dh: eps_by_hook(model, x, dh), zero, chunk_size=64)


def largest_angle(V: torch.Tensor, V_true: torch.Tensor) -> float:
    """Largest principal angle between the row spaces of V and V_true (orthonormal rows)."""
    V, V_true = V.double(), V_true.double()
    return torch.linalg.matrix_norm(V - (V @ V_true.T) @ V_true, ord=2).clamp(max=1).asin().item()


def check_against_dense(svd, J: torch.Tensor, k: int, in_shape, out_shape, rtol: float = 1e-4) -> None:
    true = torch.linalg.svd(J.double(), full_matrices=False)
    assert svd.U.shape == (k, *out_shape) and svd.S.shape == (k,) and svd.V.shape == (k, *in_shape)
    torch.testing.assert_close(svd.S.double(), true.S[:k], rtol=rtol, atol=0)
    V, U = svd.V.reshape(k, -1).double(), svd.U.reshape(k, -1).double()
    gaps = (true.S[:k] - true.S[1 : k + 1]) / true.S[0]
    checked = 0
    for j in range(1, k + 1):  # every top-j subspace that ends at a gap
        if gaps[j - 1] > 1e-3:
            assert largest_angle(V[:j], true.Vh[:j]) < 1e-3, f"top-{j} right subspace"
            assert largest_angle(U[:j], true.U.T[:j]) < 1e-3, f"top-{j} left subspace"
            checked += 1
    assert checked >= 1
    residual = (V @ J.double().T) - svd.S.double()[:, None] * U  # row i: J v_i - s_i u_i
    assert residual.norm(dim=1).max() <= 1e-4 * true.S[0]


@pytest.mark.parametrize("conditional", [False, True])
def test_pullback_matches_dense_svd(conditional: bool) -> None:
    model = tiny(conditional)
    x = sample(model)
    svd = pullback(model, x, T, k=4, tol=1e-9)
    check_against_dense(svd, dense(model, x, "pullback"), 4, model.sample_shape, model.h_shape)


@pytest.mark.parametrize("conditional", [False, True])
def test_eps_jacobian_matches_dense_svd(conditional: bool) -> None:
    model = tiny(conditional)
    x = sample(model, seed=1)
    svd = eps_jacobian(model, x, T, k=4, tol=1e-9)
    check_against_dense(svd, dense(model, x, "eps"), 4, model.h_shape, model.sample_shape)


def test_float32_defaults_match_float64_dense() -> None:
    """The everyday call: float32 model, default k and tol, a batch of one."""
    model = tiny(False, torch.float32)
    x = sample(model, seed=2)
    model64 = tiny(False)
    for fn, which, in_shape, out_shape in [(pullback, "pullback", model.sample_shape, model.h_shape),
                                           (eps_jacobian, "eps", model.h_shape, model.sample_shape)]:
        svd = fn(model, x[None], T)
        assert svd.S.dtype == torch.float32
        J = dense(model64, x.double(), which)
        true = torch.linalg.svdvals(J)
        torch.testing.assert_close(svd.S.double(), true[:3], rtol=1e-4, atol=0)
        V, U = svd.V.reshape(3, -1).double(), svd.U.reshape(3, -1).double()
        assert ((V @ J.T) - svd.S.double()[:, None] * U).norm(dim=1).max() <= 1e-4 * true[0]
        assert svd.U.shape == (3, *out_shape) and svd.V.shape == (3, *in_shape)


def test_dense_pullback_matches_finite_differences() -> None:
    model = tiny(False)
    x = sample(model, seed=3)
    J = dense(model, x, "pullback")  # (h_numel, x_numel)
    n, step = x.numel(), 1e-6
    E = torch.eye(n, dtype=x.dtype).reshape(n, *x.shape) * step
    cols = []
    with torch.no_grad():
        for chunk in E.split(64):  # central differences, a batch of shifted inputs at a time
            hp = ll.h_of(model, x + chunk, T)
            hm = ll.h_of(model, x - chunk, T)
            cols.append(((hp - hm) / (2 * step)).reshape(len(chunk), -1))
    fd = torch.cat(cols).T
    assert J.shape == fd.shape == (model.h_shape[0] * model.h_shape[1] * model.h_shape[2], n)
    assert ((J - fd).norm() / fd.norm()).item() <= 1e-6


@pytest.mark.parametrize("conditional,jvp_mode", [(False, "double_vjp"), (True, "double_vjp"), (False, "forward")])
def test_eps_jacobian_products_hold_skips_fixed(conditional: bool, jvp_mode: str) -> None:
    """The map eps_jacobian decomposes is d eps/dh with the skips fixed: its J (from both its jvp and
    its vjp) equals finite differences of eps_of(x, t, dh=step * e_j), which edits h only. The
    double-vjp products take a whole batch of vectors; the forward-mode ones are vmapped."""
    model = tiny(conditional)
    x = sample(model, seed=4)
    jvp, vjp, in_shape = jacobian_products(model, x, T, which="eps", jvp_mode=jvp_mode)
    assert in_shape == model.h_shape
    n, m = torch.Size(model.h_shape).numel(), x.numel()
    batched = (lambda fn: fn) if jvp_mode == "double_vjp" else (lambda fn: torch.func.vmap(fn, chunk_size=64))
    J_fwd = batched(jvp)(torch.eye(n, dtype=x.dtype).reshape(n, *in_shape))
    J_fwd = J_fwd.reshape(n, m).T
    J_rev = batched(vjp)(torch.eye(m, dtype=x.dtype).reshape(m, *x.shape)).reshape(m, n)
    one = jvp(torch.eye(n, dtype=x.dtype)[3].reshape(in_shape))  # one vector, no batch dimension
    torch.testing.assert_close(one.reshape(-1), J_fwd[:, 3], rtol=1e-9, atol=1e-12)
    step, cols = 1e-6, []
    E = torch.eye(n, dtype=x.dtype).reshape(n, *in_shape) * step
    xs = x.expand(64, *x.shape)
    with torch.no_grad():
        for chunk in E.split(64):
            ep = ll.eps_of(model, xs[: len(chunk)], T, dh=chunk)
            em = ll.eps_of(model, xs[: len(chunk)], T, dh=-chunk)
            cols.append(((ep - em) / (2 * step)).reshape(len(chunk), -1))
    fd = torch.cat(cols).T  # (m, n)
    assert ((J_fwd - fd).norm() / fd.norm()).item() <= 1e-6
    torch.testing.assert_close(J_rev, J_fwd, rtol=1e-9, atol=1e-12)


def test_options_are_forwarded() -> None:
    model = tiny(False, torch.float32)
    x = sample(model, seed=5)
    svd, info = pullback(model, x, T, return_info=True)
    assert info["converged"] and info["products"] == info["jvps"] + info["vjps"]
    again = pullback(model, x[None], T, seed=0)  # the default seed, and a batch of one
    torch.testing.assert_close(again.V, svd.V)
    other = pullback(model, x, T, seed=1)
    torch.testing.assert_close(other.S, svd.S, rtol=1e-4, atol=0)
    warm, warm_info = pullback(model, x, T, v0=svd.V, return_info=True)
    assert warm_info["products"] < info["products"]
    torch.testing.assert_close(warm.S, svd.S, rtol=1e-4, atol=0)
    fwd = pullback(model, x, T, jvp_mode="forward")  # forward-mode J v: the same decomposition
    torch.testing.assert_close(fwd.S, svd.S, rtol=1e-4, atol=0)
    torch.testing.assert_close(fwd.V, svd.V, rtol=0, atol=1e-3)
    k1 = eps_jacobian(model, x, T, k=1, tol=1e-3)
    assert k1.V.shape == (1, *model.h_shape)


def test_bad_input_raises() -> None:
    model = tiny(False, torch.float32)
    x = sample(model)
    n_x, n_h = x.numel(), torch.Size(model.h_shape).numel()
    for fn in (pullback, eps_jacobian):
        with pytest.raises(ValueError, match=r"k must satisfy .* got k=0"):
            fn(model, x, T, k=0)
        with pytest.raises(ValueError, match=rf"k must .*min\(in_numel, out_numel\).* got k={min(n_x, n_h) + 1}"):
            fn(model, x, T, k=min(n_x, n_h) + 1)
        with pytest.raises(ValueError, match=r"x_t must be one sample.*batch of 2"):
            fn(model, torch.stack([x, x]), T)
        with pytest.raises(ValueError, match="x_t contains NaN"):
            fn(model, torch.full_like(x, float("nan")), T)
        with pytest.raises(ValueError, match=r"x_t must have per-sample shape \(3, 8, 8\)"):
            fn(model, x[:, :4], T)
        with pytest.raises(ValueError, match=r"t must lie in \[0, 1000\)"):
            fn(model, x, 1000)
    with pytest.raises(ValueError, match="which must be 'pullback' or 'eps', got 'h'"):
        jacobian_products(model, x, T, which="h")
    with pytest.raises(ValueError, match="jvp_mode must be 'auto', 'double_vjp' or 'forward', got 'fwd'"):
        jacobian_products(model, x, T, jvp_mode="fwd")


def test_double_vjp_products_check_their_input() -> None:
    """A flat or wrong-shaped vector is refused before any U-Net pass; vmap and inference_mode give
    clear errors; "auto" falls back to forward mode under inference_mode and above 64 x 64 pixels."""
    model = tiny(False, torch.float32)
    x = sample(model)
    jvp, vjp, in_shape = jacobian_products(model, x, T, jvp_mode="double_vjp")
    with pytest.raises(ValueError, match=r"jvp takes a tensor of shape \(3, 8, 8\) or a batch .* got \(192,\)"):
        jvp(torch.zeros(192))
    with pytest.raises(ValueError, match=r"vjp takes a tensor of shape \(16, 4, 4\) or a batch .* got \(2, 3, 8, 8\)"):
        vjp(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="cannot be vmapped"):
        torch.func.vmap(jvp)(torch.zeros(2, *in_shape))
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match="needs autograd"):
            jvp(torch.zeros(in_shape))
        auto = pullback(model, x, T, k=2)  # auto: forward mode here
    torch.testing.assert_close(auto.S, pullback(model, x, T, k=2).S, rtol=1e-4, atol=0)
    assert getattr(jacobian_products(model, x, T)[0], "takes_batches", False)  # 8 px: double vjp
    big = ll.tiny_model(sample_size=128)
    jvp_big, _, _ = jacobian_products(big, torch.zeros(3, 128, 128), T)
    assert not getattr(jvp_big, "takes_batches", False)  # 128 px: forward mode


def test_chunk_size_bounds_the_batch() -> None:
    model = tiny(False, torch.float32)
    x = sample(model, seed=2)
    sizes = []
    jvp, vjp, in_shape = jacobian_products(model, x, T)
    counted = lambda v: (sizes.append(len(v)), jvp(v))[1]  # noqa: E731
    counted.takes_batches = True
    svd = topk_svd(counted, vjp, in_shape, k=3, chunk_size=2)
    assert max(sizes) == 2
    torch.testing.assert_close(svd.S, pullback(model, x, T).S, rtol=1e-4, atol=0)


@pytest.mark.parametrize("which", ["pullback", "eps"])
@pytest.mark.parametrize("conditional", [False, True])
def test_layer_rules_give_autograds_products(which: str, conditional: bool) -> None:
    """The convolutions and group norms recorded with their own transposes (the default) give the J v
    and J^T u of autograd's generic double backward (layer_rules=False), up to float64 rounding."""
    model = tiny(conditional)
    x = sample(model, seed=6)
    fast_jvp, fast_vjp, in_shape = jacobian_products(model, x, T, which, jvp_mode="double_vjp")
    ref_jvp, ref_vjp, _ = jacobian_products(model, x, T, which, jvp_mode="double_vjp", layer_rules=False)
    out_shape = model.h_shape if which == "pullback" else model.sample_shape
    V = torch.randn(5, *in_shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    U = torch.randn(5, *out_shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    torch.testing.assert_close(fast_jvp(V), ref_jvp(V), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast_vjp(U), ref_vjp(U), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="layer_rules must be True or False, got 'yes'"):
        jacobian_products(model, x, T, which, layer_rules="yes")


def test_range_start_and_random_start_agree() -> None:
    """pullback starts from J^T Omega (out_shape given to topk_svd); the plain random start
    (out_shape=None) finds the same triplets, and the start's vjps are counted."""
    model = tiny(False, torch.float32)
    x = sample(model, seed=7)
    svd, info = pullback(model, x, T, return_info=True)
    plain, plain_info = pullback(model, x, T, out_shape=None, return_info=True)
    torch.testing.assert_close(svd.S, plain.S, rtol=1e-4, atol=0)
    assert largest_angle(svd.V.reshape(3, -1), plain.V.reshape(3, -1)) < 1e-2
    assert info["vjps"] == info["jvps"] + info["block"]  # b vjps for the start J^T Omega
    assert plain_info["vjps"] == plain_info["jvps"]


def test_vjp_first_records_the_graph_the_jvps_use() -> None:
    """vjp_first=True: the first vjp also records the backward graph the jvps then transpose; the
    products are the ones of the default order (a jvp first), to float64 rounding."""
    model = tiny(False)
    x = sample(model, seed=8)
    V = torch.randn(3, *model.sample_shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
    U = torch.randn(3, *model.h_shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    jvp, vjp, _ = jacobian_products(model, x, T, vjp_first=True)
    first_vjp, then_jvp, again_vjp = vjp(U), jvp(V), vjp(2 * U)
    ref_jvp, ref_vjp, _ = jacobian_products(model, x, T)
    torch.testing.assert_close(then_jvp, ref_jvp(V), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(first_vjp, ref_vjp(U), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(again_vjp, 2 * first_vjp, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="vjp_first must be True or False, got 1"):
        jacobian_products(model, x, T, vjp_first=1)
