"""Matrix-free top-k SVD of Jacobians, and dense Jacobians for checks.

The geometry of a network f at a point is read from its Jacobian J: the right singular vectors V
are the input directions that change the output most, U = J V / S where they go. Equivalently, V
and S^2 are the top eigenvectors and eigenvalues of G = J^T J, the output's Euclidean metric pulled
back to the input (|J v|^2 = v^T G v; hence the name `pullback`). Neither J nor G is formed:
`topk_svd` only asks for Jacobian-vector products (J v) and vector-Jacobian products (J^T u).

References
- Halko, Martinsson & Tropp (2011), "Finding structure with randomness: probabilistic algorithms
  for constructing approximate matrix decompositions", SIAM Review 53(2). arXiv:0909.4061
- Musco & Musco (2015), "Randomized block Krylov methods for stronger and faster approximate
  singular value decomposition", NeurIPS. arXiv:1504.05477
- Wu & Simon (2000), "Thick-restart Lanczos method for large symmetric eigenvalue problems",
  SIAM J. Matrix Anal. Appl. 22(2) (the restart that bounds the basis size).
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS: the SVD of J = dh/dx_t, by plain block subspace iteration.
- Haas et al. (2023), "Discovering interpretable directions in the semantic latent space of
  diffusion models", arXiv:2303.11073: the SVD of J = d eps/dh, by deflated power iteration.

The U-Net's two Jacobians (`pullback`, `eps_jacobian`) are `topk_svd` fed with products from
`jacobian_products`: J^T u by reverse mode through one recorded forward pass, J v either by reverse
over reverse (the transpose of that vjp; the default up to 64 x 64 pixels) or by forward mode
(``torch.func.jvp``), each block of products run as one batch.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Callable, Literal, NamedTuple, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .hspace import _eps, _h
from .model import Model, _check_t, _check_x, forward_ad

__all__ = ["SVD", "dense_jacobian", "eps_jacobian", "jacobian_products", "pullback", "pullback_spectra", "topk_svd"]

LinearMap = Callable[[Tensor], Tensor]
_NEW_FRACTION = 100  # a new basis vector must keep > 100 eps of its norm outside the basis
_NO_LINALG = (torch.float16, torch.bfloat16)
# Measured residual floors (pullback, k = 3, tiny and celebahq-256 layouts): float16 5e-4 - 1.2e-3, bfloat16
# 3e-3 - 8e-3 (the products carry the dtype's rounding); the default tol sits a few times above them.
_HALF_TOL = {torch.float16: 5e-3, torch.bfloat16: 3e-2}


class SVD(NamedTuple):
    """Top-k singular triplets of a linear map J: ``J @ V[i] = S[i] * U[i]``, S descending."""

    U: Tensor  # (k, *out_shape), unit-norm rows
    S: Tensor  # (k,), descending
    V: Tensor  # (k, *in_shape), unit-norm rows


class _Products:
    """Batched calls of a jvp or vjp on rows (vmapped, or natively for ``takes_batches`` maps, in
    chunks of chunk_size), with shape/finiteness checks and a count."""

    def __init__(self, fn: LinearMap, name: str, in_shape: torch.Size, in_dtype: torch.dtype,
                 out_shape: torch.Size | None, vectorize: bool, chunk_size: int | None) -> None:
        self.fn, self.name, self.in_shape, self.in_dtype = fn, name, in_shape, in_dtype
        self.out_shape = out_shape  # None: fixed by the first call, checked afterwards
        self.expected = "in_shape" if out_shape is not None else "its first output's shape"
        if getattr(fn, "takes_batches", False):  # e.g. jacobian_products': one U-Net batch, no vmap
            size = chunk_size if vectorize else 1
            self.batched = fn if size is None else (lambda x: torch.cat([fn(c) for c in x.split(size)]))
        else:
            self.batched = torch.func.vmap(fn, chunk_size=chunk_size) if vectorize else None
        self.count = 0

    def __call__(self, rows: Tensor) -> Tensor:  # (b, in_numel) -> (b, out_numel)
        x = rows.reshape(len(rows), *self.in_shape).to(self.in_dtype)
        y = self.batched(x) if self.batched else torch.stack([self.fn(xi) for xi in x])
        shape = y.shape[1:]
        if self.out_shape is None:
            self.out_shape = shape
        elif shape != self.out_shape:
            raise ValueError(f"{self.name} returned a tensor of shape {tuple(shape)}, expected "
                             f"{tuple(self.out_shape)} ({self.expected})")
        y = y.detach().reshape(len(rows), -1).to(torch.promote_types(rows.dtype, y.dtype))
        if not torch.isfinite(y).all():
            raise ValueError(f"{self.name} returned non-finite values (nan or inf) for a finite "
                             "input; only finite products can be decomposed")
        self.count += len(rows)
        return y


def _as_shape(in_shape: int | Sequence[int]) -> torch.Size:
    dims = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
    if not dims or not all(isinstance(d, numbers.Integral) and d > 0 for d in dims):
        raise ValueError(f"in_shape must be a positive int or a sequence of positive ints, "
                         f"got {in_shape!r}")
    return torch.Size(dims)


def _check_k(k: int, in_numel: int, out_numel: int | None) -> None:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    limit = in_numel if out_numel is None else min(in_numel, out_numel)
    dims = f"in_numel={in_numel}" + ("" if out_numel is None else f", out_numel={out_numel}")
    if not 1 <= k <= limit:
        raise ValueError(f"k must satisfy 1 <= k <= min(in_numel, out_numel) ({dims}), got k={k}")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_options(k: int, n: int, oversample: int, tol: float, max_iters: int,
                   max_basis: int | None) -> tuple[int, int]:
    """Validate topk_svd's numbers; return the block size b and the basis limit."""
    _check_k(k, n, None)
    _check_int("oversample", oversample, 0)
    if not (isinstance(tol, numbers.Real) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    _check_int("max_iters", max_iters, 1)
    b = min(k + oversample, n)
    max_basis = max(8 * b, 64) if max_basis is None else max_basis
    _check_int("max_basis (at least 2 * (k + oversample))", max_basis, 2 * b)
    return b, max_basis


def _check_v0(v0: Tensor, in_shape: torch.Size, b: int) -> Tensor:
    v0 = v0.detach().reshape(1, *in_shape) if v0.shape == in_shape else v0.detach()
    if v0.shape[1:] != in_shape or not 1 <= len(v0) <= b:
        raise ValueError(f"v0 must have shape (j, *in_shape) = (j, {', '.join(map(str, in_shape))})"
                         f" with 1 <= j <= k + oversample = {b}, got {tuple(v0.shape)}")
    if not torch.isfinite(v0).all():
        raise ValueError("v0 must be finite, got nan or inf entries")
    return v0


def _orthonormal_block(X: Tensor, Q: Tensor, generator: torch.Generator) -> Tensor:
    """Rows orthonormal to Q and to each other spanning rows(X), one row at a time, each projected
    twice (CGS2, "twice is enough"); a row with nothing new is replaced by a random one."""
    eps, new = torch.finfo(X.dtype).eps, X[:0]
    for x in X:
        for _ in range(3):
            norm0 = x.norm()
            for _ in range(2):
                x = x - (x @ Q.T) @ Q - (x @ new.T) @ new
            if x.norm() > _NEW_FRACTION * eps * norm0:
                break
            x = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        else:
            raise RuntimeError("could not extend the basis with an independent vector")
        new = torch.cat([new, (x / x.norm()).unsqueeze(0)])
    return new


def _next_block(Z_src: Tensor, Q: Tensor, b: int, generator: torch.Generator) -> Tensor:
    """The Krylov extension: the part of J^T J Q_src outside span(Q), orthonormalised. After a
    restart the residuals of the kept Ritz vectors span only b directions (up to rounding), so
    at most the b strongest directions are taken."""
    R = Z_src - (Z_src @ Q.T) @ Q
    if len(R) > b:
        _, S, Vh = torch.linalg.svd(R, full_matrices=False)
        R = S[:b, None] * Vh[:b]
    return _orthonormal_block(R, Q, generator)


def _start_block(v0: Tensor | None, b: int, n: int, dtype: torch.dtype, device: torch.device,
                 generator: torch.Generator) -> Tensor:
    X = torch.randn(b, n, generator=generator, dtype=dtype, device=device)
    if v0 is not None:
        X[: len(v0)] = v0.reshape(len(v0), n).to(dtype=dtype, device=device)
    return _orthonormal_block(X, X[:0], generator)


def _rayleigh_ritz(Q: Tensor, Y: Tensor, Z: Tensor, k: int, tol: float) -> tuple[Tensor, ...]:
    """Best rank-k SVD of J on span(Q) from the rows Y = J Q, Z = J^T J Q; no new products.

    Returns S, Wh (rotates the basis into Ritz vectors), U, V and the top-k pair residuals
    sqrt(|J v - s u|^2 + |J^T u - s v|^2) / s_1, with J^T u = Z w / s. The first term is rounding
    only (u := J v / s). For s < tol * s_1 the second is |J^T J v - s^2 v| / (tol * s_1): u is
    then noise, and a (numerically) zero singular value needs only J^T J v ~ 0.
    """
    Ut, S, Wh = torch.linalg.svd(Y.T, full_matrices=False)  # Y.T = J Q^T = Ut diag(S) Wh
    V, U = Wh[:k] @ Q, Ut[:, :k].T  # (k, n), (k, m)
    s = S[:k].unsqueeze(1)  # (k, 1)
    floor = (tol * S[0]).clamp_min(torch.finfo(S.dtype).tiny)
    res_u = Wh[:k] @ Y - s * U
    res_v = (Wh[:k] @ Z - s.square() * V) / s.clamp_min(floor)
    residual = (res_u.square().sum(1) + res_v.square().sum(1)).sqrt() / S[0].clamp_min(floor)
    return S, Wh, U, V, residual


def _fix_signs(U: Tensor, V: Tensor) -> tuple[Tensor, Tensor]:
    """Make the largest-magnitude entry of each row of V positive (U follows)."""
    idx = V.abs().argmax(dim=1, keepdim=True)
    sign = torch.where(V.gather(1, idx) < 0, -1.0, 1.0).to(V.dtype)
    return U * sign, V * sign


def topk_svd(
    jvp: LinearMap,
    vjp: LinearMap,
    in_shape: int | Sequence[int],
    k: int = 3,
    *,
    oversample: int = 0,
    tol: float = 1e-4,
    max_iters: int = 50,
    max_basis: int | None = None,
    generator: torch.Generator | None = None,
    seed: int = 0,
    v0: Tensor | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    vectorize: bool = True,
    chunk_size: int | None = None,
    progress: bool = False,
    return_info: bool = False,
) -> SVD | tuple[SVD, dict[str, Any]]:
    """Top-k SVD by randomized block Krylov iteration (Musco & Musco 2015; Halko et al. 2011).

    The idea in one line: a block power (Krylov) iteration on G = J^T J, each G q costing one
    J v and one J^T u, whose top eigenpairs within the Krylov span are the top (v_i, s_i^2).
    The input basis Q grows by one block of b = k + oversample vectors per iteration, so that
    span(Q) = span(Omega, J^T J Omega, (J^T J)^2 Omega, ...), kept orthonormal by Gram-Schmidt
    done twice (a QR). Each iteration costs b jvps and b vjps, batched with ``torch.func.vmap``.
    Rayleigh-Ritz (a thin SVD of J Q^T) gives the estimates; the iteration stops when every top-k
    pair residual sqrt(|J v_i - s_i u_i|^2 + |J^T u_i - s_i v_i|^2) <= tol * s_1, computed from
    the products already made (u_i := J v_i / s_i, so the J^T u_i term is the one that tells).
    A basis larger than max_basis is cut back to its best Ritz vectors, with no new products
    (thick restart, Wu & Simon 2000). Park et al. (2023) instead iterate k vectors for at least
    10 rounds; the Krylov basis reaches the same accuracy with 3-7x fewer products.

    Args:
        jvp: v -> J v, one tensor of ``in_shape`` to one tensor of the output shape; vmappable.
            A function with the attribute ``takes_batches = True`` is instead called on a whole
            block ``(b, *in_shape)`` (as ``jacobian_products``' double-vjp products are).
        vjp: u -> J^T u, output shape to ``in_shape``; vmappable (or ``takes_batches``).
        in_shape: the shape of one input vector.
        k: how many singular triplets, 1 <= k <= min(in_numel, out_numel).
        oversample: extra vectors per block. The default, block size k as in Musco & Musco, took
            the fewest products on the test spectra; more vectors mean fewer iterations.
        tol: residual tolerance, relative to the largest singular value.
        max_iters: most blocks (iterations); a warning is raised if tol is not met.
        max_basis: most basis vectors before a restart keeps the best half (default max(8 b, 64)).
        generator, seed: the random start (``seed`` is used when ``generator`` is None).
        v0: a warm start, ``(j, *in_shape)`` with j <= b (e.g. the V of a nearby point).
        dtype, device: of the vectors given to jvp (default: v0's, else torch's default dtype,
            on the cpu); use torch.float64 for a float64 map. The work is done in the wider of
            dtype and the jvp's output dtype.
        vectorize: batch the products with vmap; False calls jvp/vjp once per vector.
        chunk_size: at most this many vectors per call (vmap's chunk_size), to bound memory.
        progress: show a progress bar.
        return_info: also return a dict with iterations, jvps, vjps, products, residual
            (max top-k residual / s_1), converged (tol met, or the basis filled R^in_numel),
            restarts and block (b).

    Returns:
        SVD(U (k, *out_shape), S (k,), V (k, *in_shape)); signs fixed so that the
        largest-magnitude entry of each V[i] is positive. With return_info, (SVD, info).

    Example:
        >>> A = torch.randn(20, 30, generator=torch.Generator().manual_seed(0))
        >>> svd = topk_svd(lambda v: A @ v, lambda u: A.T @ u, (30,), k=3, tol=1e-6)
        >>> svd.U.shape, svd.S.shape, svd.V.shape
        (torch.Size([3, 20]), torch.Size([3]), torch.Size([3, 30]))
        >>> torch.allclose(svd.S, torch.linalg.svd(A).S[:3], rtol=1e-4)
        True
        >>> torch.allclose(A @ svd.V[0], svd.S[0] * svd.U[0], atol=1e-4)
        True
    """
    in_shape = _as_shape(in_shape)
    n = in_shape.numel()
    b, max_basis = _check_options(k, n, oversample, tol, max_iters, max_basis)
    v0 = None if v0 is None else _check_v0(v0, in_shape, b)
    dtype = dtype or (v0.dtype if v0 is not None else torch.get_default_dtype())
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    if dtype in _NO_LINALG:  # torch.linalg.svd / qr have no half-precision kernels, on the CPU or on CUDA
        raise ValueError(f"dtype={dtype} cannot be used for the SVD's own work (torch.linalg.svd has no "
                         f"{str(dtype).removeprefix('torch.')} kernel); use torch.float32: the products may still "
                         "run in half precision (a float16 model's jvp gets its vectors cast to float16)")
    device = torch.device(device) if device is not None else (
        v0.device if v0 is not None else torch.device("cpu"))
    if generator is None:
        generator = torch.Generator(device).manual_seed(seed)

    J = _Products(jvp, "jvp", in_shape, dtype, None, vectorize, chunk_size)
    Q = _start_block(v0, b, n, dtype, device, generator)  # (b, n) orthonormal rows
    Y = J(Q)  # (b, m): rows J q, in the wider of dtype and the map's output dtype
    _check_k(k, n, Y.shape[1])
    Q = Q.to(Y.dtype)
    Jt = _Products(vjp, "vjp", J.out_shape, Y.dtype, in_shape, vectorize, chunk_size)
    Z = Jt(Y)  # (b, n): rows J^T J q
    last = slice(0, len(Q))  # rows whose J^T J images start the next block
    restarts, converged, it = 0, False, 1
    bar = tqdm(total=max_iters, disable=not progress, desc="topk_svd")
    while True:
        bar.update(1)
        S, Wh, U, V, residual = _rayleigh_ritz(Q, Y, Z, k, tol)
        rel = residual.max().item()
        bar.set_postfix(residual=f"{rel:.1e}")
        converged = rel <= tol or len(Q) >= n  # a full basis is exact up to rounding
        if converged or it >= max_iters:
            break
        if len(Q) + b > max_basis:  # thick restart: keep the best Ritz vectors, no products
            keep = max(b, max_basis // 2)
            Q, Y, Z = Wh[:keep] @ Q, Wh[:keep] @ Y, Wh[:keep] @ Z
            last, restarts = slice(0, len(Q)), restarts + 1
        block = _next_block(Z[last], Q, min(b, n - len(Q)), generator)
        Yb = J(block)
        Zb = Jt(Yb)
        last = slice(len(Q), len(Q) + len(block))
        Q, Y, Z = torch.cat([Q, block]), torch.cat([Y, Yb]), torch.cat([Z, Zb])
        it += 1
    bar.close()
    if not converged:
        warnings.warn(f"topk_svd: residual {rel:.2e} > tol={tol:g} after max_iters={max_iters} "
                      "iterations; raise max_iters or oversample", RuntimeWarning, stacklevel=2)
    U, V = _fix_signs(U, V)
    svd = SVD(U.reshape(k, *J.out_shape), S[:k].clone(), V.reshape(k, *in_shape))
    if not return_info:
        return svd
    info = {"iterations": it, "jvps": J.count, "vjps": Jt.count, "products": J.count + Jt.count,
            "residual": rel, "converged": converged, "restarts": restarts, "block": b}
    return svd, info


def dense_jacobian(
    f: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    chunk_size: int | None = None,
    mode: Literal["auto", "rev", "fwd"] = "auto",
) -> Tensor:
    """The full Jacobian df/dx at x as an (out_numel, in_numel) matrix, via torch.func.

    For checks and small maps only: it costs min(in_numel, out_numel) products and
    in_numel * out_numel memory. The result is detached: no autograd graph (e.g. to a model's
    parameters) is kept.

    Args:
        f: a function of one tensor returning one tensor.
        x: the point.
        chunk_size: how many rows (rev) or columns (fwd) to compute at once; None: all.
        mode: "rev" (jacrev), "fwd" (jacfwd) or "auto" (the one needing fewer products).

    Returns:
        A tensor of shape (out_numel, in_numel), row i = gradient of the i-th output.

    Example:
        >>> A = torch.randn(20, 30, generator=torch.Generator().manual_seed(0))
        >>> jac = dense_jacobian(lambda x: torch.tanh(A @ x), torch.zeros(30))
        >>> jac.shape, torch.allclose(jac, A)
        (torch.Size([20, 30]), True)
    """
    if mode not in ("auto", "rev", "fwd"):
        raise ValueError(f"mode must be 'auto', 'rev' or 'fwd', got {mode!r}")
    x = x.detach()
    with torch.no_grad():  # function transforms still differentiate f; nothing outer is recorded
        if mode == "auto":
            mode = "rev" if f(x).numel() <= x.numel() else "fwd"
        if mode == "rev":
            jac = torch.func.jacrev(f, chunk_size=chunk_size)(x)  # (*out_shape, *in_shape)
        else:  # jacfwd has no chunk_size: vmap the jvp over the input basis ourselves
            basis = torch.eye(x.numel(), dtype=x.dtype, device=x.device).reshape(-1, *x.shape)
            column = lambda v: torch.func.jvp(f, (x,), (v,))[1]  # noqa: E731
            jac = torch.func.vmap(column, chunk_size=chunk_size)(basis)  # (in_numel, *out_shape)
            jac = jac.reshape(x.numel(), -1).T.contiguous()
    return jac.detach().reshape(-1, x.numel())


# ----------------------------------------------------------------------------- the U-Net's Jacobians


def _one_sample(model: Model, x_t: Tensor, t: int | Tensor) -> tuple[Tensor, Tensor]:
    """Check x_t (one sample, (C, H, W) or (1, C, H, W)) and t; return them as (1, C, H, W), (1,)."""
    xb, _ = _check_x(model, x_t)
    if len(xb) != 1:
        raise ValueError(f"x_t must be one sample, (C, H, W) or (1, C, H, W), got a batch of {len(xb)}: "
                         f"shape {tuple(x_t.shape)}; call once per sample")
    return xb.detach(), _check_t(model, t, 1)


def jacobian_products(
    model: Model, x_t: Tensor, t: int | Tensor, which: Literal["pullback", "eps"] = "pullback",
    jvp_mode: Literal["auto", "double_vjp", "forward"] = "auto",
) -> tuple[LinearMap, LinearMap, torch.Size]:
    """J v and J^T u of the U-Net at one sample: J = dh/dx_t (Park et al. 2023) or d eps/dh (Haas et al. 2023).

    ``which="pullback"``: the encoder x_t -> h (the U-Net stops after its middle block).
    ``which="eps"``: dh -> eps(x_t | h + dh) at dh = 0 with the skip connections held at their
    unedited values (Haas et al.'s Jacobian of eps with respect to h).

    ``jvp_mode="double_vjp"`` runs a batch of b products as one batch of the U-Net itself:
    the point is repeated b times (the samples of a batch never interact in a U-Net), one forward
    pass is recorded and reused while b stays the same, J^T U is one backward pass through it, and J V is
    the transpose of that linear map, one more backward pass through the recorded backward graph
    (reverse over reverse). On the CPU this is 2-3x faster than forward mode, whose GroupNorm and
    attention rules cost about five reverse passes. Both products then accept one vector or a
    batch ``(b, *shape)`` (``topk_svd`` passes the batch); they cannot be vmapped and need autograd
    (not under ``torch.inference_mode``, where "auto" picks forward mode).
    ``jvp_mode="forward"``: J v by ``torch.func.jvp`` (forward mode), J^T u by ``torch.func.vjp``;
    both take one vector and may be called under ``torch.func.vmap``.
    ``jvp_mode="auto"`` (default) picks double_vjp for samples of at most 64 x 64 pixels and forward
    mode above: measured on 2 CPU cores (``benchmarks/jacobian_svd.py``), double_vjp makes the 32 px
    products 2-3x faster, but at 256 px (google/ddpm-ema-celebahq-256) it is 2x slower than
    forward mode and its recorded backward graph triples the peak memory (7.4 against 2.3 GiB).

    Args:
        model: from ``load_model`` or ``tiny_model``.
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        which: ``"pullback"`` or ``"eps"``.
        jvp_mode: ``"auto"``, ``"double_vjp"`` or ``"forward"``.

    Returns:
        (jvp, vjp, in_shape): ``jvp(v)`` maps a tensor of ``in_shape`` (x-space for the pullback,
        h-space for eps) to the output space (h, resp. eps); ``vjp(u)`` maps back.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> jvp, vjp, in_shape = jacobian_products(m, torch.zeros(3, 16, 16), 500, which="eps")
    >>> in_shape, jvp(torch.ones(in_shape)).shape, vjp(torch.ones(5, 3, 16, 16)).shape
    (torch.Size([16, 8, 8]), torch.Size([3, 16, 16]), torch.Size([5, 16, 8, 8]))
    """
    x, tb = _one_sample(model, x_t, t)
    if which == "pullback":
        point = x[0]
        f = lambda X: _h(model, X, tb.expand(len(X)))  # noqa: E731  (b, C, H, W) -> (b, *h_shape)
    elif which == "eps":
        point = torch.zeros(model.h_shape, dtype=x.dtype, device=x.device)
        f = lambda D: _eps(model, x.expand(len(D), *x.shape[1:]), tb.expand(len(D)), D)  # noqa: E731
    else:
        raise ValueError(f"which must be 'pullback' or 'eps', got {which!r}")
    if jvp_mode not in ("auto", "double_vjp", "forward"):
        raise ValueError(f"jvp_mode must be 'auto', 'double_vjp' or 'forward', got {jvp_mode!r}")
    if jvp_mode == "auto":
        small = math.prod(model.sample_shape[1:]) <= 64 * 64
        jvp_mode = "double_vjp" if small and not torch.is_inference_mode_enabled() else "forward"
    if jvp_mode == "forward":
        return (*_forward_products(model, f, point), point.shape)
    graphs = _RepeatedGraph(model, f, point)
    out_shape = torch.Size(model.h_shape if which == "pullback" else model.sample_shape)

    def as_batch(v: Tensor, shape: torch.Size, name: str) -> tuple[Tensor, bool]:
        if isinstance(v, Tensor) and torch._C._functorch.is_batchedtensor(v):
            raise ValueError(f"the double-vjp {name} takes a batch (b, *shape) itself and cannot be "
                             "vmapped; pass the batch, or use jvp_mode='forward'")
        if not isinstance(v, Tensor) or (v.shape != shape and v.shape[1:] != shape):
            got = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
            raise ValueError(f"{name} takes a tensor of shape {tuple(shape)} or a batch (b, *{tuple(shape)}), "
                             f"got {got}")
        return (v[None], True) if v.shape == shape else (v, False)

    def jvp(v: Tensor) -> Tensor:
        V, one = as_batch(v, point.shape, "jvp")
        X, Y, Uz, G = graphs.get(len(V), transpose=True)
        out = torch.autograd.grad(G, Uz, V.to(Uz.dtype), retain_graph=True)[0]
        return out[0] if one else out

    def vjp(u: Tensor) -> Tensor:
        U, one = as_batch(u, out_shape, "vjp")
        X, Y, _, _ = graphs.get(len(U), transpose=False)
        out = torch.autograd.grad(Y, X, U.to(Y.dtype), retain_graph=True)[0]
        return out[0] if one else out

    jvp.takes_batches = vjp.takes_batches = True  # type: ignore[attr-defined]
    return jvp, vjp, point.shape


class _RepeatedGraph:
    """The recorded pass Y = f(X) at X = the point repeated b times, and its backward graph
    G = J^T Uz (linear in Uz), for the latest batch size b (a new size replaces it)."""

    def __init__(self, model: Model, f: Callable[[Tensor], Tensor], point: Tensor) -> None:
        self.model, self.f, self.point = model, f, point
        self.b, self.graph = None, None

    def get(self, b: int, transpose: bool) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        if torch.is_inference_mode_enabled():
            raise RuntimeError("jvp_mode='double_vjp' needs autograd, which torch.inference_mode turns "
                               "off; call outside inference_mode, or use jvp_mode='forward'")
        if b != self.b:
            self.b, self.graph = None, None  # free the old graph before recording the new one
            with torch.enable_grad(), forward_ad(self.model):  # MATH attention has a double backward
                X = self.point.detach().expand(b, *self.point.shape).clone().requires_grad_(True)
                self.graph, self.b = (X, self.f(X), None, None), b
        X, Y, Uz, G = self.graph
        if transpose and G is None:
            with torch.enable_grad(), forward_ad(self.model):
                Uz = torch.zeros_like(Y, requires_grad=True)
                G = torch.autograd.grad(Y, X, Uz, create_graph=True)[0]
            self.graph = (X, Y, Uz, G)
        return self.graph


def _forward_products(model: Model, f: Callable[[Tensor], Tensor], point: Tensor) -> tuple[LinearMap, LinearMap]:
    one = lambda z: f(z[None])[0]  # noqa: E731
    with torch.no_grad(), forward_ad(model):  # function transforms ignore the outer no_grad
        _, vjp_fn = torch.func.vjp(one, point)

    # Vectors come in the SVD's working dtype (float32 for a half-precision model): cast to the model's.
    def jvp(v: Tensor) -> Tensor:
        with torch.no_grad(), forward_ad(model):
            return torch.func.jvp(one, (point,), (v.to(point.dtype),))[1]

    def vjp(u: Tensor) -> Tensor:
        with torch.no_grad():
            return vjp_fn(u.to(point.dtype))[0]

    return jvp, vjp


def _model_svd(model: Model, x_t: Tensor, t: int | Tensor, k: int, which: Literal["pullback", "eps"],
               options: dict[str, Any]) -> SVD | tuple[SVD, dict[str, Any]]:
    x, _ = _one_sample(model, x_t, t)  # validate before any work (jacobian_products checks again)
    h_numel, x_numel = math.prod(model.h_shape), math.prod(model.sample_shape)
    _check_k(k, *((x_numel, h_numel) if which == "pullback" else (h_numel, x_numel)))
    jvp, vjp, in_shape = jacobian_products(model, x, t, which, options.pop("jvp_mode", "auto"))
    # A half-precision model's products are cast up: the SVD itself runs in float32 at least.
    options.setdefault("dtype", torch.promote_types(x.dtype, torch.float32))
    options.setdefault("device", x.device)
    if x.dtype in _NO_LINALG:  # products carry ~eps(dtype) relative noise: a tighter tol is never met
        options.setdefault("tol", _HALF_TOL[x.dtype])
    return topk_svd(jvp, vjp, in_shape, k, **options)


def pullback(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, **options: Any) -> SVD | tuple[SVD, dict]:
    """Top-k SVD of J = dh/dx_t at one sample: the local latent basis of Park et al. (2023).

    V[i] are Park et al.'s editing directions v_i in x-space (the unit tangent vectors at x_t that
    change h the most); U[i] = J V[i] / S[i] the directions u_i in h-space they map to.
    The name: G = J^T J is the Euclidean metric of h pulled back to x-space, |J v|^2 = v^T G v;
    V[i] are its top eigenvectors and S[i]**2 its eigenvalues (the Riemannian metric of Park et
    al.'s title, degenerate on the kernel of J). The talk's "J_x^-1" is the pseudo-inverse
    V S^-1 U^T on these k triplets (rows flattened: u -> V.T @ ((U @ u) / S)); it sends the part
    of u outside span(U) to 0.

    Args:
        model: from ``load_model`` or ``tiny_model`` (conditional U-Nets use ``model.cond``).
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        k: how many singular triplets (``1 <= k <= min(x_t.numel(), h.numel())``).
        **options: passed to ``topk_svd``: ``tol``, ``seed``/``generator``, ``v0`` (warm start, e.g.
            the V of a nearby point), ``oversample``, ``max_iters``, ``return_info``, ``progress``...;
            and ``jvp_mode``, how J v is computed (``jacobian_products``; default "auto").

    A float16 or bfloat16 model computes its products in its own dtype and the SVD in float32
    (torch.linalg has no half-precision SVD); the default ``tol`` is then 5e-3 (float16) or 3e-2
    (bfloat16), a few times the residual floor their rounding leaves (measured: 1e-3 and 8e-3).

    Returns:
        SVD(U ``(k, *model.h_shape)``, S ``(k,)``, V ``(k, *model.sample_shape)``); with
        ``return_info=True``, ``(SVD, info)``.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> x = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> svd = pullback(m, x, 500)
    >>> svd.U.shape, svd.S.shape, svd.V.shape
    (torch.Size([3, 16, 8, 8]), torch.Size([3]), torch.Size([3, 3, 16, 16]))
    """
    return _model_svd(model, x_t, t, k, "pullback", options)


def eps_jacobian(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, **options: Any) -> SVD | tuple[SVD, dict]:
    """Top-k SVD of J = d eps/dh at one sample, skips fixed: the Jacobian directions of Haas et al. (2023).

    V[i] are Haas et al.'s directions in h-space (the shifts of h that change the predicted noise
    the most); U[i] = J V[i] / S[i] the matching changes of eps. J is the linearisation at dh = 0 of
    dh -> ``eps_of(model, x_t, t, dh=dh)``: only h moves, the skips keep their unedited values.
    (Haas et al.'s code names the two sides the other way round.)

    Args:
        model: from ``load_model`` or ``tiny_model`` (conditional U-Nets use ``model.cond``).
        x_t: one sample, ``(C, H, W)`` or ``(1, C, H, W)``.
        t: the timestep.
        k: how many singular triplets (``1 <= k <= min(h.numel(), x_t.numel())``).
        **options: passed to ``topk_svd`` (``tol``, ``seed``, ``v0``, ``return_info``, ...), and
            ``jvp_mode`` (``jacobian_products``).

    Returns:
        SVD(U ``(k, *model.sample_shape)``, S ``(k,)``, V ``(k, *model.h_shape)``); with
        ``return_info=True``, ``(SVD, info)``.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> svd = eps_jacobian(m, torch.zeros(3, 16, 16), 500, k=2)
    >>> svd.U.shape, svd.S.shape, svd.V.shape
    (torch.Size([2, 3, 16, 16]), torch.Size([2]), torch.Size([2, 16, 8, 8]))
    """
    return _model_svd(model, x_t, t, k, "eps", options)


def pullback_spectra(model: Model, x_t: Tensor, t: int | Tensor, k: int = 3, *, progress: bool = True,
                     **options: Any) -> SVD:
    """`pullback` at each of N samples, stacked: the per-sample spectra of J = dh/dx_t (Park et al. 2023).

    Data-parallel under `accelerate launch`: each process decomposes its contiguous share of the
    samples and every process gets all N, in order (`scale.py`); one process loops over all.
    Each sample gets the same start (``seed``, default 0), so a sample's result does not depend on
    how the samples were shared out.

    Args:
        x_t: `(N, C, H, W)`; t: one timestep for all; k and **options: as `pullback`
            (``return_info`` is not accepted here).

    Returns:
        SVD(U `(N, k, *h_shape)`, S `(N, k)`, V `(N, k, *sample_shape)`).

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> spectra = pullback_spectra(m, x, 500, k=2, progress=False)
    >>> tuple(spectra.S.shape), tuple(spectra.V.shape)
    ((2, 2), (2, 2, 3, 16, 16))
    """
    from .scale import gather, shard, world

    if options.get("return_info"):
        raise ValueError("return_info is not available for pullback_spectra; call pullback per sample for it")
    if "generator" in options:
        raise ValueError("pullback_spectra takes seed=, not generator=: one shared generator would make each "
                         "sample's start depend on the samples before it (and on the sharding)")
    xb, _ = _check_x(model, x_t)
    n = len(xb)
    rank, size = world()
    if n < size:
        raise ValueError(f"x_t holds {n} samples for {size} processes; give at least one per process")
    U, S, V = [], [], []
    for x in tqdm(shard(xb), disable=not progress or rank != 0, leave=False, desc="pullbacks"):
        svd = pullback(model, x, t, k, **options)
        U.append(svd.U)
        S.append(svd.S)
        V.append(svd.V)
    return SVD(gather(torch.stack(U), n), gather(torch.stack(S), n), gather(torch.stack(V), n))
