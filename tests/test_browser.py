"""The widget editor in a real browser: JupyterLab (Run All) and Voilà, driven by Debian's Chromium.

Each test serves `notebooks/08_widget_editor.ipynb` from a temporary root on a free localhost port
with a fixed token, opens it in headless Chromium (`shutil.which("chromium")`, driven by
playwright with `executable_path`: no browser is downloaded), moves the strength slider with the
keyboard, and checks that the edited image's PNG bytes changed and that the probe's smile reading
moved towards a smile (the notebook opens the smile editor on a frowning face). A screenshot is
saved to `artifacts/browser/` (git-ignored), on failure too. Skipped only when chromium is absent.
The server and browser helpers are `benchmarks/voila_page.py`'s, shared with the latency benchmark.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from voila_page import CHROMIUM, TOKEN, browser_page, free_port, serve, voila_argv

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_widget_editor.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
PRESSES = 10  # ArrowRight presses: strength 0.5 -> 1.5 (slider step 0.1)
# Run All fits every method notebook 08 measures (128 trajectories, a Jacobian, pullbacks): about a minute
# on an idle 2-core machine, several on a loaded one
RUN_ALL_MS = 900_000

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "root" / NOTEBOOK.name)  # checkpoints and kernels stay out of the repo
    return tmp_path


def png_of(page, selector: str) -> tuple[str, bytes]:
    """The `src` of an image and the bytes behind it (a `blob:` URL after each widget update)."""
    src = page.locator(selector).first.get_attribute("src")
    data = page.evaluate("async (src) => Array.from(new Uint8Array(await (await fetch(src)).arrayBuffer()))", src)
    return src, bytes(data)


def shown(page) -> dict:
    """What the editor shows now: the stage (preview/full), the strength it is for, and smile's readings."""
    stage = page.locator(".ll-status .ll-stage").first
    smile = page.locator('.ll-readout .ll-reading[data-attr="smile"]').first
    return {"stage": stage.get_attribute("data-stage"), "strength": stage.get_attribute("data-strength"),
            "before": float(smile.get_attribute("data-before")), "after": float(smile.get_attribute("data-after"))}


def wait_for_full(page, strength: str, timeout_ms: int = 120_000) -> None:
    page.wait_for_selector(f'.ll-status .ll-stage[data-stage="full"][data-strength="{strength}"]', timeout=timeout_ms)


def move_strength_and_check(page) -> None:
    """The notebook leaves strength at 0.5; ten ArrowRight presses take it to 1.5."""
    wait_for_full(page, "0.50")
    src0, png0 = png_of(page, "img.ll-edited-image")
    before = shown(page)
    page.locator(".ll-strength .noUi-handle").first.focus()
    for _ in range(PRESSES):
        page.keyboard.press("ArrowRight")
    wait_for_full(page, "1.50")
    src1, png1 = png_of(page, "img.ll-edited-image")
    after = shown(page)
    assert src1 != src0 and src1.startswith("blob:")
    assert png1[:8] == b"\x89PNG\r\n\x1a\n" and png1 != png0
    assert after["before"] == before["before"]  # the same face
    # the smile editor pushed harder: the edited face reads a larger smile (probe units, range [-1, 1])
    assert after["after"] > before["after"] + 0.2, (before, after)
    assert page.locator(".ll-message .ll-error").count() == 0


def run_all_cells(page, url: str) -> None:
    """Open a notebook in JupyterLab, Run All once its kernel is up, and wait until every cell has run."""
    page.goto(url, timeout=120_000)
    # Run All only once the kernel is up: its name in the toolbar and the execution indicator idle
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName:has-text('Python')", timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".every(p => /\\[\\d+\\]/.test(p.textContent))", timeout=RUN_ALL_MS)
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=300_000)


def test_jupyterlab_run_all_then_keyboard(root: Path):
    port = free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root / 'root'}", "--allow-root",
            "--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    with serve(argv, root, port, f"http://127.0.0.1:{port}/api/status?token={TOKEN}"), \
            browser_page(ARTIFACTS / "jupyterlab.png") as page:
        run_all_cells(page, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
        page.wait_for_selector(".ll-editor .ll-strength .noUi-handle", timeout=120_000)
        move_strength_and_check(page)


def test_voila_without_run_all(root: Path):
    port = free_port()
    with serve(voila_argv(NOTEBOOK.name, port), root, port), browser_page(ARTIFACTS / "voila.png") as page:
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}", timeout=300_000)
        page.wait_for_selector(".ll-editor .ll-strength .noUi-handle", timeout=300_000)
        move_strength_and_check(page)
