"""The course's form, counted: each numbered notebook in `notebooks/` is a lecture a lecturer can teach
from (at most 1,500 words of prose, a "Key idea" opening, a "What to remember" close, a link to its
lab), each lab in `notebooks/labs/` belongs to a lecture, and every lecture, lab and solution prints
no line wider than 100 characters, draws its figures at >= 120 dpi and marks nbval's checked cells
with cell tags rather than comments. The notebooks are read as executed (`.ipynb`)."""
import base64
import re
import struct
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LECTURES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
LABS = sorted((NOTEBOOKS / "labs").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]_*.ipynb"))
ALL = LECTURES + LABS + SOLUTIONS
MAX_WORDS, MAX_WIDTH, MIN_DPI = 1500, 100, 119.5
# Words a student should never meet: the course's own development history and CI budget notes.
HISTORY = re.compile(r"\ban earlier version\b|\ba reviewer\b|\bbudget note|\bBudget\.|## Budget|\bCI budget\b|"
                     r"\bwas re-run by\b", re.I)


def _id(p: Path) -> str:
    return str(p.relative_to(NOTEBOOKS))


def _read(p: Path):
    return nbformat.read(p, as_version=4)


def prose_words(nb) -> int:
    """Words of prose as a reader meets them: the markdown cells' whitespace-separated tokens (LaTeX,
    code spans and numbers included) and the words of the code cells' comments."""
    return sum(len(c.source.split()) if c.cell_type == "markdown" else
               len(" ".join(re.findall(r"#\s?(.*)", c.source)).split())
               for c in nb.cells if c.cell_type != "raw")


def printed_lines(nb):
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            texts = [o.get("text", "")] if o.output_type == "stream" else [o.get("data", {}).get("text/plain", "")]
            if o.output_type == "error":
                texts = []
            for t in texts:
                for line in ("".join(t) if isinstance(t, list) else t).splitlines():
                    yield i, line


def png_dpis(nb):
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            png = o.get("data", {}).get("image/png")
            if png:
                b = base64.b64decode(png)
                k = b.find(b"pHYs")
                yield i, (struct.unpack(">I", b[k + 4:k + 8])[0] * 0.0254 if k > 0 else 0.0)


def test_every_lecture_has_its_lab_and_every_lab_its_lecture():
    assert LECTURES, f"no lectures in {NOTEBOOKS}"
    lectures = {p.name[:2] for p in LECTURES}
    labs = {p.name[:2] for p in LABS}
    assert lectures == labs, (f"lectures without a lab: {sorted(lectures - labs)}; "
                              f"labs without a lecture: {sorted(labs - lectures)}")


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_form(path: Path):
    nb = _read(path)
    words = prose_words(nb)
    assert words <= MAX_WORDS, f"{path.name}: {words} words of prose, at most {MAX_WORDS}"
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any("Key idea" in s for s in md[:3]), f"{path.name}: no 'Key idea' in its first markdown cells"
    assert any("What to remember" in s for s in md[-3:]), f"{path.name}: no 'What to remember' at its close"
    assert any(f"labs/{path.name[:2]}_" in s for s in md), f"{path.name}: no link to its lab in labs/"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_printed_lines_fit(path: Path):
    wide = [(i, len(line)) for i, line in printed_lines(_read(path)) if len(line) > MAX_WIDTH]
    assert not wide, f"{path.name}: printed lines over {MAX_WIDTH} characters (cell, width): {wide[:8]}"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_figures_at_lecture_resolution(path: Path):
    low = [(i, round(d)) for i, d in png_dpis(_read(path)) if d < MIN_DPI]
    assert not low, (f"{path.name}: figures under 120 dpi (cell, dpi): {low[:8]}; "
                     f"call latentlab.course.plot.lecture_style() at the top")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_nbval_marks_are_cell_tags(path: Path):
    nb = _read(path)
    comments = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "NBVAL_" in c.source]
    assert not comments, (f"{path.name}: nbval markers written as comments in cells {comments}: "
                          f"use cell tags (`# %% tags=[\"nbval-check-output\"]` in the source)")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_no_development_history(path: Path):
    hits = [m.group(0) for c in _read(path).cells if c.cell_type == "markdown" for m in HISTORY.finditer(c.source)]
    assert not hits, f"{path.name}: development history in student text: {hits}"


def test_nothing_points_outside_the_repository():
    out = subprocess.run(["git", "grep", "-n", "-I", "-E", r"(^|[^a-z_])shared/|seed-slides|papers\.md", "--",
                          ":!tests/test_lectures.py"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode in (0, 1), out.stderr
    assert not out.stdout, f"text pointing outside the repository:\n{out.stdout[:2000]}"
