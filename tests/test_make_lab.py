"""`make lab` as a newcomer runs it: as root in a container, where plain `jupyter lab` refuses to start
("Running as root is not recommended. Use --allow-root to bypass."). The Makefile adds --allow-root
only for root; this test starts `make lab` itself, opens notebook 01 in Debian's Chromium, runs it
to the end and checks that no cell shows an error. It reuses the browser harness of the widget tests
(`benchmarks/voila_page.py`, `run_all_cells`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from test_browser import ARTIFACTS, run_all_cells
from voila_page import CHROMIUM, TOKEN, browser_page, free_port, serve

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "01_pushforward_and_svd.ipynb"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                          "(apt-get install chromium)")]


def test_make_lab_serves_the_course_and_notebook_01_runs_without_error(tmp_path: Path):
    (tmp_path / "root").mkdir()  # the harness's working directory; make runs in the repository
    # JupyterLab would autosave the executed notebook into the repository: not in a test
    docmanager = tmp_path / "settings" / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    docmanager.parent.mkdir(parents=True, exist_ok=True)
    docmanager.write_text(json.dumps({"autosave": False}))
    source = ROOT / "notebooks" / NOTEBOOK
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    checkpoints = ROOT / "notebooks" / ".ipynb_checkpoints"  # JupyterLab makes one when a notebook opens
    had_checkpoints = checkpoints.exists()
    port = free_port()
    venv = Path(sys.executable).parent.parent  # the environment running the tests, whatever its name
    if not (venv / ".installed").is_file():
        pytest.skip(f"{venv} was not made by `make install`, so `make lab` would build a new environment")
    args = (f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 "
            f"--IdentityProvider.token={TOKEN} --LabApp.news_url=None")
    argv = ["make", "-C", str(ROOT), "--no-print-directory", "lab", f"VENV={venv}", f"LAB_ARGS={args}"]
    if os.geteuid() == 0:  # the case the Makefile must handle: `make lab` as root
        assert "--allow-root" in os.popen(f"make -C {ROOT} -n lab VENV={venv}").read()
    try:
        with serve(argv, tmp_path, port, f"http://127.0.0.1:{port}/api/status?token={TOKEN}"), \
                browser_page(ARTIFACTS / "make_lab_01.png") as page:
            # JupyterLab shows an error as stderr text with the traceback (warnings are stderr too, without one)
            errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                                  has_text=re.compile(r"Traceback|\w+Error\b"))
            try:
                run_all_cells(page, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={TOKEN}")
            except PlaywrightTimeout:  # Run All stops at a cell that raises: say which error, not the timeout
                assert errors.count() == 0, errors.first.inner_text()[:2000]
                raise
            cells = page.locator(".jp-CodeCell").count()
            assert cells > 5, f"notebook 01 did not open: {cells} code cells"
            assert errors.count() == 0, errors.first.inner_text()[:2000]
            assert page.locator(".jp-OutputArea-output").count() > 0  # it ran and showed something
    finally:
        if not had_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest, "the test changed the committed notebook"
