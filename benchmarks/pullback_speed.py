"""Benchmark: `pullback(model, x_t, t, k=3)` on the bundled model, before and after its speed-ups.

"before" is the previous implementation, still selectable: J v by autograd's generic double backward
(`layer_rules=False`) from a random start block (`out_shape=None`). "after" is the default: the
convolutions and group norms recorded with their transposes, and the start J^T Omega, whose vjps
record the pass the jvps reuse. Both run in this process, interleaved (so that a change of machine
load hits both alike): median and fastest of --repeats calls after a warm-up, with the products used,
the singular values' largest relative error against a dense SVD (torch.func Jacobian, float64 SVD) and
the machine's load average (`os.getloadavg`, as `uptime` prints it) before and after. A last table
splits one "after" call into its parts (where the time goes).

    PYTHONPATH=. .venv/bin/python benchmarks/pullback_speed.py                # 2 threads, 20 calls each
    PYTHONPATH=. .venv/bin/python benchmarks/pullback_speed.py --threads 1 --cpu-time
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import latentlab as ll
from latentlab.hspace import h_of_batch
from latentlab.jacobians import jacobian_products, pullback
from latentlab.linalg import dense_jacobian

VARIANTS = {"before": {"layer_rules": False, "out_shape": None}, "after": {}}


def noised_face(model: ll.Model, t: int, seed: int = 0) -> torch.Tensor:
    """x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) noise for one rendered face x_0."""
    x0 = ll.render_faces(1, seed=seed, size=model.sample_shape[-1])[0][0]
    a = model.scheduler.alphas_cumprod[t]
    return a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))


def dense_singular_values(model: ll.Model, x: torch.Tensor, t: int, k: int) -> torch.Tensor:
    with ll.forward_ad(model):
        J = dense_jacobian(lambda z: h_of_batch(model, z[None], torch.tensor([t]))[0], x, chunk_size=128)
    return torch.linalg.svdvals(J.double())[:k]


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def parts(model: ll.Model, x: torch.Tensor, t: int, clock) -> list[tuple[str, float]]:
    """One default pullback split into its products (timed by wrapping them) and the rest."""
    jvp, vjp, in_shape = jacobian_products(model, x, t, vjp_first=True)  # as pullback calls it
    times = {"vjp": [], "jvp": []}

    def timed(name, fn):
        def call(v):
            start = clock()
            out = fn(v)
            times[name].append(clock() - start)
            return out
        call.takes_batches = True
        return call

    from latentlab.linalg import topk_svd

    start = clock()
    topk_svd(timed("jvp", jvp), timed("vjp", vjp), in_shape, 3, out_shape=model.h_shape)
    total = clock() - start
    first_vjp, first_jvp = times["vjp"][0], times["jvp"][0]
    vjps, jvps = times["vjp"][1:], times["jvp"][1:]
    return [("forward pass recorded + first vjp (start J^T Omega, records J^T's graph)", first_vjp),
            ("first jvp", first_jvp),
            (f"{len(jvps)} more jvps (blocks of 3), median {statistics.median(jvps) * 1e3:.1f} ms", sum(jvps)),
            (f"{len(vjps)} more vjps (blocks of 3), median {statistics.median(vjps) * 1e3:.1f} ms", sum(vjps)),
            ("the SVD's own work (Rayleigh-Ritz, Gram-Schmidt, checks)", total - sum(times["vjp"]) - sum(times["jvp"])),
            ("total", total)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--t", type=int, default=600)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by process CPU time (steadier on a loaded machine with --threads 1)")
    parser.add_argument("--no-dense", action="store_true", help="skip the dense SVD (about 10 s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.cpu_time else time.perf_counter
    model = ll.load_model()
    x = noised_face(model, args.t)
    true = None if args.no_dense else dense_singular_values(model, x, args.t, args.k)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {'CPU' if args.cpu_time else 'wall'} time; "
          f"bundled model, x: {model.sample_shape}, h: {model.h_shape}, t = {args.t}, k = {args.k}")
    print(f"load average before: {load()}")
    times = {name: [] for name in VARIANTS}
    info = {}
    for name, options in VARIANTS.items():  # warm-up: torch's first-call costs, the hooks
        pullback(model, x, args.t, args.k, **options)
    for _ in range(args.repeats):
        for name, options in VARIANTS.items():
            start = clock()
            svd, info[name] = pullback(model, x, args.t, args.k, return_info=True, **options)
            times[name].append(clock() - start)
            info[name]["S"] = svd.S
    print(f"load average after:  {load()}")
    header = f"{'pullback':<10}{'median s':>10}{'fastest s':>11}{'products':>10}{'S rel err':>11}{'speedup':>9}"
    print(header)
    print("-" * len(header))
    base = statistics.median(times["before"])
    for name in VARIANTS:
        med = statistics.median(times[name])
        err = "" if true is None else f"{((info[name]['S'].double() - true) / true).abs().max().item():11.1e}"
        print(f"{name:<10}{med:>10.3f}{min(times[name]):>11.3f}{info[name]['products']:>10}{err:>11}"
              f"{base / med:>8.2f}x")
    print("\nwhere the time of one 'after' call goes:")
    for what, secs in parts(model, x, args.t, clock):
        print(f"  {secs * 1e3:7.1f} ms  {what}")


if __name__ == "__main__":
    main()
