"""Asyrp's four properties of h-space, measured on the kit's learned editors: one row per edit.

Kwon, Jeong & Uh (2023) name four properties of h-space: homogeneity (one edit does the same to
every face), linearity (the strength c sets the size of the change, negative c reverses it),
robustness (a perturbation of h keeps the image on the data manifold) and consistency across
timesteps (one dh for every step, the mean of f's outputs, edits like the per-step f). Each is
measured here as a flat row of numbers (`edit_row`) that a benchmark writes with `save_run` and a
lecture re-runs for one setting; the statistics of linearity (`linearity_fit`) sit beside it.

References
- Kwon, Jeong & Uh (2023), "Diffusion Models Already Have A Semantic Latent Space", ICLR
  (arXiv 2210.10960): the four properties of h-space, Sec. 5.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ..ddim import ddim_sample
from ..faces import ATTRIBUTES
from ..metrics import additivity_error, read_edit, right_way
from ..model import Model, check_x
from ..probe import Probe

__all__ = ["faces_noise", "edit_row", "additivity_row", "linearity_fit", "linearity_interval", "face_table",
           "plot_right_way", "show_strength_grid", "show_homogeneity", "show_linearity", "EDITOR_KINDS",
           "show_editor_kinds"]


def faces_noise(model: Model, n: int, seed: int) -> Tensor:
    """The x_T of n faces drawn from `seed`: `(n, *model.sample_shape)`.

    >>> from latentlab import tiny_model
    >>> faces_noise(tiny_model(), 2, seed=0).shape
    torch.Size([2, 3, 16, 16])
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def edit_row(model: Model, x_T: Tensor, dh: Tensor | Callable[[int, Tensor], Tensor] | None, *, attr: str,
             goal: float, steps: int, t_edit: int, probe: Probe, base: Tensor | None = None,
             edited: Tensor | None = None, digits: int = 4) -> dict[str, float | int | str]:
    """One edit, measured on the faces of `x_T`: a flat row of numbers for a shipped run.

    The faces are sampled with `dh` (Asyrp's asymmetric step at t >= t_edit; `dh=None`: unedited)
    and read by the probe against the unedited samples (`base`, sampled if not given). `edited`:
    the edited samples, if already sampled (then `dh` only documents the edit).

    Returns:
        `n_faces`; `n_movable`, `right_way` (fraction of the movable faces moved towards the goal,
        `latentlab.metrics.right_way`), `change` (the target's mean change over the movable faces,
        signed towards the goal), `spread` (its standard deviation); `d_<attribute>` for every
        attribute: the mean change over all faces as a fraction of that attribute's range (signed,
        so a negative c shows up as a negative `d_smile`); `worst_leak` and `worst_leak_attr` (the
        largest mean |change| of another attribute, as a fraction of its range); `pixel_change`;
        `manifold_before`, `manifold_after` (median on-manifold error x 1000). Rounded to `digits`.

    >>> from latentlab import tiny_model
    >>> from latentlab.probe import ProbeConfig
    >>> m = tiny_model(sample_size=32); x = faces_noise(m, 2, seed=0)
    >>> row = edit_row(m, x, None, attr="smile", goal=1.0, steps=2, t_edit=0, probe=Probe(ProbeConfig.tiny()))
    >>> row["n_faces"], row["pixel_change"], row["d_smile"]
    (2, 0.0, 0.0)
    """
    x, _ = check_x(model, x_T, "x_T")
    if base is None:
        base = ddim_sample(model, x, steps, progress=False)
    elif base.shape != x.shape:
        raise ValueError(f"base must have the shape of x_T {tuple(x.shape)}, got {tuple(base.shape)}")
    if edited is None:
        edited = base if dh is None else ddim_sample(model, x, steps, dh=dh, t_edit=t_edit, progress=False)
    elif edited.shape != x.shape:
        raise ValueError(f"edited must have the shape of x_T {tuple(x.shape)}, got {tuple(edited.shape)}")
    r = read_edit(base, edited, attr=attr, goal=goal, probe=probe)
    leak = r.leakage()
    worst = max(leak, key=leak.get)

    def rnd(v: float) -> float:
        return round(float(v), digits) + 0.0  # + 0.0: no "-0.0"

    row: dict[str, float | int | str] = {
        "n_faces": len(x), "n_movable": r.n_movable, "right_way": rnd(r.right_way), "change": rnd(r.change),
        "spread": rnd(r.spread)}
    row |= {f"d_{a}": rnd(r.delta[a].mean() / ATTRIBUTES[a].span) for a in ATTRIBUTES}
    row |= {"worst_leak": rnd(leak[worst]), "worst_leak_attr": worst, "pixel_change": rnd(r.pixel_change),
            "manifold_before": rnd(1e3 * r.manifold_before.median()),
            "manifold_after": rnd(1e3 * r.manifold_after.median())}
    return row


