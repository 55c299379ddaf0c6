"""The shipped runs of lecture 08 (the editor): one face swept over strengths by every method of the
registry, and how far strength c = 1 moves h (or x_t) per method over many faces.

Writes, from the repository root:

- `data/runs/08_sweep.json`: face seed 1, each method at c = -2, -1, 0, 1, 2 and 4 draws of its
  random baseline of the same size at c = 2; per image the probe's reading of every attribute
  (`latentlab.course.edit_sweeps.sweep_rows`). The images go to `data/runs/08_sweep.safetensors`.
- `data/runs/08_matched.json` (`--only matched`): the smile editor f at c = -1, 0, 1 and the mean
  difference at about f's size (c = +-m, m = f's size over the mean difference's on seed 1, rounded),
  with one random direction of the mean difference's size at +m; the probe's readings per image.
- `data/runs/08_unit_sizes.json`: per method and face, `session.edit_size` at c = 1
  (`unit_size_rows`): the h-space methods on `--faces` faces (seeds 0 .. faces - 1), Park's x-space
  methods on `--park-faces` (each needs a pullback per face).

Rebuild (about 20 minutes of one core):

    OMP_NUM_THREADS=1 python benchmarks/lecture_08_editor.py --faces 256 --park-faces 64
    OMP_NUM_THREADS=1 python benchmarks/lecture_08_editor.py --only matched
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

import latentlab as ll
from latentlab.course.edit_sweeps import save_images, sweep_rows, unit_size_rows
from latentlab.course.runs import RUNS, save_run
from latentlab.methods import METHODS
from latentlab.session import Edit, EditSession, Face

#: The edit each method shows: the goal methods push smile up, the others show their direction 0.
EDITS = {name: Edit(name, "smile -> +1" if m.sign == "goal" else 0, 1.0) for name, m in METHODS.items()}
STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)
SWEEP_SEED, RANDOM = 1, 4


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=int, default=256, help="faces for the h-space methods' unit sizes")
    p.add_argument("--park-faces", type=int, default=64, help="faces for Park's x-space methods")
    p.add_argument("--skip-sweep", action="store_true", help="only the unit sizes")
    p.add_argument("--only", choices=["matched"], help="only the matched-size run")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    session = EditSession(ll.load_model(), probe=ll.load_probe(), seed=0)
    command = "OMP_NUM_THREADS=1 python benchmarks/lecture_08_editor.py " + " ".join(sys.argv[1:] if argv is None
                                                                                      else argv)
    if args.only == "matched":
        t0 = time.process_time()
        f, md = EDITS["Asyrp f"], EDITS["mean difference"]
        face = Face(seed=SWEEP_SEED)
        m = round(session.edit_size(f, face=face) / session.edit_size(md, face=face))
        rows, _ = sweep_rows(session, {"Asyrp f": f}, (-1.0, 0.0, 1.0), seed=SWEEP_SEED)
        more, _ = sweep_rows(session, {"mean difference": md}, (-float(m), float(m)), seed=SWEEP_SEED, random=1)
        save_run("08_matched", rows + more, command=command, n_faces=1, seed=SWEEP_SEED,
                 notes=f"face seed {SWEEP_SEED}; mean difference at c = +-{m} (f's size on this face); "
                       f"CPU {time.process_time() - t0:.0f} s")
        print(f"08_matched: m = {m}, CPU {time.process_time() - t0:.0f} s", flush=True)
        return
    if not args.skip_sweep:
        t0 = time.process_time()
        rows, images = sweep_rows(session, EDITS, STRENGTHS, seed=SWEEP_SEED, random=RANDOM)
        save_images(images, RUNS / "08_sweep.safetensors")
        save_run("08_sweep", rows, command=command, n_faces=1, seed=SWEEP_SEED,
                 notes=f"face seed {SWEEP_SEED}; random = -1: the method's own direction, else the baseline draw; "
                       f"CPU {time.process_time() - t0:.0f} s (with the methods' fits)")
        print(f"08_sweep: {len(rows)} images, CPU {time.process_time() - t0:.0f} s", flush=True)
    t0 = time.process_time()
    park = {k: e for k, e in EDITS.items() if k.startswith("Park")}
    h = {k: e for k, e in EDITS.items() if k not in park}
    rows = unit_size_rows(session, h, range(args.faces)) + unit_size_rows(session, park, range(args.park_faces))
    save_run("08_unit_sizes", rows, command=command, n_faces=args.faces, seed=0,
             notes=f"faces Face(seed=s), s < {args.faces} (h-space methods) or < {args.park_faces} (Park's); "
                   f"edits: the goal methods smile -> +1, the others direction 0; "
                   f"CPU {time.process_time() - t0:.0f} s")
    print(f"08_unit_sizes: {len(rows)} rows, CPU {time.process_time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
