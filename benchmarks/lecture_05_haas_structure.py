"""Lecture 05's shipped run: the structure of Haas et al.'s unsupervised directions on the bundled model.

Measures, on the kit's 10-step DDIM grid (Haas et al. sample with eta = 1 unless stated):

- the Haas Jacobian v_1 (top right singular vector of d eps / dh, the registry's tol) of N faces at
  t = 700 and t = 400, and the |cos| between every pair of faces' v_1 (`sharing_row`); the same for
  the first 3 faces alone (the row the lecture re-runs live), and for N random Gaussian directions of
  h's size (the chance level);
- the registry's tol (1e-2) against the SVD's default (1e-4): min |cos| between the two v_1..v_3 over
  the first 16 faces at both steps;
- the per-timestep PCA of h (k = 5) on the even and the odd of N trajectories, and |cos| between the
  halves' pc_k(t) at every step (`split_half_rows`).

Rebuild (about 6 minutes of one core at N = 256):

    OMP_NUM_THREADS=1 python benchmarks/lecture_05_haas_structure.py --faces 256 --seed 5

and it writes `data/runs/05_haas_structure.json`.
"""
from __future__ import annotations

import argparse
import time

import torch

import latentlab as ll
from latentlab.course.direction_agreement import jacobian_v1, sharing_row, split_half_rows
from latentlab.course.runs import save_run
from latentlab.methods import METHODS

STEPS, T_INDICES, K_PCA = 10, (2, 5), 5  # t = 700 and t = 400 on the 10-step grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=256, help="faces for the Jacobians and trajectories for the PCA")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--tol-faces", type=int, default=16, help="faces for the tol check")
    ap.add_argument("--name", default="05_haas_structure")
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    model = ll.load_model()
    jac = METHODS["Haas Jacobian"].settings
    grid = ll.ddim_timesteps(model, STEPS).tolist()
    x = torch.randn(args.faces, *model.sample_shape, generator=torch.Generator().manual_seed(args.seed))

    V = jacobian_v1(model, x, STEPS, T_INDICES, k=jac["k"], tol=jac["tol"])
    rows = []
    for j, s in enumerate(T_INDICES):
        rows.append(sharing_row(V[:, j], grid[s]))
        rows.append(sharing_row(V[:3, j], grid[s]))
    R = torch.randn(args.faces, *model.h_shape, generator=torch.Generator().manual_seed(args.seed + 1))
    rows.append(sharing_row(R, 0, label="random directions"))

    _, xs = ll.ddim_sample(model, x[:args.tol_faces], STEPS, return_trajectory=True, progress=False)
    for s in T_INDICES:
        cos = []
        for f in range(args.tol_faces):
            a = ll.eps_jacobian(model, xs[s][f], grid[s], jac["k"], tol=jac["tol"]).V.flatten(1)
            b = ll.eps_jacobian(model, xs[s][f], grid[s], jac["k"]).V.flatten(1)
            cos.append((a * b).sum(1).abs())
        cos = torch.stack(cos)  # (faces, k)
        rows.append({"measure": "tol 1e-2 against 1e-4", "t": grid[s], "n_faces": args.tol_faces,
                     **{f"v_{i + 1}_min": round(float(cos[:, i].min()), 5) for i in range(jac["k"])}})

    x_pca = torch.randn(args.faces, *model.sample_shape, generator=torch.Generator().manual_seed(args.seed + 2))
    tr = ll.h_trajectory(model, x_pca, STEPS)
    rows += split_half_rows(model, tr, K_PCA)

    command = (f"OMP_NUM_THREADS=1 python benchmarks/lecture_05_haas_structure.py --faces {args.faces} "
               f"--seed {args.seed}")
    path = save_run(args.name, rows, command=command, n_faces=args.faces, seed=args.seed,
                    notes=f"{time.process_time() - start:.0f} s of CPU on one thread")
    print(path, f"{time.process_time() - start:.0f} s CPU")


if __name__ == "__main__":
    main()
