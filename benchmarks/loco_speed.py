"""Benchmark: LOCO Edit's directions (`loco.loco_directions`) for one face at 32 px on the bundled model,
against a dense-SVD reference computed in the same process.

For each face (x_T from --seed), the plain 20-step DDIM trajectory gives x_t at 0.6 T and the unedited
x_0; the probe places the mouth (or eyes) mask (`loco.face_mask`). Timed: `loco_directions` with LOCO's
settings (rank 1, null-space rank 5), median and fastest of --repeats calls after a warm-up. The
reference: the dense Jacobian of x0_hat (`linalg.dense_jacobian`, torch.func, 3,072 x 3,072), its rows
split by the mask and decomposed by float64 SVDs, the projection done by hand. Printed per face: the
time (wall, and the process's CPU time, which a loaded machine inflates less), |cos| of the matrix-free
V_in and V against the dense ones, the singular values' relative error, and how much the edit moves
x0_hat outside the mask to first order, |J_out v| / |J_in v|, for LOCO's v and for the unprojected v_in.
The machine's load average (as `uptime` prints it) before and after.

    PYTHONPATH=. .venv/bin/python benchmarks/loco_speed.py                   # 2 threads, 2 faces
    PYTHONPATH=. .venv/bin/python benchmarks/loco_speed.py --threads 1 --region eyes
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import latentlab as ll
from latentlab.ddim import P_t, alpha_bar
from latentlab.hspace import eps_of_batch
from latentlab.linalg import dense_jacobian
from latentlab.loco import LOCO_SETTINGS, face_mask, loco_directions
from latentlab.methods import nearest_timestep


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def dense_reference(model, x_t, t, mask, rank, null_rank):
    a = alpha_bar(model, t)
    f = lambda z: P_t(z[None], eps_of_batch(model, z[None], torch.tensor([t])), a)[0]  # noqa: E731
    start = time.perf_counter()
    with ll.forward_ad(model):
        J = dense_jacobian(f, x_t, chunk_size=256, mode="rev").double()
    seconds = time.perf_counter() - start
    M = mask.expand(model.sample_shape).flatten()
    _, S_in, Vh_in = torch.linalg.svd(J[M], full_matrices=False)
    _, S_out, Vh_out = torch.linalg.svd(J[~M], full_matrices=False)
    V_in, V_out = Vh_in[:rank], Vh_out[:null_rank]
    V = V_in - (V_in @ V_out.T) @ V_out
    return J, M, S_in, S_out, V_in, V / V.norm(dim=1, keepdim=True), seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--faces", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--region", default="mouth", choices=["mouth", "eyes"])
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--skip-dense", action="store_true", help="time only (the dense reference takes minutes)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average at the start: {load()}  (torch threads {args.threads}, {os.cpu_count()} cores)")

    model, probe = ll.load_model(), ll.load_probe()
    steps = 20
    grid = ll.ddim_timesteps(model, steps).tolist()
    t = nearest_timestep(grid, LOCO_SETTINGS["t_edit"] * model.num_train_timesteps)
    rank, null_rank = LOCO_SETTINGS["rank"], LOCO_SETTINGS["null_rank"]
    x_T = torch.randn(args.faces, *model.sample_shape, generator=torch.Generator().manual_seed(args.seed))
    x0, traj = ll.ddim_sample(model, x_T, steps, return_trajectory=True, progress=False)
    x_ts, masks = traj[grid.index(t)], face_mask(probe, x0, args.region)

    head = (f"{'face':>4} {'mask px':>7} {'median s':>8} {'min s':>6} {'cpu s':>6} {'dense s':>7} {'|cos| V_in':>10} "
            f"{'|cos| V':>8} {'S err':>7} {'S_out err':>9} {'out/in v':>8} {'out/in v_in':>11}")
    print(f"\nLOCO directions at t = {t} (0.6 T), rank {rank}, null rank {null_rank}, tol {args.tol}, "
          f"{args.region} mask from the probe\n{head}")
    for i in range(args.faces):
        x_t, mask = x_ts[i], masks[i]
        call = lambda: loco_directions(model, x_t, t, mask, rank=rank, null_rank=null_rank, tol=args.tol)  # noqa: E731
        d = call()  # warm-up
        times, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            d = call()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        timing = (f"{i:>4} {int(mask.sum()):>7} {statistics.median(times):>8.2f} {min(times):>6.2f} "
                  f"{statistics.median(cpu):>6.2f}")
        if args.skip_dense:
            print(timing)
            continue
        J, M, S_in, S_out, V_in, V, dense_s = dense_reference(model, x_t, t, mask, rank, null_rank)
        cos_in = (d.V_in.flatten(1).double() @ V_in.T).abs().diagonal().min().item()
        cos = (d.V.flatten(1).double() @ V.T).abs().diagonal().min().item()
        s_err = ((d.S.double() - S_in[:rank]).abs() / S_in[:rank]).max().item()
        s_out_err = ((d.S_out.double() - S_out[:null_rank]).abs() / S_out[:null_rank]).max().item()

        def out_over_in(v):
            jv = J @ v.flatten().double()
            return (jv[~M].norm() / jv[M].norm()).item()
        print(f"{timing} {dense_s:>7.1f} "
              f"{cos_in:>10.5f} {cos:>8.5f} {s_err:>7.1e} {s_out_err:>9.1e} {out_over_in(d.V[0]):>8.3f} "
              f"{out_over_in(d.V_in[0]):>11.3f}")
    print(f"\nload average at the end: {load()}")


if __name__ == "__main__":
    main()
