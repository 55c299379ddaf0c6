"""Benchmark: LOCO Edit against Park et al.'s global pullback, as LOCO's paper compares them: does the edit
succeed, does it stay inside the region, and does a direction found on one face work on others.

Faces of the bundled model (x_T from --seed), plain 20-step DDIM; each face's x_t at 0.6 T is moved by
x_t + c v with LOCO's move (c = 8: 16 steps of 0.5) along a unit v, then plain DDIM finishes. v is
- LOCO: `loco_directions(...).V[0]` with the face's mouth mask (smile) or eyes mask (glasses), placed by
  the probe (`face_mask`); rank 1, null-space rank 5;
- Park: `pullback(...).V[0]`, the top direction of dh/dx_t (global, no mask), moved the same way.
A singular vector's sign is arbitrary: each face's sign is aligned with the reference face's (face 0)
through the output side (LOCO: U, the change of x0_hat inside the mask; Park: U in h), and of the two
global signs (and, with --k, of the top k directions; column j) the one that moves the attribute the right
way on more faces is reported (one choice per method and attribute, as the registry's "both" candidates).
"own": each face's own direction; "transfer": face 0's direction applied to every other face (LOCO's
transfer, no transport).

Columns: right-way fraction (`metrics.right_way`, the probe's reading, goal +1 for smile, the other
state for glasses), the mean change of the attribute towards the goal, the attribute the edit moved
most (probe units / range), and the share of the pixel change that falls outside the region mask
(RMS outside / RMS inside the mask, both over the edited x_0).

    PYTHONPATH=. .venv/bin/python benchmarks/loco_quality.py --faces 12
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import latentlab as ll
from latentlab.jacobians import pullback
from latentlab.loco import LOCO_SETTINGS, face_mask, loco_directions, loco_edit
from latentlab.methods import nearest_timestep
from latentlab.metrics import right_way

TARGETS = {"smile": "mouth", "glasses": "eyes"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--faces", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strength", type=float, default=1.0, help="multiple of LOCO's move (1: 8 along v)")
    p.add_argument("--k", type=int, default=1, help="candidate directions per method (the best is reported)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    model, probe = ll.load_model(), ll.load_probe()
    steps = 20
    grid = ll.ddim_timesteps(model, steps).tolist()
    t = nearest_timestep(grid, LOCO_SETTINGS["t_edit"] * model.num_train_timesteps)
    x_T = torch.randn(args.faces, *model.sample_shape, generator=torch.Generator().manual_seed(args.seed))
    x0, traj = ll.ddim_sample(model, x_T, steps, return_trajectory=True, progress=False)
    x_t = traj[grid.index(t)]
    with torch.no_grad():
        before = probe(x0)

    def finish(xt_edit):
        out = ll.ddim_sample(model, xt_edit, steps, t_start=t, progress=False)
        with torch.no_grad():
            return out, probe(out)

    print(f"\n{args.faces} faces, edit at t = {t}, move {args.strength * 16 * 0.5:g} along the unit v\n"
          f"{'attr':>8} {'method':>6} {'use':>9} {'j':>2} {'right way':>9} {'change':>7} {'moved most':>22} "
          f"{'out/in px':>9} {'s/face':>6}")
    for attr, region in TARGETS.items():
        masks = face_mask(probe, x0, region)
        start = time.perf_counter()
        loco = [loco_directions(model, x_t[i], t, masks[i], rank=args.k) for i in range(args.faces)]
        loco_s = (time.perf_counter() - start) / args.faces
        start = time.perf_counter()
        park = [pullback(model, x_t[i], t, args.k) for i in range(args.faces)]
        park_s = (time.perf_counter() - start) / args.faces
        for name, dirs, sec in (("LOCO", loco, loco_s), ("Park", park, park_s)):
            for use, faces in (("own", slice(None)), ("transfer", slice(1, None))):
                best = None
                for j, sign in ((j, sign) for j in range(args.k) for sign in (1.0, -1.0)):
                    signs = torch.tensor([float(torch.sign((d.U[j] * dirs[0].U[j]).sum())) for d in dirs])
                    v = torch.stack([s * d.V[j] for s, d in zip(signs, dirs)])
                    v = v if use == "own" else v[:1].expand_as(v)
                    out, after = finish(loco_edit(x_t, sign * v, args.strength))
                    goal = 1.0
                    if attr == "glasses":  # push each face to the other state: +v adds, -v removes
                        goal = 1.0 if sign > 0 else 0.0
                    movable, moved = right_way(before[attr][faces], after[attr][faces], attr, goal)
                    frac = moved.sum().item() / max(movable.sum().item(), 1)
                    if best is None or frac > best[0]:
                        best = (frac, j, out, after, goal, movable)
                frac, j, out, after, goal, movable = best
                towards = ((after[attr] - before[attr]) * (1 if goal > 0.5 else -1))[faces]
                change = {a: ((after[a] - before[a]).abs()[faces].mean() / ll.ATTRIBUTES[a].span).item()
                          for a in ll.ATTRIBUTES}
                top = sorted(change, key=change.get, reverse=True)[:2]
                diff = (out - x0)[faces].square().mean(1)  # (n, H, W)
                m = masks[faces]
                ratio = ((diff * ~m).sum() / (~m).sum()).sqrt() / ((diff * m).sum() / m.sum()).sqrt()
                most = ", ".join(f"{a} {change[a]:.2f}" for a in top)
                print(f"{attr:>8} {name:>6} {use:>9} {j:>2} {frac:>6.2f} /{int(movable.sum()):<2} "
                      f"{towards.mean():>7.3f} {most:>22} {ratio:>9.2f} {sec:>6.2f}")
    print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
