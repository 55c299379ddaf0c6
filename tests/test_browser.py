"""The widget editor in a real browser: JupyterLab (Run All) and Voilà, driven by Debian's Chromium.

Each test serves `notebooks/08_widget_editor.ipynb` from a temporary root on a free localhost port
with a fixed token, opens it in headless Chromium (`shutil.which("chromium")`, driven by
playwright with `executable_path`: no browser is downloaded), moves the strength slider with the
keyboard, and checks that the edited image's PNG bytes changed and that the probe's smile reading
moved towards a smile (the notebook opens the smile editor on a frowning face). A screenshot is
saved to `artifacts/browser/` (git-ignored), on failure too. Skipped only when chromium is absent.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_widget_editor.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium")
TOKEN = "latentlab-browser-test"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PRESSES = 10  # ArrowRight presses: strength 0.5 -> 1.5 (slider step 0.1)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(port: int, proc: subprocess.Popen, log: Path, url: str | None = None, timeout: float = 90.0) -> None:
    """Until the port accepts connections (and `url`, if given, answers). Voilà's page is not used as the
    probe: each request of it starts a kernel and runs the notebook."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if url is None:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            else:
                urllib.request.urlopen(url, timeout=5).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"port {port} did not answer after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(argv: list[str], tmp: Path, port: int, ready_url: str | None = None):
    """Run a server we started (its own process group) and stop exactly that group afterwards."""
    env = os.environ | {
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),
    }
    # the news toast would cover the notebook: no fetching of news
    notify = tmp / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notify.parent.mkdir(parents=True, exist_ok=True)
    notify.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    log = tmp / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=tmp / "root", env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for_server(port, proc, log, ready_url)
        yield log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the server we started: it and its kernels
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "root" / NOTEBOOK.name)  # checkpoints and kernels stay out of the repo
    return tmp_path


@contextmanager
def browser_page(name: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            finally:
                browser.close()


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
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].every(p => /\\[\\d+\\]/.test(p.textContent))",
        timeout=300_000)
    page.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                           timeout=300_000)


def test_jupyterlab_run_all_then_keyboard(root: Path):
    port = free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root / 'root'}", "--allow-root",
            "--ServerApp.open_browser=False", "--LabApp.news_url=None"]
    with serve(argv, root, port, f"http://127.0.0.1:{port}/api/status?token={TOKEN}"), browser_page("jupyterlab") as page:
        run_all_cells(page, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
        page.wait_for_selector(".ll-editor .ll-strength .noUi-handle", timeout=120_000)
        move_strength_and_check(page)


def test_voila_without_run_all(root: Path):
    port = free_port()
    argv = [sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            f"--token={TOKEN}"]
    with serve(argv, root, port), browser_page("voila") as page:
        page.goto(f"http://127.0.0.1:{port}/?token={TOKEN}", timeout=300_000)
        page.wait_for_selector(".ll-editor .ll-strength .noUi-handle", timeout=300_000)
        move_strength_and_check(page)
