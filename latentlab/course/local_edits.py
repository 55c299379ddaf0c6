"""LOCO Edit against Park et al.'s global pullback on the kit's faces, measured as LOCO's paper compares
them: does the edit succeed, does it stay inside the region, does a direction found on one face work on
another (transfer).

One face is `seed` (x_T from `torch.Generator().manual_seed(seed)`), sampled by plain 20-step DDIM. At
the grid step nearest 0.6 T (LOCO's t) its x_t moves by LOCO's straight move (`loco.loco_edit`: 8 along a
unit v) and plain DDIM finishes. v is
- "LOCO": `loco_directions(...).V[0]` with the face's mouth mask (smile) or eyes mask (glasses);
- "Park": `pullback(...).V[0]`, the top direction of dh/dx_t (global, no mask);
- "random": a unit Gaussian direction in x_t (seeded by the face), the matched baseline.
A singular vector's sign is arbitrary: each face's sign is aligned with the reference face's (the first
seed) through the output side (LOCO: U, the change of x0_hat in the mask; Park: U in h). "own" uses the
face's own v, "transfer" the reference face's v (LOCO's transfer, without transport). Both signs are
measured; `loco_summary` keeps, per method, attribute and use, the sign that moves more faces the right
way (one choice for all faces, as the registry's "both" candidates; the random rows get the same choice).

`loco_rows` computes the rows of the shipped run `data/runs/11_loco.json`
(`benchmarks/lecture_11_loco.py`); the lecture re-runs the reference face's rows live.

References
- Chen, Zhang, Guo, Lu, Wang & Qu (2024), "Exploring Low-Dimensional Subspaces in Diffusion Models for
  Controllable Image Editing", NeurIPS 2024, arXiv 2409.02374 (LOCO Edit; Table 1: local edit success,
  transfer success and learning time against Park et al.'s pullback on CelebA-HQ).
- Park, Kwon, Choi, Jo & Uh (2023), "Understanding the Latent Space of Diffusion Models through the Lens
  of Riemannian Geometry", NeurIPS, arXiv 2307.12868.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..ddim import ddim_sample, ddim_timesteps
from ..faces import ATTRIBUTES
from ..jacobians import pullback
from ..loco import LOCO_SETTINGS, face_mask, loco_directions, loco_edit
from ..metrics import right_way
from ..model import Model

__all__ = ["REGION_OF", "LOCAL_METHODS", "outside_change", "face_noise", "loco_rows", "loco_summary", "region_edits",
           "show_region_edits", "right_way_interval", "loco_tests"]

#: The attribute each region edit targets, and the mask it uses (`faces.REGIONS`).
REGION_OF: dict[str, str] = {"smile": "mouth", "glasses": "eyes"}
#: The directions compared: LOCO's masked Jacobian, Park's global pullback, a random unit direction.
LOCAL_METHODS: tuple[str, ...] = ("LOCO", "Park", "random")


def outside_change(x0: Tensor, edited: Tensor, mask: Tensor) -> Tensor:
    """Per image, the RMS pixel change outside the mask over the RMS change inside it: 0 for an edit that
    stays in the region, 1 for one that changes every pixel alike.

    Args:
        x0, edited: `(n, C, H, W)` images before and after the edit.
        mask: boolean `(n, H, W)` (or `(H, W)` for all), True inside the region; neither it nor its
            complement may be empty.

    >>> x = torch.zeros(1, 1, 2, 2); e = torch.tensor([[[[2.0, 1.0], [0.0, 0.0]]]])
    >>> outside_change(x, e, torch.tensor([[True, False], [False, False]]))
    tensor([0.2887])
    """
    if not isinstance(x0, Tensor) or not isinstance(edited, Tensor) or x0.shape != edited.shape or x0.dim() != 4:
        shapes = [tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__ for a in (x0, edited)]
        raise ValueError(f"x0 and edited must be image batches (n, C, H, W) of one shape, got {shapes}")
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape[-2:] != x0.shape[-2:] \
            or mask.dim() not in (2, 3) or (mask.dim() == 3 and len(mask) != len(x0)):
        got = (mask.dtype, tuple(mask.shape)) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be boolean (n, H, W) or (H, W) matching x0 {tuple(x0.shape)}, got {got}")
    mask = mask.expand(len(x0), *x0.shape[-2:]).float()
    inside, outside = mask.flatten(1).sum(1), (1 - mask).flatten(1).sum(1)
    if (inside == 0).any() or (outside == 0).any():
        raise ValueError("mask must be neither empty nor the whole image for every face")
    sq = (edited - x0).square().mean(1)  # (n, H, W), mean over channels
    rms_in = ((sq * mask).flatten(1).sum(1) / inside).sqrt()
    rms_out = ((sq * (1 - mask)).flatten(1).sum(1) / outside).sqrt()
    return rms_out / rms_in


def face_noise(model: Model, seeds: Sequence[int]) -> Tensor:
    """x_T for each seed, one generator per face, so a face does not depend on the others in the batch.

    >>> import latentlab as ll
    >>> m = ll.tiny_model()
    >>> torch.equal(face_noise(m, [3, 4])[1], face_noise(m, [4])[0])
    True
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    return torch.stack([torch.randn(*model.sample_shape, generator=torch.Generator().manual_seed(int(s)))
                        for s in seeds])


