"""Give each lecture's jupytext source the slide metadata `make slides` reads (nbconvert's reveal.js
export: `slideshow.slide_type`), so the deck is built from the lecture itself with no second copy.

The rule: a markdown cell opening with a `#` or `##` heading starts a new slide; any other markdown
cell starts a vertical sub-slide; a code cell joins the slide of the markdown above it; cells tagged
`slides-skip` (setup, checks) are left out. A cell whose source already sets `slide_type` by hand keeps
it. Run it after editing a lecture, then `make notebooks NB=...` (or `jupytext --sync`) carries the
metadata into the .ipynb without touching its outputs:

    python tools/slide_tags.py notebooks/0[1-9]_*.py notebooks/10_*.py
    python tools/slide_tags.py --check notebooks/0[1-9]_*.py notebooks/10_*.py   # exit 1 if any would change
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext

HAND = "slide_type_by_hand"  # a cell's metadata flag: its slide_type was chosen by hand, keep it


def slide_type(cell) -> str:
    if "slides-skip" in cell.metadata.get("tags", []):
        return "skip"
    if cell.cell_type == "markdown":
        return "slide" if re.match(r"#{1,2}\s", cell.source.lstrip()) else "subslide"
    return "-"


def tag(path: Path, check: bool = False) -> bool:
    """Set the slide types of `path`'s cells; return whether anything changed (and, with `check`, write
    nothing)."""
    nb = jupytext.read(path)
    changed = False
    for cell in nb.cells:
        if cell.metadata.get(HAND):
            continue
        want, have = slide_type(cell), cell.metadata.get("slideshow", {}).get("slide_type")
        if want == "-" and have is None:  # "-" is nbconvert's default: keep the source uncluttered
            continue
        if have != want:
            cell.metadata["slideshow"] = {"slide_type": want}
            changed = True
    if changed and not check:
        jupytext.write(nb, path, fmt="py:percent")
    return changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", type=Path, help="lecture sources (notebooks/NN_name.py)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a source would change")
    args = p.parse_args(argv)
    bad = [s for s in args.sources if s.suffix != ".py" or not s.is_file()]
    if bad:
        p.error(f"sources must be existing jupytext .py files, got {', '.join(map(str, bad))}")
    changed = [s for s in args.sources if tag(s, check=args.check)]
    for s in changed:
        print(f"{'would change' if args.check else 'tagged'}: {s}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
