"""Benchmark: the real checkpoints' full-size architectures (random weights): time and peak memory.

CPU rows (always): google/ddpm-ema-celebahq-256's U-Net (113.7 M parameters, 256 px, h 512 x 8 x 8):
one DDIM step, one `h_of`, and `pullback` k = 3 (run to convergence, or for --pullback-iters
iterations); Stable Diffusion 2.1-base's U-Net (865.9 M, latents 4 x 64 x 64, h 1280 x 8 x 8): one
DDIM step and one `h_of` (--sd-cpu 0 skips them). All at batch 1, float32. Each row runs in a child
process, so its peak resident memory (ru_maxrss) is its own: the model, the inputs and the work.

GPU rows (only where `torch.cuda.is_available()`): SD 2.1-base `pullback` k = 2 to convergence, per
iteration and in total, next to Park et al.'s published 14.3 s for k = 2 on a T4 (12 iterations,
Park et al., arXiv 2307.12868); and Haas et al.'s PCA of h over N = 500 samples (`pca_directions`, 10 DDIM steps, k = 5)
on celebahq-256. GPU peak memory is `torch.cuda.max_memory_allocated`.

    PYTHONPATH=. .venv/bin/python benchmarks/real_scale.py                      # CPU rows (+ GPU rows on a GPU)
    PYTHONPATH=. .venv/bin/python benchmarks/real_scale.py --pullback-iters 1   # one pullback iteration only
    PYTHONPATH=. .venv/bin/python benchmarks/real_scale.py --rows celeba-pullback   # one row
    PYTHONPATH=. .venv/bin/python benchmarks/real_scale.py --dtype float16      # the GPU rows in half precision
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings

import torch

import latentlab as ll
from latentlab.architectures import random_model

PARK_T4_SECONDS, PARK_T4_ITERATIONS = 14.3, 12  # Park et al.'s published timing (arXiv 2307.12868)
ROWS = {  # name -> (architecture, what, device)
    "celeba-ddim": ("celebahq-256", "one DDIM step", "cpu"),
    "celeba-h": ("celebahq-256", "one h_of", "cpu"),
    "celeba-pullback": ("celebahq-256", "pullback k=3", "cpu"),
    "sd-ddim": ("sd-2.1-base", "one DDIM step", "cpu"),
    "sd-h": ("sd-2.1-base", "one h_of", "cpu"),
    "gpu-sd-pullback": ("sd-2.1-base", "pullback k=2", "cuda"),
    "gpu-celeba-pca": ("celebahq-256", "pca_directions N=500", "cuda"),
}


def _peak_gib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)


def child(row: str, pullback_iters: int, t: int, dtype: torch.dtype) -> None:
    """Run one row in this (fresh) process and print one JSON line."""
    name, what, device = ROWS[row]
    model = random_model(name, device=device, dtype=dtype if device == "cuda" else torch.float32)
    if model.conditional:  # a stand-in for a text embedding (the user passes the real one in)
        model.cond = torch.randn(1, 77, model.unet.config.cross_attention_dim,
                                 generator=torch.Generator().manual_seed(1))
    x = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(0))
    built = _peak_gib(device)
    info: dict = {}
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    if what == "one DDIM step":
        ll.ddim_sample(model, x, 1, progress=False)
    elif what == "one h_of":
        with torch.no_grad():
            ll.h_of(model, x, t)
    elif what.startswith("pullback"):
        k = int(what[-1])
        options = {"return_info": True} if pullback_iters == 0 else {"return_info": True, "max_iters": pullback_iters}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "not converged" is expected with max_iters
            _, info = ll.pullback(model, x[0], t, k=k, **options)
    else:  # PCA of h over N = 500
        x_T = torch.randn(500, *model.sample_shape, generator=torch.Generator().manual_seed(0))
        ll.pca_directions(model, x_T, 10, k=5, batch_size=50, progress=False)
        info = {"samples": 500}
    sync()
    secs = time.perf_counter() - start
    print(json.dumps({"secs": secs, "peak_gib": _peak_gib(device), "built_gib": built,
                      "params": sum(p.numel() for p in model.unet.parameters()), **info}))


def run_row(row: str, args: argparse.Namespace) -> dict | str:
    cmd = [sys.executable, __file__, "--child", row, "--pullback-iters", str(args.pullback_iters), "--t", str(args.t),
           "--threads", str(args.threads), "--dtype", args.dtype]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return "failed: " + (lines[-1] if lines else str(done.returncode))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pullback-iters", type=int, default=0,
                        help="max_iters of the pullback rows; 0: to convergence")
    parser.add_argument("--t", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sd-cpu", type=int, default=1, help="1: also the SD 2.1-base CPU rows (3.5 GB of weights)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                        help="of the GPU rows")
    parser.add_argument("--rows", nargs="+", default=None, choices=list(ROWS), help="run only these rows")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        return child(args.child, args.pullback_iters, args.t, getattr(torch, args.dtype))

    rows = [r for r, (name, _, dev) in ROWS.items() if dev == "cpu" and (args.sd_cpu or name != "sd-2.1-base")]
    if torch.cuda.is_available():
        rows += [r for r, (_, _, dev) in ROWS.items() if dev == "cuda"]
    rows = [r for r in rows if args.rows is None or r in args.rows]
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU: GPU rows skipped"
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), "
          f"{platform.processor() or platform.machine()}; {gpu}")
    print(f"random weights, batch 1, t = {args.t}; CPU rows in float32, GPU rows in {args.dtype}\n")
    print("| architecture | operation | device | wall time | iterations (products) | per iteration | "
          "peak memory (after building) | note |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        name, what, device = ROWS[row]
        r = run_row(row, args)
        if isinstance(r, str):
            print(f"| {name} | {what} | {device} | {r} | | | | |")
            continue
        iters = r.get("iterations")
        per_iter = f"{r['secs'] / iters:.2f} s" if iters else ""
        it_text = f"{iters} ({r['products']}), converged: {r['converged']}" if iters else ""
        note = ""
        if row.startswith("celeba") and device == "cpu":
            note = f"goal < 4 GB: {'met' if r['peak_gib'] * 2**30 < 4e9 else 'NOT met'}"
        if row == "gpu-sd-pullback":
            note = (f"Park et al., T4: {PARK_T4_SECONDS} s, {PARK_T4_ITERATIONS} iterations, "
                    f"{PARK_T4_SECONDS / PARK_T4_ITERATIONS:.2f} s per iteration")
        print(f"| {name} ({r['params'] / 1e6:.1f} M) | {what} | {device} | {r['secs']:.2f} s | {it_text} | "
              f"{per_iter} | {r['peak_gib']:.2f} GiB ({r['built_gib']:.2f}) | {note} |")


if __name__ == "__main__":
    main()
