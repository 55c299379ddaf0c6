"""Lecture 11's LOCO run: LOCO Edit against Park et al.'s global pullback and a random direction of the
same size, on smile (mouth mask) and glasses (eyes mask): the right-way fraction, the change outside the
mask, and transfer (the first face's direction applied to the others). The rows are
`latentlab.course.local_edits.loco_rows` (one per face, attribute, method, use and sign), which the
lecture re-runs live for the first face.

Rebuild (414 s on one core at load average 3, 64 faces):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lecture_11_loco.py --faces 64
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import latentlab as ll
from latentlab.course.local_edits import loco_rows, loco_summary
from latentlab.course.runs import save_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faces", type=int, default=64)
    p.add_argument("--seed", type=int, default=0, help="the faces are seeds seed, seed + 1, ...")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    start = time.perf_counter()
    seeds = list(range(args.seed, args.seed + args.faces))
    rows = loco_rows(ll.load_model(), ll.load_probe(), seeds)
    seconds = time.perf_counter() - start
    for r in loco_summary(rows):
        print(", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
    notes = (f"{seconds:.0f} s on {args.threads} thread(s), load average {load} at the start; "
             "rows: latentlab.course.local_edits.loco_rows")
    path = save_run("11_loco", rows, command=f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lecture_11_loco.py "
                    f"--faces {args.faces} --seed {args.seed}", n_faces=args.faces, seed=args.seed, notes=notes)
    print(f"{path}: {len(rows)} rows, {seconds:.0f} s")


if __name__ == "__main__":
    main()
