"""The shipped Asyrp editors, measured by the probe on held-out samples.

    python benchmarks/editors.py [--n 64] [--steps 20] [--scales 0.5 1 2]

For every editor in data/editors/: at each scale c of `c * editor(t, h)`, the fraction of the
samples that can move which moved the right way (k of n), the mean change of the target attribute
(signed towards the goal), its spread, the worst leakage into another attribute (mean |change| as a
fraction of that attribute's range), the pixel change and the on-manifold error; then the R^2 of the
change against the scale. The x_T are drawn from a seed the training never used.
"""
from __future__ import annotations

import argparse
import time

import torch

import latentlab as ll
from latentlab.asyrp import shipped_editors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    ap.add_argument("--seed", type=int, default=999)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, probe = ll.load_model(), ll.load_probe()
    x_T = torch.randn(args.n, *model.sample_shape, generator=torch.Generator().manual_seed(args.seed))
    base = ll.ddim_sample(model, x_T, args.steps, progress=False)
    print(f"{args.n} held-out samples (x_T seed {args.seed}), {args.steps} DDIM steps, "
          "asymmetric edit at t >= t_edit\n")
    print("| editor | kind | c | right way (k / movable) | change | spread | worst leak | pixel RMS | "
          "manifold MSE x 1e3, after / before |")
    print("|---|---|---|---|---|---|---|---|---|")
    for attr, goal, kind in shipped_editors():
        ed = ll.load_editor(attr, goal, kind)
        start = time.time()
        s = ll.scaling(model, x_T, ed, [0.0, *args.scales], attr=attr, goal=goal, steps=args.steps, t_edit=ed.t_edit,
                       probe=probe, base=base, progress=False)
        for c, r in zip(s["scales"][1:], s["results"][1:]):
            m = r.summary()
            k = round(m["right_way"] * m["n_movable"])
            print(f"| {attr} -> {goal:g} | {kind} | {c:g} | {m['right_way']:.2f} ({k} / {m['n_movable']}) | "
                  f"{m['change']:+.2f} | {m['spread']:.2f} | {m['worst_leak']:.2f} ({m['worst_leak_attr']}) | "
                  f"{m['pixel_change']:.3f} | {1e3 * m['manifold_after']:.2f} / {1e3 * m['manifold_before']:.2f} |")
        print(f"| | | R^2 over c in [0, {max(args.scales):g}] | {s['r2']:.2f} | | | | | "
              f"({time.time() - start:.0f} s) |")


if __name__ == "__main__":
    main()
