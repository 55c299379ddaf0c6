"""Which method finds the best direction for each attribute, on the bundled model, measured by the probe.

    python benchmarks/compare_methods.py [--attrs smile:1 glasses:1 hair_color:1] [--n-calib 16]
        [--n-test 64] [--steps 20] [--budget 0.15] [--seed 0] [--out results.csv] [--samples-out samples.csv]

`latentlab.compare`'s protocol for every method of `standard_methods`: the candidate that moves the
attribute most towards its goal on the calibration set, scaled to a common RMS pixel change
(`--budget`), measured on held-out samples (a seed the calibration never used). Prints one row per
attribute and method, best change first. `--seed` draws other calibration and held-out samples and
other method seeds (seed 0: calibration 11, held-out 999); `--samples-out` writes the per-sample
measurements that notebook 10's paired tests read. The files notebook 10 ships were made with

    python benchmarks/compare_methods.py --threads 1 --seed S --out data/compare/table_seedS.csv \
        --samples-out data/compare/samples_seedS.csv        (S = 0 and 1)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

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
    ap.add_argument("--seed", type=int, default=0, help="calibration / held-out / method seeds")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table as CSV")
    ap.add_argument("--samples-out", default=None, help="also write the per-sample measurements as CSV")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    goals = {a.split(":")[0]: float(a.split(":")[1]) for a in args.attrs}
    model, probe = ll.load_model(), ll.load_probe()
    x_calib = torch.randn(args.n_calib, *model.sample_shape, generator=torch.Generator().manual_seed(11 + 1000 * args.seed))
    x_test = torch.randn(args.n_test, *model.sample_shape, generator=torch.Generator().manual_seed(999 + 1000 * args.seed))
    start = time.time()
    df, samples = compare_methods(model, standard_methods(model, probe=probe, steps=args.steps, seed=args.seed), goals,
                                  x_calib, x_test, pixel_budget=args.budget, steps=args.steps, probe=probe, samples=True)
    df = df.sort_values(["attr", "change"], ascending=[True, False])
    print(f"seed {args.seed}: {args.n_calib} calibration and {args.n_test} held-out samples, {args.steps} DDIM steps, "
          f"RMS pixel change {args.budget}; {time.time() - start:.0f} s in all\n")
    print(df.to_string(index=False))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
    if args.samples_out:
        Path(args.samples_out).parent.mkdir(parents=True, exist_ok=True)
        samples.round(5).to_csv(args.samples_out, index=False)


if __name__ == "__main__":
    main()
