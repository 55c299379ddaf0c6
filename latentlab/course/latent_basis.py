"""Park et al.'s local latent basis measured over many faces: how smooth v_1 is at each timestep
(coarse to fine), how much two faces' tangent spaces overlap at each timestep, and whether the top
v_i move a face more than random smooth directions of the same norm.

One row of the shipped run `data/runs/06_latent_basis.json` is one pair of faces (`latent_basis_row`):
the two faces' measurements (fields `a_...`, `b_...`) and what is shared between them (`sim_V_t...`,
`sim_U_t...`). `per_face` splits the rows into one record per face.

References
- Park, Kwon, Choi, Jo & Uh (2023), "Understanding the Latent Space of Diffusion Models through the
  Lens of Riemannian Geometry", NeurIPS, arXiv 2307.12868: the local latent basis (the top right
  singular vectors of dh/dx_t), which evolves from coarse to fine over t, and is shared across
  samples early in the reverse process.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..ddim import ddim_sample, ddim_timesteps
from ..faces import ATTRIBUTES
from ..hosvd import random_directions
from ..jacobians import pullback
from ..metrics import in_range_units
from ..model import Model
from ..quality import neighbour_correlation

__all__ = ["TIMESTEPS", "subspace_similarity", "attribute_changes", "strongest_change", "latent_basis_row",
           "per_face", "by_timestep", "against_random", "show_basis", "show_latent_basis"]

TIMESTEPS = (800, 600, 400, 200)  # where the pullbacks are taken; t_edit = 600 = 0.6 T is Park's face setting


def subspace_similarity(a: Tensor, b: Tensor) -> float:
    """Overlap of the spans of two sets of k directions: the mean squared cosine of their principal angles.

    Rows are flattened and orthonormalised first, so any basis of each span gives the same number:
    1 for the same span, 0 for orthogonal spans, about k / d for two random k-dimensional spans of R^d.

    Args:
        a, b: `(k, ...)` and `(m, ...)`, the same trailing shape (e.g. two pullbacks' `V`, or `U`).

    >>> e = torch.eye(4)
    >>> subspace_similarity(e[:2], e[:2]), subspace_similarity(e[:2], e[2:]), subspace_similarity(e[:2], e[1:3])
    (1.0, 0.0, 0.5)
    """
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, Tensor) or x.dim() < 2 or not torch.isfinite(x).all():
            raise ValueError(f"{name} must be a finite (k, ...) tensor of k directions, got "
                             f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"a and b must have the same trailing shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    qa = torch.linalg.qr(a.flatten(1).double().T)[0]
    qb = torch.linalg.qr(b.flatten(1).double().T)[0]
    return float((qa.T @ qb).square().sum() / min(qa.shape[1], qb.shape[1]))


@torch.no_grad()
def attribute_changes(model: Model, probe, x_t: Tensor, t: int, directions: Tensor, *, alpha: float = 2.0,
                      steps: int = 20) -> Tensor:
    """The probe's 11 changes (in units of each attribute's range) of the face x_t + alpha d, denoised by
    DDIM from t, against the unedited face, for each direction d (the first rule of Park et al.: move x_t).

    Args:
        x_t: one sample `(C, H, W)` at timestep t (on the `steps` grid); directions: `(n, C, H, W)`.

    Returns:
        `(n, 11)` float32, columns in the order of `ATTRIBUTES`.

    >>> import latentlab as ll
    >>> attribute_changes(ll.tiny_model(), None, torch.zeros(3, 16, 16), 500, torch.zeros(1, 3, 16, 16))
    Traceback (most recent call last):
    ValueError: probe must be the attribute probe (`load_probe()`), got None
    """
    if probe is None or not callable(probe):
        raise ValueError(f"probe must be the attribute probe (`load_probe()`), got {probe!r}")
    if not isinstance(directions, Tensor) or tuple(directions.shape[1:]) != tuple(model.sample_shape):
        raise ValueError(f"directions must have shape (n, {', '.join(map(str, model.sample_shape))}), got "
                         f"{tuple(directions.shape) if isinstance(directions, Tensor) else type(directions).__name__}")
    if not isinstance(x_t, Tensor) or tuple(x_t.shape) != tuple(model.sample_shape):
        raise ValueError(f"x_t must be one sample of shape {tuple(model.sample_shape)}, got "
                         f"{tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__}")
    edited = x_t + alpha * directions.to(x_t)
    x0 = ddim_sample(model, torch.cat([x_t[None], edited]), steps, t_start=int(t), progress=False)
    readings = probe(x0)
    return in_range_units({a: (r[1:] - r[0]).float() for a, r in readings.items()})


def strongest_change(changes: Tensor) -> Tensor:
    """The largest |change| over the attributes of each edit (`attribute_changes`'s rows): the strength of
    an edit that knows nothing of which attribute it should move, by which the pullback's v_i are set
    against random directions.

    >>> strongest_change(torch.tensor([[0.1, -0.5, 0.2], [0.0, 0.05, 0.0]]))
    tensor([0.5000, 0.0500])
    """
    if not isinstance(changes, Tensor) or changes.dim() != 2:
        raise ValueError(f"changes must be an (n, attributes) tensor, got "
                         f"{tuple(changes.shape) if isinstance(changes, Tensor) else type(changes).__name__}")
    return changes.abs().amax(1)


def latent_basis_row(model: Model, probe, pair: int, *, seed: int = 0, timesteps: Sequence[int] = TIMESTEPS,
                     t_edit: int = 600, k: int = 8, steps: int = 20, alpha: float = 2.0, n_edit: int = 3,
                     blur: float = 2.0) -> dict[str, Any]:
    """One row of the shipped run: two faces (`2 pair` and `2 pair + 1`) measured at each timestep.

    Each face: x_T from `torch.Generator().manual_seed(100_000 seed + face)`, sampled by DDIM (`steps`).
    At each t of `timesteps` its pullback (top k, `pullback(..., seed=0)`): `s1_t{t}` (s_1),
    `nc_v1_t{t}` (the neighbour correlation of v_1: near 1 for a smooth, coarse image), `nc_top_t{t}`
    (its mean over v_1..v_k). At `t_edit`: the strongest change (`strongest_change`) of x_t + alpha v_i,
    `str_v{i}` (i = 1..n_edit, the sign `pullback` returns), and of x_t + alpha r_i, `str_r{i}`, for
    n_edit random unit directions blurred by `blur` px drawn for this face (the matched baseline);
    `top_v1`, the attribute v_1 moves most. The pair: `sim_V_t{t}` and `sim_U_t{t}`, the
    `subspace_similarity` of the two faces' top-k V (in x_t) and U (in h); `sim_Vr_t{t}`, face a's V
    against k blurred random directions (what any two smooth k-spans share).

    The row is deterministic given its arguments (per-call generators, one batch shape).
    """
    for name, v in (("pair", pair), ("seed", seed), ("k", k), ("n_edit", n_edit)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (1 if name in ("k", "n_edit") else 0):
            raise ValueError(f"{name} must be a {'positive' if name in ('k', 'n_edit') else 'non-negative'} "
                             f"int, got {v!r}")
    grid = ddim_timesteps(model, steps).tolist()
    missing = [t for t in (*timesteps, t_edit) if t not in grid]
    if missing:
        raise ValueError(f"timesteps and t_edit must be on the {steps}-step grid ({grid[0]}, {grid[1]}, ...), "
                         f"got {missing}")
    faces = (2 * pair, 2 * pair + 1)
    x_T = torch.cat([torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(100_000 * seed + f))
                     for f in faces])
    _, traj = ddim_sample(model, x_T, steps, return_trajectory=True, progress=False)
    row: dict[str, Any] = {"pair": int(pair)}
    svds = {}
    for j, (tag, f) in enumerate(zip("ab", faces)):
        row[f"{tag}_face"] = f
        for t in timesteps:
            s = svds[(tag, t)] = pullback(model, traj[grid.index(t)][j], t, k=k, seed=0)
            nc = neighbour_correlation(s.V)
            row[f"{tag}_s1_t{t}"], row[f"{tag}_nc_v1_t{t}"], row[f"{tag}_nc_top_t{t}"] = (
                float(s.S[0]), float(nc[0]), float(nc.mean()))
        if t_edit not in timesteps:
            svds[(tag, t_edit)] = pullback(model, traj[grid.index(t_edit)][j], t_edit, k=k, seed=0)
        rand = random_directions(n_edit, model.sample_shape, blur=blur,
                                 generator=torch.Generator().manual_seed(100_000 * seed + 50_000 + f))
        x_e = traj[grid.index(t_edit)][j]
        directions = torch.cat([svds[(tag, t_edit)].V[:n_edit], rand])
        change = attribute_changes(model, probe, x_e, t_edit, directions, alpha=alpha, steps=steps)
        strong = strongest_change(change)
        for i in range(n_edit):
            row[f"{tag}_str_v{i + 1}"], row[f"{tag}_str_r{i + 1}"] = float(strong[i]), float(strong[n_edit + i])
        row[f"{tag}_top_v1"] = list(ATTRIBUTES)[int(change[0].abs().argmax())]
    ref = random_directions(k, model.sample_shape, blur=blur,
                            generator=torch.Generator().manual_seed(100_000 * seed + 90_000 + pair))
    for t in timesteps:
        row[f"sim_V_t{t}"] = subspace_similarity(svds[("a", t)].V, svds[("b", t)].V)
        row[f"sim_U_t{t}"] = subspace_similarity(svds[("a", t)].U, svds[("b", t)].U)
        row[f"sim_Vr_t{t}"] = subspace_similarity(svds[("a", t)].V, ref)
    return row


def per_face(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Split pair rows (`latent_basis_row`) into one record per face: the `a_`/`b_` fields without the prefix.

    >>> per_face([{"pair": 0, "a_face": 0, "b_face": 1, "a_x": 1.0, "b_x": 2.0, "sim": 0.5}])
    [{'pair': 0, 'face': 0, 'x': 1.0}, {'pair': 0, 'face': 1, 'x': 2.0}]
    """
    out = []
    for r in rows:
        if "a_face" not in r or "b_face" not in r:
            raise ValueError(f"rows must be latent_basis_row's pair rows (with a_face, b_face), got fields {sorted(r)}")
        for tag in "ab":
            out.append({"pair": r["pair"], **{k[2:]: v for k, v in r.items() if k.startswith(f"{tag}_")}})
    return out


def _timesteps_of(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    if not rows or not any(k.startswith("sim_V_t") for k in rows[0]):
        raise ValueError("rows must be latent_basis_row's pair rows (with sim_V_t... fields), got "
                         f"{sorted(rows[0]) if rows else 'no rows'}")
    return sorted((int(k[7:]) for k in rows[0] if k.startswith("sim_V_t")), reverse=True)


def by_timestep(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Park et al.'s two findings over t, one record per timestep (from the noisiest): the median over
    faces of v_1's neighbour correlation (`nc_v1`; its quartiles `nc_v1_q1`, `nc_v1_q3`), of the mean
    over v_1..v_k (`nc_top`), and of s_1 (`s1`); and the median over pairs of the two faces' tangent-space
    overlap in x_t (`sim_V`) and in h (`sim_U`), beside a face's against random smooth directions (`sim_Vr`).

    >>> r = {"pair": 0, "a_face": 0, "b_face": 1, "sim_V_t800": 0.5, "sim_U_t800": 0.4, "sim_Vr_t800": 0.1}
    >>> r |= {f"{f}_{k}_t800": 1.0 for f in "ab" for k in ("nc_v1", "nc_top", "s1")}
    >>> by_timestep([r])[0]["sim_V"], by_timestep([r])[0]["t"]
    (0.5, 800)
    """
    faces = per_face(rows)
    out = []
    for t in _timesteps_of(rows):
        nc = torch.tensor([f[f"nc_v1_t{t}"] for f in faces], dtype=torch.float64)
        rec = {"t": t, "nc_v1": float(nc.quantile(0.5)), "nc_v1_q1": float(nc.quantile(0.25)),
               "nc_v1_q3": float(nc.quantile(0.75))}
        for key in ("nc_top", "s1"):
            rec[key] = float(torch.tensor([f[f"{key}_t{t}"] for f in faces], dtype=torch.float64).quantile(0.5))
        for key in ("sim_V", "sim_U", "sim_Vr"):
            rec[key] = float(torch.tensor([r[f"{key}_t{t}"] for r in rows], dtype=torch.float64).quantile(0.5))
        out.append(rec)
    return out


def against_random(rows: Sequence[Mapping[str, Any]], i: int = 1) -> dict[str, float]:
    """The verdict on v_i against random smooth directions: on each face, does x_t + 2 v_i change the face
    more (`strongest_change`) than x_t + 2 r_i, r_i a 2-px-blurred random unit direction drawn for the
    same face? `wins` of `n` faces, the win rate, its two-sided sign-test p-value (exact binomial,
    rate 1/2 under "v_i is no stronger than a random smooth direction"), and the medians of both.

    >>> rows = [{"pair": 0, "a_face": 0, "b_face": 1, "a_str_v1": 0.5, "a_str_r1": 0.1, "b_str_v1": 0.4,
    ...          "b_str_r1": 0.2}]
    >>> against_random(rows)["wins"], against_random(rows)["n"]
    (2, 2)
    """
    from ..stats import binomial_test

    faces = per_face(rows)
    if f"str_v{i}" not in faces[0]:
        raise ValueError(f"i must be a direction the run edited, 1 to "
                         f"{sum(k.startswith('str_v') for k in faces[0])}, got {i!r}")
    v = torch.tensor([f[f"str_v{i}"] for f in faces], dtype=torch.float64)
    r = torch.tensor([f[f"str_r{i}"] for f in faces], dtype=torch.float64)
    wins, n = int((v > r).sum()), len(faces)
    return {"i": i, "wins": wins, "n": n, "win_rate": wins / n, "sign_test_p": binomial_test(wins, n),
            "median_v": float(v.quantile(0.5)), "median_r": float(r.quantile(0.5))}


def show_basis(V: Mapping[int, Tensor], k: int = 4):
    """The local latent basis from coarse to fine (Park et al. 2023, Fig. 3): the top `k` right singular
    vectors of dh/dx_t of one face, a row per timestep; `V` maps t to `pullback(...).V`, `(>= k, C, H, W)`.
    Each v_i is stretched to [-1, 1] to be seen.

    >>> import matplotlib.pyplot as plt
    >>> fig = show_basis({800: torch.randn(4, 3, 8, 8), 200: torch.randn(4, 3, 8, 8)}, k=2); len(fig.axes)
    4
    >>> plt.close(fig)
    """
    from latentlab.course.plot import show_images

    if not V or any(len(v) < k for v in V.values()):
        raise ValueError(f"V must map each timestep to at least k = {k} directions, got "
                         f"{ {t: len(v) for t, v in V.items()} }")
    stack = torch.stack([V[t][i] for t in V for i in range(k)])
    return show_images(stack / stack.abs().amax((1, 2, 3), keepdim=True), nrow=k, scale=1.0,
                       titles=[f"v_{i + 1}, t = {t}" for t in V for i in range(k)])


def show_latent_basis(rows: Sequence[Mapping[str, Any]]):
    """Park et al.'s two findings over many faces (`by_timestep` of the run's rows): left, v_1's smoothness
    from coarse to fine (median, quartiles) beside the mean of v_1..v_k; right, the overlap of two faces'
    top-k spaces in x_t and in h against a face's and random smooth directions'; returns the figure.

    >>> import matplotlib.pyplot as plt
    >>> r = {"pair": 0, "a_face": 0, "b_face": 1, "sim_V_t800": 0.5, "sim_U_t800": 0.4, "sim_Vr_t800": 0.1}
    >>> r |= {f"{f}_{k}_t800": 1.0 for f in "ab" for k in ("nc_v1", "nc_top", "s1")}
    >>> fig = show_latent_basis([r]); len(fig.axes)
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    bt = by_timestep(rows)
    ts = [r["t"] for r in bt]
    fig, (a, b) = plt.subplots(1, 2, figsize=(7.5, 2.8))
    a.plot(ts, [r["nc_v1"] for r in bt], "o-", label="v_1")
    a.fill_between(ts, [r["nc_v1_q1"] for r in bt], [r["nc_v1_q3"] for r in bt], alpha=0.2)
    a.plot(ts, [r["nc_top"] for r in bt], "s--", label="mean of v_1..v_8")
    a.set(xlabel="t", ylabel="neighbour correlation", title="coarse to fine")
    a.invert_xaxis()
    a.legend()
    for key, label in (("sim_V", "two faces, x_t"), ("sim_U", "two faces, h"), ("sim_Vr", "face vs random smooth")):
        b.plot(ts, [r[key] for r in bt], "o-", label=label)
    b.set(xlabel="t", ylabel="overlap of top-8 spaces", title="shared tangent spaces")
    b.invert_xaxis()
    b.legend()
    fig.tight_layout()
    return fig
