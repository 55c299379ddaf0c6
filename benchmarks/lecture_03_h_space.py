"""The numbers lecture 03 (h-space) states, measured once and shipped in `data/runs/`.

- `decodability` -> `data/runs/03_decodability.json`: each attribute's held-out R^2 of a ridge read-out
  from h_t and from x_t (`latentlab.course.decodability.decodability_row`), at t = 200 and 500, for
  256, 1,000 and 2,000 renders (one row per t, space and N).
- `asymmetric` -> `data/runs/03_asymmetric_step.json`: the shipped Asyrp smile editor (`load_editor("smile",
  1.0, "f")`) on 256 sampled faces at 10 DDIM steps: asymmetric from t_edit = 0, 200, 400, 600, 800, and
  symmetric from its own t_edit (`latentlab.course.asymmetric_step.edit_rows`); and
  `data/runs/03_edit_interval.json`: Asyrp's rule for t_edit and t_boost with the probe's features in
  LPIPS's place (`latentlab.edit_interval`), per timestep, on the same faces.
- `faces` -> `data/runs/03_face_outcomes.json`: the same editor from its own t_edit, asymmetric and
  symmetric, face by face on the first `--faces` of those faces (`face_outcomes`), for the lab's
  paired tests (McNemar, signed-rank, bootstrap).

Rebuild (one core; about 10 minutes for `decodability`, 25 for `asymmetric` on a shared machine):

    OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py decodability
    OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py asymmetric
    OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py faces --faces 64
"""
from __future__ import annotations

import argparse

import torch
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.course.asymmetric_step import edit_rows, face_outcomes
from latentlab.course.decodability import SPACES, decodability_row
from latentlab.course.runs import save_run

SEED = 123  # renders for the read-out; the sampled faces use seed 1


def decodability(ns: list[int]) -> None:
    rows = [decodability_row(model, t, space, n, seed=SEED)
            for n in tqdm(ns, desc="N") for t in (200, 500) for space in SPACES]
    save_run("03_decodability", rows, command="OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py "
             f"decodability --n {' '.join(map(str, ns))}", n_faces=max(ns), seed=SEED,
             notes="R^2 per attribute: mean over 5 shuffled folds (random_state 0) and its standard error; "
                   "renders seed 123, forward noise seed t")


def _edit_rows_at(args: tuple[int, int, int]) -> list[dict]:
    """The rows of one t_edit (and the symmetric row at the editor's own t_edit), in a worker process."""
    t, n, steps = args
    torch.set_num_threads(1)
    model, probe, editor = ll.load_model(), ll.load_probe(), ll.load_editor("smile", 1.0, "f")
    x_T = torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(1))
    return edit_rows(model, x_T, editor, attr="smile", goal=1.0, steps=steps, t_edits=[t], probe=probe,
                     symmetric_at=editor.t_edit if t == editor.t_edit else None, label="Asyrp f smile+1")


def asymmetric(n: int, steps: int, workers: int) -> None:
    from multiprocessing import get_context

    editor = ll.load_editor("smile", 1.0, "f")
    cmd = (f"OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py asymmetric --faces {n} --steps {steps} "
           f"--workers {workers}")
    tasks = [(t, n, steps) for t in (0, 200, 400, 600, 800)]
    # one process per t_edit: each samples the same unedited faces, so the rows do not depend on `workers`
    with get_context("spawn").Pool(workers) as pool:
        parts = list(tqdm(pool.imap(_edit_rows_at, tasks), total=len(tasks), desc="t_edit"))
    rows = [r for part in parts for r in part]
    save_run("03_asymmetric_step", rows, command=cmd, n_faces=n, seed=1,
             notes=f"{steps} DDIM steps; x_T seed 1; c = 1; the editor's own t_edit is {editor.t_edit}")
    x_T = torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(1))
    iv = ll.edit_interval(model, x_T, steps, probe=ll.load_probe())
    rows = [{"t": int(t), "d_P": round(float(p), 4), "d_x": round(float(x), 4), "t_edit_rule": iv["t_edit"],
             "t_boost_rule": iv["t_boost"]} for t, p, x in zip(iv["timesteps"], iv["d_P"], iv["d_x"])]
    save_run("03_edit_interval", rows, command=cmd, n_faces=n, seed=1,
             notes="median over faces of the probe-feature distance from x_0, in units of the median distance "
                   "between two different renders; thresholds 0.33 (t_edit) and 1.2 (t_boost)")


def faces(n: int, steps: int) -> None:
    editor = ll.load_editor("smile", 1.0, "f")
    x_T = torch.randn(n, *model.sample_shape, generator=torch.Generator().manual_seed(1))
    rows = face_outcomes(model, x_T, editor, attr="smile", goal=1.0, steps=steps, t_edit=editor.t_edit,
                         probe=ll.load_probe())
    save_run("03_face_outcomes", rows, command="OMP_NUM_THREADS=1 python benchmarks/lecture_03_h_space.py "
             f"faces --faces {n} --steps {steps}", n_faces=n, seed=1,
             notes=f"{steps} DDIM steps; x_T seed 1 (the first {n} faces of 03_asymmetric_step); c = 1; "
                   f"asymmetric and symmetric from t_edit = {editor.t_edit}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["decodability", "asymmetric", "faces"])
    ap.add_argument("--n", type=int, nargs="+", default=[256, 1000, 2000], help="renders (decodability)")
    ap.add_argument("--faces", type=int, default=256, help="sampled faces (asymmetric, faces)")
    ap.add_argument("--steps", type=int, default=10, help="DDIM steps (asymmetric)")
    ap.add_argument("--workers", type=int, default=4, help="processes, one t_edit each (asymmetric)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = ll.load_model()
    if args.what == "decodability":
        decodability(args.n)
    elif args.what == "faces":
        faces(args.faces, args.steps)
    else:
        asymmetric(args.faces, args.steps, args.workers)
