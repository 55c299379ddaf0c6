"""Every notebook is a jupytext percent script paired with its executed .ipynb: the two must hold
the same cells, or the lesson a reviewer read in the diff is not the one nbval ran."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.rglob("[0-9][0-9]_*.py") if ".ipynb_checkpoints" not in p.parts)


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_every_notebook_has_a_source_and_the_reverse():
    assert SOURCES, f"no notebook sources in {NOTEBOOKS}"
    ipynbs = sorted(p for p in NOTEBOOKS.rglob("[0-9][0-9]_*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    assert [p.with_suffix("") for p in ipynbs] == [p.with_suffix("") for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_pair_is_in_sync(source: Path):
    script, notebook = jupytext.read(source), jupytext.read(source.with_suffix(".ipynb"))
    assert notebook.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", (
        f"{source.with_suffix('.ipynb').name} is not paired: run `jupytext --set-formats ipynb,py:percent` on it")
    a, b = _cells(script), _cells(notebook)
    diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    assert a == b, (f"{source.name} and its .ipynb differ from cell {diff} on ({len(a)} cells against {len(b)}): "
                    f"edit the .py, then `make notebooks NB={source.name}` to sync and execute")
