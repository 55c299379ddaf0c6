"""The HOSVD question measured face by face (lecture 07, the optional research notebook): at one face
and one timestep, the Jacobian J = dh/dx_t as a 6-way tensor, the energy a Tucker model (truncated
HOSVD) and the flattened SVD capture at equal parameter budgets, what each mode's spectrum says, and
edits along the top rank-1 HOSVD direction, along what it adds to Park et al.'s v_1, along v_1, and
along random smooth directions of the same norm (the matched baseline).

`hosvd_face` measures one face and returns its row (flat numbers and strings, for
`latentlab.course.runs.save_run`) with the tensors behind it; `benchmarks/lecture_07_hosvd.py` calls
it for every face, the lecture re-runs one face. `beats_baseline_test` is the lab's per-face sign test.

References
- De Lathauwer, De Moor & Vandewalle (2000), "A multilinear singular value decomposition",
  SIAM J. Matrix Anal. Appl. 21(4), 1253-1278: the HOSVD.
- Park et al. (2023), "Understanding the latent space of diffusion models through the lens of
  Riemannian geometry", NeurIPS (arXiv 2307.12868): the flattened SVD of J, the edit x_t + alpha v.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

import latentlab as ll
from latentlab.hosvd import (
    energy_table,
    hosvd,
    jacobian_gain,
    jacobian_tensor,
    mode_spectra,
    own_patch_share,
    random_directions,
    rank1_directions,
    sensitivity_maps,
    svd_params,
)
from latentlab.jacobians import pullback
from latentlab.metrics import edit_attributes
from latentlab.stats import binomial_test, signed_rank_test

__all__ = ["KS", "MODES", "HosvdFace", "hosvd_face", "modes_for_share", "beats_baseline_test", "energy_summary",
           "edit_tests", "show_energy", "show_mode_spectra", "patch_lift", "derivative_shares", "show_edits"]

KS = (1, 4, 16, 32, 64, 128, 256)  # flattened SVD ranks whose sizes set the budgets
MODES = ("h_channel", "h_row", "h_col", "colour", "x_row", "x_col")


class HosvdFace(NamedTuple):
    """One face's measurement: `row` (what a run ships) and the tensors the lecture draws."""

    row: dict[str, Any]
    x_t: Tensor  # (C, H, W), the face's state at t
    x_0: Tensor  # (C, H, W), its unedited DDIM sample
    J: Tensor  # (C_h, H_h, W_h, C, H, W)
    core: Tensor  # full HOSVD core, J's shape
    factors: list[Tensor]
    directions: Tensor  # (3 + n_random, C, H, W): v_1, V_0 (top rank-1), w_hat, then the random ones
    edits: dict  # from `edit_attributes` over `directions`


def modes_for_share(spectrum: Tensor, share: float = 0.9) -> int:
    """How many leading components of an energy spectrum (fractions, descending) reach `share` of it.

    >>> modes_for_share(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    3
    """
    if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 < share <= 1:
        raise ValueError(f"share must be a number in (0, 1], got {share!r}")
    s = torch.as_tensor(spectrum, dtype=torch.float64)
    if s.dim() != 1 or len(s) == 0 or (s < 0).any():
        raise ValueError(f"spectrum must be a non-empty 1-d tensor of non-negative fractions, got {tuple(s.shape)}")
    c = s.cumsum(0) / s.sum()
    return min(int((c < share - 1e-12).sum()) + 1, len(s))


