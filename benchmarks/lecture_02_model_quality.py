"""The bundled faces model's quality, one face per row: the numbers lecture 02 and its lab state.

Measures, for N faces each: the probe's readings and re-render error of N DDIM samples and of N
renders; the DDIM inversion round trip (PSNR) of N renders; the Frechet distance in the probe's
features (samples against renders, and a second set of renders against renders as its floor); and
the same figures between two independent sets of N renders, `--null` times (what chance gives at N).

Rebuild `data/runs/02_model_quality.json` (about 10 minutes of one core) with

    python benchmarks/lecture_02_model_quality.py --n 256 --steps 50 --null 50 --seed 0
"""
from __future__ import annotations

import argparse
import time

import torch

import latentlab as ll
from latentlab.course.face_quality import face_rows, inversion_rows, render_by_seed, sample_faces
from latentlab.course.runs import save_run
from latentlab.quality import frechet_distance, null_quality

# Disjoint seed ranges for the four sets of faces, so that no face appears in two of them.
RENDER_SEEDS, FLOOR_SEEDS, INVERSION_SEEDS, NULL_SEED = 100_000, 200_000, 300_000, 400_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="faces per set")
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps")
    ap.add_argument("--null", type=int, default=50, help="pairs of render sets for the null spread")
    ap.add_argument("--seed", type=int, default=0, help="first sample seed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.process_time()
    model, probe = ll.load_model(), ll.load_probe()

    sample_seeds = [args.seed + i for i in range(args.n)]
    render_seeds = [RENDER_SEEDS + args.seed + i for i in range(args.n)]
    samples = sample_faces(model, sample_seeds, steps=args.steps)
    renders = render_by_seed(render_seeds)
    floor = render_by_seed([FLOOR_SEEDS + args.seed + i for i in range(args.n)])
    rows = face_rows(samples, probe, kind="sample", seeds=sample_seeds)
    rows += face_rows(renders, probe, kind="render", seeds=render_seeds)
    with torch.no_grad():
        fs, fr, ff = probe.features(samples), probe.features(renders), probe.features(floor)
    rows.append({"kind": "frechet", "samples_renders": frechet_distance(fs, fr),
                 "renders_renders": frechet_distance(ff, fr)})
    inv_seeds = [INVERSION_SEEDS + args.seed + i for i in range(args.n)]
    rows += inversion_rows(model, render_by_seed(inv_seeds), inv_seeds, steps=args.steps)

    null = null_quality(probe, n=args.n, repeats=args.null, seed=NULL_SEED + args.seed)
    for r in range(args.null):
        rows.append({"kind": "null", "repeat": r, **{f"ks_{k}": float(v[r]) for k, v in null["ks"].items()},
                     "glasses_diff": float(null["glasses_diff"][r]),
                     "rerender_ratio": float(null["rerender_ratio"][r]), "frechet": float(null["frechet"][r])})

    # The script sets one torch thread itself, so the command needs no OMP_NUM_THREADS.
    command = (f"python benchmarks/lecture_02_model_quality.py --n {args.n} "
               f"--steps {args.steps} --null {args.null} --seed {args.seed}")
    cpu = time.process_time() - t0
    path = save_run("02_model_quality", rows, command=command, n_faces=args.n, seed=args.seed,
                    notes=f"DDIM-{args.steps}; {cpu / 60:.1f} min of CPU time on one thread")
    print(f"wrote {path} ({len(rows)} rows, {cpu / 60:.1f} min of CPU time)")


if __name__ == "__main__":
    main()