def _aligned(d: Tensor, ref: Tensor) -> float:
    return 1.0 if float((d * ref).sum()) >= 0 else -1.0


def _start(model: Model, probe: Callable, seeds: Sequence[int], steps: int):
    x_T = face_noise(model, seeds)
    grid = ddim_timesteps(model, steps).tolist()
    t = min(grid, key=lambda g: abs(g - LOCO_SETTINGS["t_edit"] * model.num_train_timesteps))
    with torch.no_grad():
        x0, traj = ddim_sample(model, x_T, steps, return_trajectory=True, progress=False)
        before = probe(x0)
    return x0, traj[grid.index(t)], t, before


def _directions(model: Model, x_t: Tensor, t: int, masks: Tensor, method: str, seeds: Sequence[int],
                park: list[Tensor]) -> Tensor:
    """Each face's unit direction, signs aligned with the first face's through the output side."""
    n = len(x_t)
    if method == "LOCO":
        d = [loco_directions(model, x_t[i], t, masks[i], rank=1, null_rank=LOCO_SETTINGS["null_rank"], seed=0)
             for i in range(n)]
        return torch.stack([_aligned(e.U[0], d[0].U[0]) * e.V[0] for e in d])
    if method == "Park":
        if not park:
            p = [pullback(model, x_t[i], t, 1, seed=0) for i in range(n)]
            park.append(torch.stack([_aligned(e.U[0], p[0].U[0]) * e.V[0] for e in p]))
        return park[0]
    V = face_noise(model, [s + 10_000 for s in seeds])
    return V / V.flatten(1).norm(dim=1).view(-1, 1, 1, 1)


def region_edits(model: Model, probe: Callable[[Tensor], dict[str, Tensor]], seeds: Sequence[int], attr: str,
                 signs: Mapping[str, float], *, steps: int = 20, strength: float = 1.0
                 ) -> tuple[dict[str, Tensor], Tensor]:
    """The faces before and after each method's own edit (`loco_rows`' "own" use), for a figure.

    Args:
        seeds: face seeds, the reference first. attr: among `REGION_OF`.
        signs: `{method: sign}` for methods among `LOCAL_METHODS`, e.g. the signs `loco_summary` chose.

    Returns:
        `({"original": x0, method: edited, ...}, masks)`, images `(n, C, H, W)`, masks `(n, H, W)`.

    >>> import latentlab as ll
    >>> from latentlab.probe import Probe, ProbeConfig
    >>> ims, masks = region_edits(ll.tiny_model(sample_size=32), Probe(ProbeConfig.tiny()), [0, 1], "smile",
    ...                           {"random": 1.0}, steps=4)
    >>> list(ims), tuple(masks.shape)
    (['original', 'random'], (2, 32, 32))
    """
    if attr not in REGION_OF:
        raise ValueError(f"attr must be one of {list(REGION_OF)}, got {attr!r}")
    if not isinstance(signs, Mapping) or not signs or any(m not in LOCAL_METHODS for m in signs):
        raise ValueError(f"signs must map methods among {list(LOCAL_METHODS)} to +1 or -1, got {signs!r}")
    x0, x_t, t, _ = _start(model, probe, seeds, steps)
    masks = face_mask(probe, x0, REGION_OF[attr])
    images, park = {"original": x0}, []
    for method, sign in signs.items():
        v = _directions(model, x_t, t, masks, method, seeds, park)
        with torch.no_grad():
            images[method] = ddim_sample(model, loco_edit(x_t, float(sign) * v, strength), steps, t_start=t,
                                         progress=False)
    return images, masks


