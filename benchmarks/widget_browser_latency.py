"""The widget editor's latency as a user sees it: Voilà in Chromium, arrow keys on the strength slider.

    python benchmarks/widget_browser_latency.py [--presses 12] [--methods "Asyrp f" "Haas PCA" ...]

Serves notebook 08 with Voilà (a temporary root, a free localhost port; `benchmarks/voila_page.py`),
opens it in Debian's headless Chromium and, per method (chosen in the page's method dropdown, then
left to fit what it needs), presses an arrow key on the focused strength slider `--presses` times,
each time waiting for the full image and `--pause` seconds more. In the page a keydown listener
stamps each press and MutationObservers stamp every change of the status line and of the edited
image. Reported per method, medians (and max) over the presses, in ms:

- preview, full: press -> the status line shows that stage for the new strength (the images and the
  readings are set before the status line, so they are on the page by then);
- kernel: the seconds the status line itself prints (from the kernel receiving the value to handing
  the image over), so that `full - kernel` is the time spent between the page and the kernel;
- images: the number of edited-image updates the page received per press.

`--notebook` and `--pythonpath` serve another version (e.g. the code before a change, unpacked from
`git archive` with a link to data/), to measure before and after under the same machine load.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from voila_page import TOKEN, browser_page, free_port, serve, voila_argv

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_widget_editor.ipynb"
METHODS = ["Asyrp f", "Asyrp dh", "mean difference", "paired", "Haas PCA", "Haas Jacobian", "Haas supervised",
           "Park pullback (guidance)", "Park pullback (move)", "Park transported", "random"]

INSTRUMENT = """() => {
  const ll = window.__ll = {presses: [], events: []};
  document.addEventListener('keydown', e => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') ll.presses.push(performance.now());
  }, true);
  const status = document.querySelector('.ll-status');
  new MutationObserver(() => {
    const st = status.querySelector('.ll-stage');
    if (st) ll.events.push({t: performance.now(), kind: 'status', stage: st.dataset.stage,
                            strength: st.dataset.strength, text: st.textContent});
  }).observe(status, {subtree: true, childList: true, attributes: true, characterData: true});
  const img = document.querySelector('img.ll-edited-image');
  new MutationObserver(() => ll.events.push({t: performance.now(), kind: 'image'}))
    .observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def wait_for_stage(page, stage: str, strength: str, timeout_ms: int) -> None:
    page.wait_for_selector(f'.ll-status .ll-stage[data-stage="{stage}"][data-strength="{strength}"]',
                           timeout=timeout_ms)


def current_strength(page) -> float:
    return float(page.locator(".ll-status .ll-stage").first.get_attribute("data-strength"))


def measure(page, method: str, presses: int, key: str, pause: float) -> dict:
    """Choose `method`, wait for its first full image (its fit), then time `presses` presses of `key`."""
    strength = current_strength(page)
    if page.locator(".ll-method select").first.input_value() != method:
        generation = int(page.locator(".ll-status .ll-stage").first.get_attribute("data-generation"))
        page.locator(".ll-method select").first.select_option(method)
        page.wait_for_function(  # the new method's first full image, after its fit
            "g => { const st = document.querySelector('.ll-status .ll-stage');"
            " return st && +st.dataset.generation > g && st.dataset.stage === 'full'; }", arg=generation,
            timeout=900_000)
    time.sleep(pause)
    handle = page.locator(".ll-strength .noUi-handle").first
    handle.focus()
    rows = []
    for _ in range(presses):
        strength = round(strength + (0.1 if key == "ArrowRight" else -0.1), 2)
        n_press, n_event = page.evaluate("() => [__ll.presses.length, __ll.events.length]")
        page.keyboard.press(key)
        wait_for_stage(page, "full", f"{strength:.2f}", 120_000)
        time.sleep(pause)
        press, events = page.evaluate(f"() => [__ll.presses[{n_press}], __ll.events.slice({n_event})]")
        row = {"images": sum(e["kind"] == "image" for e in events)}
        for e in events:
            if e["kind"] == "status" and e["strength"] == f"{strength:.2f}" and e["stage"] not in row:
                row[e["stage"]] = e["t"] - press
                if e["stage"] == "full":
                    row["kernel"] = 1e3 * float(re.search(r"([\d.]+) s$", e["text"]).group(1))
        rows.append(row)
    return {k: [r[k] for r in rows if k in r] for k in ("preview", "full", "kernel", "images")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=12)
    ap.add_argument("--pause", type=float, default=0.3, help="seconds after each full image before the next press")
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--notebook", type=Path, default=NOTEBOOK)
    ap.add_argument("--pythonpath", default=None, help="put this first on the kernel's PYTHONPATH")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    print(f"Voila + headless Chromium, {args.presses} presses per method, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at the start ({args.notebook.name})\n")
    print("| method | preview: median / max | full: median / max | kernel says (full) | page - kernel | "
          "image updates per press |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "root").mkdir()
        shutil.copy(args.notebook, tmp / "root" / NOTEBOOK.name)
        port = free_port()
        with serve(voila_argv(NOTEBOOK.name, port), tmp, port, env=env), browser_page() as page:
            page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}", timeout=600_000)
            page.wait_for_selector(".ll-editor .ll-strength .noUi-handle", timeout=600_000)
            wait_for_stage(page, "full", f"{current_strength(page):.2f}", 600_000)
            page.evaluate(INSTRUMENT)
            for i, method in enumerate(args.methods):
                r = measure(page, method, args.presses, "ArrowRight" if i % 2 == 0 else "ArrowLeft", args.pause)

                def cell(xs: list[float]) -> str:
                    return f"{statistics.median(xs):.0f} / {max(xs):.0f}" if xs else "-"
                gap = statistics.median(r["full"]) - statistics.median(r["kernel"]) if r["kernel"] else float("nan")
                print(f"| {method} | {cell(r['preview'])} | {cell(r['full'])} | {cell(r['kernel'])} | {gap:.0f} | "
                      f"{statistics.median(r['images']):.0f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
