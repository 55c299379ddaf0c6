"""Data-parallel analyses: shard a batch of samples over processes, gather the results in order.

The analyses that grow with the number of samples (`h_trajectory` and so `pca_directions` and the
supervised directions, `pullback_spectra`, `train_editor`) call these helpers. Started by
Hugging Face accelerate on several processes (GPUs, machines, or CPU processes), each process works
on its contiguous share of the samples and every process receives the whole result, in the
samples' order, so the result equals the one-process run (float rounding of other batch sizes
apart). On one process every helper is the identity: nothing changes, nothing is initialised.

    accelerate launch --multi_gpu --num_processes 4 my_analysis.py   # 4 GPUs of one machine
    accelerate launch --multi_gpu --num_processes 2 my_analysis.py   # no GPU: 2 CPU processes (gloo)

(`accelerate launch --cpu` starts several CPU processes only through mpirun; `--multi_gpu` starts
them through torchrun, and without a GPU they talk over gloo. `torchrun --nproc_per_node 2` works too.)

Inside the script, load the model on `process_device()` (each process's own GPU). Every process
must make the same calls with the same inputs (the same generator seed, so that all of them build
the same full batch `x_T` before taking their share): the helpers are collectives, and a process
that skips one leaves the others waiting. Only deterministic sampling (eta = 0) is sharded.

References
- Li et al. (2020), "PyTorch Distributed: Experiences on Accelerating Data Parallel Training", VLDB
  (gradient averaging by all-reduce, which `all_mean_` does for `train_editor`).
- Hugging Face accelerate: `PartialState` sets up the process group from `accelerate launch`'s
  environment (https://huggingface.co/docs/accelerate).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["world", "is_main", "process_device", "shard_bounds", "shard", "gather", "gather_object", "all_mean_",
           "map_samples"]


def _launched() -> bool:
    """True when this process is one of several (started by `accelerate launch`, torchrun, ...)."""
    return dist.is_available() and (dist.is_initialized() or int(os.environ.get("WORLD_SIZE", "1")) > 1)


def _state():
    from accelerate import PartialState

    # Initialises the process group from the launcher's environment, once. Without a GPU, accelerate
    # sets up CPU processes (gloo) only when asked to: cpu=True (else it runs each process alone).
    return PartialState(cpu=not torch.cuda.is_available())


def world() -> tuple[int, int]:
    """`(rank, number of processes)`; `(0, 1)` on a single process.

    >>> world()
    (0, 1)
    """
    if not _launched():
        return 0, 1
    s = _state()
    return s.process_index, s.num_processes


def is_main() -> bool:
    """Whether this is process 0 (the one that prints, plots and saves)."""
    return world()[0] == 0


def process_device() -> torch.device:
    """The device this process should use: its own GPU under a multi-GPU launch, else CUDA if present, else the CPU.

    >>> process_device().type in ("cpu", "cuda", "mps")
    True
    """
    if _launched():
        return _state().device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def shard_bounds(n: int, rank: int | None = None, size: int | None = None) -> tuple[int, int]:
    """The `[start, stop)` of process `rank`'s contiguous share of n samples (sizes differ by at most 1).

    >>> [shard_bounds(10, r, 3) for r in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a number of samples (an int >= 0), got {n!r}")
    r, s = world() if rank is None else (rank, size)
    if s is None or not 0 <= r < s:
        raise ValueError(f"rank must lie in [0, size), got rank={r!r}, size={s!r}")
    base, extra = divmod(n, s)
    start = r * base + min(r, extra)
    return start, start + base + (r < extra)


def shard(x: Tensor) -> Tensor:
    """This process's contiguous share of `x` along axis 0 (all of `x` on one process).

    >>> shard(torch.arange(5)).tolist()
    [0, 1, 2, 3, 4]
    """
    if not isinstance(x, Tensor) or x.dim() == 0:
        raise ValueError("x must be a tensor with samples on axis 0, "
                         f"got {type(x).__name__ if not isinstance(x, Tensor) else 'a 0-d tensor'}")
    start, stop = shard_bounds(len(x))
    return x if (start, stop) == (0, len(x)) else x[start:stop]


def gather(local: Tensor, n: int) -> Tensor:
    """Every process's share (`shard`'s split of n samples), concatenated in rank order, on every process.

    Each share is padded to the largest before the all-gather (collectives need equal shapes), then
    cut back; the result is on `local`'s device. On one process, `local` itself.

    >>> gather(torch.ones(3, 2), 3).shape
    torch.Size([3, 2])
    """
    rank, size = world()
    start, stop = shard_bounds(n, rank, size)
    if not isinstance(local, Tensor) or local.dim() == 0 or len(local) != stop - start:
        got = tuple(local.shape) if isinstance(local, Tensor) else type(local).__name__
        raise ValueError(f"local must be this process's share of n = {n} samples ({stop - start} rows), got {got}")
    if size == 1:
        return local
    device = _state().device if dist.get_backend() == "nccl" else local.device  # NCCL gathers on the GPU only
    rows = -(-n // size)  # the largest share
    padded = torch.zeros(rows, *local.shape[1:], dtype=local.dtype, device=device)
    padded[: len(local)] = local.to(device)
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded.contiguous())
    pieces = [p[: b - a] for p, (a, b) in zip(parts, (shard_bounds(n, r, size) for r in range(size)))]
    return torch.cat(pieces).to(local.device)


def map_samples(fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """`fn(x)` computed data-parallel: each process applies `fn` to its share of `x`, every process gets
    the whole output, in order. `fn` must treat samples independently (a deterministic sampler, an
    edit, a per-sample measurement), so that its output on a share is the share of its output.

    >>> map_samples(lambda xs: 2 * xs, torch.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable (samples) -> outputs, got {type(fn).__name__}")
    local = shard(x)
    out = fn(local)
    if not isinstance(out, Tensor) or out.dim() == 0 or len(out) != len(local):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"fn must return one output per sample ({len(local)} rows for {len(local)} samples), "
                         f"got {got}")
    return gather(out, len(x))


def gather_object(obj: Any) -> list[Any]:
    """One picklable object from every process, in rank order (e.g. per-sample result records).

    >>> gather_object({"n": 3})
    [{'n': 3}]
    """
    if world()[1] == 1:
        return [obj]
    out: list[Any] = [None] * world()[1]
    dist.all_gather_object(out, obj)
    return out


def all_mean_(tensors: Iterable[Tensor | None]) -> None:
    """Average tensors in place over the processes (gradients: data-parallel training). No-op on one process."""
    _, size = world()
    if size == 1:
        return
    nccl = dist.get_backend() == "nccl"
    for t in tensors:
        if t is None:
            continue
        buf = t.to(_state().device) if nccl else t
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        t.copy_(buf / size)
