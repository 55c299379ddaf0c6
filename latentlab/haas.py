"""Haas et al.'s directions in h-space: per-timestep PCA, Jacobian directions, supervised directions.

All three give a `StepDirection` (a per-timestep h-shift for `ddim_sample(dh=...)`). Haas et al.
edit at every step and put the edited eps into both P_t and D_t (the plain, symmetric step):
`ddim_sample(..., dh=d, asymmetric=False)`; the asymmetric Asyrp step is an option.

- PCA: for each timestep of the grid, a PCA of h over N trajectories of the sampler (scikit-learn's
  PCA), sigma_k(t) = s_k / sqrt(N - 1); the edit adds `c * sigma_k(t) * pc_k(t)`. A principal
  component's sign is arbitrary per timestep, so signs are aligned along the trajectory: each
  step's component is flipped to agree (positive cosine) with the previous step's.
- Jacobian: the right singular vectors of J = d eps / dh (`jacobians.eps_jacobian`) at a chosen step,
  applied at every step scaled by that step's singular value s_k(t) of the same sample.
- Supervised: the mean h of the samples an attribute classifier ranks highest minus that of the
  lowest, per timestep (not normalised); other attributes' directions can be projected out.

References
- Haas, Huberman-Spiegelglas, Mulayoff, Graßhof, Brandt & Michaeli, "Discovering Interpretable Directions
  in the Semantic Latent Space of Diffusion Models", arXiv 2303.11073, IEEE FG 2024: Sec. 3 (PCA,
  supervised), Sec. 4 (Jacobian), their released code for sigma_k(t) and the symmetric step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from .directions import HTrajectory, StepDirection, h_trajectory, mean_difference
from .jacobians import eps_jacobian
from .model import Model, check_x

__all__ = ["PCADirections", "pca_directions", "JacobianDirections", "jacobian_directions", "supervised_direction"]


def _check_index(i: int, k: int, name: str = "i", what: str = "a direction index") -> None:
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < k:
        counted = f"k = {k} were computed" if what == "a direction index" else f"{k} in all"
        raise ValueError(f"{name} must be {what} from 0 to {k - 1} ({counted}), got {i!r}")


@dataclass
class PCADirections:
    """Per-timestep principal components of h: `components` `(S, k, *h_shape)` (unit norm, signs aligned
    along the trajectory), `sigma` `(S, k)` (standard deviations), `mean` `(S, *h_shape)`."""
    timesteps: Tensor
    components: Tensor
    sigma: Tensor
    mean: Tensor
    explained: Tensor  # (S, k): share of h's variance each component explains
    trajectory: HTrajectory | None = None  # the trajectories the PCA was fitted on (h, x0)

    @property
    def k(self) -> int:
        return self.components.shape[1]

    def direction(self, i: int, c: float = 1.0) -> StepDirection:
        """Haas et al.'s edit along component i: `c * sigma_i(t) * pc_i(t)` at every timestep."""
        _check_index(i, self.k)
        return StepDirection(self.timesteps, c * self.sigma[:, i, None, None, None] * self.components[:, i])


def _align_signs(comps: Tensor) -> Tensor:
    """Flip each step's components to a positive cosine with the previous step's (comps (S, k, D))."""
    out = comps.clone()
    for s in range(1, len(out)):
        cos = (out[s] * out[s - 1]).sum(-1)
        out[s] *= torch.where(cos < 0, -1.0, 1.0)[:, None]
    return out


