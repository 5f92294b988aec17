"""The package and its map agree: docs/architecture.md is read, not copied.

- The Python files under ``conductor_actors/`` (outside ``devserver/``) are exactly those of the
  "Folders and files" block (each folder listed there holds an ``__init__.py`` the block leaves
  implicit), and the block's count ("That is N files") matches what it lists.
- The import graph has no cycle between modules, and every import follows the "Layers" block: a
  module imports only from lower layers or from its own package (a folder, or the file itself);
  the entry points of layer 7 call each other only in the one direction the page names.

The graph is built with ``ast`` from every import statement of the package: module-level imports,
imports inside functions and methods, and imports under ``if TYPE_CHECKING:``; each failure says
which kind an import is. Importing a package (``from ..client import Task``) is an edge to its
``__init__.py``; importing a submodule by name (``from . import _models``) is an edge to it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "conductor_actors"
PAGE = ROOT / "docs" / "architecture.md"
#: The one package that stands apart: the map does not list its files.
APART = "devserver"
#: Layer 7 calls inside itself, as the page's "Layers" section names them: ``__main__`` -> ``cli``
#: -> ``_demo``, ``_reload``; ``_demo`` uses the public API (``__init__.py``).
ENTRY_POINT_CALLS = {("__main__", "cli"), ("cli", "_demo"), ("cli", "_reload"), ("_demo", "__init__")}
ENTRY_LAYER = 7


def _code_block_after(heading: str) -> list[str]:
    """The lines of the first fenced block after the line ``heading`` of the page."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return lines[opening + 1:closing]


def mapped_files() -> set[str]:
    """Paths relative to ``conductor_actors/`` of every file of the "Folders and files" block: a
    file at two spaces of indentation is at the top, a folder at two spaces opens a folder whose
    files are at four (continuation lines of a description are indented further)."""
    files: set[str] = set()
    folder: str | None = None
    for line in _code_block_after("### Folders and files")[1:]:  # the first line is the package itself
        name = line.strip().split(" ", 1)[0] if line.strip() else ""
        indent = len(line) - len(line.lstrip(" "))
        if indent == 2 and name.endswith("/"):
            folder = name.rstrip("/")
            if folder != APART:
                files.add(f"{folder}/__init__.py")
        elif indent == 2 and name.endswith(".py"):
            folder = None
            files.add(name)
        elif indent == 4 and name.endswith(".py") and folder is not None and folder != APART:
            files.add(f"{folder}/{name}")
    return files


def layers() -> dict[str, int]:
    """Unit -> layer from the "Layers" block; a unit is a top-level module (``cli``) or a folder
    (``client``), named without ``.py`` or ``/``."""
    units: dict[str, int] = {}
    for line in _code_block_after("### Layers"):
        number = re.match(r"\s*(\d+)\s", line)
        if number is None:
            continue
        for entry in re.findall(r"\w+(?:\.py|/)", line):
            units[entry.removesuffix(".py").removesuffix("/")] = int(number.group(1))
    return units


def package_files() -> set[str]:
    """The Python files under ``conductor_actors/`` outside ``devserver/``."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != APART
    }


# -- the import graph --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` (dotted module names)."""

    source: str
    target: str
    path: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"conductor_actors/{self.path}:{self.line} imports {self.target} ({self.kind})"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import under ``node`` with its kind: module level, in a function, or under TYPE_CHECKING."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, kind
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, "function-level")
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for statement in child.body:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), "under TYPE_CHECKING")
            for statement in child.orelse:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), kind)
        else:
            yield from _walk(child, kind)


def imports() -> list[Import]:
    """Every edge of the package's import graph to a module of the package."""
    modules = _modules()
    edges = []
    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        relative = path.relative_to(PACKAGE).as_posix()
        for node, kind in _walk(ast.parse(path.read_text(encoding="utf-8")), "module-level"):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in dict.fromkeys(targets):
                while target and target not in modules:  # ``import a.b.c`` of a name inside a module
                    target = target.rpartition(".")[0]
                if target:
                    edges.append(Import(source, target, relative, node.lineno, kind))
    return edges