@torch.no_grad()
def additivity_row(base: Tensor, edited_a: Tensor, edited_b: Tensor, edited_ab: Tensor, *, probe: Probe,
                   digits: int = 4) -> dict[str, float | int]:
    """Two edits alone and together, read by the probe: `additivity` is
    `latentlab.metrics.additivity_error` (relative L2 of what the pair does beyond the sum of the two
    alone, over faces and all attributes in units of their ranges); `residual_<attribute>` is each
    attribute's share of the squared residual.

    >>> from latentlab.probe import ProbeConfig
    >>> x = torch.zeros(2, 3, 32, 32); p = Probe(ProbeConfig.tiny())
    >>> additivity_row(x, x + 0.1, x - 0.2, x - 0.1, probe=p)["n_faces"]
    2
    """
    for name, v in (("edited_a", edited_a), ("edited_b", edited_b), ("edited_ab", edited_ab)):
        if not isinstance(v, Tensor) or v.shape != base.shape:
            raise ValueError(f"{name} must be an image batch of base's shape {tuple(base.shape)}, got "
                             f"{tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__}")
    da, db, dab = (read_edit(base, e, probe=probe).delta for e in (edited_a, edited_b, edited_ab))
    res = {a: float((((dab[a] - da[a] - db[a]) / r.span) ** 2).sum()) for a, r in ATTRIBUTES.items()}
    total = sum(res.values()) or 1.0
    row: dict[str, float | int] = {"n_faces": len(base),
                                   "additivity": round(additivity_error(da, db, dab), digits) + 0.0}
    row |= {f"residual_{a}": round(v / total, digits) + 0.0 for a, v in res.items()}
    return row


def linearity_fit(scales: Sequence[float], changes: Sequence[float]) -> dict[str, float]:
    """A straight line through `(c, change)`: slope, intercept and R^2 (least squares), and the
    change at c = -1 as a fraction of the change at c = +1 (`mirror`, -1 for a change odd in c).

    >>> fit = linearity_fit([-1, 0, 1, 2], [-0.2, 0.0, 0.2, 0.4])
    >>> fit["slope"], fit["r2"], fit["mirror"]
    (0.2, 1.0, -1.0)
    """
    c = torch.as_tensor(list(scales), dtype=torch.float64)
    y = torch.as_tensor(list(changes), dtype=torch.float64)
    if c.dim() != 1 or len(c) != len(y) or len(c) < 3:
        raise ValueError(f"scales and changes must be two sequences of the same length, at least 3, got "
                         f"{len(c)} and {len(y)}")
    if (c == c[0]).all():
        raise ValueError(f"scales must not all be equal, got {c.tolist()}")
    A = torch.stack([c, torch.ones_like(c)], 1)
    slope, intercept = torch.linalg.lstsq(A, y[:, None]).solution.flatten().tolist()
    ss_tot = float(((y - y.mean()) ** 2).sum())
    ss_res = float(((y - (slope * c + intercept)) ** 2).sum())
    r2 = float("nan") if ss_tot == 0 else 1 - ss_res / ss_tot
    at = {float(a): float(b) for a, b in zip(c, y)}
    mirror = at[-1.0] / at[1.0] if -1.0 in at and 1.0 in at and at[1.0] != 0 else float("nan")
    return {"slope": round(slope, 10), "intercept": round(intercept, 10), "r2": round(r2, 10),
            "mirror": round(mirror, 10)}


@torch.no_grad()
def face_table(base: Tensor, edited: dict[str, Tensor], *, attr: str, goal: float, probe: Probe,
               digits: int = 4) -> list[dict[str, float | int | bool]]:
    """Several edits of the same faces, face by face: one row per face for a shipped run.

    Each row: `face` (index), `movable` (the target can move towards `goal`,
    `latentlab.metrics.right_way`), `before` (the target's reading unedited), and per edit `label`:
    `ok_<label>` (moved the right way) and `d_<label>` (the target's change as a fraction of its
    range, signed). Paired rows are what a McNemar test or a bootstrap over faces needs.

    >>> from latentlab.probe import ProbeConfig
    >>> x = torch.zeros(2, 3, 32, 32); p = Probe(ProbeConfig.tiny())
    >>> rows = face_table(x, {"same": x}, attr="smile", goal=1.0, probe=p)
    >>> len(rows), rows[0]["d_same"], rows[0]["ok_same"]
    (2, 0.0, False)
    """
    out: list[dict[str, float | int | bool]] = [{"face": i} for i in range(len(base))]
    span = ATTRIBUTES[attr].span
    first = True
    for label, x in edited.items():
        if not isinstance(x, Tensor) or x.shape != base.shape:
            raise ValueError(f"edited[{label!r}] must be an image batch of base's shape {tuple(base.shape)}")
        r = read_edit(base, x, attr=attr, goal=goal, probe=probe)
        movable, ok = right_way(r.before[attr], r.after[attr], attr, goal)
        d = r.delta[attr] / span
        for i, row in enumerate(out):
            if first:
                row |= {"movable": bool(movable[i]), "before": round(float(r.before[attr][i]), digits) + 0.0}
            row |= {f"ok_{label}": bool(ok[i]), f"d_{label}": round(float(d[i]), digits) + 0.0}
        first = False
    return out


