"""The layer table of docs/architecture.md, checked against the code's own imports.

The table is read out of the page, so the page is the one place the layers are written. Only
module-level imports count: an import under ``if TYPE_CHECKING:`` or inside a function is not
run when the module is imported. Every module of ``src/evolkit`` must be in exactly one room of
the table; a room imports only from lower layers, or from the rooms of its own layer that its
row names. No two modules may import each other, directly or through others, and for that
check imports inside functions count too: one moved into a function to hide a cycle is the
cycle.
"""

from __future__ import annotations

import ast
import gc
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "evolkit"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


@attrs.frozen
class Room:
    """One row's module or package, its layer (1 at the bottom) and its allowed neighbours."""

    name: str
    layer: int
    sideways: frozenset[str] | None  # None: any room of the same layer

    def holds(self, module: str) -> bool:
        if self.name == "evolkit":  # the package's own __init__, not everything under it
            return module == "evolkit"
        return module == self.name or module.startswith(self.name + ".")


# --- reading the table -------------------------------------------------------------------------


def read_layer_table(markdown: str) -> list[Room]:
    """The rooms of the table under the page's ``## Layers`` heading."""
    section = markdown.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    rooms: list[Room] = []
    for row in rows[1:]:  # the header; the |---| line does not start with "| "
        layer_cell, modules_cell, sideways_cell = (c.strip() for c in row.strip("|").split("|"))
        layer = int(layer_cell.split()[0])
        sideways = (
            None
            if sideways_cell.startswith("any")
            else frozenset(re.findall(r"`([\w.]+)`", sideways_cell))
        )
        rooms.extend(
            Room(name, layer, sideways) for name in re.findall(r"`([\w.]+)`", modules_cell)
        )
    return rooms


def room_of(module: str, rooms: Iterable[Room]) -> Room:
    holding = [room for room in rooms if room.holds(module)]
    assert holding, f"{module} is in no room of the layer table in docs/architecture.md"
    return max(holding, key=lambda room: len(room.name))


