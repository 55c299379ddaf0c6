"""Every lecture's hero figures at slide resolution: `python -m latentlab.course.figures OUT_DIR`.

One figure per section of lectures 01-10 that has one to show, named by its lecture
(`01_pushforward.png`, `03_decodability.png`, ...; `--list` names them all with their sections),
written as PNG (200 dpi: a 32 px face over 160 px or more) and SVG. Each is drawn by the same
package call as its lecture, from the same shipped run (`data/runs/`, `data/compare/`) or the same
few sampled faces: the whole set takes about a minute of one CPU core, half of it lecture 07's
measured face (`hosvd_face`, drawn by three figures); `--only` picks some.

A figure needs `nothing` (a closed form or a shipped run), any `model` (the one drawn: the bundled
faces model by default, `--model` another), or the `faces model` itself (its learned editors and
probe); with another model, the last kind is skipped with a note.

>>> import tempfile, latentlab as ll
>>> with tempfile.TemporaryDirectory() as d:
...     files = write_figures(d, ll.tiny_model(), only=["01_pushforward", "02_unet"], progress=False)
>>> [f.name for f in files]
['01_pushforward.png', '01_pushforward.svg', '02_unet.png', '02_unet.svg']
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.compare import shipped_results
from latentlab.course import (
    comparison,
    decodability,
    direction_agreement,
    edit_sweeps,
    editor_properties,
    face_quality,
    hosvd_faces,
    latent_basis,
    local_edits,
    plot,
)
from latentlab.course.runs import RUNS, load_run, run_table
from latentlab.linalg import dense_jacobian
from latentlab.methods import THREE_PAPERS

__all__ = ["SlideFigure", "FIGURES", "NEEDS", "write_figures", "main"]

NEEDS = ("nothing", "model", "faces model")  # what a figure draws from: see the module's docstring


class SlideFigure(NamedTuple):
    """One slide figure: the lecture section it comes from, how to draw it, and what it needs (`NEEDS`)."""

    section: str
    draw: Callable[[ll.Model | None], Figure]
    needs: str


def _noise(model: ll.Model, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(seed))


# --- 01 Pushforward and SVD: the lecture's maps phi (R^2 -> R^2) and psi (R^3 -> R^2) at its points

def _pushforward(model: ll.Model | None) -> Figure:
    phi = lambda q: torch.stack([q[0] + 0.3 * torch.sin(q[1]), q[1] + 0.3 * q[0] ** 2])  # noqa: E731
    return plot.show_pushforward(phi, torch.tensor([0.8, 0.5], dtype=torch.float64), r=0.4)


def _kernel(model: ll.Model | None) -> Figure:
    psi = lambda q: torch.stack([q[0] + torch.sin(q[1] * q[2]), q[0] * q[1] - q[2]])  # noqa: E731
    return plot.show_kernel(torch.func.jacrev(psi)(torch.tensor([0.3, -0.7, 1.2], dtype=torch.float64)))


def _topk(model: ll.Model | None) -> Figure:
    """Lecture 01's tiny random U-Net (not the model drawn): pullback's top 3 against the dense Jacobian of x_t -> h."""
    tiny = ll.tiny_model()
    x_t = torch.randn(tiny.sample_shape, generator=torch.Generator().manual_seed(0))
    directions, info = ll.pullback(tiny, x_t, t=600, k=3, return_info=True)
    with ll.forward_ad(tiny):
        J = dense_jacobian(lambda v: ll.h_of(tiny, v[None], 600).flatten(), x_t, mode="fwd", chunk_size=128)
    return plot.show_singular_values(torch.linalg.svdvals(J), directions.S, jvps=x_t.numel(), products=info["products"],
                                     title=f"J: {tuple(J.shape)}, the encoder x_t -> h of a tiny U-Net")


# --- 02 The faces world, the model and DDIM

def _ddim(model: ll.Model) -> Figure:
    record = []
    ll.ddim_sample(model, _noise(model, 1, 0), steps=50, callback=record.append, progress=False)
    return plot.show_trajectory(record, [0, 10, 20, 30, 40, 45, 49])


def _model_quality(model: ll.Model | None) -> Figure:
    """The two attributes whose samples and renders differ most (largest KS distance), as lecture 02 picks them."""
    rows = load_run("02_model_quality")["rows"]
    ks = face_quality.quality_summary(rows)["ks"]
    readings = {kind: {k: torch.tensor([r[k] for r in rows if r["kind"] == kind]) for k in ks}
                for kind in ("sample", "render")}
    return plot.show_ks(readings["sample"], readings["render"], sorted(ks, key=ks.get, reverse=True)[:2])


# --- 03 h-space: the learned smile editor on six faces of seed 1, 10 DDIM steps (the shipped runs' grid)

def _smile_faces(model: ll.Model) -> tuple[torch.Tensor, torch.Tensor, object]:
    smile = ll.load_editor("smile", 1.0, "f")
    x_T = _noise(model, 6, 1)
    return x_T, ll.ddim_sample(model, x_T, 10, progress=False), smile


def _asymmetric(model: ll.Model) -> Figure:
    x_T, base, smile = _smile_faces(model)
    asym = ll.ddim_sample(model, x_T, 10, dh=smile, t_edit=smile.t_edit, progress=False)
    sym = ll.ddim_sample(model, x_T, 10, dh=smile, t_edit=smile.t_edit, asymmetric=False, progress=False)
    return plot.show_rows({"unedited": base, "asymmetric": asym, "symmetric": sym}, scale=1.0)


def _t_edit(model: ll.Model) -> Figure:
    x_T, base, smile = _smile_faces(model)
    return plot.show_rows({f"t_edit {t}": base if t is None else ll.ddim_sample(model, x_T, 10, dh=smile, t_edit=t,
                                                                              progress=False)
                           for t in (None, 800, 600, 400, 0)}, scale=1.0)


def _decodability(model: ll.Model | None) -> Figure:
    run = load_run("03_decodability")
    return decodability.show_decodability(run["rows"], t=200, n=run["n_faces"])


# --- 04 Asyrp: the shipped run of the editors' four properties

def _strength_grid(model: ll.Model) -> Figure:
    seed = load_run("04_asyrp_properties")["seed"]
    return editor_properties.show_strength_grid(
        model, editor_properties.faces_noise(model, 8, seed)[:4], ll.load_editor("smile", 1.0, "f"),
        probe=ll.load_probe(), steps=10, scales=(-1, 1, 2))


def _homogeneity(model: ll.Model | None) -> Figure:
    table = run_table("04_asyrp_properties")
    return editor_properties.show_homogeneity(table[table.property == "homogeneity"],
                                              n=load_run("04_asyrp_properties")["n_faces"])


def _linearity(model: ll.Model | None) -> Figure:
    table = run_table("04_asyrp_properties")
    editor = "smile +1 f"
    rows = table[(table.editor == editor) & table.property.isin(["linearity", "homogeneity"])].sort_values("c")
    return editor_properties.show_linearity(rows, editor=editor)


# --- 05 Haas et al.: the shipped structure run

def _split_halves(model: ll.Model | None) -> Figure:
    return direction_agreement.show_split_halves(run_table("05_haas_structure"),
                                                 n_faces=load_run("05_haas_structure")["n_faces"])


def _sharing(model: ll.Model | None) -> Figure:
    return direction_agreement.show_sharing(run_table("05_haas_structure"),
                                            n_faces=load_run("05_haas_structure")["n_faces"])


# --- 06 Park et al.: face 0 (seed 0) on lecture 06's 20-step trajectory; the shipped run of 256 faces

def _basis(model: ll.Model) -> Figure:
    grid = ll.ddim_timesteps(model, 20).tolist()
    missing = [t for t in latent_basis.TIMESTEPS if t not in grid]
    if missing:
        raise ValueError(f"model's 20-step DDIM grid must hold the timesteps {latent_basis.TIMESTEPS}, lacks {missing}")
    _, trajectory = ll.ddim_sample(model, _noise(model, 1, 0), 20, return_trajectory=True, progress=False)
    return latent_basis.show_basis({t: ll.pullback(model, trajectory[grid.index(t)][0], t, k=8, seed=0).V
                                    for t in latent_basis.TIMESTEPS})


# --- 07 HOSVD: the shipped run's face 0 is lecture 07's live face (its row equals the live one to 1e-4)

def _energy(model: ll.Model | None) -> Figure:
    rows = load_run("07_hosvd")["rows"]
    return hosvd_faces.show_energy(hosvd_faces.energy_summary(rows), rows[0])


_FACE_0: dict = {}  # lecture 07's face 0 for the last model: three figures draw it, and it takes ~30 s to measure


def _face_0(model: ll.Model) -> hosvd_faces.HosvdFace:
    if _FACE_0.get("model") is not model:
        _FACE_0.update(model=model, face=hosvd_faces.hosvd_face(model, ll.load_probe(), 0))
    return _FACE_0["face"]


def _face(model: ll.Model) -> Figure:
    face = _face_0(model)
    return plot.show_rows({"face 0": torch.stack([face.x_t, face.x_0])}, col_titles=["x_t, t = 600", "x_0"], scale=1.4)


# --- 08 The editor: the shipped sweep of one face (seed 1) and the sizes of c = 1

def _sweep(model: ll.Model | None) -> Figure:
    return edit_sweeps.show_sweep(load_run("08_sweep")["rows"], edit_sweeps.load_images(RUNS / "08_sweep.safetensors"))


# --- 09 Real checkpoints: four samples of seed 0, with the lecture's steps (20 for the bundled model)

def _samples(model: ll.Model) -> Figure:
    steps = 20 if _is_faces_model(model) else 50
    return plot.show_rows({"samples": ll.ddim_sample(model, _noise(model, 4, 0), steps, progress=False).float().cpu()})


# --- 10 The comparison's two shipped runs

def _runs() -> dict[int, object]:
    return {1: shipped_results(0, THREE_PAPERS)[0], 2: shipped_results(1, THREE_PAPERS)[0]}


# --- 11 After the papers: LOCO's and Park's smile edits on two faces (the run's signs), a slider's scales

def _loco(model: ll.Model) -> Figure:
    rows = local_edits.loco_summary(load_run("11_loco")["rows"])
    signs = {r["method"]: r["sign"] for r in rows if r["attr"] == "smile" and r["use"] == "own"}
    images, masks = local_edits.region_edits(model, ll.load_probe(), [0, 1], "smile",
                                             {m: signs[m] for m in ("LOCO", "Park")})
    return local_edits.show_region_edits(images, masks, scale=1.6)


def _slider(model: ll.Model) -> Figure:
    x_T = _noise(model, 2, 999)
    scales = (-2.0, -1.0, 0.0, 1.0, 2.0)
    grid = torch.stack([ll.sample_with_slider(model, ll.load_slider("smile"), x_T, 10, scale=c) for c in scales], 1)
    rows = {f"face {i + 1}": g for i, g in enumerate(grid)}
    return plot.show_rows(rows, col_titles=[f"scale {c:+g}" for c in scales], scale=1.6)


FIGURES: dict[str, SlideFigure] = {
    "01_pushforward": SlideFigure("01 §1 The Jacobian and its SVD, drawn", _pushforward, "nothing"),
    "01_kernel": SlideFigure("01 §2 Wide maps have a kernel", _kernel, "nothing"),
    "01_topk_svd": SlideFigure("01 §3 Matrix-free: the top-k SVD from products only", _topk, "nothing"),
    "02_faces": SlideFigure("02 §1 The faces world", lambda model: plot.show_attribute_sweeps(seed=3), "nothing"),
    "02_unet": SlideFigure("02 §2 The bundled model", lambda model: plot.show_unet(model), "model"),
    "02_ddim": SlideFigure("02 §3 DDIM in two parts", _ddim, "model"),
    "02_model_quality": SlideFigure("02 §5 How good is the model?", _model_quality, "nothing"),
    "03_decodability": SlideFigure("03 §2 What h knows, against x_t", _decodability, "nothing"),
    "03_asymmetric": SlideFigure("03 §3 The asymmetric reverse process", _asymmetric, "faces model"),
    "03_t_edit": SlideFigure("03 §4 When to edit: t_edit and t_boost", _t_edit, "faces model"),
    "04_strengths": SlideFigure("04 §2 The kit's editors", _strength_grid, "faces model"),
    "04_homogeneity": SlideFigure("04 §3 Homogeneity", _homogeneity, "nothing"),
    "04_linearity": SlideFigure("04 §4 Linearity", _linearity, "nothing"),
    "04_consistency": SlideFigure("04 §6 Consistency across timesteps",
                                  lambda model: editor_properties.show_editor_kinds(run_table("04_asyrp_properties")),
                                  "nothing"),
    "05_pca_halves": SlideFigure("05 §2 PCA: components the model owns, late in the trajectory", _split_halves,
                                 "nothing"),
    "05_jacobian_sharing": SlideFigure("05 §3 Jacobian: found on one face, shared early", _sharing, "nothing"),
    "06_basis": SlideFigure("06 §1 The local latent basis, coarse to fine", _basis, "model"),
    "06_latent_basis": SlideFigure("06 §3 What 256 faces show",
                                   lambda model: latent_basis.show_latent_basis(load_run("06_latent_basis")["rows"]),
                                   "nothing"),
    "07_face": SlideFigure("07 §1 One face, measured live", _face, "faces model"),
    "07_energy": SlideFigure("07 §2 Energy at equal budgets", _energy, "nothing"),
    "07_mode_spectra": SlideFigure("07 §3 What each mode says",
                                   lambda model: hosvd_faces.show_mode_spectra(_face_0(model).core), "faces model"),
    "07_edits": SlideFigure("07 §4 HOSVD edits against v_1", lambda model: hosvd_faces.show_edits(_face_0(model)),
                            "faces model"),
    "08_sweep": SlideFigure("08 One sweep per method", _sweep, "nothing"),
    "08_unit_sizes": SlideFigure("08 What strength 1 means",
                                 lambda model: edit_sweeps.show_unit_sizes(load_run("08_unit_sizes")["rows"]),
                                 "nothing"),
    "09_samples": SlideFigure("09 §2 The model named by MODEL", _samples, "model"),
    "10_strengths": SlideFigure("10 §1 One protocol for every method",
                                lambda model: comparison.show_strengths(_runs()), "nothing"),
    "10_right_way": SlideFigure("10 §2 What the comparison found",
                                lambda model: comparison.show_right_way(_runs()), "nothing"),
    "10_costs": SlideFigure("10 §3 What an edit costs",
                            lambda model: comparison.show_costs(comparison.method_costs(
                                [shipped_results(s, THREE_PAPERS) for s in (0, 1)]).sort_values("seconds_1")),
                            "nothing"),
    "10_local_global": SlideFigure("10 §5 The papers' side",
                                   lambda model: comparison.show_local_global(_runs()), "nothing"),
    "11_loco": SlideFigure("11 §1 LOCO Edit: a local direction for a local attribute", _loco, "faces model"),
    "11_slider": SlideFigure("11 §3 Concept Sliders: an edit in the weights", _slider, "faces model"),
}


def _is_faces_model(model: ll.Model) -> bool:
    """Whether the shipped editors and probe fit `model`: the bundled faces model's shapes and schedule."""
    return (tuple(model.sample_shape) == (3, 32, 32) and tuple(model.h_shape) == (128, 4, 4)
            and model.num_train_timesteps == 1000)