def show_region_edits(images: Mapping[str, Tensor], masks: Tensor, scale: float = 1.1):
    """Rows of faces (`region_edits`' output), the region mask outlined in yellow; returns the figure.

    >>> import matplotlib.pyplot as plt
    >>> fig = show_region_edits({"a": torch.zeros(2, 3, 8, 8)}, torch.ones(2, 8, 8, dtype=torch.bool))
    >>> plt.close(fig)
    """
    from .plot import show_rows

    fig = show_rows(dict(images), scale=scale)
    rows = fig.axes
    k = len(masks)
    for j, ax in enumerate(rows):
        m = masks[j % k].float().cpu().numpy()
        if 0 < m.sum() < m.size:
            ax.contour(m, levels=[0.5], colors="yellow", linewidths=0.8)
    return fig


def loco_rows(model: Model, probe: Callable[[Tensor], dict[str, Tensor]], seeds: Sequence[int], *,
              attrs: Sequence[str] = ("smile", "glasses"), methods: Sequence[str] = LOCAL_METHODS,
              steps: int = 20, strength: float = 1.0, progress: bool = True) -> list[dict[str, Any]]:
    """One row per face, attribute, method, use ("own", "transfer") and sign of LOCO Edit's comparison.

    The first seed is the reference face: its directions are the transferred ones, and it has no
    "transfer" rows. Fields: `seed`, `attr`, `method`, `use`, `sign` (+1 or -1 times the aligned v),
    `goal` (smile: 1; glasses: 1 for +v, 0 for -v, each face pushed to the other state), `before` and
    `after` (the probe's reading), `movable`, `moved` (`metrics.right_way`), `towards` (the change
    towards the goal, in attribute units), `leak` (the largest change of another attribute, in units of
    its range) and `leak_attr` (which), `outside` (`outside_change` with the face's region mask).

    Args:
        model: `load_model()` (or `tiny_model()`). probe: `load_probe()`.
        seeds: face seeds (`face_noise`), the reference first.
        attrs: among `REGION_OF`. methods: among `LOCAL_METHODS`.
        steps: DDIM steps. strength: multiple of LOCO's move (1: 8 along the unit v).

    >>> import latentlab as ll
    >>> from latentlab.probe import Probe, ProbeConfig
    >>> rows = loco_rows(ll.tiny_model(sample_size=32), Probe(ProbeConfig.tiny()), [0], attrs=["smile"],
    ...                  methods=["random"], steps=4, progress=False)
    >>> [(r["method"], r["use"], r["sign"]) for r in rows]
    [('random', 'own', 1.0), ('random', 'own', -1.0)]
    """
    from tqdm.auto import tqdm

    bad = [a for a in attrs if a not in REGION_OF]
    if isinstance(attrs, str) or not attrs or bad:
        raise ValueError(f"attrs must be a non-empty list among {list(REGION_OF)}, got {attrs!r}")
    if isinstance(methods, str) or not methods or any(m not in LOCAL_METHODS for m in methods):
        raise ValueError(f"methods must be a non-empty list among {list(LOCAL_METHODS)}, got {methods!r}")
    x0, x_t, t, before = _start(model, probe, seeds, steps)
    n = len(seeds)
    dirs: dict[tuple[str, str], Tensor] = {}
    park: list[Tensor] = []  # Park's direction does not depend on the attribute: computed once
    with tqdm(total=len(attrs) * len(methods), desc="directions", disable=not progress) as bar:
        for attr in attrs:
            masks = face_mask(probe, x0, REGION_OF[attr])
            for method in methods:
                dirs[attr, method] = _directions(model, x_t, t, masks, method, seeds, park)
                bar.update(1)
    rows = []
    for attr in attrs:
        masks = face_mask(probe, x0, REGION_OF[attr])
        for method in methods:
            V = dirs[attr, method]
            for use in ("own", "transfer"):
                faces = list(range(n)) if use == "own" else list(range(1, n))
                if not faces:
                    continue
                v = V if use == "own" else V[:1].expand_as(V)
                for sign in (1.0, -1.0):
                    with torch.no_grad():
                        out = ddim_sample(model, loco_edit(x_t[faces], sign * v[faces], strength), steps,
                                          t_start=t, progress=False)
                        after = probe(out)
                    goal = 1.0 if attr != "glasses" or sign > 0 else 0.0
                    b = {a: before[a][faces] for a in ATTRIBUTES}
                    movable, moved = right_way(b[attr], after[attr], attr, goal)
                    towards = (after[attr] - b[attr]) * (1.0 if goal > 0.5 else -1.0)
                    others = [a for a in ATTRIBUTES if a != attr]
                    leak, worst = torch.stack([(after[a] - b[a]).abs() / ATTRIBUTES[a].span
                                               for a in others]).max(0)
                    outside = outside_change(x0[faces], out, masks[faces])
                    for j, i in enumerate(faces):
                        rows.append({"seed": int(seeds[i]), "attr": attr, "method": method, "use": use,
                                     "sign": sign, "goal": goal, "before": round(float(b[attr][j]), 5),
                                     "after": round(float(after[attr][j]), 5), "movable": bool(movable[j]),
                                     "moved": bool(moved[j]), "towards": round(float(towards[j]), 5),
                                     "leak": round(float(leak[j]), 5), "leak_attr": others[int(worst[j])],
                                     "outside": round(float(outside[j]), 5)})
    return rows


