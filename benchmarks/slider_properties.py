"""The shipped Concept Sliders measured as lecture 04 measures the Asyrp editors: homogeneity, linearity in
the scale (negative scales included), leakage, and their cost.

    OMP_NUM_THREADS=1 python benchmarks/slider_properties.py --n 256 --steps 10

Writes data/runs/11_slider_properties.json (`latentlab.course.runs.load_run`), one row per edit, each a
`latentlab.course.editor_properties.edit_row` of the same held-out faces as lecture 04 (x_T seed 999,
10 DDIM steps; the sliders trained on renders of seed 0) sampled with the slider at scale c at the steps
t <= t_on (the slider's own, 800: the authors' inference; one row at every step for comparison):

- homogeneity: each slider at c = +1 (goal: the high end) and c = -1 (goal: the low end): the fraction
  of the movable faces moved the right way, the change and its spread;
- linearity: the smile slider at c from -2 to 2 and the glasses slider at c = -1, 1, 2: the signed
  change of every attribute; then one "fit" row per slider: `linearity_fit` (slope, R^2, mirror) of the
  target's mean change against c and `linearity_interval` (bootstrap over faces);
- leakage: in every row, `d_<attribute>` and `worst_leak` (the largest mean |change| of another attribute);
- cost: one row per slider: its training time and load (from its slider.json), its size, and the
  sampling time per face with the slider against plain DDIM (32 faces, the two interleaved, medians of 3,
  one core; `load`: the load average then).

Rows are written as they finish.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.course.editor_properties import edit_row, faces_noise, linearity_fit, linearity_interval
from latentlab.course.runs import rebuild_command, save_run
from latentlab.slider import load_slider, sample_with_slider

NAME = "11_slider_properties"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=999, help="x_T seed of the held-out faces (lecture 04's)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    command = rebuild_command("benchmarks/slider_properties.py", argv)
    model, probe = ll.load_model(), ll.load_probe()
    S = args.steps
    rows: list[dict] = []
    start = time.time()

    def write() -> None:
        save_run(NAME, rows, command=command, n_faces=args.n, seed=args.seed,
                 notes=f"{S} DDIM steps, slider on at t <= t_on (800) unless the row says otherwise; "
                       f"{time.time() - start:.0f} s on one core, load average {os.getloadavg()[0]:.1f} at the end")

    x_T = faces_noise(model, args.n, args.seed)
    base = ll.ddim_sample(model, x_T, S, progress=False)
    sliders = {a: load_slider(a) for a in ("smile", "glasses")}
    scales = {"smile": [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], "glasses": [-1.0, 1.0, 2.0]}
    jobs = [(a, c, "own") for a in ("smile", "glasses") for c in (1.0, -1.0)]
    jobs += [("smile", 1.0, "every")]
    jobs += [(a, c, "own") for a in scales for c in scales[a] if c not in (1.0, -1.0)]
    per_face: dict[str, dict[float, torch.Tensor]] = {a: {} for a in sliders}
    for attr, c, gate in tqdm(jobs, desc="slider edits"):
        s = sliders[attr]
        x0 = sample_with_slider(model, s, x_T, S, c, t_on=-1 if gate == "own" else None)
        goal = s.high if c > 0 else s.low
        row = edit_row(model, x_T, None, attr=attr, goal=goal, steps=S, t_edit=0, probe=probe, base=base, edited=x0)
        if gate == "own":
            per_face[attr][c] = ll.read_edit(base, x0, probe=probe).delta[attr] / ll.ATTRIBUTES[attr].span
        prop = "homogeneity" if abs(c) == 1.0 and gate == "own" else "linearity"
        rows.append({"property": prop, "slider": attr, "c": c, "goal": goal,
                     "t_on": s.t_on if gate == "own" else None, **row})
        write()
    for attr, d in per_face.items():
        cs = sorted(d)
        # the target's signed mean change towards the high end, c = 0 included (no change by construction)
        fit = linearity_fit([0.0] + cs, [0.0] + [float(d[c].mean()) for c in cs])
        ci = linearity_interval(d)
        rows.append({"property": "linearity fit", "slider": attr, "scales": " ".join(f"{c:g}" for c in cs),
                     **{k: round(v, 4) + 0.0 for k, v in fit.items()},
                     "slope_lo": ci["slope"][0], "slope_hi": ci["slope"][1],
                     "mirror_lo": ci["mirror"][0], "mirror_hi": ci["mirror"][1]})
        write()
    # the cost of sampling with a slider: plain and slider runs interleaved on the first 32 faces, medians of 3
    x_small = x_T[:32]
    times: dict[str, list[float]] = {"plain": [], **{a: [] for a in sliders}}
    for _ in range(3):
        for key in times:
            t0 = time.time()
            if key == "plain":
                ll.ddim_sample(model, x_small, S, progress=False)
            else:
                sample_with_slider(model, sliders[key], x_small, S, 1.0)
            times[key].append((time.time() - t0) / len(x_small))
    med = {k: sorted(v)[1] for k, v in times.items()}
    for attr, s in sliders.items():
        rows.append({"property": "cost", "slider": attr, "train_seconds": s.info.get("seconds"),
                     "train_steps": s.info.get("steps"), "train_batch": s.info.get("batch"),
                     "train_load": (s.info.get("load_before") or [None])[0],
                     "adapter_parameters": sum(v.numel() for v in s.state.values()),
                     "unet_parameters": sum(p.numel() for p in model.unet.parameters()),
                     "sample_seconds_per_face": round(med[attr], 4),
                     "plain_seconds_per_face": round(med["plain"], 4), "load": round(os.getloadavg()[0], 2)})
        write()
    print(f"wrote data/runs/{NAME}.json: {len(rows)} rows, {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
