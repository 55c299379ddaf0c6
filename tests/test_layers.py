"""The package's layers, read from the source with `ast` (imports inside functions included): a module
imports only modules of its own layer or of lower ones, and nothing imports another module's
`_private` names. The oracle is the list below, not the code: a new module fails here until it is
placed in a layer."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "latentlab"

# Bottom to top. A module may import its own layer and those below it. `__init__` is the package
# itself (`import latentlab as ll`): it re-exports the library, so only the course sits above it.
LAYERS: list[tuple[str, ...]] = [
    ("model", "faces", "architectures", "scale"),  # scale: sharding over processes, used by the analyses above
    ("hspace", "ddim", "probe", "stats"),  # stats: tests and intervals on numbers, no model
    ("linalg", "jacobians", "directions", "haas", "park", "asyrp", "hosvd", "train", "quality",
     "loco", "sae", "slider"),  # the methods after the three papers: LOCO Edit, SAE features, LoRA sliders
    ("metrics",),
    ("methods", "session"),
    ("compare",),
    ("__init__",),
    ("course",),  # latentlab/course/: the exercises, plots, figures and widget of the notebooks
]
# Old homes, placed while they still exist: drop each one once its file is gone.
MOVING: dict[str, str] = {}
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
LAYER |= {old: LAYER[new] for old, new in MOVING.items()}


def unit(path: Path) -> str:
    """The layer unit of a file of the package: its top-level module (`ddim`), or its subpackage (`course`)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def dotted(path: Path) -> list[str]:
    """`latentlab/course/plot.py` -> ["latentlab", "course", "plot"]; a package's `__init__.py` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports_in(source: str, here: list[str], package: bool) -> list[tuple[int, list[str], list[str]]]:
    """Every import of a latentlab module in `source` (the module `here`, a package's `__init__` if `package`):
    (line, the imported module's dotted name, the names taken from it)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split("."), []) for a in node.names if a.name.split(".")[0] == "latentlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the importing module's package
                base = here if package else here[:-1]
                module = base[:len(base) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            else:
                module = (node.module or "").split(".")
            if module and module[0] == "latentlab":
                found.append((node.lineno, module, [a.name for a in node.names]))
    return sorted(found)


def latentlab_imports(path: Path) -> list[tuple[int, list[str], list[str]]]:
    here = dotted(path) if path.is_relative_to(PACKAGE) else []
    return imports_in(path.read_text(), here, is_package(path))


def target_unit(module: list[str], names: list[str]) -> list[str]:
    """The layer units an import reaches: `from latentlab import ddim` reaches `ddim`, `import latentlab` `__init__`."""
    if len(module) > 1:
        return [module[1]]
    units = [n for n in names if (PACKAGE / f"{n}.py").is_file() or (PACKAGE / n / "__init__.py").is_file()]
    return units + (["__init__"] if len(units) < len(names) or not names else [])


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_is_placed_in_a_layer():
    unplaced = sorted({unit(p) for p in package_files() if p != PACKAGE / "__init__.py"} - set(LAYER))
    assert not unplaced, (f"latentlab modules in no layer: {unplaced}. Add each to LAYERS in {Path(__file__).name}, "
                          "in the lowest layer whose modules it needs")


def test_no_module_imports_a_higher_layer():
    wrong = []
    for path in package_files():
        me = "__init__" if path == PACKAGE / "__init__.py" else unit(path)
        if me not in LAYER:
            continue  # reported by test_every_module_is_placed_in_a_layer
        for line, module, names in latentlab_imports(path):
            for target in target_unit(module, names):
                if target not in LAYER:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}, which is in no layer")
                elif LAYER[target] > LAYER[me]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {me} (layer {LAYER[me]}) imports {target} "
                                 f"(layer {LAYER[target]})")
    assert not wrong, "lower layers import higher ones:\n" + "\n".join(wrong)


def private_uses_in(source: str, here: list[str], package: bool) -> list[str]:
    """`from latentlab.x import _y`, and `alias._y` where `alias` names a latentlab module: (line, what)."""
    private = lambda name: name.startswith("_") and not name.startswith("__")  # noqa: E731
    uses, aliases = [], set()
    for line, module, names in imports_in(source, here, package):
        uses += [f"{line}: imports {n} from {'.'.join(module)}" for n in names if private(n)]
        if not names:  # import latentlab[.x] [as y]: the alias is found below
            continue
        aliases.update(n for n in names if target_unit(module, [n]) != ["__init__"])
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update(a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == "latentlab")
        elif isinstance(node, ast.ImportFrom):
            aliases.update(a.asname for a in node.names if a.asname and a.name in aliases)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                uses.append(f"{node.lineno}: uses {ast.unparse(node)}")
    return sorted(uses, key=lambda u: int(u.split(":")[0]))


def private_uses(path: Path) -> list[str]:
    here = dotted(path) if path.is_relative_to(PACKAGE) else []
    return [f"{path.relative_to(ROOT)}:{u}" for u in private_uses_in(path.read_text(), here, is_package(path))]


def checked_for_private_use() -> list[Path]:
    notebooks = sorted((ROOT / "notebooks").rglob("[0-9][0-9]_*.py"))
    return package_files() + sorted((ROOT / "benchmarks").glob("*.py")) + notebooks


def test_no_private_names_cross_modules():
    uses = [u for p in checked_for_private_use() for u in private_uses(p)]
    assert not uses, f"{len(uses)} uses of another module's private names (make them public or keep them inside):\n" \
        + "\n".join(uses)


def test_the_parser_follows_relative_nested_and_aliased_imports():
    source = """
import latentlab as ll
from . import feedback
from ..plot import show_rows

def f():
    from latentlab.hspace import _h
    return ll._hidden, feedback._Hint, feedback.Hint
"""
    here = ["latentlab", "course", "exercises", "ex01"]
    modules = [m for _, m, _ in imports_in(source, here, package=False)]
    assert modules == [["latentlab"], ["latentlab", "course", "exercises"], ["latentlab", "course", "plot"],
                       ["latentlab", "hspace"]]
    assert [target_unit(m, n) for _, m, n in imports_in(source, here, package=False)] == [
        ["__init__"], ["course"], ["course"], ["hspace"]]
    assert target_unit(["latentlab"], ["ddim", "ddim_sample"]) == ["ddim", "__init__"]
    assert imports_in("from .ddim import P_t", ["latentlab"], package=True) == [(1, ["latentlab", "ddim"], ["P_t"])]
    uses = private_uses_in(source, here, package=False)
    assert uses == ["7: imports _h from latentlab.hspace", "8: uses ll._hidden", "8: uses feedback._Hint"], uses
    assert ROOT / "notebooks" / "01_pushforward_and_svd.py" in checked_for_private_use()
