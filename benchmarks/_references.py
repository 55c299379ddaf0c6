"""RE-IMPLEMENTATIONS of the two papers' published Jacobian-SVD loops, for the benchmark only.

These are not the authors' code and not part of latentlab. They were written for this kit from a
reading of the authors' repositories, keeping the choices that set their cost and accuracy (the
products used, the batching, the start, the stopping rule), and ported to latentlab's hooks
(`latentlab.hspace.h_of_batch` and `eps_of_batch` instead of the authors' re-implemented U-Net forward passes):

- Park et al. (2023), github.com/enkeejunior1/Diffusion-Pullback, `local_encoder_pullback_xt`
  (src/models/ddpm/diffusion.py), called with min_iter=10, max_iter=50, convergence_threshold=1e-4
  (src/modules/edit.py).
- Haas et al. (2023), github.com/renhaa/semantic-diffusion, `PowerItteration` and
  `PowerItterationMethod.calc_power_dirs` (editing/jacobian.py), tol=1e-5, max_iters=50.

Both return a latentlab `SVD` (standard naming: V in the input space, U in the output space, unit
rows) plus an info dict with the products used, so that the benchmark can compare like with like.
"""

from __future__ import annotations

import torch
from torch import Tensor

from latentlab.hspace import eps_of_batch, h_of_batch
from latentlab.linalg import SVD
from latentlab.model import Model, check_t, check_x, forward_ad


