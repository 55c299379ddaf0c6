"""The course's key pictures at slide resolution: `python -m latentlab.course.figures OUT_DIR`.

Writes each figure as PNG (200 dpi) and SVG: the pushforward of a circle to an ellipse with U, S, V
(notebook 01); the U-Net drawn from the model's own config with h marked (02); a pullback's singular
vectors and their edits (Park et al., notebook 06); an Asyrp edit grid with the shipped editors
(Kwon et al., notebook 04); and the method comparison from the shipped results (lecture 10), which
is skipped with a note while `data/compare/` has none. Any model works: parts that fit only the
bundled model (the learned editors) are replaced by a plain h-direction for another one.

>>> import tempfile, latentlab as ll
>>> with tempfile.TemporaryDirectory() as d:
...     files = write_figures(d, ll.tiny_model(), only=("pushforward",), progress=False)
>>> [f.name for f in files]
['pushforward.png', 'pushforward.svg']
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

import latentlab as ll
from latentlab import compare, stats
from latentlab.course import plot

__all__ = ["FIGURES", "write_figures", "main"]

STEPS = 20  # DDIM steps of every sampled figure: the notebooks' choice, a few seconds per run on a CPU


def _noise(model: ll.Model, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(seed))


def _near(model: ll.Model, fraction: float) -> int:
    """The timestep of the STEPS grid nearest `fraction * T` (0.6 T: Park et al.'s t_edit for faces)."""
    grid = ll.ddim_timesteps(model, STEPS).tolist()
    return min(grid, key=lambda t: abs(t - fraction * model.num_train_timesteps))


def pushforward_figure(model: ll.Model, seed: int = 0) -> Figure:
    """Notebook 01's map phi(x, y) = (x + 0.3 sin y, y + 0.3 x^2) at p = (0.8, 0.5)."""
    phi = lambda q: torch.stack([q[0] + 0.3 * torch.sin(q[1]), q[1] + 0.3 * q[0] ** 2])  # noqa: E731
    return plot.show_pushforward(phi, torch.tensor([0.8, 0.5]))


def unet_figure(model: ll.Model, seed: int = 0) -> Figure:
    return plot.show_unet(model.unet)


def pullback_figure(model: ll.Model, seed: int = 0, alpha: float = 2.0) -> Figure:
    """One sample's x_t at 0.6 T, the top 3 v_i of dh/dx_t, and x_0 after x_t -/+ alpha v_i (Park et al.)."""
    t = _near(model, 0.6)
    grid = ll.ddim_timesteps(model, STEPS).tolist()
    _, trajectory = ll.ddim_sample(model, _noise(model, 1, seed), STEPS, return_trajectory=True, progress=False)
    x_t = trajectory[grid.index(t)][0]
    svd = ll.pullback(model, x_t, t, k=3, seed=seed)
    starts = torch.stack([x_t + s * alpha * v for v in svd.V for s in (-1, 1)] + [x_t])
    x0 = ll.ddim_sample(model, starts, STEPS, t_start=t, progress=False)
    rows = {}
    for i, v in enumerate(svd.V):
        picture = v / v.abs().max()  # a direction, stretched to [-1, 1] to be seen
        rows[f"v{i + 1} (s = {svd.S[i]:.2f})"] = torch.stack([picture, x0[2 * i], x0[-1], x0[2 * i + 1]])
    fig = plot.show_rows(rows, col_titles=["v_i (scaled)", f"x_0 (x_t - {alpha:g} v_i)", "x_0 (unedited)",
                                           f"x_0 (x_t + {alpha:g} v_i)"], scale=1.2)
    fig.suptitle(f"pullback of h at t = {t}: its right singular vectors and their edits", fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def _edits(model: ll.Model) -> list[tuple[str, Callable, int]]:
    """(label, dh, t_edit): the shipped editors where they fit the model, else a random h-direction."""
    editors = [ll.load_editor("smile", 1.0), ll.load_editor("glasses", 1.0)]
    if all(tuple(e.h_shape) == tuple(model.h_shape) for e in editors) and model.num_train_timesteps == 1000:
        return [(f"{e.attr} -> {e.goal:g}", e, e.t_edit) for e in editors]
    # the editors were trained on the bundled model's h: for another model, show the same mechanism
    # with a fixed random dh, of the size of h itself at 0.6 T
    t = _near(model, 0.6)
    h_norm = ll.h_of(model, _noise(model, 4, 99), t).flatten(1).norm(dim=1).mean()
    d = torch.randn(model.h_shape, generator=torch.Generator().manual_seed(7))
    d = 0.5 * h_norm * d / d.norm()
    return [("random dh (no shipped editor fits this model)", lambda t, h: d.expand_as(h), 0)]


def asyrp_figure(model: ll.Model, seed: int = 0, scales: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0)) -> Figure:
    """Asyrp edits: two faces, each editor at the scales c, added at t >= its t_edit (asymmetric)."""
    faces, c = _noise(model, 2, seed), torch.tensor(scales)
    x_T = faces.repeat_interleave(len(scales), 0)  # (2 * n_c, C, H, W): face by face, every scale
    cs = c.repeat(len(faces)).view(-1, 1, 1, 1)
    rows = {}
    for label, editor, t_edit in _edits(model):
        x0 = ll.ddim_sample(model, x_T, STEPS, dh=lambda t, h, e=editor: cs.to(h) * e(t, h), t_edit=t_edit,
                         progress=False)
        for f in range(len(faces)):
            rows[f"{label}, face {f + 1}"] = x0[f * len(scales):(f + 1) * len(scales)]
    fig = plot.show_rows(rows, col_titles=[f"c = {v:g}" for v in scales], scale=1.2)
    fig.suptitle("Asyrp: c * dh added to h at t >= t_edit, the edited eps in P_t only", fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def comparison_figure(model: ll.Model, seed: int = 0) -> Figure | None:
    """The shipped method comparison (`compare.shipped_results`), or None with a note when it is absent."""
    try:
        _, samples = compare.shipped_results(seed)
    except FileNotFoundError as e:
        print(f"comparison figure skipped: {e}")
        return None
    return plot.show_comparison(stats.intervals(samples))


FIGURES: dict[str, Callable[[ll.Model, int], Figure | None]] = {
    "pushforward": pushforward_figure,
    "unet": unet_figure,
    "pullback": pullback_figure,
    "asyrp_edits": asyrp_figure,
    "comparison": comparison_figure,
}


def write_figures(out_dir: str | Path, model: ll.Model | None = None, *, seed: int = 0, dpi: int = 200,
                  formats: Sequence[str] = ("png", "svg"), only: Sequence[str] | None = None,
                  progress: bool = True) -> list[Path]:
    """Write the slide figures into `out_dir` (created if needed); returns the files written.

    Args:
        model: the model to draw (default: the bundled faces model).
        seed: the noise of the sampled figures, and which shipped comparison run to draw.
        dpi: the PNG resolution (200: sharp on a 1920-pixel slide at half width).
        only: a subset of `FIGURES`' names.
    """
    names = list(FIGURES) if only is None else list(only)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"only must name figures of {list(FIGURES)}, got {unknown}")
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise ValueError(f"formats must be among png, svg, pdf, got {bad}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = ll.load_model() if model is None else model
    written = []
    with plt.rc_context({"figure.dpi": 100, "savefig.dpi": dpi}):
        for name in tqdm(names, desc="figures", disable=not progress):
            fig = FIGURES[name](model, seed)
            if fig is None:
                continue
            for fmt in formats:
                path = out / f"{name}.{fmt}"
                fig.savefig(path, bbox_inches="tight", facecolor="white")
                written.append(path)
            plt.close(fig)
    return written


def main(argv: Sequence[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(prog="python -m latentlab.course.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", help="folder for the figures (created if needed)")
    p.add_argument("--model", default=None, help="a model folder or hub id (default: the bundled faces model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dpi", type=int, default=200)
    p.add_argument("--only", nargs="+", choices=list(FIGURES), help="write only these figures")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared 2-core machine two threads ran 10x slower)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    plt.switch_backend("Agg")  # files only: no window, and no display needed
    files = write_figures(args.out_dir, ll.load_model(args.model), seed=args.seed, dpi=args.dpi, only=args.only)
    for f in files:
        print(f)
    return files


if __name__ == "__main__":
    main()