@torch.no_grad()
def pca_directions(model: Model, x_T: Tensor | None, steps: int = 10, k: int = 5, *, batch_size: int = 64,
                   trajectory: HTrajectory | None = None, progress: bool = True, **sample_options) -> PCADirections:
    """Haas et al.'s unsupervised directions: a PCA of h at every timestep of the sampler's own trajectories.

    Under `accelerate launch` on several processes the trajectories are sampled data-parallel
    (`h_trajectory`, `scale.py`) and every process fits the same PCA on all of them.

    Args:
        x_T: `(N, C, H, W)` starting noise, N > k (Haas et al. use N = 500); None with `trajectory`.
        steps: the DDIM grid (Haas et al.: 10 steps). k: components per timestep.
        trajectory: trajectories already sampled (`h_trajectory`), to fit on instead of sampling;
            the result keeps them (`.trajectory`), so supervised directions can use the same h.
        sample_options: to `ddim_sample` (eta, generator, ...).

    Returns:
        `PCADirections`; `.direction(i, c)` is the edit `c * sigma_i(t) * pc_i(t)`.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x_T = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> pcs = pca_directions(m, x_T, 3, k=2, progress=False)
    >>> tuple(pcs.components.shape), tuple(pcs.sigma.shape), pcs.direction(0, 2.0).h_shape
    ((3, 2, 16, 8, 8), (3, 2), (16, 8, 8))
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if trajectory is None:
        xb, _ = check_x(model, x_T, "x_T")
        n = len(xb)
    else:
        if not isinstance(trajectory, HTrajectory) or tuple(trajectory.h.shape[2:]) != tuple(model.h_shape):
            raise ValueError(f"trajectory must be an HTrajectory of this model "
                             f"(h of shape (N, S, {', '.join(map(str, model.h_shape))}))")
        n = len(trajectory.h)
    if n <= k:
        raise ValueError(f"x_T must hold more samples than components: N = {n} with k = {k}; "
                         f"a PCA of N samples has at most N - 1 informative components")
    tr = trajectory if trajectory is not None else h_trajectory(model, xb, steps, batch_size=batch_size,
                                                                progress=progress, **sample_options)
    # scikit-learn is imported here, not with the package: it adds 0.7 s to every `import latentlab`
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    N, S = tr.h.shape[:2]
    H = tr.h.flatten(2).transpose(0, 1).double()  # (S, N, D)
    comps, sigma, mean, expl = [], [], [], []
    for s in range(S):
        with threadpool_limits(torch.get_num_threads()):  # BLAS threads beyond torch's slow a shared machine 10-40x
            pca = PCA(n_components=k, svd_solver="full").fit(H[s].cpu().numpy())
        comps.append(torch.from_numpy(pca.components_))
        sigma.append(torch.from_numpy(pca.explained_variance_).sqrt())  # s_k / sqrt(N - 1)
        mean.append(torch.from_numpy(pca.mean_))
        expl.append(torch.from_numpy(pca.explained_variance_ratio_))
    dtype, hs = tr.h.dtype, model.h_shape
    comps = _align_signs(torch.stack(comps))
    return PCADirections(tr.timesteps, comps.reshape(S, k, *hs).to(dtype), torch.stack(sigma).to(dtype),
                         torch.stack(mean).reshape(S, *hs).to(dtype), torch.stack(expl).to(dtype), tr)


@dataclass
class JacobianDirections:
    """Right singular vectors of d eps/dh at one step (`V` `(k, *h_shape)`), and the singular values
    of the same sample's Jacobian at every step of the grid (`S` `(steps, k)`); `V_all`
    `(steps, k, *h_shape)` keeps every step's vectors (`at_step` picks another step's)."""
    timesteps: Tensor
    t_index: int
    V: Tensor
    S: Tensor
    V_all: Tensor | None = None

    def at_step(self, t_index: int) -> "JacobianDirections":
        """The same sample's directions found at another step of the grid (same per-step scales)."""
        if self.V_all is None:
            raise ValueError("these JacobianDirections keep one step's vectors only (V_all is None)")
        _check_index(t_index, len(self.timesteps), "t_index", "a step of the grid")
        return JacobianDirections(self.timesteps, t_index, self.V_all[t_index], self.S, self.V_all)

    @property
    def k(self) -> int:
        return len(self.V)

    def direction(self, i: int, c: float = 1.0) -> StepDirection:
        """Haas et al.'s Jacobian edit: `c * s_i(t) * v_i` at every timestep (v_i from step `t_index`)."""
        _check_index(i, self.k)
        return StepDirection(self.timesteps, c * self.S[:, i, None, None, None] * self.V[i])