def park_pullback(model: Model, x_t: Tensor, t: int, k: int = 3, *, chunk_size: int = 25, min_iter: int = 10,
                  max_iter: int = 50, atol: float = 1e-4, seed: int = 0) -> tuple[SVD, dict]:
    """Park et al.'s block subspace iteration for J = dh/dx_t (re-implemented, see the module doc).

    V0 = QR(randn(D_x, k)); each round: U = J V by forward mode (jacfwd over the scalar a of
    h(x + a V), the k shifted copies of x run as one batch, at most `chunk_size` at a time), then
    M = U^T J by reverse mode (torch.autograd.functional.jacobian of x -> <U, h(x)>: one forward
    pass, then one backward pass per row), and V <- the right singular vectors of M. Stop when
    allclose(V_prev, V, atol) once the round index (from 0) exceeds min_iter, or after max_iter
    rounds. s = sqrt(singular values of M). Their U is J V_prev, unnormalised; here its rows are
    scaled to unit norm.
    """
    xb, _ = check_x(model, x_t)
    x = xb[:1].detach()
    tb = check_t(model, t, 1)
    get_h = lambda z: h_of_batch(model, z, tb.expand(len(z)))  # noqa: E731  (b, C, H, W) -> (b, *h_shape)
    D = x[0].numel()
    gen = torch.Generator().manual_seed(seed)
    V = torch.linalg.qr(torch.randn(D, k, generator=gen, dtype=x.dtype))[0].T.reshape(k, *x.shape[1:])
    a = torch.zeros((), dtype=x.dtype)
    chunks = -(-k // chunk_size)
    jvps = vjps = 0
    converged = False
    with forward_ad(model):
        for i in range(max_iter):
            V_prev = V.clone()
            U = torch.cat([torch.func.jacfwd(lambda a_, vi=vi: get_h(x + a_ * vi))(a) for vi in V.chunk(chunks)])
            M = torch.autograd.functional.jacobian(lambda z: (U * get_h(z)).flatten(1).sum(1), x).reshape(k, D)
            jvps, vjps = jvps + k, vjps + k
            _, s, Vh = torch.linalg.svd(M, full_matrices=False)
            V = Vh.reshape(k, *x.shape[1:])
            if torch.allclose(V_prev, V, atol=atol) and i > min_iter:
                converged = True
                break
    U = U.detach()
    U = U / U.flatten(1).norm(dim=1).reshape(-1, *[1] * (U.dim() - 1))
    info = {"iterations": i + 1, "jvps": jvps, "vjps": vjps, "products": jvps + vjps,
            "converged": converged}
    return SVD(U, s.sqrt().detach(), V.detach()), info


def _haas_power_iteration(f, h: Tensor, v_perp: Tensor | None, v_init: Tensor | None, tol: float,
                          max_iters: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor, int, bool]:
    """One deflated power iteration on J J^T with the iterate v in the output (eps) space.

    Each round: J^T v by one backward pass through a graph kept from one forward pass, J (J^T v) by
    one forward-mode pass along J^T v (theirs: torch.autograd.functional.jacobian, strategy
    "forward-mode", over a scalar a of f(h + (a - 1) J^T v): the same single forward-mode pass), then
    the earlier vectors are projected out, eigval = ||.||,
    v <- (.) / eigval. The count of rounds with |eigval - eigval_prev| < tol (an absolute tolerance
    on sigma^2) must exceed 10 to stop. Returns v (eps space), sigma = sqrt(eigval), J^T v / sigma
    (h space, from the v before the last update), the number of rounds and whether it stopped by tol.
    """
    if v_perp is not None:
        P = v_perp @ torch.linalg.inv(v_perp.T @ v_perp)  # projection P v_perp^T onto span(v_perp)
    h = h.detach().requires_grad_(True)
    y = f(h).reshape(-1)
    if v_init is None:
        v = torch.randn(y.shape, generator=gen, dtype=y.dtype)
        v = v / v.norm()
    else:
        v = v_init
    eig_prev, below, converged = torch.tensor(999.0, dtype=y.dtype), 0, False
    for it in range(max_iters):
        Jtv = torch.autograd.grad(y @ v, h, retain_graph=True)[0].detach()
        JJtv = torch.func.jvp(f, (h.detach(),), (Jtv,))[1].detach().reshape(-1)
        if v_perp is not None:
            JJtv = JJtv - P @ (v_perp.T @ JJtv)
        eig = JJtv.norm()
        sval = eig.sqrt()
        v = JJtv / eig
        if abs(eig - eig_prev) < tol:
            below += 1
            if below > 10:
                converged = True
                break
        eig_prev = eig
    return v, sval, Jtv / sval, it + 1, converged


def haas_eps_jacobian(model: Model, x_t: Tensor, t: int, k: int = 3, *, tol: float = 1e-5, max_iters: int = 50,
                      seed: int = 0) -> tuple[SVD, dict]:
    """Haas et al.'s power iteration with deflation for J = d eps/dh (re-implemented, see the module doc).

    One vector at a time; the first starts from a random unit vector, each later one from the
    vector found before it (as their `sequential_power_iteration` does), with all earlier vectors
    projected out at every round. Their code returns (v, s, u) with v in eps space and u in h
    space; here they become U (eps space) and V (h space, rows scaled to unit norm).
    """
    xb, _ = check_x(model, x_t)
    x = xb[:1].detach()
    tb = check_t(model, t, 1)
    h0 = torch.zeros(model.h_shape, dtype=x.dtype)
    f = lambda h: eps_of_batch(model, x, tb, h[None])  # noqa: E731  h is the shift from the unedited h (at 0)
    gen = torch.Generator().manual_seed(seed)
    us, ss, vs, rounds, stopped = [], [], [], [], []
    v_perp = v_init = None
    with forward_ad(model):
        for _ in range(k):
            u, s, v, n, ok = _haas_power_iteration(f, h0, v_perp, v_init, tol, max_iters, gen)
            us.append(u), ss.append(s), vs.append(v), rounds.append(n), stopped.append(ok)
            v_perp = torch.stack(us, dim=1)
            v_init = us[-1]
    V = torch.stack(vs)
    V = V / V.flatten(1).norm(dim=1).reshape(-1, *[1] * (V.dim() - 1))
    U = torch.stack(us).reshape(k, *x.shape[1:])
    n = sum(rounds)
    info = {"iterations": rounds, "jvps": n, "vjps": n, "products": 2 * n,
            "converged": all(stopped)}
    return SVD(U, torch.stack(ss), V.reshape(k, *model.h_shape)), info