def loco_summary(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per attribute, method and use, the sign that moves more faces the right way, and its measures:
    `right_way` (moved / movable), `n_movable`, `n_moved`, mean `towards`, `leak` and `outside`.

    >>> r = [{"attr": "smile", "method": "LOCO", "use": "own", "sign": s, "movable": True, "moved": s > 0,
    ...       "towards": s, "leak": 0.1, "outside": 0.5} for s in (1.0, -1.0)]
    >>> loco_summary(r)[0]["sign"], loco_summary(r)[0]["right_way"]
    (1.0, 1.0)
    """
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["attr"], r["method"], r["use"], r["sign"]), []).append(r)
    out = []
    for attr, method, use in dict.fromkeys(k[:3] for k in groups):
        best = None
        for sign in (1.0, -1.0):
            g = groups.get((attr, method, use, sign), [])
            n_mov = sum(r["movable"] for r in g)
            k = sum(r["moved"] for r in g)
            frac = k / n_mov if n_mov else float("nan")
            if g and (best is None or frac > best["right_way"]):
                mean = {f: sum(r[f] for r in g) / len(g) for f in ("towards", "leak", "outside")}
                best = {"attr": attr, "method": method, "use": use, "sign": sign, "right_way": frac,
                        "n_movable": n_mov, "n_moved": k, "n_faces": len(g), **mean}
        out.append(best)
    return out


def right_way_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's interval for a right-way fraction of k faces out of n (scipy's `binomtest`); (nan, nan) for n = 0.

    >>> [round(v, 3) for v in right_way_interval(8, 10)]
    [0.49, 0.943]
    """
    from scipy.stats import binomtest

    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if k > n:
        raise ValueError(f"k must be at most n, got k={k}, n={n}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(level, method="wilson")
    return float(ci.low), float(ci.high)


def loco_tests(rows: Sequence[Mapping[str, Any]], alpha: float = 0.05) -> list[dict[str, Any]]:
    """The tests behind the LOCO comparison, per attribute and use, each method at its chosen sign
    (`loco_summary`):

    - "LOCO > random", "Park > random": more faces moved the right way (one-sided). On the faces
      movable under both methods' signs the test is paired: McNemar's exact test (of the faces only
      one of the two moved, more were the method's). Where the two signs leave no face in common
      (glasses: +1 acts on the faces without glasses, -1 on those with), the two groups of faces
      are disjoint and the test is Fisher's exact test. `by` says which.
    - "LOCO vs Park": the same, two-sided (`stats.mcnemar`, or Fisher);
    - "outside LOCO vs Park", "leak LOCO vs random", "leak Park vs random": the per-face `outside` or
      `leak` differs (Wilcoxon's signed-rank test on the same faces, two-sided; `diff` is the median
      of the first minus the second).

    `significant` counts every test: p < alpha / (number of tests) (Bonferroni).

    >>> r = [{"seed": i, "attr": "smile", "method": m, "use": "own", "sign": 1.0, "movable": True,
    ...       "moved": m == "LOCO" or i == 0, "towards": 0.0, "leak": 0.0, "outside": 0.1 if m == "LOCO" else 1.0}
    ...      for i in range(12) for m in LOCAL_METHODS]
    >>> [(t["test"], t["significant"]) for t in loco_tests(r)][:2]
    [('LOCO > random', True), ('Park > random', False)]
    """
    from scipy.stats import fisher_exact

    from ..stats import binomial_test, mcnemar, signed_rank_test

    chosen = {(b["attr"], b["method"], b["use"]): b for b in loco_summary(rows)}
    picked: dict[tuple, list] = {}
    for r in rows:
        key = (r["attr"], r["method"], r["use"])
        if key in chosen and r["sign"] == chosen[key]["sign"]:
            picked.setdefault(key, []).append(r)
    out = []
    for attr, use in dict.fromkeys((k[0], k[2]) for k in chosen):
        for a, b, side in (("LOCO", "random", "greater"), ("Park", "random", "greater"), ("LOCO", "Park", "two-sided")):
            ra = [r for r in picked.get((attr, a, use), []) if r["movable"]]
            rb = [r for r in picked.get((attr, b, use), []) if r["movable"]]
            if not ra or not rb:
                continue
            name = f"{a} > {b}" if side == "greater" else f"{a} vs {b}"
            moved_b = {r["seed"]: r["moved"] for r in rb}
            pairs = [(r["moved"], moved_b[r["seed"]]) for r in ra if r["seed"] in moved_b]
            if pairs:  # the same faces under both methods: paired
                ok_a, ok_b = torch.tensor(pairs).T
                only_a, only_b = int((ok_a & ~ok_b).sum()), int((ok_b & ~ok_a).sum())
                p = binomial_test(only_a, only_a + only_b, 0.5, "greater") if side == "greater" else mcnemar(ok_a, ok_b)
                (ka, na), (kb, nb), by = (int(ok_a.sum()), len(pairs)), (int(ok_b.sum()), len(pairs)), "McNemar"
            else:  # disjoint groups of faces
                (ka, na), (kb, nb) = (sum(r["moved"] for r in ra), len(ra)), (sum(r["moved"] for r in rb), len(rb))
                p, by = float(fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative=side)[1]), "Fisher"
            out.append({"attr": attr, "use": use, "test": name, "by": by, "k_a": ka, "n_a": na, "k_b": kb, "n_b": nb,
                        "diff": ka / na - kb / nb, "p": p})
        for field, a, b in (("outside", "LOCO", "Park"), ("leak", "LOCO", "random"), ("leak", "Park", "random")):
            ra, rb = picked.get((attr, a, use)), picked.get((attr, b, use))
            if ra and rb:
                by_seed = {r["seed"]: r[field] for r in rb}
                d = [r[field] - by_seed[r["seed"]] for r in ra if r["seed"] in by_seed]
                out.append({"attr": attr, "use": use, "test": f"{field} {a} vs {b}", "by": "Wilcoxon", "k_a": None,
                            "n_a": len(d), "k_b": None, "n_b": len(d), "diff": float(torch.tensor(d).median()),
                            "p": signed_rank_test(d)})
    for t in out:
        t["significant"] = t["p"] < alpha / len(out)
    return out
