"""Train the bundled sparse autoencoders on h along the bundled model's DDIM trajectories.

    OMP_NUM_THREADS=1 python benchmarks/train_sae.py [--n 1024] [--steps 20] [--modes position pooled]

Builds the training set (plain DDIM from `--n` fresh x_T, h at every one of the `--steps` grid
timesteps: unsupervised, no labels), trains one top-k SAE per mode (`latentlab.sae`, the paper's
expansion 4 and k = 10), writes `data/sae/<mode>/` (safetensors + config.json with this command) and
prints the time of each part, the fraction of variance unexplained, L0 and the dead features.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import latentlab as ll
from latentlab.course.runs import rebuild_command
from latentlab.sae import SAE_SETTINGS, evaluate_sae, save_sae, train_sae

X_T_SEED = 20_000  # the training faces' x_T; benchmarks/sae_features.py holds out another seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024, help="training trajectories")
    ap.add_argument("--steps", type=int, default=20, help="DDIM grid")
    ap.add_argument("--modes", nargs="+", default=["position", "pooled"], choices=["position", "pooled"])
    ap.add_argument("--sae-steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default="data/sae")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    command = rebuild_command("benchmarks/train_sae.py")
    print(f"load at start: {os.getloadavg()[0]:.2f}; {args.threads} thread(s)")
    model = ll.load_model()
    start, cpu = time.perf_counter(), time.process_time()
    x_T = torch.randn(args.n, *model.sample_shape, generator=torch.Generator().manual_seed(X_T_SEED))
    tr = ll.h_trajectory(model, x_T, args.steps, progress=True)
    t_set, cpu_set = time.perf_counter() - start, time.process_time() - cpu
    print(f"training set: {args.n} trajectories x {len(tr.timesteps)} timesteps, h {tuple(tr.h.shape[2:])}: "
          f"{t_set:.0f} s ({cpu_set:.0f} s of CPU: the one-core cost, whatever the machine's load)")
    for mode in args.modes:
        start, cpu = time.perf_counter(), time.process_time()
        sae = train_sae(tr.h, tr.timesteps, mode=mode, n_features=SAE_SETTINGS["n_features"], k=SAE_SETTINGS["k"],
                        steps=args.sae_steps, batch=args.batch, lr=args.lr, progress=True)
        t_train, cpu_train = time.perf_counter() - start, time.process_time() - cpu
        q = evaluate_sae(sae, tr.h, tr.timesteps)
        save_sae(sae, f"{args.out}/{mode}", command=command)
        print(f"{mode}: {t_train:.0f} s of training ({t_set + t_train:.0f} s with the set; CPU {cpu_train:.0f} s, "
              f"{cpu_set + cpu_train:.0f} s with the set), FVU {q['fvu']:.3f}, "
              f"L0 {q['l0']:.2f}, dead {q['dead']} of {sae.n_features}; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
