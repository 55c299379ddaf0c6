"""Quality of the bundled faces model and probe, against the faces world's ground truth.

    python benchmarks/model_quality.py [--model data/faces32] [--n 1000] [--steps 50]

Prints the probe's accuracy on fresh renders, the model's speed and size, and the figures of
`latentlab.quality.model_quality`, each against its goal.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import latentlab as ll
from latentlab.model import BUNDLED_MODEL
from latentlab.probe import load_probe
from latentlab.quality import model_quality, probe_accuracy


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--n-invert", type=int, default=100)
    args = ap.parse_args()
    probe = load_probe()
    model = ll.load_model(args.model)

    print("## Probe on 2,000 fresh renders (goal: R^2 >= 0.98 each, glasses accuracy >= 0.99)")
    print("| attribute | R^2 / accuracy | goal met |")
    print("|---|---|---|")
    for name, v in probe_accuracy(probe).items():
        goal = 0.99 if name == "glasses" else 0.98
        print(f"| {name} | {v:.4f} | {'yes' if v >= goal else 'NO'} |")

    folder = Path(args.model) if args.model else BUNDLED_MODEL
    size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    x = torch.randn(16, *model.sample_shape)
    with torch.no_grad():
        model.unet(x, 500)
        t0 = time.perf_counter()
        for _ in range(10):
            model.unet(x, 500)
    call = (time.perf_counter() - t0) / 10
    n_params = sum(p.numel() for p in model.unet.parameters())
    print(f"\n## Model: {n_params / 1e6:.2f} M parameters, {size_mb:.1f} MB on disk (goal < 20), "
          f"one U-Net call on a batch of 16: {call:.3f} s (goal < 0.15), h {model.h_shape}")

    t0 = time.perf_counter()
    q = model_quality(model, probe, n=args.n, steps=args.steps, n_invert=args.n_invert)
    print(f"\n## Samples: {args.n} DDIM-{args.steps} samples against {args.n} renders "
          f"({time.perf_counter() - t0:.0f} s)")
    print("| figure | value | goal | met |")
    print("|---|---|---|---|")
    for name, ks in q["ks"].items():
        print(f"| KS distance, {name} | {ks:.3f} | <= 0.1 | {'yes' if ks <= 0.1 else 'NO'} |")
    gs, gr = q["glasses_rate"]
    print(f"| glasses rate, samples / renders | {gs:.3f} / {gr:.3f} | close | "
          f"{'yes' if abs(gs - gr) <= 0.05 else 'NO'} |")
    ms, mr = q["rerender_mse"]
    print(f"| re-render MSE (median), samples / renders | {ms:.4f} / {mr:.4f} | ratio <= 2 | "
          f"{'yes' if ms <= 2 * mr else 'NO'} ({ms / mr:.2f}x) |")
    fd, floor = q["frechet"]
    print(f"| Frechet distance (probe features), samples / floor | {fd:.3f} / {floor:.3f} | near the floor | "
          f"{fd / floor:.1f}x floor |")
    print(f"| DDIM-{args.steps} inversion round trip, median PSNR of {args.n_invert} renders | "
          f"{q['inversion_psnr']:.1f} dB | - | - |")


if __name__ == "__main__":
    main()
