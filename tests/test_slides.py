"""`make slides` builds one reveal.js deck per lecture from the executed lecture notebook; each deck, opened
in Debian's Chromium, has a slide per section heading, every figure of the lecture, and no error output.
The slide metadata is the sources' own (tools/slide_tags.py), checked here to be up to date."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from voila_page import CHROMIUM, browser_page

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_slide_metadata_is_up_to_date():
    sources = [str(p.with_suffix(".py")) for p in LECTURES]
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "slide_tags.py"), "--check", *sources],
                         capture_output=True, text=True)
    assert out.returncode == 0, f"run `python tools/slide_tags.py notebooks/NN_*.py`, then sync:\n{out.stdout}"


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slides")
    venv = Path(sys.executable).parent.parent
    run = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "slides", f"VENV={venv}",
                          f"SLIDES={out}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_every_lecture_has_a_deck_with_its_slides_and_figures(decks: Path):
    problems = []
    with browser_page() as page:
        for nb_path in LECTURES:
            deck = decks / f"{nb_path.stem}.slides.html"
            if not deck.is_file():
                problems.append(f"{deck.name}: not built")
                continue
            nb = nbformat.read(nb_path, as_version=4)
            headings = sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
            figures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
            page.goto(deck.as_uri(), wait_until="domcontentloaded")
            sections = page.locator(".reveal .slides > section").count()
            images = page.locator("section img").count()
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                                  ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count()
            if sections < max(headings, 3):
                problems.append(f"{deck.name}: {sections} slides for {headings} section headings")
            if images != figures:
                problems.append(f"{deck.name}: {images} figures in the deck, {figures} in the lecture")
            if errors:
                problems.append(f"{deck.name}: {errors} error outputs")
    assert not problems, "\n".join(problems)
