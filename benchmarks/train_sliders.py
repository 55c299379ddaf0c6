"""Train and ship the image-pair Concept Sliders for the attributes the Asyrp editors cover.

    OMP_NUM_THREADS=1 python benchmarks/train_sliders.py --attrs smile glasses

Writes data/sliders/<attr>/ (peft's adapter_config.json and adapter_model.safetensors, and slider.json
with the recipe, the training time, the machine's load and this command) for each attribute, trained
on the bundled faces model from renders that differ in the attribute only (no probe is involved).
Prints each slider's training time with the load average (`os.getloadavg`, as `uptime` shows it).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import latentlab as ll
from latentlab.course.runs import rebuild_command
from latentlab.slider import SLIDER_SETTINGS, SLIDERS_DIR, save_slider, train_slider


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attrs", nargs="+", default=["smile", "glasses"], choices=list(ll.ATTRIBUTES))
    for name in ("rank", "steps", "batch", "n_pairs", "t_on"):
        ap.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=SLIDER_SETTINGS[name])
    ap.add_argument("--alpha", type=float, default=SLIDER_SETTINGS["alpha"])
    ap.add_argument("--lr", type=float, default=SLIDER_SETTINGS["lr"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(SLIDERS_DIR), help="folder that gets one sub-folder per attribute")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = rebuild_command("benchmarks/train_sliders.py", argv)
    model = ll.load_model()
    for attr in args.attrs:
        load_before = os.getloadavg()
        start = time.time()
        history: list = []
        slider = train_slider(model, attr, rank=args.rank, alpha=args.alpha, steps=args.steps, batch=args.batch,
                              lr=args.lr, n_pairs=args.n_pairs, seed=args.seed, t_on=args.t_on, history=history)
        seconds = time.time() - start
        load_after = os.getloadavg()
        k = max(1, len(history) // 10)
        slider.info |= {"seconds": round(seconds, 1), "threads": args.threads,
                        "load_before": [round(v, 2) for v in load_before],
                        "load_after": [round(v, 2) for v in load_after],
                        "loss_first_tenth": round(sum(r["loss"] for r in history[:k]) / k, 5),
                        "loss_last_tenth": round(sum(r["loss"] for r in history[-k:]) / k, 5)}
        out = save_slider(slider, os.path.join(args.out, attr), command)
        print(f"{attr}: {seconds:.0f} s ({slider.info['cpu_seconds']:.0f} s of CPU) on {args.threads} thread(s), "
              f"{args.steps} steps of {args.batch} pairs; "
              f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after -> {out}", flush=True)


if __name__ == "__main__":
    main()
