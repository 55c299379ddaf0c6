"""Exercise checks of notebook 01, the pushforward and the SVD: the SVD of a 2 x 2 matrix by hand (01.1),
`topk_svd` from Jacobian-vector products alone (01.2), a direction in a wide Jacobian's kernel (01.3),
power iteration for the top singular pair, written by the student from jvp and vjp (01.4).

The references are dense SVDs (`torch.linalg.svd`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from .feedback import Hint, abs_cos, as_number, as_tensor, call_answer, checker, is_close, svd_parts

__all__ = ["check_svd_by_hand", "check_topk_svd", "check_kernel_direction", "check_power_iteration"]


@checker("01.1 the SVD by hand", ("S", "v1"),
         "Fill in `S` (the singular values of A, largest first: the square roots of the eigenvalues of "
         "A^T A) and `v1` (the unit eigenvector of A^T A for the largest one).")
def check_svd_by_hand(A: Tensor, S: Any, v1: Any) -> str:
    """Exercise 01.1: the singular values of a 2 x 2 matrix and its first right singular vector.

    >>> A = torch.tensor([[3.0, 0.0], [4.0, 5.0]])
    >>> check_svd_by_hand(A, [45 ** 0.5, 5 ** 0.5], [0.5 ** 0.5, 0.5 ** 0.5]).ok
    True
    >>> check_svd_by_hand(A, [3.0, 5.0], [1.0, 0.0]).message[:40]
    "Those are A's eigenvalues (its diagonal,"
    """
    A = as_tensor(A, "A", (2, 2))
    ref = torch.linalg.svd(A)
    S, v1 = as_tensor(S, "S", (2,)), as_tensor(v1, "v1", (2,))
    eig_A = torch.linalg.eigvals(A)
    if is_close(S.sort(descending=True).values, ref.S ** 2, 1e-3):
        raise Hint("Those are the eigenvalues of A^T A, s_i^2: the singular values are their square roots.")
    S_desc = S.sort(descending=True).values
    if eig_A.imag.abs().max() < 1e-12 and is_close(S_desc, eig_A.real.sort(descending=True).values, 1e-3) \
            and not is_close(S_desc, ref.S, 1e-3):
        raise Hint("Those are A's eigenvalues (its diagonal, for a triangular A), not its singular values: for a "
                   "non-symmetric A they differ. Take the square roots of the eigenvalues of A^T A.")
    if is_close(S, ref.S.flip(0), 1e-3) and not is_close(S, ref.S, 1e-3):
        raise Hint("The right values, in the wrong order: list the singular values largest first, s_1 >= s_2.")
    if not is_close(S, ref.S, 1e-3):
        raise Hint(f"S = {S.numpy().round(4).tolist()} are not A's singular values: write A^T A, find its two "
                   "eigenvalues (trace and determinant give them), and take their square roots.")
    if abs(v1.norm().item() - 1) > 1e-3:
        if abs_cos(v1, ref.Vh[0]) > 0.999:
            raise Hint(f"`v1` points the right way but has length {v1.norm().item():.3f}: divide it by its norm.")
        raise Hint(f"`v1` should be a unit vector (yours has length {v1.norm().item():.3f}).")
    if abs_cos(v1, ref.Vh[0]) > 0.999:
        s = ref.S.numpy().round(3).tolist()
        return (f"s = {s} and v_1 = ±{ref.Vh[0].abs().numpy().round(3).tolist()}: A stretches v_1 by s_1, more than "
                "any other unit vector, onto u_1 = A v_1 / s_1.")
    if abs_cos(v1, ref.U[:, 0]) > 0.999:
        raise Hint("That is u_1 = A v_1 / s_1, the output direction (an eigenvector of A A^T). v_1 is the "
                   "eigenvector of A^T A: the input direction A stretches most.")
    raise Hint("`v1` is not the top eigenvector of A^T A: solve (A^T A - s_1^2 I) v = 0 and normalise.")


@checker("01.2 topk_svd from products", ("svd",),
         "Fill in the result of `topk_svd(jvp, vjp, in_shape, k=2)`, with jvp(v) = M v and vjp(u) = M^T u.")
def check_topk_svd(M: Tensor, svd: Any, k: int = 2) -> str:
    """Exercise 01.2: `topk_svd` of a matrix given only by its products, against the dense SVD.

    >>> M = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> import latentlab as ll
    >>> check_topk_svd(M, ll.SVD(U=torch.eye(2), S=torch.tensor([2.0, 1.0]), V=torch.eye(3)[:2])).ok
    True
    """
    M = as_tensor(M, "M")
    m, n = M.shape
    U, S, V = svd_parts(svd)
    if V.dim() == 2 and V.shape == (k, m) and m != n:
        raise Hint(f"Your V has rows of length {m}, the output's size: V lives in the input space (length {n}). "
                   "Are jvp and vjp swapped? jvp(v) = M @ v takes an input vector.")
    if V.shape == (n, k) and V.shape != (k, n):
        raise Hint(f"`svd.V` should hold one direction per row, shape ({k}, {n}); yours is {tuple(V.shape)}.")
    if S.shape != (k,) or V.shape != (k, n) or U.shape != (k, m):
        raise Hint(f"Expected S {(k,)}, V {(k, n)} and U {(k, m)} (k = {k}); yours are {tuple(S.shape)}, "
                   f"{tuple(V.shape)} and {tuple(U.shape)}: call topk_svd with in_shape=({n},) and k={k}.")
    ref = torch.linalg.svd(M, full_matrices=False)
    if not is_close(S, ref.S[:k], 1e-4):
        raise Hint(f"S = {S.numpy().round(4).tolist()}, the dense SVD gives {ref.S[:k].numpy().round(4).tolist()}: "
                   "check that vjp(u) returns M^T u (the transpose), not M u.")
    worst = min(abs_cos(V[i], ref.Vh[i]) for i in range(k))
    if worst < 0.999:
        raise Hint(f"S is right but a row of V is off (|cosine| {worst:.3f} with the dense SVD's): pass svd itself.")
    if (M @ V.T - U.T * S).abs().max().item() > 1e-4 * ref.S[0].item():
        raise Hint("S and V are right but M V[i] != S[i] U[i]: U should "
                   "be the output directions, U[i] = M V[i] / S[i].")
    return (f"S = {S.numpy().round(3).tolist()} equals the dense SVD's, and M V[i] = S[i] U[i]: found from products "
            f"with M alone, never writing M down in topk_svd.")


@checker("01.3 a direction in the kernel", ("v",),
         "Fill in a unit input direction that J sends to 0 (hint: the full SVD's last right singular vector).")
def check_kernel_direction(J: Tensor, v: Any) -> str:
    """Exercise 01.3: a unit vector v with J v = 0 for a wide Jacobian J (m < n).

    >>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), [1.0, 0.0, 0.0]).message[:24]
    'That is v_1, the directi'
    """
    J = as_tensor(J, "J")
    n = J.shape[1]
    v = as_tensor(v, "v", (n,))
    if v.norm().item() < 1e-12:
        raise Hint("v = 0 is trivially sent to 0: the exercise asks for a unit vector.")
    if abs(v.norm().item() - 1) > 1e-3:
        raise Hint(f"`v` should be a unit vector (yours has length {v.norm().item():.3f}): divide by its norm.")
    ref = torch.linalg.svd(J)
    residual = (J @ v).norm().item()
    if residual <= 1e-6 * ref.S[0].item():
        return (f"|J v| = {residual:.1e}: a step along v changes nothing to first order. "
                "It lies in the span of the right singular vectors beyond rank J = "
                f"{torch.linalg.matrix_rank(J).item()}, and G = J^T J gives it length 0.")
    if abs_cos(v, ref.Vh[0]) > 0.999:
        raise Hint("That is v_1, the direction J stretches most (by s_1), the opposite of the kernel: take the "
                   "last row of the full SVD's Vh (torch.linalg.svd(J, full_matrices=True)).")
    if residual <= 1e-3 * ref.S[0].item():
        raise Hint(f"|J v| = {residual:.1e}: nearly 0, as typed-in (rounded) numbers leave it; compute v in code "
                   "(the last row of the full SVD's Vh) rather than typing it.")
    raise Hint(f"|J v| = {residual:.1e}, not 0: the kernel is spanned by the rows of Vh beyond the rank of J.")


def _matrix_with_spectrum(m: int, n: int, s: Sequence[float], seed: int) -> Tensor:
    """A float64 m x n matrix U diag(s) V^T with random orthonormal U, V: its SVD is known by construction."""
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))[0]
    return U[:, :len(s)] @ torch.diag(torch.tensor(s, dtype=torch.float64)) @ V[:, :len(s)].T


def _products(M: Tensor) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """jvp(v) = M v and vjp(u) = M^T u, each refusing a vector of the other side's length with a hint."""
    m, n = M.shape

    def take(x: Any, size: int, name: str, other: str) -> Tensor:
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.shape != (size,):
            raise Hint(f"{name} was given a vector of shape {tuple(x.shape)}; it takes {other} of length {size}. "
                       "Are jvp and vjp swapped, or is one of them missing (v <- vjp(jvp(v)))?")
        return x

    return (lambda v: M @ take(v, n, "jvp", "an input direction v"),
            lambda u: M.T @ take(u, m, "vjp", "an output direction u"))


