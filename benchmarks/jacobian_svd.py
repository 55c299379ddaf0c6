"""Benchmark: top-k SVD of the U-Net's Jacobians, latentlab against the papers' published loops.

Rows: J = dh/dx_t (`pullback` vs Park et al.'s subspace iteration) and J = d eps/dh (`eps_jacobian`
vs Haas et al.'s deflated power iteration), k = 3 and 10, at t = 600, at one noised face x_t. Each
row: median wall time of --repeats runs, Jacobian products used (J v + J^T u), the largest relative
singular-value error and the largest principal angle between the top-k right subspaces, against a
dense Jacobian's SVD, and the speedup. The references are re-implementations (`_references.py`);
"previous version" is latentlab's own before its speed-ups (`layer_rules=False, out_shape=None`, see
`pullback_speed.py`).
A last row measures memory: `pullback` (k = 3) on the architecture of google/ddpm-ema-celebahq-256
(random weights, 256 px), in a child process so that its peak resident memory is its own.

    PYTHONPATH=. .venv/bin/python benchmarks/jacobian_svd.py                   # tiny model + memory row
    PYTHONPATH=. .venv/bin/python benchmarks/jacobian_svd.py --model bundled   # the faces model
    PYTHONPATH=. .venv/bin/python benchmarks/jacobian_svd.py --model DIR       # any diffusers folder
    PYTHONPATH=. .venv/bin/python benchmarks/jacobian_svd.py --memory-iters 0  # to convergence (~1 min per iteration)
    PYTHONPATH=. .venv/bin/python benchmarks/jacobian_svd.py --jvp-mode forward  # J v by torch.func.jvp
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

import latentlab as ll
from latentlab.architectures import CELEBAHQ_256_UNET  # the config and its provenance live there
from latentlab.hspace import eps_of_batch, h_of_batch
from latentlab.jacobians import eps_jacobian, pullback
from latentlab.linalg import dense_jacobian

from _references import haas_eps_jacobian, park_pullback


def noised_face(model: ll.Model, t: int, seed: int = 0) -> torch.Tensor:
    """x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) noise for one rendered face x_0 (random pixels above 128 px)."""
    C, H, W = model.sample_shape
    gen = torch.Generator().manual_seed(seed)
    if C == 3 and H == W and H % 8 == 0 and 32 <= H <= 128:
        x0 = ll.render_faces(1, seed=seed, size=H)[0][0]
    else:
        x0 = torch.rand(C, H, W, generator=gen) * 2 - 1
    a = model.scheduler.alphas_cumprod[t]
    return a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(C, H, W, generator=gen)


def dense_svd(model: ll.Model, x: torch.Tensor, t: int, which: str):
    """The oracle: the full Jacobian by torch.func, then torch.linalg.svd in float64."""
    tb = torch.tensor([t])
    with ll.forward_ad(model):
        if which == "pullback":
            J = dense_jacobian(lambda z: h_of_batch(model, z[None], tb)[0], x, chunk_size=128)
        else:
            zero = torch.zeros(model.h_shape)
            J = dense_jacobian(lambda dh: eps_of_batch(model, x[None], tb, dh[None])[0], zero, chunk_size=128)
    return torch.linalg.svd(J.double(), full_matrices=False)


def errors(svd, true, k: int) -> tuple[float, float]:
    """Largest relative singular-value error; largest principal angle between top-k right subspaces."""
    s_err = ((svd.S.double() - true.S[:k]).abs() / true.S[:k]).max().item()
    V, Vt = svd.V.reshape(k, -1).double(), true.Vh[:k]
    V = torch.linalg.qr(V.T)[0].T  # orthonormal rows (the references' rows are only near-orthogonal)
    angle = torch.linalg.matrix_norm(V - (V @ Vt.T) @ Vt, ord=2).clamp(max=1).asin().item()
    return s_err, angle


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def compare(model: ll.Model, name: str, ks: list[int], t: int, repeats: int, ref_repeats: int,
            jvp_mode: str = "auto") -> None:
    x = noised_face(model, t)
    print(f"\nmodel: {name}, x: {tuple(model.sample_shape)}, h: {tuple(model.h_shape)}, t = {t}, "
          f"median of {repeats} runs (references: {ref_repeats}), ours with jvp_mode={jvp_mode!r}")
    header = (f"{'map':<14}{'k':>3}  {'method':<28}{'time s':>8}{'products':>10}{'S rel err':>11}"
              f"{'angle rad':>11}{'speedup':>9}")
    print(header)
    print("-" * len(header))
    for which, ours, ref, ref_name in [("pullback", pullback, park_pullback, "Park et al. (re-impl.)"),
                                       ("eps", eps_jacobian, haas_eps_jacobian, "Haas et al. (re-impl.)")]:
        true = dense_svd(model, x, t, which)
        label = "dh/dx_t" if which == "pullback" else "d eps/dh"
        for k in ks:
            gap = (true.S[k - 1] / true.S[k]).item()
            ours(model, x, t, k, jvp_mode=jvp_mode)  # warm-up (first-call costs of torch.func and the hooks)
            t_ours, (svd, info) = timed(lambda: ours(model, x, t, k, return_info=True, jvp_mode=jvp_mode), repeats)
            # the previous implementation: autograd's generic double backward, a random start block
            t_prev, (svd_prev, info_prev) = timed(lambda: ours(model, x, t, k, return_info=True, jvp_mode=jvp_mode,
                                                               layer_rules=False, out_shape=None), repeats)
            t_ref, (svd_ref, info_ref) = timed(lambda: ref(model, x, t, k), ref_repeats)
            for method, secs, s, inf in [(f"latentlab {ours.__name__}", t_ours, svd, info),
                                         ("  previous version", t_prev, svd_prev, info_prev),
                                         (ref_name, t_ref, svd_ref, info_ref)]:
                s_err, angle = errors(s, true, k)
                speedup = f"{t_ref / t_ours:8.1f}x" if s is svd else ""
                note = "" if inf["converged"] else "  (not converged)"
                print(f"{label:<14}{k:>3}  {method:<28}{secs:>8.2f}{inf['products']:>10}{s_err:>11.1e}"
                      f"{angle:>11.1e}{speedup:>9}{note}")
            print(f"{'':<17}(s_k / s_k+1 = {gap:.3f})")


def memory_child(iters: int, t: int, jvp_mode: str = "auto") -> None:
    """Run in a fresh process: pullback k=3 on the CelebA-HQ 256 architecture; print a JSON line."""
    from diffusers import DDIMScheduler, UNet2DModel

    torch.manual_seed(0)  # diffusers initialises from the global generator
    config = {key: value for key, value in CELEBAHQ_256_UNET.items() if not key.startswith("_")}
    unet = UNet2DModel(**config).eval().requires_grad_(False)
    model = ll.Model(unet, DDIMScheduler())
    x = noised_face(model, t)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    options = {"return_info": True} if iters == 0 else {"return_info": True, "max_iters": iters}
    start = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "not converged" is expected with max_iters
        svd, info = pullback(model, x, t, k=3, jvp_mode=jvp_mode, **options)
    secs = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    params = sum(p.numel() for p in unet.parameters())
    print(json.dumps({"secs": secs, "peak_gib": peak, "base_gib": base, "params": params,
                      "h_shape": list(model.h_shape), "S": svd.S.tolist(), **info}))


def memory_row(iters: int, t: int, threads: int, jvp_mode: str = "auto") -> None:
    what = "to convergence" if iters == 0 else f"{iters} iteration(s) (max_iters={iters})"
    print(f"\nmemory: pullback k=3, google/ddpm-ema-celebahq-256 architecture, random weights, 256 px, {what}, "
          f"jvp_mode={jvp_mode!r}")
    cmd = [sys.executable, __file__, "--memory-child", str(iters), "--t", str(t), "--threads", str(threads),
           "--jvp-mode", jvp_mode]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print("  failed:", done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode)
        return
    r = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  U-Net: {r['params'] / 1e6:.1f} M parameters, h: {tuple(r['h_shape'])}")
    print(f"  peak resident memory {r['peak_gib']:.2f} GiB (after building the model: {r['base_gib']:.2f} GiB); "
          f"goal < 4 GB: {'met' if r['peak_gib'] * 2**30 < 4e9 else 'NOT met'}")
    print(f"  time {r['secs']:.1f} s for {r['iterations']} iteration(s), {r['products']} products "
          f"({r['secs'] / r['products']:.1f} s per product); converged: {r['converged']}, "
          f"residual {r['residual']:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny, bundled, or a diffusers folder for load_model")
    parser.add_argument("--k", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--t", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref-repeats", type=int, default=None, help="runs of the references (default: --repeats)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable timings on a shared CPU)")
    parser.add_argument("--memory-iters", type=int, default=1,
                        help="iterations for the 256 px memory row; 0 = to convergence, -1 = skip the row")
    parser.add_argument("--jvp-mode", default="auto", choices=["auto", "double_vjp", "forward"],
                        help="how our products compute J v (latentlab.jacobians.jacobian_products)")
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        return memory_child(args.memory_child, args.t, args.jvp_mode)

    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}")
    if args.model == "tiny":
        compare(ll.tiny_model(sample_size=32, levels=3), "tiny_model(sample_size=32, levels=3), random weights",
                args.k, args.t, args.repeats, args.ref_repeats or args.repeats, args.jvp_mode)
    else:
        source = None if args.model == "bundled" else args.model
        try:
            model = ll.load_model(source)
        except FileNotFoundError as e:
            print(f"\nskipping --model {args.model}: {e}")
        else:
            name = "bundled faces model" if source is None else source
            compare(model, name, args.k, args.t, args.repeats, args.ref_repeats or args.repeats, args.jvp_mode)
    if args.memory_iters >= 0:
        memory_row(args.memory_iters, args.t, args.threads, args.jvp_mode)


if __name__ == "__main__":
    main()
