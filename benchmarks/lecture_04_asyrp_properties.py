"""Asyrp's four properties of h-space, measured on the kit's learned editors at N = 256 faces.

    OMP_NUM_THREADS=1 python benchmarks/lecture_04_asyrp_properties.py --n 256 --steps 10 --jobs 7

(about 8 minutes of one CPU core; `--jobs 20` adds the raw-dh and opposite-goal editors, more
strengths and the glasses editor's consistency, about 15 minutes more). Then

    OMP_NUM_THREADS=1 python benchmarks/lecture_04_asyrp_properties.py --n 256 --steps 10 --extend --part dh
    OMP_NUM_THREADS=1 python benchmarks/lecture_04_asyrp_properties.py --n 128 --steps 10 --extend --part faces

add the homogeneity rows of the raw "Asyrp dh" smile and glasses editors to the run (about 3 minutes of one
core) and write data/runs/04_asyrp_faces.json (the first 128 of the same held-out faces, about 5 minutes):
the smile +1 editor face by face (`face_table`: f, the global dh, then f at c = -1 and 2; written as each
finishes, the shipped file holds f and the global dh), for the lab's paired tests.

Writes data/runs/04_asyrp_properties.json (read it with `latentlab.course.runs.load_run`), one row
per edit, each `latentlab.course.editor_properties.edit_row` of the same 256 held-out faces (x_T
seed 999; the editors trained on seed 0), 10 DDIM steps, Asyrp's asymmetric step at t >= 200:

- homogeneity: every shipped editor (`ll.load_editor`; the registry's "Asyrp f" and "Asyrp dh") at
  c = 1: the fraction of the movable faces moved the right way, the change, its spread;
- linearity: the smile +1 f editor at c from -2 to 2, the glasses +1 f and smile +1 dh editors at
  c = -1: the signed change of every attribute;
- robustness: Gaussian h-directions, one per face, at the smile f editor's norm per step (c = 1, 2):
  what a perturbation of h as large as an edit does to the on-manifold error;
- consistency across timesteps: f's outputs averaged over 32 other faces (x_T seed 1) per step
  (`asyrp.mean_dh`) and over steps as well (`asyrp.global_dh`), against the per-face, per-step f;
- additivity: the smile +1 and glasses +1 f editors together against each alone.

A first row, the smile +1 f editor on 8 faces, is the one the lecture re-runs live. Rows are
written as they finish, in order of priority, so a stopped run keeps what it measured.
"""
from __future__ import annotations

import argparse
import time

import torch
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.asyrp import global_dh, mean_dh, shipped_editors
from latentlab.course.editor_properties import additivity_row, edit_row, face_table, faces_noise
from latentlab.course.runs import load_run, rebuild_command, save_run
from latentlab.directions import random_direction