def jacobian_directions(model: Model, x_T: Tensor, steps: int = 10, k: int = 3, *, t_index: int = 0,
                        progress: bool = True, **svd_options) -> JacobianDirections:
    """Haas et al.'s Jacobian directions for one sample: the top-k right singular vectors of d eps/dh.

    The sample's plain DDIM trajectory from `x_T` gives x_t at every step; `eps_jacobian` gives the
    top-k SVD there. The directions of step `t_index` are kept, with every step's singular values as
    their per-step scale.

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x_T = torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> jd = jacobian_directions(m, x_T, 2, k=2, progress=False)
    >>> tuple(jd.V.shape), tuple(jd.S.shape)
    ((2, 16, 8, 8), (2, 2))
    """
    from tqdm.auto import tqdm

    from .ddim import ddim_sample, ddim_timesteps
    xb, _ = check_x(model, x_T, "x_T")
    if len(xb) != 1:
        raise ValueError(f"x_T must be one sample, (C, H, W) or (1, C, H, W), got a batch of {len(xb)}")
    grid = ddim_timesteps(model, steps)
    if isinstance(t_index, bool) or not isinstance(t_index, int) or not 0 <= t_index < len(grid):
        raise ValueError(f"t_index must be a step of the {steps}-step grid, 0 to {len(grid) - 1}, got {t_index!r}")
    _, xs = ddim_sample(model, xb, steps, return_trajectory=True, progress=False)
    V, S = [], []
    for s, t in enumerate(tqdm(grid.tolist(), disable=not progress, leave=False, desc="eps Jacobians")):
        svd = eps_jacobian(model, xs[s][0], t, k, **svd_options)
        S.append(svd.S)
        V.append(svd.V)
    V_all = torch.stack(V)
    return JacobianDirections(grid, t_index, V_all[t_index], torch.stack(S), V_all)


def supervised_direction(h: Tensor, scores: Tensor, *, top: float = 0.1, project_out: Sequence[Tensor] = ()) -> Tensor:
    """Haas et al.'s supervised direction: mean h of the top-scored samples minus that of the bottom ones.

    Args:
        h: `(N, ...)`, e.g. `(N, S, *h_shape)` from `h_trajectory` (one direction per timestep).
        scores: `(N,)` classifier scores (e.g. the probe's reading of each sample's x_0).
        top: the fraction taken at each end (the kit's choice; Haas et al. take the highest- and lowest-scored
            samples, Eq. 11, and their code a fixed number of them).
        project_out: directions of the same shape as the result (other attributes'), projected
            out per timestep after orthonormalising them (InterFaceGAN-style conditioning).

    Returns:
        `h.shape[1:]`, not normalised.

    >>> h = torch.tensor([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [3.0, 0.0]])
    >>> supervised_direction(h, torch.tensor([0.0, 1.0, 2.0, 3.0]), top=0.25)
    tensor([ 3., -1.])
    >>> supervised_direction(h, torch.tensor([0.0, 1.0, 2.0, 3.0]), top=0.25, project_out=[torch.tensor([0.0, 1.0])])
    tensor([3., 0.])
    """
    scores = torch.as_tensor(scores)
    if not isinstance(h, Tensor) or h.dim() < 2 or scores.shape != (len(h),):
        raise ValueError(f"scores must have shape ({len(h) if isinstance(h, Tensor) else '?'},), one per sample of h, "
                         f"got {tuple(scores.shape)}")
    if not isinstance(top, (int, float)) or not 0 < top <= 0.5:
        raise ValueError(f"top must be a fraction in (0, 0.5], got {top!r}")
    n = max(1, int(round(top * len(h))))
    order = scores.argsort(descending=True)
    labels = torch.zeros(len(h), dtype=torch.bool)
    labels[order[:n]] = True
    keep = labels.clone()
    keep[order[-n:]] = True
    d = mean_difference(h[keep], labels[keep])
    if len(project_out):
        others = torch.stack([torch.as_tensor(o, dtype=d.dtype) for o in project_out])
        if others.shape[1:] != d.shape:
            raise ValueError(f"project_out directions must have shape {tuple(d.shape)}, got {tuple(others.shape[1:])}")
        lead = d.shape[:-3] if d.dim() > 3 else ()  # per-timestep when h carries a step axis
        D = d.reshape(*lead, -1) if lead else d.reshape(1, -1)
        others_flat = others.reshape(len(others), *lead, -1) if lead else others.reshape(len(others), 1, -1)
        D = D.clone()
        for s in range(D.shape[0]):
            Q, _ = torch.linalg.qr(others_flat[:, s].T)  # (D, m) orthonormal basis of the others at this step
            D[s] -= Q @ (Q.T @ D[s])
        d = D.reshape(d.shape)
    return d
