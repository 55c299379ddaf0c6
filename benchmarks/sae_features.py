"""Score the bundled SAEs' features against the faces world's attributes: detection, then steering.

    OMP_NUM_THREADS=1 python benchmarks/sae_features.py [--n 512] [--steer-n 16] [--scales 5 20]

Held-out trajectories (x_T of a seed `train_sae.py` never used), labelled by the probe's readings of
their x_0 (glasses: P > 0.5). A face's activation of a feature is its mean over the positions and the
timesteps of the trajectory. Per attribute and SAE mode ("position", "pooled"):
- detection: each feature's AUROC (glasses) or Spearman rho (the rest); the best feature against the
  best raw channel of h (the normalised h, averaged the same way; also the best of its C H W entries)
  and the best feature of a random-init SAE of the same size and normalisation;
- monosemantic features: `latentlab.sae.MONOSEMANTIC` (best strength >= 0.5, second < 0.2);
- steering: the best feature's direction (`feature_direction`, signed towards the top of the range)
  added at every step, asymmetric, on `--steer-n` faces at each c of `--scales`, read by the probe
  (`measure_edit`), against a Gaussian direction with the same norm at every timestep.
Writes `data/sae/<mode>/detection.json` (what `best_feature` reads) and `data/runs/11_sae_features.json`.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import latentlab as ll
from latentlab.course.runs import rebuild_command, save_run
from latentlab.directions import HTrajectory, random_direction
from latentlab.faces import ATTRIBUTES, BINARY_ATTRIBUTES
from latentlab.methods import above_middle
from latentlab.metrics import measure_edit
from latentlab.sae import (
    MONOSEMANTIC,
    SparseAutoencoder,
    detection_scores,
    detection_strength,
    evaluate_sae,
    feature_direction,
    load_sae,
    monosemantic_features,
    trajectory_activations,
)

X_T_SEED = 30_000  # held out: train_sae.py draws the training faces from 20_000
STEER_SEED = 40_000


def _best(scores: dict, strength: dict, attr: str) -> tuple[int, float, float]:
    j = int(strength[attr].argmax())
    return j, float(scores[attr][j]), float(strength[attr][j])


def _sign(attr: str, score: float) -> float:
    """+1 if the unit fires (or grows) with the attribute, else -1."""
    mid = 0.5 if attr in BINARY_ATTRIBUTES else 0.0
    return 1.0 if score >= mid else -1.0


def _save(rows: list, notes: list, args, command: str) -> Path:
    about = (f"detection on {args.n} held-out trajectories (x_T seed {X_T_SEED}), activation = mean over "
             f"positions and the {args.steps} timesteps; steering ({' '.join(args.steer_modes)}) on "
             f"{args.steer_n} faces (seed {STEER_SEED}), goal = top of the range, asymmetric, every step; "
             f"probe = main probe; load {os.getloadavg()[0]:.2f}")
    return save_run("11_sae_features", rows, command=command, n_faces=args.n, seed=X_T_SEED,
                    notes="; ".join([*notes, about]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512, help="held-out trajectories")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--modes", nargs="*", default=["position", "pooled"], choices=["position", "pooled"],
                    help="none: only build (and --cache) the held-out set")
    ap.add_argument("--steer-modes", nargs="*", default=["position"], choices=["position", "pooled"])
    ap.add_argument("--cache", default=None, help="a .safetensors file for the held-out trajectories (not shipped)")
    ap.add_argument("--steer-n", type=int, default=16, help="faces per steering edit (0: no steering)")
    ap.add_argument("--scales", type=float, nargs="+", default=[5.0, 20.0])
    ap.add_argument("--sae", default="data/sae")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    argv = os.sys.argv[1:]
    if "--cache" in argv:  # a local speed-up, not part of what rebuilds the files
        del argv[argv.index("--cache"):argv.index("--cache") + 2]
    command = rebuild_command("benchmarks/sae_features.py", argv)
    print(f"load at start: {os.getloadavg()[0]:.2f}")
    model, probe = ll.load_model(), ll.load_probe()
    start = time.perf_counter()
    if args.cache and Path(args.cache).is_file():
        tr = HTrajectory(**load_file(args.cache))  # safetensors: no pickle, even for a local cache
        assert len(tr.h) == args.n and len(tr.timesteps) == args.steps, f"{args.cache} holds another set"
    else:
        x_T = torch.randn(args.n, *model.sample_shape, generator=torch.Generator().manual_seed(X_T_SEED))
        tr = ll.h_trajectory(model, x_T, args.steps, progress=False)
        if args.cache:
            save_file({k: v.contiguous() for k, v in tr._asdict().items()}, args.cache)
    with torch.no_grad():
        readings = {a: v.float() for a, v in probe(tr.x0).items()}
    labels = {a: above_middle(a, r) if a in BINARY_ATTRIBUTES else r for a, r in readings.items()}
    print(f"held-out set: {args.n} trajectories, {time.perf_counter() - start:.0f} s; "
          f"glasses on {int(labels['glasses'].sum())} of {args.n}")
    if not args.modes:
        return
    rows, notes, saes = [], [], {}
    x_steer = torch.randn(args.steer_n, *model.sample_shape, generator=torch.Generator().manual_seed(STEER_SEED))
    base = ll.ddim_sample(model, x_steer, args.steps, progress=False) if args.steer_n else None
    for mode in args.modes:
        sae = load_sae(f"{args.sae}/{mode}")
        rand = SparseAutoencoder(sae.config.__class__(**{**sae.config.__dict__, "seed": 12345}), sae.h_shape,
                                 sae.timesteps)
        for name in ("mean", "scale"):  # the same normalisation; only the dictionary is random
            getattr(rand, name).copy_(getattr(sae, name))
        q = evaluate_sae(sae, tr.h, tr.timesteps)
        qr = evaluate_sae(rand, tr.h, tr.timesteps)
        notes.append(f"{mode}: held-out FVU {q['fvu']:.3f}, L0 {q['l0']:.1f}, dead {q['dead']} of "
                     f"{sae.n_features} (never fired in training: {q['dead_in_training']}); random-init FVU "
                     f"{qr['fvu']:.3f}")
        print(notes[-1])
        acts = trajectory_activations(sae, tr.h, tr.timesteps).mean(1)
        acts_rand = trajectory_activations(rand, tr.h, tr.timesteps).mean(1)
        norm = torch.stack([(tr.h[:, s] - sae.mean[s]) / sae.scale[s] for s in range(len(tr.timesteps))], 1)
        entries = norm.mean(1).flatten(1)  # (N, C H W): each entry of the normalised h, mean over t
        channels = norm.mean((1, 3, 4))  # (N, C)
        tables = {k: detection_scores(v, labels) for k, v in
                  (("sae", acts), ("random", acts_rand), ("channel", channels), ("entry", entries))}
        strengths = {k: detection_strength(v) for k, v in tables.items()}
        alive = sae.fire_rate > 0
        mono = monosemantic_features(strengths["sae"], alive=alive)
        mono_rand = monosemantic_features(strengths["random"])
        mono_channel = monosemantic_features(strengths["channel"])
        best_json = {}
        print(f"\n{mode} | attr | score | feature: strength | random-init | raw channel | raw entry | "
              f"monosemantic (random, channels)")
        for attr in ATTRIBUTES:
            j, score, strength = _best(tables["sae"], strengths["sae"], attr)
            sign = _sign(attr, score)
            best_json[attr] = {"feature": j, "score": score, "strength": strength, "sign": sign}
            row = {"mode": mode, "attr": attr, "score": "AUROC" if attr in BINARY_ATTRIBUTES else "Spearman",
                   "feature": j, "feature_score": round(score, 4), "feature_strength": round(strength, 4),
                   "feature_fire_rate": round(float(sae.fire_rate[j]), 4)}
            for k in ("random", "channel", "entry"):
                jk, sk, st = _best(tables[k], strengths[k], attr)
                row |= {f"{k}_best": jk, f"{k}_score": round(sk, 4), f"{k}_strength": round(st, 4)}
            row |= {"n_monosemantic": len(mono[attr]), "n_monosemantic_random": len(mono_rand[attr]),
                    "n_monosemantic_channels": len(mono_channel[attr]),
                    "monosemantic": " ".join(map(str, mono[attr][:20]))}
            rows.append(row)
            print(f"{mode} | {attr} | {row['score']} | {j}: {strength:.3f} | {row['random_strength']:.3f} | "
                  f"{row['channel_strength']:.3f} | {row['entry_strength']:.3f} | {len(mono[attr])} "
                  f"({len(mono_rand[attr])}, {len(mono_channel[attr])})", flush=True)
        detection = {"command": command, "n_faces": args.n, "x_T_seed": X_T_SEED, "monosemantic": MONOSEMANTIC,
                     "best": best_json}
        Path(args.sae, mode, "detection.json").write_text(json.dumps(detection, indent=1) + "\n")
        saes[mode] = sae
    path = _save(rows, notes, args, command)  # detection first, so a stopped steering run keeps it
    print(f"\nwrote {path}\n\nsteering: mode | attr | feature | c: change, feature / random (right way)")
    for row in rows:
        if not args.steer_n or row["mode"] not in args.steer_modes:
            continue
        attr, j, sae = row["attr"], row["feature"], saes[row["mode"]]
        goal = ATTRIBUTES[attr].high
        d = _sign(attr, row["feature_score"]) * feature_direction(sae, j)
        r = random_direction(d.timesteps, d.norms(), generator=torch.Generator().manual_seed(j), h_shape=sae.h_shape)
        row["direction_norm_mean"] = round(float(d.norms().mean()), 3)
        steer = []
        for c in args.scales:
            e = measure_edit(model, x_steer, c * d, attr=attr, goal=goal, steps=args.steps, probe=probe, base=base)
            er = measure_edit(model, x_steer, c * r, attr=attr, goal=goal, steps=args.steps, probe=probe, base=base)
            row |= {f"steer_change_c{c:g}": round(e.change, 4), f"steer_right_way_c{c:g}": round(e.right_way, 3),
                    f"random_change_c{c:g}": round(er.change, 4), f"random_right_way_c{c:g}": round(er.right_way, 3),
                    f"steer_worst_leak_c{c:g}": e.summary()["worst_leak"],
                    f"steer_pixel_change_c{c:g}": round(e.pixel_change, 4)}
            steer.append(f"{c:g}: {e.change:+.3f} / {er.change:+.3f} ({e.right_way:.2f} / {er.right_way:.2f})")
        print(f"{row['mode']} | {attr} | {j} | {'; '.join(steer)}", flush=True)
        _save(rows, notes, args, command)


if __name__ == "__main__":
    main()
