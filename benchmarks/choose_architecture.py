"""Which U-Net carries the faces' attributes in h? Compares briefly trained candidate runs.

(a) how well a cross-validated ridge regression decodes each attribute from h of forward-noised
renders, against the same from x_t itself; (b) how a supervised mean-difference edit in h (Haas et
al.; directions from paired renders that differ only in the attribute) moves glasses and smile,
as the right-way fraction among samples that can move.

    python benchmarks/choose_architecture.py runs/faces8/pipeline runs/faces4/pipeline
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import latentlab as ll
from latentlab.probe import load_probe


def gen(seed):
    return torch.Generator().manual_seed(seed)


def batched(f, x, size=256):
    return torch.cat([f(x[i : i + size]) for i in range(0, len(x), size)])


def decode_r2(features: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cross-validated R^2 of a ridge regression (alpha chosen per target), one per column."""
    reg = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 5, 13), alpha_per_target=True))
    pred = cross_val_predict(reg, features, targets, cv=KFold(5, shuffle=True, random_state=0))
    ss_res = ((targets - pred) ** 2).sum(0)
    ss_tot = ((targets - targets.mean(0)) ** 2).sum(0)
    return 1 - ss_res / ss_tot


@torch.no_grad()
def edit_effect(model, probe, attr, low, high, *, steps=20, n=64, t_edit=500, seed=0):
    """Right-way fractions of a per-timestep mean-difference edit, added (+) and subtracted (-)."""
    timesteps = ll.ddim_timesteps(model, steps).tolist()
    hi, _ = ll.render_faces(64, seed=seed + 7, **{attr: high})
    lo, _ = ll.render_faces(64, seed=seed + 7, **{attr: low})
    dirs = {}
    for t in timesteps:  # the same noise for both halves of each pair
        h_hi = ll.h_of(model, ll.q_sample(model, hi, t, generator=gen(t)), t)
        h_lo = ll.h_of(model, ll.q_sample(model, lo, t, generator=gen(t)), t)
        dirs[t] = (h_hi - h_lo).mean(0)
    x_T = torch.randn(n, *model.sample_shape, generator=gen(seed + 1))
    run = lambda sign: ll.ddim_sample(  # noqa: E731
        model, x_T, steps, dh=None if sign == 0 else (lambda t, h: sign * dirs[t]), t_edit=t_edit, progress=False)
    p0, pp, pm = (probe(run(s))[attr] for s in (0, 1, -1))
    mid = (low + high) / 2
    margin = 0.5 if attr in ("glasses",) else 0.25 * (high - low)
    up = p0 < mid
    down = p0 > mid
    frac_up = (
        ((pp - p0 > margin) | ((pp > mid) & (attr == "glasses")))[up].float().mean().item()
        if up.any() else float("nan")
    )
    frac_down = (
        ((p0 - pm > margin) | ((pm < mid) & (attr == "glasses")))[down].float().mean().item()
        if down.any() else float("nan")
    )
    return frac_up, frac_down, int(up.sum()), int(down.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--probe", default=None)
    ap.add_argument("--no-edit", action="store_true")
    args = ap.parse_args()
    names = list(ll.ATTRIBUTES)
    x0, attrs = ll.render_faces(args.n, seed=123)
    y = torch.stack([attrs[k] for k in names], 1).numpy()
    for run in args.runs:
        model = ll.load_model(run)
        print(f"\n## {run}: h {model.h_shape}, "
              f"{sum(p.numel() for p in model.unet.parameters()) / 1e6:.2f} M parameters")
        print(f"| t | space | {' | '.join(names)} |")
        print("|---|---|" + "---|" * len(names))
        for t in (200, 500):
            x_t = ll.q_sample(model, x0, t, generator=gen(t))
            h = batched(lambda x: ll.h_of(model, x, t), x_t).flatten(1).numpy()
            for space, feats in (("h", h), ("x_t", x_t.flatten(1).numpy())):
                r2 = decode_r2(feats, y)
                print(f"| {t} | {space} | " + " | ".join(f"{v:.2f}" for v in r2) + " |", flush=True)
        if not args.no_edit:
            probe = load_probe(args.probe)
            for attr, lo, hi in (("glasses", 0.0, 1.0), ("smile", -1.0, 1.0)):
                up, down, n_up, n_down = edit_effect(model, probe, attr, lo, hi)
                print(f"edit {attr}: +dir right way {up:.2f} (of {n_up}), "
                      f"-dir right way {down:.2f} (of {n_down})", flush=True)


if __name__ == "__main__":
    main()
