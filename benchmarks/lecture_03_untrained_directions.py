"""The untrained h-space directions of the registry (`latentlab.methods.METHODS`: "mean difference" and
"paired"; lecture 05 teaches them), measured the way the Asyrp slides state their claims, against
random directions of the same size (one per face) and a mean difference of shuffled labels.
Lab 03 shows the tables; lecture 03 states none of them.

Tables (rows of `data/runs/03_untrained_directions.json`, told apart by their "table" field):
- "h_trajectory": the cosine of h_t with its own final h_0, and between two samples' h_t, over the
  registry workbench's trajectories;
- "asymmetry": the paired glasses direction in P_t only against P_t and D_t;
- "homogeneity": faces moved the right way (k of n), against random and shuffled-label baselines
  (exact McNemar tests, Bonferroni over 8);
- "scaling": mean change at c = 2 and 4, their ratio with a bootstrap interval, and the R^2 of a line;
- "additivity": smile + glasses together against each alone (`ll.additivity_error`);
- "t_edit": the paired glasses direction added only at t >= t_edit;
- "imbalance", "split_half", "timesteps": why the untrained directions fall short.

Rebuild (one core, about 5 minutes alone):

    OMP_NUM_THREADS=1 python benchmarks/lecture_03_untrained_directions.py
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

import latentlab as ll
from latentlab.course.runs import save_run
from latentlab.directions import random_direction
from latentlab.methods import METHODS, Workbench, above_middle
from latentlab.metrics import read_edit, right_way
from latentlab.stats import bootstrap_interval, mcnemar

MD, PAIRED = "mean difference", "paired"  # the registry's names
C = 4.0  # the scale of every edit, unless said otherwise
ALPHA = 0.05 / 8  # eight McNemar tests: four against random, two against shuffled labels, two on leaks


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def r3(v: float) -> float:
    return round(float(v), 3)


def main(n: int, n2: int, steps: int) -> list[dict]:
    model, probe = ll.load_model(), ll.load_probe()
    # Seed 1 for the workbench; the held-out faces are drawn with seed 1 too but from another generator
    # call, so they are not among its trajectories.
    wb = Workbench(model, steps=steps, seed=1, probe=probe)
    tr, labels = wb.trajectories()
    M = len(tr.x0)
    rows: list[dict] = []

    flat = tr.h.flatten(2)  # (M, S, 2048)
    to_final = F.cosine_similarity(flat, flat[:, -1:], dim=2).mean(0)
    unit = F.normalize(flat, dim=2)
    for s, t in enumerate(tr.timesteps.tolist()):
        between = ((unit[:, s] @ unit[:, s].T).sum() - M) / (M * (M - 1))
        rows.append({"table": "h_trajectory", "t": t, "n": M, "cos_to_final": r3(to_final[s]),
                     "cos_between": r3(between), "h_norm": r3(flat[:, s].norm(dim=1).mean())})

    attrs = ("smile", "glasses")
    groups = {a: above_middle(a, labels[a]) for a in attrs}
    dirs = {(MD, a): wb.candidates(MD, a, 1.0)[MD].dh() for a in attrs}
    dirs |= {(PAIRED, a): wb.candidates(PAIRED, a, 1.0)[PAIRED].dh() for a in attrs}

    x_T = torch.randn(n, *model.sample_shape, generator=gen(1))
    base = ll.ddim_sample(model, x_T, steps, progress=False)

    def edit(dh, attr, k=n, **options):
        return ll.measure_edit(model, x_T[:k], dh, attr=attr, goal=1.0, steps=steps, probe=probe,
                               base=base[:k], **options)

    def reread(result, attr, k=n):
        return read_edit(base[:k], result.x0_edit[:k], attr=attr, goal=1.0, probe=probe)

    def moved(r, attr):
        return right_way(r.before[attr], r.after[attr], attr, 1.0)

    bar = tqdm(total=19, desc="edits")
    runs = {}
    for key, d in dirs.items():
        runs[key] = edit(C * d, key[1])
        bar.update()
    sym = edit(C * dirs[PAIRED, "glasses"], "glasses", n2, asymmetric=False)
    asym = reread(runs[PAIRED, "glasses"], "glasses", n2)
    bar.update()
    for mode, r in (("asymmetric", asym), ("symmetric", sym)):
        rows.append({"table": "asymmetry", "method": PAIRED, "attr": "glasses", "mode": mode, "n": n2,
                     "n_movable": r.n_movable, "k": round(r.right_way * r.n_movable), "change": r3(r.change),
                     "pixel_change": r3(r.pixel_change)})

    rand = {}
    for i, (key, d) in enumerate(dirs.items()):
        rd = random_direction(tr.timesteps, d.norms(), n=n, generator=gen(100 + i), h_shape=model.h_shape)
        rand[key] = edit(C * rd, key[1])
        bar.update()
    shuffled_labels = groups["smile"][torch.randperm(M, generator=gen(4))]
    shuffled = edit(C * ll.StepDirection(tr.timesteps, ll.mean_difference(tr.h, shuffled_labels)), "smile")
    bar.update()

    for (method, a), r in runs.items():
        movable, ok = moved(r, a)
        ok, ok_rand, ok_shuf = ok[movable], moved(rand[method, a], a)[1][movable], moved(shuffled, a)[1][movable]
        k, m, p = int(ok.sum()), len(ok), mcnemar(ok, ok_rand)
        leak = r.leakage()
        worst = max(leak, key=leak.get)
        rows.append({"table": "homogeneity", "method": method, "attr": a, "n_movable": m, "k": k,
                     "right_way": r3(k / m), "se": r3((k / m * (1 - k / m) / m) ** 0.5), "change": r3(r.change),
                     "spread": r3(r.spread), "k_random": int(ok_rand.sum()), "p_random": r3(p),
                     "k_shuffled": int(ok_shuf.sum()) if method == MD else None,
                     "p_shuffled": r3(mcnemar(ok, ok_shuf)) if method == MD else None,
                     "beats_random": bool(p < ALPHA and k > int(ok_rand.sum())),
                     "worst_leak_attr": worst, "worst_leak": r3(leak[worst])})

    half, full = {}, {}
    for key, d in dirs.items():
        half[key] = edit(2.0 * d, key[1], n2)
        full[key] = reread(runs[key], key[1], n2)
        bar.update()

    def signed_change(r):
        movable, _ = moved(r, r.attr)
        return (r.delta[r.attr] * torch.sign(r.goal - r.before[r.attr]))[movable]

    for key in dirs:
        d2, d4 = signed_change(half[key]), signed_change(full[key])
        changes = [0.0, half[key].change, full[key].change]
        lo, hi = bootstrap_interval(lambda a, b: a.mean(1) / b.mean(1), d4, d2, generator=gen(5))
        rows.append({"table": "scaling", "method": key[0], "attr": key[1], "n_movable": len(d2),
                     "change_c2": r3(changes[1]), "se_c2": r3(d2.std() / len(d2) ** 0.5),
                     "change_c4": r3(changes[2]), "se_c4": r3(d4.std() / len(d4) ** 0.5),
                     "ratio": r3(changes[2] / changes[1]), "ratio_lo": r3(lo), "ratio_hi": r3(hi),
                     "r2": r3(ll.scaling_r2([0, 2, 4], changes))})

    span = {k: r.span for k, r in ll.ATTRIBUTES.items()}
    for method in (MD, PAIRED):
        both = edit(C * dirs[method, "smile"] + C * dirs[method, "glasses"], "smile", n2)
        bar.update()
        d_a, d_b = full[method, "smile"].delta, full[method, "glasses"].delta
        sq = {k: (((d_a[k] + d_b[k]) / span[k]) ** 2).sum().item() for k in span}
        cnt = {(a, w): int(moved(x, a)[1].sum())
               for a in attrs for w, x in (("alone", full[method, a]), ("both", both))}
        rows.append({"table": "additivity", "method": method, "n": n2,
                     "error": r3(ll.additivity_error(d_a, d_b, both.delta)),
                     "error_if_only_smile": r3(ll.additivity_error(d_a, d_b, d_a)),
                     "share_in_targets": r3((sq["smile"] + sq["glasses"]) / sum(sq.values())),
                     "smile_alone": cnt["smile", "alone"], "smile_both": cnt["smile", "both"],
                     "smile_movable": int(moved(both, "smile")[0].sum()),
                     "glasses_alone": cnt["glasses", "alone"], "glasses_both": cnt["glasses", "both"],
                     "glasses_movable": int(moved(both, "glasses")[0].sum())})

    for t in (0, 400, 500, 600):
        r = reread(runs[PAIRED, "glasses"], "glasses", n2) if t == 0 else \
            edit(C * dirs[PAIRED, "glasses"], "glasses", n2, t_edit=t)
        if t:
            bar.update()
        rows.append({"table": "t_edit", "method": PAIRED, "attr": "glasses", "t_edit": t, "n_movable": r.n_movable,
                     "k": round(r.right_way * r.n_movable), "change": r3(r.change),
                     "manifold_before": round(float(r.manifold_before.median()), 5),
                     "manifold_after": round(float(r.manifold_after.median()), 5)})
    bar.close()

    for a, pos in groups.items():
        gaps = {k: ((v[pos].mean() - v[~pos].mean()) / span[k]).item() for k, v in labels.items()}
        top = sorted((k for k in gaps if k != a), key=lambda k: -abs(gaps[k]))[:3]
        rows.append({"table": "imbalance", "method": MD, "attr": a, "n_above": int(pos.sum()),
                     "n_below": int((~pos).sum()), "own_gap": r3(gaps[a]),
                     "other_gaps": ", ".join(f"{k} {gaps[k]:+.2f}" for k in top)})
    movable, ok = moved(runs[MD, "smile"], "glasses")
    ok_shuf, ok_rand = moved(shuffled, "glasses")[1], moved(rand[MD, "smile"], "glasses")[1]
    rows.append({"table": "imbalance", "method": MD, "attr": "smile", "leak": "glasses added",
                 "n_movable": int(movable.sum()), "k": int(ok.sum()), "k_shuffled": int(ok_shuf.sum()),
                 "p_shuffled": r3(mcnemar(ok, ok_shuf)), "k_random": int(ok_rand.sum()),
                 "p_random": r3(mcnemar(ok, ok_rand))})

    perm = torch.randperm(M, generator=gen(3))
    halves = (perm[: M // 2], perm[M // 2:])
    early = tr.timesteps >= 600
    for a, pos in groups.items():
        d1, d2 = (ll.mean_difference(tr.h[i], pos[i]).flatten(1) for i in halves)
        cos = F.cosine_similarity(d1, d2, dim=1)
        noise = ll.mean_difference(tr.h, pos[torch.randperm(M, generator=gen(4))]).flatten(1).norm(dim=1) \
            / dirs[MD, a].norms()
        truth = dirs[PAIRED, a].directions.flatten(1)
        cos_truth = F.cosine_similarity(dirs[MD, a].directions.flatten(1), truth, dim=1)
        null = torch.stack([F.cosine_similarity(ll.mean_difference(
            tr.h, pos[torch.randperm(M, generator=gen(1000 + j))]).flatten(1), truth, dim=1)
            for j in range(20)]).abs()
        chance = torch.quantile(null, 0.95, dim=0)
        share = {m: (dirs[m, a].norms()[early] ** 2).sum().item() / (dirs[m, a].norms() ** 2).sum().item()
                 for m in (MD, PAIRED)}
        for s, t in enumerate(tr.timesteps.tolist()):
            rows.append({"table": "timesteps", "attr": a, "t": t, "split_half_cos": r3(cos[s]),
                         "shuffled_norm_ratio": r3(noise[s]), "cos_with_paired": r3(cos_truth[s]),
                         "chance_95": r3(chance[s]), "norm_md": r3(dirs[MD, a].norms()[s]),
                         "norm_paired": r3(dirs[PAIRED, a].norms()[s]),
                         "share_md_t600": r3(share[MD]), "share_paired_t600": r3(share[PAIRED])})
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=32, help="held-out faces for homogeneity")
    ap.add_argument("--faces2", type=int, default=16, help="the first ones, for the secondary claims")
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = main(args.faces, args.faces2, args.steps)
    save_run("03_untrained_directions", out, n_faces=args.faces, seed=1,
             command=f"OMP_NUM_THREADS=1 python benchmarks/lecture_03_untrained_directions.py --faces {args.faces} "
                     f"--faces2 {args.faces2} --steps {args.steps}",
             notes=f"registry settings: {METHODS[MD].settings}, {METHODS[PAIRED].settings}; c = {C}; "
                   f"{args.steps} DDIM steps; McNemar counted at p < {ALPHA:.4f}")
