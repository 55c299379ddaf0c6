"""Serving a notebook (JupyterLab or Voilà) on localhost and opening it in Debian's headless Chromium.

Shared by the browser tests (`tests/test_browser.py`) and the browser latency benchmark
(`benchmarks/widget_browser_latency.py`). The server runs in its own process group from a temporary
root with a fixed token and its own settings folders; playwright drives `shutil.which("chromium")`
through `executable_path`, so no browser is downloaded.

>>> 1024 <= free_port() < 65536
True
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium")
TOKEN = "latentlab-browser-test"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(port: int, proc: subprocess.Popen, log: Path, url: str | None = None,
                    timeout: float = 90.0) -> None:
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
def serve(argv: list[str], tmp: Path, port: int, ready_url: str | None = None, env: dict | None = None):
    """Run a server we started (its own process group, cwd `tmp / "root"`) and stop exactly that group
    afterwards; yields the path of its log."""
    env = (os.environ if env is None else env) | {
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


def voila_argv(notebook: str, port: int) -> list[str]:
    """The command that serves one notebook with Voilà on localhost:port."""
    import sys

    return [sys.executable, "-m", "voila", notebook, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            f"--token={TOKEN}"]


@contextmanager
def browser_page(screenshot: Path | None = None):
    """A page of headless Chromium (1400 x 1000); its screenshot is saved on the way out, on failure too."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise FileNotFoundError("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            try:
                if screenshot is not None:
                    screenshot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshot), full_page=True)
            finally:
                browser.close()