NAME = "04_asyrp_properties"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=999, help="x_T seed of the held-out faces")
    ap.add_argument("--fit-seed", type=int, default=1, help="x_T seed of the faces dh^mean is averaged over")
    ap.add_argument("--n-fit", type=int, default=32)
    ap.add_argument("--live-n", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=7, help="how many of the edits to run, in order of priority")
    ap.add_argument("--extend", action="store_true", help="add the raw-dh rows and the per-face run")
    ap.add_argument("--part", choices=("both", "dh", "faces"), default="both",
                    help="with --extend: the raw-dh rows, the per-face run, or both")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.extend:
        return extend(args)
    command = rebuild_command("benchmarks/lecture_04_asyrp_properties.py", argv)
    model, probe = ll.load_model(), ll.load_probe()
    S = args.steps
    rows: list[dict] = []
    start = time.time()

    def write() -> None:
        save_run(NAME, rows, command=command, n_faces=args.n, seed=args.seed,
                 notes=f"{S} DDIM steps, asymmetric edit at t >= t_edit = 200; {time.time() - start:.0f} s on one "
                       "core")

    def add(prop: str, editor: str, c: float, row: dict) -> None:
        rows.append({"property": prop, "editor": editor, "c": float(c), **row})
        write()

    editors = {(a, g, k): ll.load_editor(a, g, k) for a, g, k in shipped_editors()}
    T_EDIT = editors["smile", 1.0, "f"].t_edit
    opts = dict(steps=S, t_edit=T_EDIT, probe=probe)

    def name(a, g, k):
        return f"{a} {g:+g} {k}"

    # the row the lecture re-runs live
    x_live = faces_noise(model, args.live_n, args.seed)
    add("live", name("smile", 1.0, "f"), 1.0,
        edit_row(model, x_live, editors["smile", 1.0, "f"], attr="smile", goal=1.0, **opts))

    x_T = faces_noise(model, args.n, args.seed)
    held = ll.h_trajectory(model, x_T, S, progress=False)
    base = held.x0
    # in order of priority: rows are written as they finish
    sf, gf, sd, gd = ("smile", 1.0, "f"), ("glasses", 1.0, "f"), ("smile", 1.0, "dh"), ("glasses", 1.0, "dh")
    jobs: list[tuple] = [
        ("homogeneity", sf, 1.0), ("linearity", sf, -1.0), ("homogeneity", gf, 1.0),
        ("consistency", "global", sf), ("robustness", "random", 1.0), ("linearity", sf, 2.0),
        ("additivity", None, None), ("homogeneity", sd, 1.0), ("homogeneity", gd, 1.0),
        ("homogeneity", ("smile", -1.0, "f"), 1.0), ("homogeneity", ("glasses", 0.0, "f"), 1.0),
        ("linearity", sf, -2.0), ("linearity", sf, 0.5), ("consistency", "mean", sf), ("consistency", "global", gf),
        ("linearity", gf, -1.0), ("linearity", sd, -1.0), ("homogeneity", ("smile", -1.0, "dh"), 1.0),
        ("homogeneity", ("glasses", 0.0, "dh"), 1.0), ("robustness", "random", 2.0)]
    jobs = jobs[: args.jobs]

    add("linearity", name("smile", 1.0, "f"), 0.0, edit_row(model, x_T, None, attr="smile", goal=1.0, base=base,
                                                             **opts))
    kept: dict = {}
    fit = None
    steps_t = [t for t in held.timesteps.tolist() if t >= T_EDIT]
    f_norm = torch.stack([editors["smile", 1.0, "f"](t, held.h[:, i]).flatten(1).norm(dim=1).mean()
                          for i, t in enumerate(steps_t)])
    for job in tqdm(jobs, desc="edits"):
        prop = job[0]
        if prop in ("homogeneity", "linearity"):
            (a, g, k), c = job[1], job[2]
            ed = editors[a, g, k]
            dh = ed if c == 1.0 else (lambda t, h, ed=ed, c=c: c * ed(t, h))
            x0 = ll.ddim_sample(model, x_T, S, dh=dh, t_edit=T_EDIT, progress=False)
            if c == 1.0:
                kept[a, g, k] = x0
            add(prop, name(a, g, k), c, edit_row(model, x_T, dh, attr=a, goal=g, base=base, edited=x0, **opts))
        elif prop == "consistency":
            a, g, k = job[2]
            if fit is None:
                fit = ll.h_trajectory(model, faces_noise(model, args.n_fit, args.fit_seed), S, progress=False)
            ed = editors[a, g, k]
            dh = mean_dh(ed, fit.timesteps, fit.h) if job[1] == "mean" else global_dh(ed, fit.timesteps, fit.h)
            add(prop, f"{name(a, g, k)} ({job[1]})", 1.0, edit_row(model, x_T, dh, attr=a, goal=g, base=base, **opts))
        elif prop == "robustness":
            c = job[2]
            rnd = random_direction(torch.tensor(steps_t), f_norm, n=args.n, h_shape=model.h_shape,
                                   generator=torch.Generator().manual_seed(100))
            add(prop, "random (smile f's norm)", c, edit_row(model, x_T, c * rnd, attr="smile", goal=1.0, base=base,
                                                             **opts))
        else:  # additivity: the two f editors together, against each alone at c = 1
            sm, gl = editors["smile", 1.0, "f"], editors["glasses", 1.0, "f"]
            both = ll.ddim_sample(model, x_T, S, dh=ll.combine(sm, gl), t_edit=T_EDIT, progress=False)
            row = additivity_row(base, kept["smile", 1.0, "f"], kept["glasses", 1.0, "f"], both, probe=probe)
            row |= {k: v for k, v in edit_row(model, x_T, None, attr="smile", goal=1.0, base=base, edited=both,
                                              **opts).items() if k != "n_faces"}
            add(prop, "smile +1 f + glasses +1 f", 1.0, row)
    print(f"wrote data/runs/{NAME}.json: {len(rows)} rows, {time.time() - start:.0f} s")


def extend(args) -> None:
    """The raw-dh homogeneity rows, appended to the run, and the smile edits face by face."""
    model, probe = ll.load_model(), ll.load_probe()
    S, start = args.steps, time.time()
    command = (f"OMP_NUM_THREADS=1 python benchmarks/lecture_04_asyrp_properties.py --n {args.n} --steps {S} "
               f"--extend --part {args.part}")
    run = load_run(NAME)
    rows = [r for r in run["rows"] if not r["editor"].endswith(" dh")]
    main_command = run["command"].split(" && ")[0] + " && " + command
    sm = ll.load_editor("smile", 1.0, "f")
    T_EDIT = sm.t_edit
    opts = dict(steps=S, t_edit=T_EDIT, probe=probe)
    x_T = faces_noise(model, args.n, args.seed)
    base = ll.ddim_sample(model, x_T, S, progress=False)
    edited: dict = {}
    for a in tqdm(("smile", "glasses") if args.part != "faces" else (), desc="raw dh"):
        ed = ll.load_editor(a, 1.0, "dh")
        x0 = ll.ddim_sample(model, x_T, S, dh=ed, t_edit=T_EDIT, progress=False)
        if a == "smile":
            edited["dh"] = x0
        rows.append({"property": "homogeneity", "editor": f"{a} +1 dh", "c": 1.0,
                     **edit_row(model, x_T, ed, attr=a, goal=1.0, base=base, edited=x0, **opts)})
        save_run(NAME, rows, command=main_command, n_faces=run["n_faces"], seed=run["seed"],
                 notes=run["notes"].split(";")[0] + f"; {time.time() - start:.0f} s for the raw dh rows")
    if args.part == "dh":
        return
    fit = ll.h_trajectory(model, faces_noise(model, args.n_fit, args.fit_seed), S, progress=False)
    jobs = {"f": sm, "global": global_dh(sm, fit.timesteps, fit.h),
            "f_minus": lambda t, h: -sm(t, h), "f_two": lambda t, h: 2 * sm(t, h)}
    for label, dh in tqdm(jobs.items(), desc="smile, face by face"):
        edited[label] = ll.ddim_sample(model, x_T, S, dh=dh, t_edit=T_EDIT, progress=False)
        save_run("04_asyrp_faces", face_table(base, edited, attr="smile", goal=1.0, probe=probe), command=command,
                 n_faces=args.n, seed=args.seed,
                 notes=f"smile +1 editors face by face: {', '.join(edited)}; {S} DDIM steps, t >= {T_EDIT}; "
                       f"{time.time() - start:.0f} s on one core")
    print(f"extended data/runs/{NAME}.json, wrote data/runs/04_asyrp_faces.json: {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
