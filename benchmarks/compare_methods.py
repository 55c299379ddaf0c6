"""Which method finds the best direction for each attribute, on the bundled model, scored by two probes.

    python benchmarks/compare_methods.py [--attrs smile:1 glasses:1 hair_color:1] [--methods NAME ...]
        [--n-calib 16] [--n-test 64] [--steps 20] [--budget 0.15] [--seed 0] [--judge data/judge]
        [--out table.csv] [--samples-out samples.csv] [--checkpoint .cache/compare] [--threads N]

`latentlab.compare`'s protocol for every method of the registry (`latentlab.methods.METHODS`, with
their papers' settings): the candidate that moves the attribute most towards its goal on the
calibration set (read by the main probe), scaled to a common RMS pixel change (`--budget`), measured
on held-out samples (a seed the calibration never used) by the main probe and by the independent
judge probe (`--judge`, which never chooses). The random baseline gives one row `random (n)` per
distinct number n of candidates among the methods, and each method's `baseline` column names the
one it is matched with. Prints one row per attribute and method, best change first.

`--seed` draws other calibration and held-out samples and other method seeds (seed 0: calibration
11, held-out 999); `--samples-out` writes the per-sample measurements that lab 10's paired
tests read. Each finished row is also kept in `--checkpoint` (git-ignored), so that a killed run
started again with the same arguments resumes where it stopped. The files lecture 10 and its lab read were
made with

    python benchmarks/compare_methods.py --threads 1 --seed S --out data/compare/table_seedS.csv \
        --samples-out data/compare/samples_seedS.csv        (S = 0 and 1)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import latentlab as ll
from latentlab.compare import compare_methods
from latentlab.methods import METHODS, Workbench
from latentlab.probe import BUNDLED_JUDGE

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attrs", nargs="+", default=["smile:1", "glasses:1", "hair_color:1"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), metavar="NAME",
                    help="registry methods to compare (default: all, random included)")
    ap.add_argument("--n-calib", type=int, default=16)
    ap.add_argument("--n-test", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--budget", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0, help="calibration / held-out / method seeds")
    ap.add_argument("--judge", default=str(BUNDLED_JUDGE), help="the judge probe's folder (save_probe)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the table as CSV")
    ap.add_argument("--samples-out", default=None, help="also write the per-sample measurements as CSV")
    ap.add_argument("--checkpoint", default=str(ROOT / ".cache" / "compare"),
                    help="folder for finished rows, so that a killed run resumes ('' for none)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    goals = {a.split(":")[0]: float(a.split(":")[1]) for a in args.attrs}
    model, probe, judge = ll.load_model(), ll.load_probe(), ll.load_probe(args.judge)
    if args.checkpoint:
        folder = Path(args.checkpoint)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".gitignore").write_text("*\n")  # the folder ignores itself
    gen = lambda s: torch.Generator().manual_seed(s + 1000 * args.seed)  # noqa: E731
    x_calib = torch.randn(args.n_calib, *model.sample_shape, generator=gen(11))
    x_test = torch.randn(args.n_test, *model.sample_shape, generator=gen(999))
    start = time.time()
    bench = Workbench(model, probe=probe, steps=args.steps, seed=args.seed)
    df, samples = compare_methods(bench, goals, x_calib, x_test, methods=args.methods, pixel_budget=args.budget,
                                  judge=judge, samples=True, checkpoint=args.checkpoint or None)
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
