"""The shipped runs behind the numbers a lecture states.

A lecture quotes figures measured on many faces (N >= 256 where a benchmark makes that in under an
hour on one core); a benchmark script measures them once and writes them with `save_run` to
`data/runs/<name>.json`, together with the command that rebuilds the file. The lecture reads them
with `load_run` and re-runs one row live, checking with `same_row` that it gives the shipped numbers.

A run file is JSON: `{"name", "command", "n_faces", "seed", "rows": [{...}, ...], "notes"}`; each
row is a flat dict of numbers and strings (a table's row: pandas reads `rows` directly).
"""
from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RUNS", "rebuild_command", "save_run", "load_run", "run_table", "same_row"]

RUNS = Path(__file__).resolve().parents[2] / "data" / "runs"


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ValueError(f"name must be a run's file name without folder or suffix (e.g. 'asyrp_editors'), "
                         f"got {name!r}")
    return name


def rebuild_command(script: str, argv: Sequence[str] | None = None) -> str:
    """The shell command that reruns `script` (a path from the repository root) with `argv` (default:
    this process's arguments) on one thread: what `save_run` and the shipped files record as `command`.

    >>> rebuild_command("benchmarks/demo.py", ["--n", "8", "two words"])
    "OMP_NUM_THREADS=1 python benchmarks/demo.py --n 8 'two words'"
    """
    if not isinstance(script, str) or not script.strip():
        raise ValueError(f"script must be the script's path from the repository root, got {script!r}")
    return shlex.join(["OMP_NUM_THREADS=1", "python", script, *(sys.argv[1:] if argv is None else argv)])


def save_run(name: str, rows: Sequence[Mapping[str, Any]], *, command: str, n_faces: int, seed: int,
             notes: str = "", folder: str | Path | None = None) -> Path:
    """Write a run to `data/runs/<name>.json` (or `folder`) and return the path.

    `command` is the shell command that rebuilds the file, run from the repository root.

    >>> import tempfile
    >>> p = save_run("demo", [{"attr": "smile", "rate": 0.5}], command="python -c 0", n_faces=2, seed=0,
    ...              folder=tempfile.mkdtemp())
    >>> load_run("demo", folder=p.parent)["rows"]
    [{'attr': 'smile', 'rate': 0.5}]
    """
    _check_name(name)
    if not isinstance(command, str) or not command.strip():
        raise ValueError(f"command must be the shell command that rebuilds the run, got {command!r}")
    rows = [dict(r) for r in rows]
    for i, r in enumerate(rows):
        bad = {k: v for k, v in r.items() if not isinstance(v, (str, int, float, bool)) and v is not None}
        if bad:
            raise TypeError(f"rows[{i}] must hold only numbers, strings, booleans or None; "
                            f"got {', '.join(f'{k}: {type(v).__name__}' for k, v in bad.items())}")
    folder = RUNS if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"name": name, "command": command, "n_faces": int(n_faces), "seed": int(seed), "notes": notes,
               "rows": rows}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def load_run(name: str, *, folder: str | Path | None = None) -> dict[str, Any]:
    """The shipped run `name`: its `command`, `n_faces`, `seed`, `notes` and `rows`.

    >>> load_run("no such run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: no shipped run named 'no such run' ...
    """
    _check_name(name)
    folder = RUNS if folder is None else Path(folder)
    path = folder / f"{name}.json"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.json"))
        raise FileNotFoundError(f"no shipped run named {name!r} ({path} does not exist); shipped runs: {have}")
    try:
        run = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); rebuild it with the command in its benchmark") from e
    missing = {"name", "command", "n_faces", "seed", "rows"} - set(run)
    if missing:
        raise ValueError(f"{path} is not a shipped run: it lacks {sorted(missing)}")
    return run


def run_table(name: str, *, folder: str | Path | None = None):
    """The rows of the shipped run `name` as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame(load_run(name, folder=folder)["rows"])


def same_row(live: Mapping[str, Any], shipped: Mapping[str, Any], *, atol: float = 1e-6) -> bool:
    """Whether a row re-run live equals the shipped one: the same keys, equal strings, and numbers
    within `atol` (a re-run on another machine may differ in the last float digits).

    Raises AssertionError naming the first field that differs, so a lecture cell fails loudly.

    >>> same_row({"attr": "smile", "rate": 0.5}, {"attr": "smile", "rate": 0.5 + 1e-9})
    True
    """
    if set(live) != set(shipped):
        raise AssertionError(f"the live row has fields {sorted(live)}, the shipped one {sorted(shipped)}")
    for k in live:
        a, b = live[k], shipped[k]
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if not (math.isclose(float(a), float(b), abs_tol=atol) or (math.isnan(a) and math.isnan(b))):
                raise AssertionError(f"{k}: live {a!r} against shipped {b!r} (atol {atol})")
        elif a != b:
            raise AssertionError(f"{k}: live {a!r} against shipped {b!r}")
    return True