def hosvd_face(model: ll.Model, probe, seed: int, *, t: int = 600, steps: int = 50, ks: Sequence[int] = KS,
               n_random: int = 15, blur: float = 2.0, alpha: float = 2.0) -> HosvdFace:
    """The HOSVD of J = dh/dx_t at one face against its flattened SVD (De Lathauwer et al. 2000; Park et al. 2023).

    The face: DDIM (`steps`) from x_T drawn with `torch.Generator().manual_seed(seed)`, stopped at
    timestep t. There J is computed densely (`jacobian_tensor`) and decomposed by a full HOSVD.
    Row fields:
    - `svd_<k>`, `tucker_<k>`: energy (share of ||J||^2) of the rank-k flattened SVD and of the best
      truncated HOSVD of the same size (`energy_table`); `tucker_wins_to`: the largest k in `ks` up to
      which Tucker captures more at every budget (0: not even at the first);
    - `n90_<mode>`: components of that mode's HOSVD factor that carry 90 % of ||J||^2;
      `colour0_share` and `colour0_one_sign` (the first colour component: its energy, and whether
      its R, G, B share one sign, a brightness); `own_patch_median`: how much of each h position's
      sensitivity lies in its own image patch (median over positions; 1 / 16 if spread evenly);
    - `v0_index` (colour, row, column factor of the top rank-1 direction V_0), `v0_gain` =
      ||J V_0|| / s_1, `v0_cos` = |cos(V_0, v_1)|, `v0_v1_part` = the share of ||J V_0||^2 from V_0's
      v_1 part; w_hat = V_0's part orthogonal to v_1, normalised (what the HOSVD adds);
    - edits x_t + alpha v at t, denoised (`edit_attributes`, alphas -alpha, +alpha): `strongest_<d>`
      is the largest |effect| over the 11 attributes (fraction of a range), `attr_<d>` its attribute,
      for d in v1, v0, what; `effect_cos_v0_v1` the |cosine| of V_0's and v_1's 11 effects;
      `random_<i>`: the same statistic for `n_random` random directions of unit norm, Gaussian noise
      blurred by `blur` px (seeded by 10_000 + seed): the baseline matched in norm and
      neighbour correlation.

    >>> m = ll.tiny_model(sample_size=8)
    >>> from latentlab.probe import Probe, ProbeConfig
    >>> p = Probe(ProbeConfig.tiny()).eval()
    >>> face = hosvd_face(m, p, 0, steps=10, ks=(1, 2), n_random=2)
    >>> face.J.shape, round(face.row["tucker_2"], 3) <= 1.0, face.directions.shape
    (torch.Size([16, 4, 4, 3, 8, 8]), True, torch.Size([5, 3, 8, 8]))
    """
    for name, v, lo in (("seed", seed, 0), ("n_random", n_random, 1), ("t", t, 0)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    grid = ll.ddim_timesteps(model, steps).tolist()
    if t not in grid:
        raise ValueError(f"t must be on the {steps}-step DDIM grid ({grid[0]}, {grid[1]}, ..., {grid[-1]}), got {t}")
    x_T = torch.randn(model.sample_shape, generator=torch.Generator().manual_seed(int(seed)))
    x_0, trajectory = ll.ddim_sample(model, x_T, steps=steps, return_trajectory=True, progress=False)
    x_t = trajectory[grid.index(t)]

    J = jacobian_tensor(model, x_t, t)
    core, factors = hosvd(J, J.shape)
    row: dict[str, Any] = {"seed": int(seed), "t": int(t)}
    table = energy_table(J, ks=tuple(ks), core=core)
    wins_to = 0
    for r in table:
        row[f"svd_{r['k']}"], row[f"tucker_{r['k']}"] = r["svd_energy"], r["tucker_energy"]
    for r in table:
        if r["tucker_energy"] <= r["svd_energy"]:
            break
        wins_to = r["k"]
    row["tucker_wins_to"] = wins_to

    spectra = mode_spectra(core, energy=True)
    for name, s in zip(MODES, spectra):
        row[f"n90_{name}"] = modes_for_share(s)
    u = factors[3][:, 0]
    row["colour0_share"] = spectra[3][0].item()
    row["colour0_one_sign"] = bool((u > 0).all() or (u < 0).all())
    row["own_patch_median"] = own_patch_share(sensitivity_maps(J)).median().item()

    svd = pullback(model, x_t, t, k=1)
    v_1, s_1 = svd.V[0], svd.S[0]
    V, index = rank1_directions(core, factors, k=1)
    c = (V[0] * v_1).sum()
    w = V[0] - c * v_1
    w_hat = w / w.norm()
    gain = jacobian_gain(J, V)[0]
    row["v0_index"] = str(index[0])
    row["v0_gain"] = (gain / s_1).item()
    row["v0_cos"] = c.abs().item()
    row["v0_v1_part"] = ((c * s_1) ** 2 / gain**2).item()

    rand = random_directions(n_random, model.sample_shape, blur=blur,
                             generator=torch.Generator().manual_seed(10_000 + int(seed)))
    directions = torch.cat([v_1[None], V, w_hat[None], rand])
    edits = edit_attributes(model, probe, x_t, t, directions, alphas=(-alpha, alpha), steps=steps)
    effects = torch.stack([edits["effect"][a] for a in ll.ATTRIBUTES], 1)  # (direction, attribute)
    strongest, which = effects.abs().max(1)
    names = list(ll.ATTRIBUTES)
    for i, d in enumerate(("v1", "v0", "what")):
        row[f"strongest_{d}"] = strongest[i].item()
        row[f"attr_{d}"] = names[int(which[i])]
    row["effect_cos_v0_v1"] = torch.nn.functional.cosine_similarity(effects[0], effects[1], dim=0).abs().item()
    for i in range(n_random):
        row[f"random_{i:02d}"] = strongest[3 + i].item()
    return HosvdFace(row, x_t, x_0, J, core, factors, directions, edits)


def beats_baseline_test(stat: Sequence[float], baselines: Sequence[Sequence[float]]) -> dict[str, float]:
    """Sign test across faces: does a direction beat the median of its own face's matched baseline?

    Per face, the direction's statistic is compared with the median of that face's baseline draws
    (an odd number, so the median is one of them). If the direction were one more draw from the
    baseline, it would exceed that median with probability exactly 1/2 (its rank among the
    n + 1 exchangeable values is uniform), independently across faces: the count of faces is
    Binomial(N, 1/2), tested two-sided (`latentlab.stats.binomial_test`).

    Args:
        stat: `(N,)`, one value per face; baselines: `(N, n)`, n odd, the baseline's values per face.

    Returns:
        `{"faces", "above", "p"}`: N, the faces where stat > its median, and the p-value.

    >>> beats_baseline_test([0.9, 0.8, 0.7, 0.6, 0.5], [[0.1, 0.2, 0.3]] * 5)
    {'faces': 5, 'above': 5, 'p': 0.0625}
    """
    s = torch.as_tensor(stat, dtype=torch.float64)
    b = torch.as_tensor(baselines, dtype=torch.float64)
    if s.dim() != 1 or b.dim() != 2 or len(s) != len(b) or len(s) == 0:
        raise ValueError(f"stat must be (N,) and baselines (N, n) for the same N faces, got {tuple(s.shape)} "
                         f"and {tuple(b.shape)}")
    if b.shape[1] % 2 == 0:
        raise ValueError(f"baselines must hold an odd number of draws per face (so the median is one of them), "
                         f"got {b.shape[1]}")
    if not (torch.isfinite(s).all() and torch.isfinite(b).all()):
        raise ValueError("stat and baselines must be finite")
    above = int((s > b.median(1).values).sum())
    return {"faces": len(s), "above": above, "p": binomial_test(above, len(s))}


def energy_summary(rows: Sequence[dict], *, m: int = 2048, n: int = 3072) -> list[dict]:
    """Per budget, over the faces of a run: the median energy of the flattened SVD and of Tucker, and
    on how many faces Tucker captures more (De Lathauwer et al. 2000; Eckart-Young).

    Args:
        rows: `hosvd_face` rows (e.g. `load_run("07_hosvd")["rows"]`); m, n: J flattened, for the budget.

    Returns:
        One dict per k: `k`, `budget` (= k (m + n + 1)), `svd`, `tucker` (medians), `tucker_wins`, `faces`.

    >>> energy_summary([{"svd_1": 0.1, "tucker_1": 0.2}, {"svd_1": 0.3, "tucker_1": 0.2}], m=4, n=5)
    [{'k': 1, 'budget': 10, 'svd': 0.2, 'tucker': 0.2, 'tucker_wins': 1, 'faces': 2}]
    """
    if not rows:
        raise ValueError("rows must hold at least one face's row")
    ks = sorted(int(key[4:]) for key in rows[0] if key.startswith("svd_"))
    out = []
    for k in ks:
        svd = torch.tensor([r[f"svd_{k}"] for r in rows], dtype=torch.float64)
        tucker = torch.tensor([r[f"tucker_{k}"] for r in rows], dtype=torch.float64)
        out.append({"k": k, "budget": svd_params(m, n, k), "svd": round(svd.quantile(0.5).item(), 12),
                    "tucker": round(tucker.quantile(0.5).item(), 12), "tucker_wins": int((tucker > svd).sum()),
                    "faces": len(rows)})
    return out


def edit_tests(rows: Sequence[dict], *, alpha: float = 0.05) -> list[dict]:
    """The lab's family of four edit tests over the faces of a run, Bonferroni-corrected together.

    1. V_0 (top rank-1 HOSVD direction) against its face's random smooth directions
       (`beats_baseline_test`);
    2. w_hat (what the HOSVD adds to v_1) against the same baseline;
    3. V_0 against v_1, paired by face: Wilcoxon's signed-rank test of the differences of their
       strongest effects (`latentlab.stats.signed_rank_test`); `count` = faces where V_0's is larger;
    4. w_hat against V_0, paired by face: a sign test (exact two-sided Binomial(N, 1/2),
       `latentlab.stats.binomial_test`); `count` = faces where w_hat's strongest effect is smaller.

    Returns:
        One dict per test: `test`, `faces`, `count`, `p`, `p_bonferroni` (= min(1, 4 p)), `passes`
        (p_bonferroni < alpha).

    >>> rows = [{"strongest_v0": 0.5 + i / 100, "strongest_what": 0.0, "strongest_v1": 0.4,
    ...          "random_00": 0.1} for i in range(10)]
    >>> [(r["test"], r["count"], r["passes"]) for r in edit_tests(rows)]  # doctest: +NORMALIZE_WHITESPACE
    [('V_0 > random smooth', 10, True), ('w_hat > random smooth', 0, True), ('V_0 vs v_1', 10, True),
     ('w_hat < V_0', 10, True)]
    """
    if not rows:
        raise ValueError("rows must hold at least one face's row")
    base = [[r[k] for k in sorted(r) if k.startswith("random_")] for r in rows]
    v0, what, v1 = ([r[f"strongest_{d}"] for r in rows] for d in ("v0", "what", "v1"))
    t1, t2 = beats_baseline_test(v0, base), beats_baseline_test(what, base)
    diff = [a - b for a, b in zip(v0, v1)]
    below = sum(w < v for w, v in zip(what, v0))
    tests = [("V_0 > random smooth", t1["above"], t1["p"]), ("w_hat > random smooth", t2["above"], t2["p"]),
             ("V_0 vs v_1", sum(d > 0 for d in diff), signed_rank_test(diff)),
             ("w_hat < V_0", below, binomial_test(below, len(rows)))]
    m = len(tests)
    return [{"test": name, "faces": len(rows), "count": count, "p": p, "p_bonferroni": min(1.0, m * p),
             "passes": bool(m * p < alpha)} for name, count, p in tests]


def show_energy(summary: Sequence[dict], live: dict | None = None):
    """The energy each model captures against the budget: medians over faces, and one live face dashed.

    >>> import matplotlib.pyplot as plt
    >>> fig = show_energy([{"k": 1, "budget": 10, "svd": 0.2, "tucker": 0.3}]); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    budget = [r["budget"] for r in summary]
    ax.semilogx(budget, [r["svd"] for r in summary], "o-", color="C0", label="flattened SVD (median)")
    ax.semilogx(budget, [r["tucker"] for r in summary], "s-", color="C1", label="Tucker / HOSVD (median)")
    if live is not None:
        ax.semilogx(budget, [live[f"svd_{r['k']}"] for r in summary], "--", color="C0", lw=1, label="SVD, face 0")
        ax.semilogx(budget, [live[f"tucker_{r['k']}"] for r in summary], "--", color="C1", lw=1,
                    label="Tucker, face 0")
    ax.set_xlabel("numbers stored")
    ax.set_ylabel("share of ||J||^2 captured")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def show_mode_spectra(core: Tensor):
    """Each mode's energy spectrum (the squared mode-n singular values, De Lathauwer et al. 2000), one panel per mode.

    >>> import matplotlib.pyplot as plt
    >>> fig = show_mode_spectra(torch.randn(4, 2, 2, 3, 4, 4)); plt.close(fig)
    """
    import matplotlib.pyplot as plt

    spectra = mode_spectra(core, energy=True)
    fig, axes = plt.subplots(1, len(spectra), figsize=(10, 2.2),
                             gridspec_kw={"width_ratios": [max(1, len(s) // 16) for s in spectra]})
    for ax, name, s in zip(axes, MODES, spectra):
        ax.bar(range(1, len(s) + 1), s.numpy(), width=0.8)
        ax.set_title(f"{name} ({len(s)})", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def patch_lift(maps: Tensor) -> tuple[Tensor, Tensor]:
    """Locality against a fair baseline: each h position's own-patch share over that patch's average share.

    Every sensitivity map leans to the image centre, so an even spread (1 / 16) is an easy baseline;
    the fairer one is the same patch's average share over all positions' maps.

    Args:
        maps: `(H_h, W_h, H, W)`, from `latentlab.hosvd.sensitivity_maps`.

    Returns:
        (lift `(H_h, W_h)`, own_largest `(H_h, W_h)` bool: its own patch is the largest in its map).

    >>> maps = torch.ones(2, 2, 4, 4); maps[0, 0, :2, :2] = 3.0
    >>> lift, largest = patch_lift(maps); round(lift[0, 0].item(), 3), bool(largest[0, 0])
    (1.6, True)
    """
    share = own_patch_share(maps)
    hh, wh, H, W = maps.shape
    P = (maps / maps.sum((-2, -1), keepdim=True)).reshape(hh, wh, hh, H // hh, wh, W // wh).sum((3, 5))
    lift = share / P.mean((0, 1))
    largest = P.flatten(2).argmax(2) == torch.arange(hh * wh).reshape(hh, wh)
    return lift, largest


def derivative_shares(U: Tensor, k: int = 3) -> Tensor:
    """How a profile factor's columns split factor 0's first and second derivatives (finite differences).

    The columns of U are an orthonormal basis, so column i holds the share (u_i . d)^2 / ||d||^2 of a
    derivative d of column 0 that lies in its span; an even spread over n columns gives 1 / n each.

    Args:
        U: `(n, r)` with orthonormal columns (a row or column factor from `latentlab.hosvd.hosvd`); k: columns.

    Returns:
        `(k, 2)`: the shares of the first and of the second derivative held by columns 0 .. k-1.

    >>> x = torch.linspace(-1, 1, 32); U = torch.linalg.qr(torch.stack([1 - x**2, x, x**2], 1))[0]
    >>> bool(derivative_shares(U)[1, 0] > 0.9)
    True
    """
    if not isinstance(U, Tensor) or U.dim() != 2 or not 1 <= k <= U.shape[1]:
        raise ValueError(f"U must be an (n, r) tensor and k in 1..r, got {getattr(U, 'shape', U)} and k={k!r}")
    d1 = torch.gradient(U[:, 0])[0]
    d2 = torch.gradient(d1)[0]
    return torch.stack([(U[:, :k].T @ d) ** 2 / d.square().sum() for d in (d1, d2)], 1)


def show_edits(face: HosvdFace, scale: float = 1.3):
    """One face edited at x_t -/+ 2 d along v_1 (Park et al. 2023), the HOSVD's top rank-1 V_0, w_hat and a
    random smooth direction, a row each beside the unedited face (`hosvd_face`'s `edits`); returns the figure.

    >>> import matplotlib.pyplot as plt
    >>> f = HosvdFace({}, None, None, None, None, [], None, {"images": torch.zeros(4, 2, 3, 8, 8),
    ...                                                     "base": torch.zeros(3, 8, 8)})
    >>> fig = show_edits(f); len(fig.axes)
    12
    >>> plt.close(fig)
    """
    from latentlab.course.plot import show_rows

    images = face.edits["images"]  # (directions, 2, C, H, W): each direction at -2 and +2
    labels = {"v_1": 0, "V_0 (HOSVD)": 1, "w_hat": 2, "random smooth": 3}
    return show_rows({k: torch.stack([images[i, 0], face.edits["base"], images[i, 1]]) for k, i in labels.items()},
                     col_titles=["-2", "unedited", "+2"], scale=scale)