def _unit(module: str) -> str:
    """``conductor_actors.client._models`` -> ``client``; ``conductor_actors`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


#: Which import of a cycle is set aside to look for the next one: the easiest to drop first.
_CUT_FIRST = {"under TYPE_CHECKING": 0, "function-level": 1, "module-level": 2}


def _cycles(edges: list[Import]) -> list[list[Import]]:
    """The cycles of the graph, one at a time: a shortest cycle, then (without the imports of its
    easiest edge to drop, ``_CUT_FIRST``) the next, until none is left. So each cycle shows once
    and a cycle hidden behind another still shows."""
    found = []
    remaining = list(edges)
    while (cycle := _shortest_cycle(remaining)) is not None:
        found.append(cycle)
        cut = min(cycle, key=lambda edge: _CUT_FIRST[edge.kind])
        remaining = [edge for edge in remaining if (edge.source, edge.target) != (cut.source, cut.target)]
    return found


def _shortest_cycle(edges: list[Import]) -> list[Import] | None:
    """The edges of a shortest cycle of the graph (breadth first from each module), or None."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
    best: list[Import] | None = None
    for start in sorted(graph):
        paths: dict[str, list[Import]] = {start: []}
        queue = [start]
        while queue:
            node = queue.pop(0)
            if best is not None and len(paths[node]) + 1 >= len(best):
                break
            for edge in graph.get(node, []):
                if edge.target == start:
                    best = [*paths[node], edge]
                    queue = []
                    break
                if edge.target not in paths:
                    paths[edge.target] = [*paths[node], edge]
                    queue.append(edge.target)
    return best


# -- the checks -------------------------------------------------------------------------------------------


def test_the_page_counts_the_files_it_lists() -> None:
    stated = re.search(r"That is (\d+) files outside `devserver/`", PAGE.read_text(encoding="utf-8"))
    assert stated is not None, "docs/architecture.md no longer says how many files the map lists"
    assert len(mapped_files()) == int(stated.group(1)), sorted(mapped_files())


def test_the_files_of_the_package_are_those_of_the_map() -> None:
    mapped, present = mapped_files(), package_files()
    assert mapped == present, (
        "conductor_actors/ and the map of docs/architecture.md differ:\n"
        f"  files the map does not list ({len(present - mapped)}): {sorted(present - mapped)}\n"
        f"  files of the map that do not exist ({len(mapped - present)}): {sorted(mapped - present)}"
    )


def test_the_import_graph_has_no_cycle() -> None:
    edges = imports()
    statements: dict[tuple[str, str], list[Import]] = {}
    for edge in edges:
        statements.setdefault((edge.source, edge.target), []).append(edge)
    cycles = _cycles(edges)
    report = "\n".join(
        "  " + " -> ".join([cycle[0].source, *(edge.target for edge in cycle)])
        + "".join(f"\n      {each}" for edge in cycle for each in statements[edge.source, edge.target])
        for cycle in cycles
    )
    assert not cycles, f"{len(cycles)} import cycle(s) (see _cycles), with every import of each step:\n{report}"


def test_every_import_follows_the_layers() -> None:
    layer_of = layers()
    wrong = []
    for edge in imports():
        source, target = _unit(edge.source), _unit(edge.target)
        if source == target:
            continue
        if source not in layer_of or target not in layer_of:
            missing = sorted({unit for unit in (source, target) if unit not in layer_of})
            wrong.append(f"{edge}: {', '.join(missing)} is in no layer of the page")
            continue
        low, high = layer_of[target], layer_of[source]
        if low < high or (low == high == ENTRY_LAYER and (source, target) in ENTRY_POINT_CALLS):
            continue
        direction = "sideways" if low == high else "upwards"
        wrong.append(f"{edge}: {direction}, from layer {high} ({source}) to layer {low} ({target})")
    assert not wrong, f"{len(wrong)} import(s) against the layers of docs/architecture.md:\n  " + "\n  ".join(wrong)