# --- reading the imports -----------------------------------------------------------------------


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(body: Iterable[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports run when the module is imported: not in functions, not for type checkers."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, ast.If):
            if not _is_type_checking(stmt.test):
                yield from module_level_imports(stmt.body)
            yield from module_level_imports(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody):
                yield from module_level_imports(block)
        elif isinstance(stmt, ast.With):
            yield from module_level_imports(stmt.body)


def every_import(body: Iterable[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that can run, inside functions too: all but those for type checkers."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            yield from every_import(stmt.orelse)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    yield from every_import([child])
                elif isinstance(child, ast.ExceptHandler):
                    yield from every_import(child.body)


def _parse(source: str) -> ast.Module:
    # CPython 3.11 before 3.11.8 can fail ``ast.parse`` with "AST constructor recursion depth
    # mismatch" when a garbage collection runs finalisers in the middle of it;
    # other tests leave plenty of garbage, so none is collected while the tree is built.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source)
    finally:
        if enabled:
            gc.enable()


def _existing(name: str, modules: Iterable[str]) -> str | None:
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(
    module: str, source: str, modules: Iterable[str], *, late: bool = False
) -> set[str]:
    """The evolkit modules ``module`` imports at module level (``from pkg import submodule``
    names the submodule); with ``late``, inside functions too."""
    known = set(modules)
    package = module if f"{module}.__init__" in known else module.rpartition(".")[0]
    found: set[str | None] = set()
    reader = every_import if late else module_level_imports
    for stmt in reader(_parse(source).body):
        if isinstance(stmt, ast.Import):
            found.update(
                _existing(a.name, known) for a in stmt.names if a.name.startswith("evolkit")
            )
            continue
        if stmt.level:
            base = package.split(".")[: len(package.split(".")) - stmt.level + 1]
            target = ".".join([*base, stmt.module] if stmt.module else base)
        else:
            target = stmt.module or ""
        if target.split(".")[0] != "evolkit":
            continue
        for alias in stmt.names:
            sub = f"{target}.{alias.name}"
            found.add(sub if sub in known else _existing(target, known))
    found.discard(None)
    found.discard(module)
    return {name for name in found if name is not None}


def import_graph(package: Path = PACKAGE, *, late: bool = False) -> dict[str, set[str]]:
    paths = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    known = set(paths) | {f"{m}.__init__" for m, p in paths.items() if p.name == "__init__.py"}
    return {
        m: imported_modules(m, p.read_text(encoding="utf-8"), known, late=late)
        for m, p in paths.items()
    }


# --- judging -----------------------------------------------------------------------------------


def forbidden_imports(graph: Mapping[str, set[str]], rooms: list[Room]) -> list[str]:
    """Every import that goes up a layer, or sideways to a room its row does not name."""
    found = []
    for module, targets in sorted(graph.items()):
        here = room_of(module, rooms)
        for target in sorted(targets):
            there = room_of(target, rooms)
            if there == here or there.layer < here.layer:
                continue
            if there.layer == here.layer and (here.sideways is None or there.name in here.sideways):
                continue
            way = "up" if there.layer > here.layer else "sideways"
            found.append(
                f"{module} (layer {here.layer}) imports {target} ({way}, layer {there.layer})"
            )
    return found


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """Tarjan's components, iteratively; a component of one node is not a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    return [sorted(c) for c in strongly_connected(graph) if len(c) > 1]


def room_graph(graph: Mapping[str, set[str]], rooms: list[Room]) -> dict[str, set[str]]:
    between: dict[str, set[str]] = {room.name: set() for room in rooms}
    for module, targets in graph.items():
        here = room_of(module, rooms).name
        between[here].update(room_of(t, rooms).name for t in targets)
        between[here].discard(here)
    return between


# --- the checks --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rooms() -> list[Room]:
    return read_layer_table(ARCHITECTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_table_names_each_room_once_and_only_rooms_that_exist(
    rooms: list[Room], graph: dict[str, set[str]]
) -> None:
    names = [room.name for room in rooms]
    assert len(names) == len(set(names)), "a room is in two rows of the layer table"
    empty = [room.name for room in rooms if not any(room.holds(m) for m in graph)]
    assert not empty, f"the layer table names modules that do not exist: {empty}"
    for room in rooms:
        strangers = (room.sideways or frozenset()) - {
            r.name for r in rooms if r.layer == room.layer and r != room
        }
        assert not strangers, f"{room.name} may import {strangers}, not rooms of its layer"
    assert sorted({room.layer for room in rooms}) == [1, 2, 3, 4, 5]


def test_every_module_is_in_a_room(rooms: list[Room], graph: dict[str, set[str]]) -> None:
    for module in graph:
        room_of(module, rooms)


def test_no_import_goes_up_or_sideways_where_the_table_forbids_it(
    rooms: list[Room], graph: dict[str, set[str]]
) -> None:
    assert forbidden_imports(graph, rooms) == []


def test_no_two_modules_import_each_other(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_no_late_import_hides_a_cycle() -> None:
    """An import moved into a function to break a cycle still counts as the cycle."""
    assert cycles(import_graph(late=True)) == []


def test_no_two_rooms_import_each_other(rooms: list[Room], graph: dict[str, set[str]]) -> None:
    assert cycles(room_graph(graph, rooms)) == []


# --- the checks can fail -----------------------------------------------------------------------

TABLE = """
## Layers

| layer | modules | may also import from its own layer |
|---|---|---|
| 5 top | `evolkit.cli`, `evolkit` | any |
| 3 middle | `evolkit.engine` | none |
| 2 parts | `evolkit.io` | `evolkit.data` |
| 2 parts | `evolkit.data`, `evolkit.filters` | none |
| 1 values | `evolkit._types`, `evolkit.errors` | any |

## Next
"""


def test_the_table_is_read_row_by_row() -> None:
    rooms = read_layer_table(TABLE)
    assert Room("evolkit.io", 2, frozenset({"evolkit.data"})) in rooms
    assert Room("evolkit.filters", 2, frozenset()) in rooms
    assert Room("evolkit._types", 1, None) in rooms
    assert room_of("evolkit.engine.run", rooms).name == "evolkit.engine"
    assert room_of("evolkit", rooms).name == "evolkit"
    with pytest.raises(AssertionError, match="in no room"):
        room_of("evolkit.cost._budget", rooms)


def test_an_upward_or_unlisted_sideways_import_is_found() -> None:
    rooms = read_layer_table(TABLE)
    graph = {
        "evolkit._types": {"evolkit.errors"},  # sideways, allowed by "any"
        "evolkit.io": {"evolkit.data.layouts", "evolkit._types"},  # named sideways; down
        "evolkit.data.layouts": {"evolkit.filters", "evolkit.engine.run"},
        "evolkit.errors": {"evolkit.cli"},
    }
    assert forbidden_imports(graph, rooms) == [
        "evolkit.data.layouts (layer 2) imports evolkit.engine.run (up, layer 3)",
        "evolkit.data.layouts (layer 2) imports evolkit.filters (sideways, layer 2)",
        "evolkit.errors (layer 1) imports evolkit.cli (up, layer 5)",
    ]


def test_only_module_level_imports_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import evolkit.errors\n"
        "from evolkit.engine import calls, run as _run\n"
        "from .. import _types\n"
        "try:\n    from evolkit.io import read\nexcept ImportError:\n    pass\n"
        "if TYPE_CHECKING:\n    from evolkit.cli import main\n"
        "def f():\n    from evolkit.scale import executor\n"
    )
    known = {
        "evolkit",
        "evolkit.__init__",
        "evolkit.errors",
        "evolkit.engine",
        "evolkit.engine.__init__",
        "evolkit.engine.calls",
        "evolkit.engine.run",
        "evolkit.io",
        "evolkit._types",
        "evolkit.cli",
        "evolkit.scale.executor",
        "evolkit.data",
        "evolkit.data.__init__",
    }
    assert imported_modules("evolkit.data.card", source, known) == {
        "evolkit.errors",
        "evolkit.engine.calls",
        "evolkit.engine.run",
        "evolkit._types",
        "evolkit.io",
    }
    late = imported_modules("evolkit.data.card", source, known, late=True)
    assert late - imported_modules("evolkit.data.card", source, known) == {"evolkit.scale.executor"}


def test_a_cycle_is_found_however_long() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.fixture
def shadow(tmp_path: Path) -> Path:
    """A copy of the package's sources, to be edited by a test."""
    copy = tmp_path / "evolkit"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_an_upward_import_added_to_the_code_is_found(rooms: list[Room], shadow: Path) -> None:
    """The check reads the tree as it is: a module that imports the command line fails it."""
    _append(shadow / "errors.py", "from evolkit.cli import main")
    assert forbidden_imports(import_graph(shadow), rooms) == [
        "evolkit.errors (layer 1) imports evolkit.cli (up, layer 5)"
    ]


def test_a_cycle_hidden_in_a_function_is_found(shadow: Path) -> None:
    _append(shadow / "_types.py", "def _late():\n    import evolkit._protocols")
    assert cycles(import_graph(shadow)) == []
    assert cycles(import_graph(shadow, late=True)) == [["evolkit._protocols", "evolkit._types"]]


def test_a_cycle_added_to_the_code_is_found(shadow: Path) -> None:
    """Two modules of one layer may import each other by the table; the cycle check refuses."""
    _append(shadow / "_types.py", "import evolkit._protocols")  # which imports _types
    assert cycles(import_graph(shadow)) == [["evolkit._protocols", "evolkit._types"]]
