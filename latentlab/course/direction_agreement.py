"""How well Haas et al.'s unsupervised directions agree with themselves: across faces and across data.

Two measurements behind lecture 05 and its shipped run (`benchmarks/lecture_05_haas_structure.py`):

- **Jacobian v_1 across faces** (`jacobian_v1`, `sharing_row`): the top right singular vector of
  d eps / dh (Haas et al., Sec. 4) of many faces at one step, and the |cosine| between every pair of
  faces' v_1. A direction shared by the faces gives large |cos|; a face-specific one |cos| near the
  chance level of two random unit vectors in D dimensions, about 1 / sqrt(D).
- **PCA across split halves** (`split_half_cosines`, `split_half_rows`): the per-timestep PCA of h
  (Haas et al., Sec. 3) fitted on the even and on the odd trajectories, and |cos| between the two
  halves' pc_k(t). A component of the model appears in both halves; one of the sample does not.

A singular vector's or a principal component's sign is arbitrary, hence |cos| throughout.

Reference: Haas et al., "Discovering Interpretable Directions in the Semantic Latent Space of
Diffusion Models", IEEE FG 2024 (arXiv 2303.11073).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from latentlab.ddim import ddim_sample, ddim_timesteps
from latentlab.directions import HTrajectory
from latentlab.faces import ATTRIBUTES
from latentlab.haas import pca_directions
from latentlab.jacobians import eps_jacobian
from latentlab.metrics import in_range_units, selectivity
from latentlab.model import Model, check_x

__all__ = ["pairwise_abs_cos", "agreement_summary", "jacobian_v1", "sharing_row", "split_half_cosines",
           "split_half_rows", "what_moves", "show_split_halves", "SHARING", "show_sharing"]


def pairwise_abs_cos(V: Tensor) -> Tensor:
    """|cos| between every pair of rows of `V` `(n, ...)` (flattened), the n (n - 1) / 2 pairs i < j.

    >>> pairwise_abs_cos(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])).round(decimals=3).tolist()
    [0.0, 0.707, 0.707]
    """
    if not isinstance(V, Tensor) or V.dim() < 2 or len(V) < 2:
        raise ValueError(f"V must be a tensor of at least 2 vectors (n >= 2, ...), got "
                         f"{tuple(V.shape) if isinstance(V, Tensor) else type(V).__name__}")
    X = V.flatten(1).double()
    X = X / X.norm(dim=1, keepdim=True)
    i, j = torch.triu_indices(len(X), len(X), offset=1)
    return (X @ X.T)[i, j].abs()


def agreement_summary(V: Tensor) -> dict[str, float]:
    """The spread of `pairwise_abs_cos(V)`: its median, 10th and 90th percentiles, min and max, and the
    chance level 1 / sqrt(D) of two random unit vectors in V's D dimensions (their mean |cos| is
    sqrt(2 / (pi D)) = 0.8 / sqrt(D) for large D).

    >>> s = agreement_summary(torch.eye(4)); s["median"], s["chance"]
    (0.0, 0.5)
    """
    c = pairwise_abs_cos(V)
    q = torch.quantile(c, torch.tensor([0.1, 0.5, 0.9], dtype=c.dtype)).tolist()
    return {"median": round(q[1], 4), "q10": round(q[0], 4), "q90": round(q[2], 4),
            "min": round(float(c.min()), 4), "max": round(float(c.max()), 4),
            "chance": round(1 / math.sqrt(V[0].numel()), 4)}


def jacobian_v1(model: Model, x_T: Tensor, steps: int, t_indices: list[int] | tuple[int, ...], *, k: int = 3,
                tol: float = 1e-4, progress: bool = True) -> Tensor:
    """Each face's Haas Jacobian v_1 (unit, `model.h_shape`) at the steps `t_indices` of its own plain
    DDIM trajectory: `(n, len(t_indices), *h_shape)`.

    v_1 is the top right singular vector of J = d eps / dh at x_t (`eps_jacobian`, top-k SVD with
    stopping tolerance `tol`; the registry's "Haas Jacobian" uses tol = 1e-2).

    >>> from latentlab import tiny_model
    >>> m = tiny_model(); x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> tuple(jacobian_v1(m, x, 2, [0, 1], k=2, progress=False).shape)
    (2, 2, 16, 8, 8)
    """
    xb, _ = check_x(model, x_T, "x_T")
    grid = ddim_timesteps(model, steps).tolist()
    bad = [i for i in t_indices if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(grid)]
    if not len(t_indices) or bad:
        raise ValueError(f"t_indices must be steps of the {steps}-step grid, 0 to {len(grid) - 1}, "
                         f"got {list(t_indices)!r}")
    _, xs = ddim_sample(model, xb, steps, return_trajectory=True, progress=False)
    out = torch.empty(len(xb), len(t_indices), *model.h_shape)
    for f in tqdm(range(len(xb)), disable=not progress, desc="Jacobian v_1 per face"):
        for j, s in enumerate(t_indices):
            out[f, j] = eps_jacobian(model, xs[s][f], grid[s], k, tol=tol).V[0]
    return out


def sharing_row(V: Tensor, t: int, *, label: str = "jacobian v_1 across faces") -> dict[str, Any]:
    """One shipped-run row: `agreement_summary` of the faces' directions `V` `(n, *h_shape)` at t.

    >>> sharing_row(torch.eye(4), 700)["n_faces"]
    4
    """
    return {"measure": label, "t": int(t), "n_faces": len(V), **agreement_summary(V)}


def split_half_cosines(model: Model, trajectory: HTrajectory, k: int = 5) -> Tensor:
    """|cos| between pc_k(t) of the even and of the odd trajectories: `(steps, k)`.

    Each half gets its own `pca_directions` fit (Haas et al.'s per-timestep PCA).

    >>> from latentlab import tiny_model, h_trajectory
    >>> m = tiny_model(); x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> tuple(split_half_cosines(m, h_trajectory(m, x, 2, progress=False), k=2).shape)
    (2, 2)
    """
    if not isinstance(trajectory, HTrajectory):
        raise TypeError(f"trajectory must be an HTrajectory (from h_trajectory), got {type(trajectory).__name__}")
    if len(trajectory.h) < 2 * (k + 1):
        raise ValueError(f"trajectory must hold at least 2 (k + 1) = {2 * (k + 1)} trajectories for k = {k}, "
                         f"got {len(trajectory.h)}")
    steps = trajectory.h.shape[1]
    halves = [pca_directions(model, None, steps, k=k, progress=False,
                             trajectory=trajectory._replace(h=trajectory.h[i::2], x0=trajectory.x0[i::2]))
              for i in (0, 1)]
    return (halves[0].components * halves[1].components).flatten(2).sum(-1).abs()


def split_half_rows(model: Model, trajectory: HTrajectory, k: int = 5) -> list[dict[str, Any]]:
    """Shipped-run rows of `split_half_cosines`, one per timestep: `t`, `n_trajectories`, `pc_1`..`pc_k`.

    >>> from latentlab import tiny_model, h_trajectory
    >>> m = tiny_model(); x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> sorted(split_half_rows(m, h_trajectory(m, x, 2, progress=False), k=2)[0])
    ['measure', 'n_trajectories', 'pc_1', 'pc_2', 't']
    """
    cos = split_half_cosines(model, trajectory, k)
    return [{"measure": "pca split halves", "t": int(t), "n_trajectories": len(trajectory.h),
             **{f"pc_{i + 1}": round(float(cos[s, i]), 4) for i in range(k)}}
            for s, t in enumerate(trajectory.timesteps.tolist())]


def what_moves(delta: dict[str, Tensor]) -> dict[str, Any]:
    """Whether the faces agree on what an edit moves: the attribute with the largest mean |change| over
    the faces (in range units, `in_range_units`), that mean |change| and its mean signed change, its
    `selectivity` (its share of the summed mean |changes|), `same_top` (faces on which it is also the
    attribute that moves most), `same_sign` (faces on which it moves with the sign of its mean),
    `with_sign` (that per-face mask, for a McNemar test against another edit) and `n` (faces).

    A reading of the untrained directions of Haas et al. (arXiv 2303.11073, Sec. IV), whose edits the
    paper names by eye.

    >>> from latentlab import ATTRIBUTES
    >>> d = {a: torch.zeros(3) for a in ATTRIBUTES}; d["smile"] = torch.tensor([1.0, 0.5, -0.1])
    >>> w = what_moves(d); w["top"], w["same_top"], w["same_sign"]
    ('smile', 3, 2)
    """
    names = list(ATTRIBUTES)
    units = in_range_units(delta)
    if units.dim() != 2:
        raise ValueError(f"delta must hold one change per face, (n,) per attribute, got {tuple(units.shape[:-1])}")
    mean_abs = units.abs().mean(0)
    top = int(mean_abs.argmax())
    sign = torch.sign(units[:, top].mean())
    with_sign = units[:, top] * sign > 0
    return {"top": names[top], "mean_abs": float(mean_abs[top]), "change": float(units[:, top].mean()),
            "selectivity": float(selectivity(mean_abs)), "same_top": int((units.abs().argmax(1) == top).sum()),
            "same_sign": int(with_sign.sum()), "with_sign": with_sign, "n": len(units)}


SHARING = ("jacobian v_1 across faces", "random directions")  # the shipped run's measures of `show_sharing`


def show_split_halves(table, *, n_faces: int, k: int = 5, dim: int = 2048):
    """PCA across split halves (Haas et al. 2024, Sec. 3): |cos| between the two halves' pc_1..pc_k over t,
    from the rows of `table` whose `measure` is "pca split halves" (columns `t`, `pc_1`, ...), against the
    chance level 1 / sqrt(dim) of h's dim numbers (2048: the bundled model's 128 x 4 x 4); `n_faces` the
    trajectories of both halves together.

    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> t = pd.DataFrame({"measure": ["pca split halves"] * 2, "t": [900, 0], "pc_1": [0.1, 0.9], "pc_2": [0.1, 0.5]})
    >>> fig = show_split_halves(t, n_faces=8, k=2); len(fig.axes[0].lines)
    3
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    half = table[table["measure"] == "pca split halves"]
    fig, ax = plt.subplots(figsize=(5, 2.8))
    for i in range(1, k + 1):
        ax.plot(half["t"], half[f"pc_{i}"], "o-", ms=3, label=f"pc_{i}")
    ax.axhline(dim ** -0.5, color="grey", ls=":", label="chance")
    ax.set(xlabel="t", ylabel="|cos| between halves", title=f"PCA of h, two halves of {n_faces}")
    ax.invert_xaxis()
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def show_sharing(table, *, n_faces: int):
    """Jacobian v_1 across faces (Haas et al. 2024, Sec. 4): |cos| between two faces' v_1 at each t (10 %,
    median, 90 % over pairs, `sharing_row`'s columns `q10`, `median`, `q90`) beside random directions',
    from the rows of `table` over `n_faces` faces whose `measure` is one of `SHARING`.

    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> t = pd.DataFrame({"measure": list(SHARING), "t": [700, 700], "n_faces": [8, 8], "q10": [0.5, 0.0],
    ...                   "median": [0.7, 0.02], "q90": [0.9, 0.05]})
    >>> fig = show_sharing(t, n_faces=8); [x.get_text() for x in fig.axes[0].get_yticklabels()]
    ['v_1, t = 700', 'random']
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    big = table[table["measure"].isin(SHARING) & (table["n_faces"] == n_faces)]
    fig, ax = plt.subplots(figsize=(5, 2.4))
    labels = [f"v_1, t = {t}" if m != "random directions" else "random" for m, t in zip(big["measure"], big["t"])]
    ax.errorbar(big["median"], range(len(big)), xerr=[big["median"] - big["q10"], big["q90"] - big["median"]],
                fmt="o", capsize=3)
    ax.set(yticks=range(len(big)), yticklabels=labels, xlabel="|cos| between two faces (10 %, median, 90 %)",
           title=f"{n_faces} faces")
    fig.tight_layout()
    return fig