def _check_names(only: Sequence[str] | None) -> list[str]:
    if only is None:
        return list(FIGURES)
    if isinstance(only, str):
        raise TypeError(f"only must be a list of figure names, got the string {only!r}")
    unknown = [n for n in only if n not in FIGURES]
    if unknown:
        raise ValueError(f"only must name figures of {list(FIGURES)}, got the unknown {unknown} "
                         "(`python -m latentlab.course.figures --list` lists them)")
    return list(only)


def write_figures(out_dir: str | Path, model: ll.Model | None = None, *, dpi: int = 200,
                  formats: Sequence[str] = ("png", "svg"), only: Sequence[str] | None = None,
                  progress: bool = True) -> list[Path]:
    """Write the slide figures into `out_dir` (created if needed) as `NAME.FORMAT`; returns the files written.

    Args:
        model: the model to draw (default: the bundled faces model, loaded only if a figure needs one).
        dpi: the PNG resolution (200: sharp on a 1920-pixel slide at half width).
        formats: among png, svg, pdf.
        only: names of `FIGURES` (default: all of them).
        progress: a `tqdm` bar over the figures.
    """
    names = _check_names(only)
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad:
        raise ValueError(f"formats must be among png, svg, pdf, got {bad}")
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 1:
        raise ValueError(f"dpi must be a positive integer, got {dpi!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model is None and any(FIGURES[n].needs != "nothing" for n in names):
        model = ll.load_model()
    written = []
    try:
        with plt.rc_context({"figure.dpi": 100, "savefig.dpi": dpi}):
            for name in (bar := tqdm(names, desc="figures", disable=not progress)):
                bar.set_postfix_str(name)
                figure = FIGURES[name]
                if figure.needs == "faces model" and not _is_faces_model(model):
                    print(f"{name} skipped: it needs the bundled faces model's editors or probe")
                    continue
                fig = figure.draw(model)
                for fmt in formats:
                    path = out / f"{name}.{fmt}"
                    fig.savefig(path, bbox_inches="tight", facecolor="white")
                    written.append(path)
                plt.close(fig)
    finally:
        _FACE_0.clear()  # let the model and its measured face go
    return written


def main(argv: Sequence[str] | None = None) -> list[Path]:
    p = argparse.ArgumentParser(prog="python -m latentlab.course.figures", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", nargs="?", help="folder for the figures (created if needed)")
    p.add_argument("--list", action="store_true", help="name every figure with its lecture section, and stop")
    p.add_argument("--only", nargs="+", metavar="NAME", help="write only these figures (see --list)")
    p.add_argument("--model", default=None, help="a model folder or hub id (default: the bundled faces model)")
    p.add_argument("--dpi", type=int, default=200)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared 2-core machine two threads ran 10x slower)")
    args = p.parse_args(argv)
    if args.list:
        for name, figure in FIGURES.items():
            print(f"{name:22s} {figure.section}")
        return []
    if args.out_dir is None:
        p.error("the folder OUT_DIR is required (or --list)")
    try:
        names = _check_names(args.only)
    except ValueError as e:
        p.error(str(e))
    torch.set_num_threads(args.threads)
    plt.switch_backend("Agg")  # files only: no window, and no display needed
    model = ll.load_model(args.model) if args.model or any(FIGURES[n].needs != "nothing" for n in names) else None
    files = write_figures(args.out_dir, model, dpi=args.dpi, only=names)
    for f in files:
        print(f)
    return files


if __name__ == "__main__":
    main()
