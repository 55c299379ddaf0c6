"""Park et al.'s local latent basis over many faces, the shipped run behind lecture 06 and its lab.

    OMP_NUM_THREADS=1 python benchmarks/lecture_06_latent_basis.py --pairs 128 --seed 0 [--workers 2]

For each pair of faces (`latentlab.course.latent_basis.latent_basis_row`): at t = 800, 600, 400, 200
each face's pullback (top 8 singular triplets of dh/dx_t), s_1, and the neighbour correlation of v_1
(coarse to fine over t); the overlap of the two faces' top-8 tangent spaces in x_t and in h
(shared across samples early or not); and at t_edit = 600 the strongest attribute change of
x_t + 2 v_i (i = 1..3) against x_t + 2 r_i for three 2-px-blurred random unit directions drawn for the
same face (the matched random-smooth baseline). Writes data/runs/06_latent_basis.json, rewritten
every `--save-every` pairs so that an interrupted run leaves the pairs done so far (its command then
names that many pairs: the rows do not depend on how many pairs are asked for, nor on the workers).
"""
from __future__ import annotations

import argparse
import multiprocessing
import re
import time

import torch
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.course.latent_basis import latent_basis_row
from latentlab.course.runs import RUNS, load_run, save_run

_WORKER: dict = {}


def _init(seed: int) -> None:
    torch.set_num_threads(1)  # one thread per worker: the pairs are the parallel unit
    _WORKER.update(model=ll.load_model(), probe=ll.load_probe(), seed=seed)


def _pair(p: int) -> tuple[dict, float]:
    start = time.process_time()
    row = latent_basis_row(_WORKER["model"], _WORKER["probe"], p, seed=_WORKER["seed"])
    return row, time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=128, help="pairs of faces (N = 2 pairs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1, help="processes, one thread each")
    ap.add_argument("--save-every", type=int, default=8)
    ap.add_argument("--out", default="06_latent_basis")
    ap.add_argument("--resume", action="store_true", help="keep the pairs already in the run file, do the rest")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    if args.pairs < 1 or args.workers < 1:
        raise ValueError(f"--pairs and --workers must be positive, got {args.pairs} and {args.workers}")
    rows, cpu = [], 0.0
    if args.resume and (RUNS / f"{args.out}.json").is_file():
        done = load_run(args.out)
        if done["seed"] != args.seed:
            raise ValueError(f"--resume: the run file has seed {done['seed']}, not {args.seed}")
        rows = done["rows"][:args.pairs]
        m = re.search(r"([0-9.]+) (s|min) CPU", done["notes"])
        cpu = float(m.group(1)) * (60 if m.group(2) == "min" else 1)

    def save() -> None:
        command = (f"OMP_NUM_THREADS=1 python benchmarks/lecture_06_latent_basis.py --pairs {len(rows)} "
                   f"--seed {args.seed}")
        return save_run(args.out, rows, command=command, n_faces=2 * len(rows), seed=args.seed,
                        notes=f"k = 8, 20 DDIM steps, t_edit = 600, alpha = 2, blur 2 px; {cpu:.0f} s CPU "
                              "(one thread per worker, summed)")

    with multiprocessing.Pool(args.workers, initializer=_init, initargs=(args.seed,)) as pool:
        for row, seconds in tqdm(pool.imap(_pair, range(len(rows), args.pairs)), total=args.pairs - len(rows),
                                 disable=not args.progress, desc="pairs of faces"):
            rows.append(row)
            cpu += seconds
            if len(rows) % args.save_every == 0:
                save()
    path = save()
    print(f"wrote {path}: {2 * len(rows)} faces, {cpu / 60:.1f} min CPU")


if __name__ == "__main__":
    main()
