"""What the editor's slider does, measured: one face swept over strengths per method (the probe's
readings of every image), and how far strength c = 1 moves h (or x_t) per method over many faces.

Both are rows for `latentlab.course.runs.save_run`, made by `benchmarks/lecture_08_editor.py` and
re-made one row at a time by lecture 08. The strength c is in each method's own unit
(`latentlab.methods.METHODS[name].unit`), so c = 1 is a different size for each method.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from latentlab.faces import ATTRIBUTES
from latentlab.session import Edit, EditSession, Face

__all__ = ["sweep_rows", "sweep_changes", "unit_size_rows", "unit_size_summary", "save_images", "load_images",
           "show_sweep", "show_unit_sizes"]


def _check_session(session: Any) -> EditSession:
    if not isinstance(session, EditSession):
        raise TypeError(f"session must be a latentlab.session.EditSession, got {type(session).__name__}")
    return session


def sweep_rows(session: EditSession, edits: Mapping[str, Edit], strengths: Sequence[float], *, seed: int = 1,
               random: int = 0) -> tuple[list[dict[str, Any]], Tensor]:
    """One face (`Face(seed=seed)`) edited by each labelled edit at each strength, and `random` draws of
    the edit's random baseline of the same size at the largest strength (`Edit(..., random=i)`).

    Returns the rows `{"method", "c", "random", <attribute>: reading}` (random = -1 for the method's
    own direction) and the images `(len(rows), C, H, W)` in the same order. The edit's own strength is
    replaced by each of `strengths`.

    >>> import latentlab as ll
    >>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
    >>> s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps=2)
    >>> rows, images = sweep_rows(s, {"r": Edit("random", 0, 1.0)}, (-1.0, 0.0, 1.0), random=1)
    >>> [(r["c"], r["random"]) for r in rows], tuple(images.shape)
    ([(-1.0, -1), (0.0, -1), (1.0, -1), (1.0, 0)], (4, 3, 32, 32))
    """
    _check_session(session)
    if not strengths or any(isinstance(c, bool) or not isinstance(c, (int, float)) for c in strengths):
        raise ValueError(f"strengths must be a non-empty sequence of numbers, got {strengths!r}")
    if isinstance(random, bool) or not isinstance(random, int) or random < 0:
        raise ValueError(f"random must be an integer >= 0 (baseline draws per edit), got {random!r}")
    plan: list[tuple[str, float, int, Edit]] = []
    for label, e in edits.items():
        plan += [(label, float(c), -1, Edit(e.method, e.target, float(c))) for c in strengths]
        c_max = float(max(strengths, key=lambda c: (abs(c), c)))  # +2 over -2
        plan += [(label, c_max, i, Edit(e.method, e.target, c_max, random=i)) for i in range(random)]
    images = session.sweep([p[3] for p in plan], face=Face(seed=seed))
    with torch.no_grad():
        read = session.probe(images)
    rows = [{"method": label, "c": c, "random": r, **{a: float(read[a][i]) for a in ATTRIBUTES}}
            for i, (label, c, r, _) in enumerate(plan)]
    return rows, images


def sweep_changes(rows: Sequence[Mapping[str, Any]], method: str, *, top: int = 3
                  ) -> tuple[list[tuple[str, float]], tuple[str, float] | None]:
    """What one method's sweep (`sweep_rows`) moves: its `top` largest changes from the unedited image
    (c = 0) over the strengths, and the largest change any of its random baselines makes (None if it
    has none), each as a signed fraction of the attribute's range (`latentlab.metrics.largest_changes`).

    >>> rows = [{"method": "m", "c": c, "random": -1, **{a: 0.0 for a in ATTRIBUTES}} for c in (0.0, 1.0)]
    >>> rows[1]["smile"] = 1.0
    >>> sweep_changes(rows, "m", top=1)
    ([('smile', 0.5)], None)
    """
    from latentlab.metrics import largest_changes

    own = [r for r in rows if r["method"] == method and r["random"] < 0]
    zero = [i for i, r in enumerate(own) if r["c"] == 0]
    if not zero:
        raise ValueError(f"method must name a sweep in rows with a c = 0 image, got {method!r} "
                         f"(methods: {sorted({r['method'] for r in rows})})")
    read = {a: torch.tensor([r[a] for r in own]) for a in ATTRIBUTES}
    mine = largest_changes(read, reference=zero[0], top=top)
    rand = [r for r in rows if r["method"] == method and r["random"] >= 0]
    if not rand:
        return mine, None
    read = {a: torch.tensor([own[zero[0]][a]] + [r[a] for r in rand]) for a in ATTRIBUTES}
    return mine, largest_changes(read, reference=0, top=1)[0]


def unit_size_rows(session: EditSession, edits: Mapping[str, Edit], seeds: Sequence[int], *,
                   progress: bool = True) -> list[dict[str, Any]]:
    """How far each labelled edit at strength 1 moves each face `Face(seed=s)`: `session.edit_size`,
    the median over the edited steps of ||dh|| / ||h|| along the face's unedited trajectory (h-space
    methods) or ||dx|| / ||x_t|| at t_edit (Park's x-space edits). Rows `{"method", "seed", "size"}`.

    >>> import latentlab as ll
    >>> probe = lambda x: {a: x.mean((1, 2, 3)) for a in ll.ATTRIBUTES}
    >>> s = EditSession(ll.tiny_model(sample_size=32), probe=probe, steps=2)
    >>> rows = unit_size_rows(s, {"r": Edit("random", 0, 5.0)}, [0, 1], progress=False)
    >>> [r["seed"] for r in rows], rows[0]["size"] > 0
    ([0, 1], True)
    """
    _check_session(session)
    if not seeds:
        raise ValueError("seeds must name at least one face")
    rows = []
    for s in tqdm(list(seeds), desc="faces", disable=not progress):
        face = Face(seed=int(s))
        for label, e in edits.items():
            rows.append({"method": label, "seed": int(s),
                         "size": session.edit_size(Edit(e.method, e.target, 1.0), face=face)})
    return rows


def unit_size_summary(rows: Sequence[Mapping[str, Any]], reference: str | None = None) -> list[dict[str, Any]]:
    """Per method: the number of faces, the median and quartiles of the sizes, and the median's ratio
    to the `reference` method's median (None: no ratio). Rows in the order the methods first appear.

    >>> rows = [{"method": m, "seed": s, "size": v} for m, v0 in (("a", 1.0), ("b", 4.0))
    ...         for s, v in enumerate((v0, 2 * v0, 3 * v0))]
    >>> [(r["method"], r["median"], r["ratio"]) for r in unit_size_summary(rows, reference="a")]
    [('a', 2.0, 1.0), ('b', 8.0, 4.0)]
    """
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["method"], []).append(float(r["size"]))
    if reference is not None and reference not in by:
        raise ValueError(f"reference must be one of the rows' methods {sorted(by)}, got {reference!r}")
    out = []
    for m, v in by.items():
        q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
        out.append({"method": m, "n": len(v), "median": statistics.median(v), "q1": q[0], "q3": q[2],
                    "ratio": (statistics.median(v) / statistics.median(by[reference])) if reference else None})
    return out


def save_images(images: Tensor, path: str | Path) -> Path:
    """Write images `(N, C, H, W)` to a safetensors file (the shipped sweep a lecture shows).

    >>> import tempfile
    >>> p = save_images(torch.zeros(2, 3, 4, 4), Path(tempfile.mkdtemp()) / "x.safetensors")
    >>> tuple(load_images(p).shape)
    (2, 3, 4, 4)
    """
    from safetensors.torch import save_file

    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    path = Path(path)
    save_file({"images": images.detach().float().cpu().contiguous()}, str(path))
    return path


def load_images(path: str | Path) -> Tensor:
    """The images `(N, C, H, W)` written by `save_images`."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file {path}; rebuild it with the benchmark named in its run's command")
    return load_file(str(path))["images"]