@checker("01.4 power iteration from products", ("power_iteration",),
         "Fill in `power_iteration(jvp, vjp, v0, iters)`, returning (s1, v1): repeat v <- vjp(jvp(v)) / norm.")
def check_power_iteration(power_iteration: Any, iters: int = 50) -> str:
    """Exercise 01.4: the top singular pair of a 5 x 8 map given only by jvp(v) = M v and vjp(u) = M^T u.

    The student's `power_iteration(jvp, vjp, v0, iters) -> (s1, v1)` runs on a matrix built with a
    known spectrum (3, 1.5, 0.8, 0.4, 0.1); the reference is its dense SVD.

    >>> def power_iteration(jvp, vjp, v0, iters):
    ...     v = v0 / v0.norm()
    ...     for _ in range(iters):
    ...         v = vjp(jvp(v))
    ...         v = v / v.norm()
    ...     return jvp(v).norm(), v
    >>> check_power_iteration(power_iteration).ok
    True
    >>> check_power_iteration(lambda jvp, vjp, v0, iters: (3.0, jvp(v0))).message[:29]
    'v1 has 5 entries, the output '
    """
    M = _matrix_with_spectrum(5, 8, (3.0, 1.5, 0.8, 0.4, 0.1), seed=4)
    jvp, vjp = _products(M)
    v0 = torch.randn(8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = call_answer(power_iteration, "power_iteration", jvp, vjp, v0.clone(), iters)
    if out is None:
        raise Hint("`power_iteration` returned None: write its loop and `return s1, v1`.")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Hint(f"`power_iteration` should return two things, (s1, v1); it returned a {type(out).__name__}.")
    s1, v1 = out
    v1 = torch.as_tensor(v1.detach() if isinstance(v1, Tensor) else v1, dtype=torch.float64).flatten()
    if v1.shape == (5,):
        raise Hint("v1 has 5 entries, the output space's size: that is an output direction (u_1 = J v_1 / s_1). "
                   "Return the input direction v, after the vjp.")
    v1 = as_tensor(v1, "v1", (8,)) if torch.isfinite(v1).all() else None
    if v1 is None:
        raise Hint("v1 holds inf or NaN: v grows by s_1^2 every iteration unless you divide it by its norm "
                   "inside the loop.")
    ref = torch.linalg.svd(M)
    cos = abs_cos(v1, ref.Vh[0])
    if cos < 1 - 1e-6:
        if abs_cos(v1, v0) > 1 - 1e-9:
            raise Hint("v1 is the start vector v0: nothing was iterated. Repeat v <- vjp(jvp(v)), `iters` times.")
        raise Hint(f"v1 is not yet the top right singular vector (|cosine| {cos:.4f} with it): repeat "
                   f"v <- vjp(jvp(v)) `iters` times (each multiplies v by J^T J).")
    if abs(v1.norm().item() - 1) > 1e-6:
        raise Hint(f"v1 points the right way but has length {v1.norm().item():.3g}: divide it by its norm "
                   "(inside the loop, or it overflows after more iterations).")
    s = as_number(s1, "s1")
    if abs(s - ref.S[0].item() ** 2) < 1e-6:
        raise Hint(f"s1 = {s:.4f} is s_1^2 = |J^T J v|: the singular value is |J v| = |jvp(v1)|.")
    if abs(s - ref.S[0].item()) > 1e-6 * ref.S[0].item():
        raise Hint(f"v1 is right, s1 = {s:.4f} is not: s_1 = |J v_1| = |jvp(v1)| (a norm, not a sum or mean).")
    return (f"s_1 = {s:.3f} and v_1 agree with the dense SVD (|cosine| {cos:.8f}), from {2 * iters} products: "
            f"each iteration shrinks the other directions by (s_2/s_1)^2 = {(ref.S[1] / ref.S[0]).item() ** 2:.2f}.")