def plot_right_way(labels: Sequence[str], fractions: Sequence[float], n: Sequence[int], *,
                   target: float = 0.9, ax=None):
    """A bar chart of right-way fractions with 95 % Wilson intervals and the kit's target line.

    >>> ax = plot_right_way(["f", "random"], [0.92, 0.25], [248, 248])
    >>> len(ax.patches)
    2
    """
    import matplotlib.pyplot as plt
    from scipy.stats import binomtest

    if not (len(labels) == len(fractions) == len(n)):
        raise ValueError(f"labels, fractions and n must have one entry per bar, got {len(labels)}, "
                         f"{len(fractions)} and {len(n)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.6))
    lo, hi = [], []
    for f, m in zip(fractions, n):
        ci = binomtest(round(f * m), int(m)).proportion_ci(method="wilson")
        lo.append(f - ci.low)
        hi.append(ci.high - f)
    ax.bar(range(len(labels)), fractions, yerr=[lo, hi], color="tab:blue", capsize=3)
    ax.axhline(target, color="tab:red", ls="--", lw=1, label=f"kit's target {target:g}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("right-way fraction")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def linearity_interval(per_face: dict[float, Tensor], *, level: float = 0.95, n_boot: int = 2000,
                       seed: int = 0) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals over faces (`latentlab.stats.bootstrap_interval`) of `linearity_fit`'s
    slope and mirror ratio, from each face's change at each strength c (`per_face[c]`: `(N,)`, the
    same faces at every c; c = 0 may be left out, its change is 0).

    >>> d = {-1.0: torch.full((5,), -0.2), 1.0: torch.full((5,), 0.2), 2.0: torch.full((5,), 0.4)}
    >>> linearity_interval(d, n_boot=50)["slope"]
    (0.2, 0.2)
    """
    from ..stats import bootstrap_interval

    per_face = {float(c): torch.as_tensor(v, dtype=torch.float64) for c, v in per_face.items()}
    n = {len(v) for v in per_face.values()}
    if len(n) != 1 or not {-1.0, 1.0} <= set(per_face) or any(v.dim() != 1 for v in per_face.values()):
        raise ValueError(f"per_face must map strengths including -1 and 1 to (N,) changes of the same N faces, "
                         f"got strengths {sorted(per_face)} and lengths {sorted(n)}")
    (N,) = n
    per_face.setdefault(0.0, torch.zeros(N, dtype=torch.float64))
    cs = sorted(per_face)
    c = torch.tensor(cs, dtype=torch.float64)
    w = (c - c.mean()) / ((c - c.mean()) ** 2).sum()  # least-squares slope = w . (mean change per c)
    g = torch.Generator().manual_seed(seed)

    def slope(*ys):
        return sum(wi * y.mean(1) for wi, y in zip(w.tolist(), ys))

    samples = [per_face[k] for k in cs]
    i_minus, i_plus = cs.index(-1.0), cs.index(1.0)
    out = {"slope": bootstrap_interval(slope, *samples, level=level, n_boot=n_boot, generator=g),
           "mirror": bootstrap_interval(lambda *ys: ys[i_minus].mean(1) / ys[i_plus].mean(1), *samples,
                                        level=level, n_boot=n_boot, generator=g)}
    return {k: (round(lo, 8), round(hi, 8)) for k, (lo, hi) in out.items()}


@torch.no_grad()
def show_strength_grid(model: Model, x_T: Tensor, editor: Callable[[int, Tensor], Tensor], *, probe: Probe,
                       steps: int, scales: Sequence[float] = (-1.0, 1.0, 2.0)):
    """Asyrp's edit at strengths c (Kwon et al. 2023, Sec. 5): a row per face, a column per c with the
    unedited face at c = 0, each titled with the probe's reading of the editor's attribute; returns the figure.

    `editor` is a learned editor (`latentlab.load_editor`): `c * editor(t, h)` is added at t >= its `t_edit`.

    >>> import matplotlib.pyplot as plt, latentlab as ll
    >>> m = ll.tiny_model(); probe = lambda x: {"smile": x.mean((1, 2, 3))}
    >>> class Dh:
    ...     attr, t_edit = "smile", 0
    ...     def __call__(self, t, h): return 0.1 * h
    >>> fig = show_strength_grid(m, faces_noise(m, 2, 0), Dh(), probe=probe, steps=2); len(fig.axes)
    8
    >>> plt.close(fig)
    """
    from .plot import show_images

    n, c = len(x_T), torch.tensor([float(v) for v in scales])
    cs = c.repeat_interleave(n).view(-1, 1, 1, 1)  # (len(scales) * n, 1, 1, 1): scale by scale, every face
    edited = ddim_sample(model, x_T.repeat(len(c), 1, 1, 1), steps, dh=lambda t, h: cs.to(h) * editor(t, h),
                         t_edit=editor.t_edit, progress=False).view(len(c), n, *x_T.shape[1:])
    base = ddim_sample(model, x_T, steps, progress=False)
    order = sorted([(float(v), edited[i]) for i, v in enumerate(c)] + [(0.0, base)], key=lambda e: e[0])
    grid = torch.stack([images for _, images in order], 1)  # (n, columns, C, H, W): a row per face
    readings = probe(grid.flatten(0, 1))[editor.attr]
    labels = ["0" if v == 0 else f"{v:+g}" for v, _ in order] * n
    return show_images(grid.flatten(0, 1), nrow=len(order), scale=1.0,
                       titles=[f"c={c}: {v:+.2f}" for c, v in zip(labels, readings.tolist())])


def show_homogeneity(rows, *, n: int, target: float = 0.9):
    """Homogeneity (Kwon et al. 2023, Sec. 5.1): each editor's share of movable faces moved the right way,
    against the kit's target; `rows` a table with columns `editor` and `right_way` over `n` faces.

    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> fig = show_homogeneity(pd.DataFrame({"editor": ["f", "random"], "right_way": [0.92, 0.3]}), n=8)
    >>> len(fig.axes[0].patches)
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.2))
    ax.barh(rows["editor"], rows["right_way"], color="tab:blue")
    ax.axvline(target, color="k", ls="--", lw=1, label=f"the kit's target {target:g}")
    ax.set(xlim=(0, 1), xlabel=f"fraction of movable faces moved the right way (N = {n})")
    ax.legend(loc="lower left", fontsize=7)
    return fig


