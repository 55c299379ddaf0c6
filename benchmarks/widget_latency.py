"""The widget editor's latency: from a slider move to the updated image, per method.

    python benchmarks/widget_latency.py [--steps 20] [--preview 5] [--moves 30] [--threads 1]

Drives `latentlab.widgets.Editor` from Python as a user would: for each method it opens the editor
on one face (seed 1), lets it compute what it caches (directions, trajectories), then sets the
strength slider `--moves` times, each time to a new value, and waits for the image. Reported per
method: the median and 95th percentile of the time from setting the value to the preview image
(`--preview` DDIM steps) and to the full image (`--steps`), measured by observing the widget's
status (it says which stage and which request each image belongs to). The floor is a plain
`ddim_sample` of the same lengths (no edit, no widget), timed the same number of times right after
each method's moves, so that it shares their machine load; the load average is printed too. A last row
("drag") sets 10 values 30 ms apart without waiting, as a fast drag does, and times the last move
to its full image: superseded work is dropped, so it costs about one move, not ten.
"""
from __future__ import annotations

import argparse
import os
import re
import threading
import time

import torch

import latentlab as ll
from latentlab.widgets import METHODS, Editor

TARGETS = {"mean difference": "smile", "Asyrp dh": "smile -> +1", "Asyrp f": "smile -> +1"}


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of xs.

    >>> pct([1.0, 2.0, 3.0, 4.0], 50), pct([1.0, 2.0, 3.0, 4.0], 95)
    (2.0, 4.0)
    """
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))]


class StageClock:
    """Records when the editor shows each stage of each request (observing its status widget)."""

    def __init__(self, editor: Editor):
        self.times: dict[tuple[int, str], float] = {}
        self.cv = threading.Condition()
        editor.status.observe(self._seen, names="value")

    def _seen(self, change) -> None:
        m = re.search(r'data-generation="(\d+)" data-stage="(\w+)"', change["new"])
        if m:
            with self.cv:
                self.times[int(m.group(1)), m.group(2)] = time.perf_counter()
                self.cv.notify_all()

    def wait(self, generation: int, stage: str, timeout: float = 60.0) -> float:
        with self.cv:
            ok = self.cv.wait_for(lambda: (generation, stage) in self.times or (generation, "error") in self.times, timeout)
            if not ok or (generation, "error") in self.times:
                raise RuntimeError(f"request {generation} showed no {stage} image")
            return self.times[generation, stage]


def move(editor: Editor, clock: StageClock, value: float, preview: bool) -> tuple[float | None, float]:
    start = time.perf_counter()
    editor.strength.value = value
    gen = editor._generation  # the request this move made
    full = clock.wait(gen, "full") - start
    first = clock.times.get((gen, "preview"))
    return (None if first is None or not preview else first - start), full


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
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, probe = ll.load_model(), ll.load_probe()
    values = [round(0.5 + 0.1 * (i % 16), 1) for i in range(1, args.moves + 1)]  # each differs from the one before
    print(f"bundled model, batch 1, {args.steps} DDIM steps (preview {args.preview}), {args.moves} moves per method, "
          f"torch threads {args.threads}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")
    print(f"| method | preview ({args.preview} steps): median / p95 | full ({args.steps} steps): median / p95 | "
          f"floor: plain ddim_sample {args.preview} / {args.steps} steps, median |")
    print("|---|---|---|---|")
    for method in args.methods:
        editor = Editor(model, probe=probe, steps=args.steps, preview_steps=args.preview, seed=1, method=method,
                        target=TARGETS.get(method), strength=0.4)
        clock = StageClock(editor)
        editor.wait(600)  # the directions and the sample's caches are computed once, before timing
        prev, full = [], []
        for v in values:
            p, f = move(editor, clock, v, args.preview > 0)
            full.append(f)
            if p is not None:
                prev.append(p)
        ptext = f"{1e3 * pct(prev, 50):.0f} / {1e3 * pct(prev, 95):.0f} ms" if prev else "-"
        fl_prev, fl_full = floor(model, args.preview, args.moves) if args.preview else [], floor(model, args.steps, args.moves)
        floor_text = (f"{1e3 * pct(fl_prev, 50):.0f} / " if fl_prev else "- / ") + f"{1e3 * pct(fl_full, 50):.0f} ms"
        print(f"| {method} | {ptext} | {1e3 * pct(full, 50):.0f} / {1e3 * pct(full, 95):.0f} ms | {floor_text} |", flush=True)
        editor.close()
    # a fast drag: 10 values 30 ms apart, then the time from the last one to its full image (Asyrp f:
    # its sampler runs can be cancelled mid-way; Park's guidance, 32 U-Net calls, cannot)
    editor = Editor(model, probe=probe, steps=args.steps, preview_steps=args.preview, seed=1, method="Asyrp f",
                    target=TARGETS["Asyrp f"], strength=0.2)
    clock = StageClock(editor)
    editor.wait(600)
    drags = []
    for r in range(5):
        for i in range(10):
            editor.strength.value = round(0.3 + 0.1 * i + 0.01 * r, 2)
            last = time.perf_counter()
            time.sleep(0.03)
        gen = editor._generation
        drags.append(clock.wait(gen, "full") - last)
    print(f"| drag (Asyrp f, 10 moves 30 ms apart, last move to full image; 5 drags) | | "
          f"{1e3 * pct(drags, 50):.0f} / {1e3 * max(drags):.0f} ms (max) | |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    editor.close()


if __name__ == "__main__":
    main()
