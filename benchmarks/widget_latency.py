"""The widget editor's latency in the kernel: from a slider move to the updated image, per method.

    python benchmarks/widget_latency.py [--steps 20] [--preview 5] [--moves 30] [--threads 1] [--methods ...]

Drives `latentlab.course.widget.EditWidget` from Python as a user would: one editor on one face
(seed 1); per method it picks the method in the dropdown, lets the session fit what it needs, then
sets the strength slider `--moves` times, each time to a new value, and waits for the image.
Reported per method: the median and 95th percentile of the time from setting the value to the
preview (`--preview` DDIM steps) and to the full image (`--steps`), observed on the editor's status
line (it says which stage and which request each image belongs to), the U-Net work per move
(passes and sample evaluations: an asymmetric step is one pass of 2 samples) and the process's CPU
time per move (with one torch thread, close to the wall time the move would take on an idle core:
the number to compare across machine loads). The floor is a plain
`ddim_sample` of the same lengths (no edit, no widget), timed right after each method's moves so that
it shares their machine load; the load average is printed too. A last row ("drag") sets 10 values
30 ms apart without waiting, as a fast drag does, and times the last move to its full image:
superseded work stops within one U-Net call, so it costs about one move, not ten.
"""
from __future__ import annotations

import argparse
import os
import re
import threading
import time

import torch

import latentlab as ll
from latentlab.course.widget import EditWidget
from latentlab.methods import METHODS


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of xs.

    >>> pct([1.0, 2.0, 3.0, 4.0], 50), pct([1.0, 2.0, 3.0, 4.0], 95)
    (2.0, 4.0)
    """
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))]


class StageClock:
    """Records when the editor shows each stage of each request (observing its status line)."""

    def __init__(self, editor: EditWidget):
        self.times: dict[tuple[int, str], float] = {}
        self.cv = threading.Condition()
        editor.status.observe(self._seen, names="value")

    def _seen(self, change) -> None:
        m = re.search(r'data-generation="(\d+)" data-stage="(\w+)"', change["new"])
        if m:
            with self.cv:
                self.times[int(m.group(1)), m.group(2)] = time.perf_counter()
                self.cv.notify_all()

    def wait(self, generation: int, stage: str, timeout: float = 600.0) -> float:
        with self.cv:
            ok = self.cv.wait_for(lambda: (generation, stage) in self.times or (generation, "error") in self.times,
                                  timeout)
            if not ok or (generation, "error") in self.times:
                raise RuntimeError(f"request {generation} showed no {stage} image")
            return self.times[generation, stage]


class UNetWork:
    """Counts U-Net passes and the samples they evaluate (a forward pre-hook, any thread)."""

    def __init__(self, model):
        self.passes = self.samples = 0
        model.unet.register_forward_pre_hook(self._count)

    def _count(self, module, args) -> None:
        self.passes += 1
        self.samples += args[0].shape[0]


def move(editor: EditWidget, clock: StageClock, value: float) -> tuple[float | None, float]:
    start = time.perf_counter()
    editor.strength.value = value
    gen = editor.session.generation  # the request this move made
    full = clock.wait(gen, "full") - start
    first = clock.times.get((gen, "preview"))
    return (None if first is None else first - start), full


def floor(model, steps: int, n: int) -> list[float]:
    x_T = torch.randn((1, *model.sample_shape), generator=torch.Generator().manual_seed(1))
    ll.ddim_sample(model, x_T, steps, progress=False)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        ll.ddim_sample(model, x_T, steps, progress=False)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--preview", type=int, default=5)
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the notebooks use 1 on the shared 2 cores)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, probe = ll.load_model(), ll.load_probe()
    values = [round(0.5 + 0.1 * (i % 16), 1) for i in range(1, args.moves + 1)]  # each differs from the one before
    print(f"bundled model, batch 1, {args.steps} DDIM steps (preview {args.preview}), {args.moves} moves per method, "
          f"torch threads {args.threads}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")
    print(f"| method | preview ({args.preview} steps): median / p95 | full ({args.steps} steps): median / p95 | "
          f"U-Net per move: passes / samples | CPU per move | floor: plain ddim_sample {args.preview} / {args.steps} "
          f"steps, wall / CPU |")
    print("|---|---|---|---|---|---|")
    editor = EditWidget(model, probe=probe, steps=args.steps, preview_steps=args.preview, seed=1, method="Asyrp f",
                        target="smile -> +1", strength=0.4)
    clock = StageClock(editor)
    work = UNetWork(model)
    editor.wait(900)
    for method in args.methods:
        editor.method.value = method
        clock.wait(editor.session.generation, "full", 900)  # the fit and the face's caches, before timing
        prev, full = [], []
        passes, samples, cpu = work.passes, work.samples, time.process_time()
        for v in values:
            p, f = move(editor, clock, v)
            full.append(f)
            if p is not None:
                prev.append(p)
        cpu = 1e3 * (time.process_time() - cpu) / len(values)
        per_move = f"{(work.passes - passes) / len(values):.0f} / {(work.samples - samples) / len(values):.0f}"
        ptext = f"{1e3 * pct(prev, 50):.0f} / {1e3 * pct(prev, 95):.0f} ms" if prev else "-"
        fl_prev = floor(model, args.preview, args.moves) if args.preview else []
        fl_cpu = time.process_time()
        fl_full = floor(model, args.steps, args.moves)
        fl_cpu = 1e3 * (time.process_time() - fl_cpu) / (args.moves + 1)
        floor_text = ((f"{1e3 * pct(fl_prev, 50):.0f} / " if fl_prev else "- / ") + f"{1e3 * pct(fl_full, 50):.0f} ms"
                      f" / CPU {fl_cpu:.0f} ms")
        print(f"| {method} | {ptext} | {1e3 * pct(full, 50):.0f} / {1e3 * pct(full, 95):.0f} ms | {per_move} | "
              f"{cpu:.0f} ms | {floor_text} |", flush=True)
    # a fast drag: 10 values 30 ms apart, then the time from the last one to its full image
    editor.method.value = "Asyrp f"
    clock.wait(editor.session.generation, "full", 900)
    drags = []
    for r in range(5):
        for i in range(10):
            editor.strength.value = round(0.3 + 0.1 * i + 0.01 * r, 2)
            last = time.perf_counter()
            time.sleep(0.03)
        drags.append(clock.wait(editor.session.generation, "full") - last)
    print(f"| drag (Asyrp f, 10 moves 30 ms apart, last move to full image; 5 drags) | | "
          f"{1e3 * pct(drags, 50):.0f} / {1e3 * max(drags):.0f} ms (max) | | |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    editor.close()


if __name__ == "__main__":
    main()