def show_linearity(rows, *, editor: str, attrs: Sequence[str] = ("smile", "eye_size", "face_size", "glasses")):
    """Linearity (Kwon et al. 2023, Sec. 5.2): the mean change of each attribute (`d_<attr>` columns,
    per range) against the strength `c` of one `editor`, one row of `rows` per c.

    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> t = pd.DataFrame({"c": [-1.0, 1.0], "d_smile": [-0.2, 0.2], "d_eye_size": [0.0, 0.0],
    ...                   "d_face_size": [0.0, 0.01], "d_glasses": [0.0, 0.0]})
    >>> fig = show_linearity(t, editor="smile +1 f"); len(fig.axes[0].lines)
    5
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    for attr, style in zip(attrs, ("o-", "s--", "^:", "x-.")):
        ax.plot(rows["c"], rows[f"d_{attr}"], style, label=attr)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel=f"strength c of the {editor} editor", ylabel="mean change / range")
    ax.legend(fontsize=7)
    return fig


EDITOR_KINDS = {"f": "smile +1 f", "raw dh": "smile +1 dh", "global dh": "smile +1 f (global)",
                "random": "random (smile f's norm)"}  # consistency across timesteps: the run's editor names


def show_editor_kinds(table, kinds: dict[str, str] | None = None):
    """Consistency across timesteps (Kwon et al. 2023, Sec. 5.4): the right-way fraction of each kind of
    editor at c = 1 (`plot_right_way`); `kinds` maps a bar's label to its editor in `table` (a run table
    with columns `editor`, `c`, `property`, `right_way`, `n_movable`); editors absent from it are left out.

    >>> import matplotlib.pyplot as plt, pandas as pd
    >>> t = pd.DataFrame({"editor": ["smile +1 f", "random (smile f's norm)"], "c": [1.0, 1.0],
    ...                   "property": ["homogeneity", "homogeneity"], "right_way": [0.9, 0.3], "n_movable": [50, 50]})
    >>> fig = show_editor_kinds(t); [x.get_text() for x in fig.axes[0].get_xticklabels()]
    ['f', 'random']
    >>> plt.close(fig)
    """
    kinds = EDITOR_KINDS if kinds is None else kinds
    sel = table[(table["c"] == 1.0) & (table["property"] != "live")].set_index("editor")
    sel = {k: sel.loc[v] for k, v in kinds.items() if v in sel.index}
    return plot_right_way(list(sel), [r.right_way for r in sel.values()], [r.n_movable for r in sel.values()]).figure
