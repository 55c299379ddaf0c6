"""Which method finds the best direction for each attribute, on the bundled model, measured by the probe.

    python benchmarks/compare_methods.py [--attrs smile:1 glasses:1 hair_color:1] [--n-calib 16]
        [--n-test 64] [--steps 20] [--budget 0.15] [--out results.csv]

`latentlab.compare`'s protocol for every method of `standard_methods`: the candidate that moves the
attribute most towards its goal on the calibration set, scaled to a common RMS pixel change
(`--budget`), measured on held-out samples (a seed the calibration never used). Prints one row per
attribute and method, best change first.
"""
from __future__ import annotations

import argparse
import time

import torch

import latentlab as ll
from latentlab.compare import compare_methods, standard_methods


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attrs", nargs="+", default=["smile:1", "glasses:1", "hair_color:1"])
    ap.add_argument("--n-calib", type=int, default=16)
    ap.add_argument("--n-test", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--budget", type=float, default=0.15)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table as CSV")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    goals = {a.split(":")[0]: float(a.split(":")[1]) for a in args.attrs}
    model, probe = ll.load_model(), ll.load_probe()
    x_calib = torch.randn(args.n_calib, *model.sample_shape, generator=torch.Generator().manual_seed(11))
    x_test = torch.randn(args.n_test, *model.sample_shape, generator=torch.Generator().manual_seed(999))
    start = time.time()
    df = compare_methods(model, standard_methods(model, probe=probe, steps=args.steps), goals, x_calib, x_test,
                         pixel_budget=args.budget, steps=args.steps, probe=probe)
    df = df.sort_values(["attr", "change"], ascending=[True, False])
    print(f"{args.n_calib} calibration and {args.n_test} held-out samples, {args.steps} DDIM steps, "
          f"RMS pixel change {args.budget}; {time.time() - start:.0f} s in all\n")
    print(df.to_string(index=False))
    if args.out:
        df.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
