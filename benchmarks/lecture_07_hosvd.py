"""The HOSVD question on many faces: the numbers lecture 07 (optional) and its lab state.

For each of N faces (seeds seed, ..., seed + N - 1) at t = 600 of DDIM-50: the Jacobian dh/dx_t as a
6-way tensor, the energy the flattened SVD and the best truncated HOSVD (Tucker) capture at equal
parameter budgets, the 90 % ranks of every mode, and edits along Park et al.'s v_1, the top rank-1
HOSVD direction V_0, what V_0 adds to v_1 (w_hat) and 15 random smooth directions of the same norm,
one row per face (`latentlab.course.hosvd_faces.hosvd_face`). About 19 s of one core per face; the
run is saved after every face. The shipped file holds N = 26 faces (seeds 0-25, 498 s of CPU).
Rebuild it with

    OMP_NUM_THREADS=1 python benchmarks/lecture_07_hosvd.py --n 26 --seed 0
"""
from __future__ import annotations

import argparse
import time

import torch
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.course.hosvd_faces import hosvd_face
from latentlab.course.runs import save_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=26, help="faces")
    ap.add_argument("--seed", type=int, default=0, help="first face's seed")
    ap.add_argument("--t", type=int, default=600, help="timestep of J and of the edits")
    ap.add_argument("--random", type=int, default=15, help="random smooth directions per face (odd)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.process_time()
    model, probe = ll.load_model(), ll.load_probe()
    rows = []
    for i in tqdm(range(args.n), desc="faces", disable=args.no_progress):
        rows.append(hosvd_face(model, probe, args.seed + i, t=args.t, n_random=args.random).row)
        cpu = time.process_time() - t0
        command = (f"OMP_NUM_THREADS=1 python benchmarks/lecture_07_hosvd.py --n {len(rows)} --seed {args.seed} "
                   f"--t {args.t} --random {args.random}")
        path = save_run("07_hosvd", rows, command=command, n_faces=len(rows), seed=args.seed,
                        notes=f"t = {args.t}, DDIM-50, {args.random} random smooth directions (blur 2 px) per "
                              f"face; {cpu:.0f} s of CPU on one thread")
    print(f"wrote {path}: {len(rows)} faces in {cpu:.0f} s of CPU")


if __name__ == "__main__":
    main()