def show_sweep(rows: Sequence[Mapping[str, Any]], images: Tensor, scale: float = 0.8):
    """One face swept over strengths, a row per method: the images of the rows of a sweep (`sweep_rows`,
    aligned with `images`, `(N, C, H, W)`) with `random < 0`, the methods' own directions; returns the figure.

    >>> import matplotlib.pyplot as plt
    >>> rows = [{"method": m, "c": c, "random": r} for m in ("a", "b") for r in (-1, 0) for c in (0.0, 1.0)]
    >>> fig = show_sweep(rows, torch.zeros(8, 3, 4, 4)); len(fig.axes)
    4
    >>> plt.close(fig)
    """
    from latentlab.course.plot import show_rows

    if len(rows) != len(images):
        raise ValueError(f"rows and images must be aligned, got {len(rows)} rows and {len(images)} images")
    own = [i for i, r in enumerate(rows) if r["random"] < 0]
    methods = list(dict.fromkeys(rows[i]["method"] for i in own))
    strengths = sorted({r["c"] for r in rows})
    return show_rows({m: images[[i for i in own if rows[i]["method"] == m]] for m in methods},
                     col_titles=[f"c = {c:g}" for c in strengths], scale=scale)


def show_unit_sizes(rows: Sequence[Mapping[str, Any]]):
    """How far c = 1 moves h, per method: the median and quartiles of ||dh|| / ||h|| over faces
    (`unit_size_summary` of `unit_size_rows`), on a log scale; methods editing x_t (Park) are left out.

    >>> import matplotlib.pyplot as plt
    >>> rows = [{"method": m, "seed": s, "size": v * (s + 1)} for m, v in (("a", 0.1), ("b", 1.0)) for s in range(3)]
    >>> fig = show_unit_sizes(rows); [x.get_text() for x in fig.axes[0].get_yticklabels()]
    ['a', 'b']
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    h_rows = [r for r in unit_size_summary(rows) if not r["method"].startswith("Park")]
    fig, ax = plt.subplots(figsize=(5, 2.4))
    ax.barh([r["method"] for r in h_rows], [r["median"] for r in h_rows],
            xerr=[[r["median"] - r["q1"] for r in h_rows], [r["q3"] - r["median"] for r in h_rows]])
    ax.set(xscale="log", xlabel=r"$\|\Delta h\| / \|h\|$ at c = 1 (median, quartiles)")
    ax.invert_yaxis()
    return fig
