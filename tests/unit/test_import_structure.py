"""The import structure, read from the source (``ast``), nothing imported:

- no import cycle among the modules of shared/, services/* and ops/;
- inside ``baton_shared`` no arrow points up the layers below; shared imports no service and
  no service imports another;
- no file (tests included) reaches for another package's private names, by import or by
  reading an underscored attribute that no Baton file defines.

Every import counts, wherever it stands (in a function, under ``TYPE_CHECKING``): a cycle
dodged by a late import is still a cycle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = [ROOT / "shared" / "src", ROOT / "ops" / "src", *sorted((ROOT / "services").glob("*/src"))]

# baton_shared's top-level modules and packages, lowest layer first: a module may import its
# own layer and the layers below, never one above.
SHARED_LAYERS: list[set[str]] = [
    {"events", "domain", "contracts", "journey_picture", "uuid_strings"},  # what events and rules are; ids
    {"observability", "retry", "lru"},  # logs, metrics, telling an outage from a fault, a bounded cache
    {"eventstore"},  # the log on JetStream
    {"application", "idempotency"},  # the command loop: what services and reactions decide through
    {"projections", "reactions", "privacy", "forgotten"},  # runners and stores on top of the log
    {"service"},  # HTTP, the runtime, settings: the composition of all the above
]
SERVICES = {p.name for p in (ROOT / "services").glob("*/src/baton_*")}
# Private names still reached for, each with the work that removes it; an entry no longer
# needed fails the test, so the list only shrinks.
KNOWN_PRIVATE: set[str] = set()


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # the most specific module (or name) the import statement names
    names: tuple[str, ...]  # for ``from target import a, b``
    line: int
    path: Path


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    found = {}
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def imports_of(path: Path, module: str, is_package: bool) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), node.lineno, path)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield Import(module, base, tuple(a.name for a in node.names), node.lineno, path)


def graph() -> dict[str, set[str]]:
    """module -> the modules of the tree it imports (``from p import m`` counts as p.m when m is one)."""
    modules = source_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for imp in imports_of(path, module, path.name == "__init__.py"):
            targets = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
            if len(targets) < len(imp.names) or not imp.names:
                targets.append(imp.target)  # names of the module itself, or ``import target``
            edges[module].update(t for t in targets if t in modules and t != module)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    edges = graph()
    found = cycles(edges)
    shown = [" <-> ".join(c) + "\n    " + "; ".join(f"{m} -> {sorted(edges[m] & set(c))}" for m in c) for c in found]
    assert not found, "import cycles:\n" + "\n".join(shown)


def shared_layer(module: str) -> int:
    top = module.split(".")[1]
    for rank, members in enumerate(SHARED_LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"baton_shared.{top} is in no layer: add it to SHARED_LAYERS in {Path(__file__).name}")


def test_shared_imports_only_its_own_layer_and_below_and_no_service():
    wrong = []
    for module, targets in graph().items():
        if not module.startswith("baton_shared."):
            continue
        for target in targets:
            if target.split(".")[0] in SERVICES:
                wrong.append(f"{module} -> {target} (a service)")
            elif target.startswith("baton_shared.") and shared_layer(target) > shared_layer(module):
                wrong.append(f"{module} (layer {shared_layer(module)}) -> {target} (layer {shared_layer(target)})")
    assert not wrong, "imports pointing up inside baton_shared:\n" + "\n".join(sorted(wrong))


def test_no_service_imports_another():
    wrong = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if module.split(".")[0] in SERVICES
        and target.split(".")[0] in SERVICES | {"baton_ops"}
        and target.split(".")[0] != module.split(".")[0]
    ]
    assert not wrong, "\n".join(sorted(wrong))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reaches(path: Path, top: str) -> Iterator[str]:
    """``from x import _y``, ``import x._y``, and ``x._y`` where ``x`` was imported, for an ``x``
    of another top-level package than ``top`` (``self._y`` and a package's own names are fine)."""
    tree = ast.parse(path.read_text(), str(path))
    imported: dict[str, str] = {}  # local name -> the top-level package it came from
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]
                if alias.name.split(".")[0] != top and any(private(p) for p in alias.name.split(".")):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            origin = node.module.split(".")[0]
            for alias in node.names:
                imported[alias.asname or alias.name] = origin
            if origin == top:
                continue
            names = [node.module, *(a.name for a in node.names)]
            if any(private(p) for n in names for p in n.split(".")):
                yield f"line {node.lineno}: from {node.module} import {', '.join(a.name for a in node.names)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name):
            origin = imported.get(node.value.id)
            if origin is not None and origin != top:
                yield f"line {node.lineno}: {node.value.id}.{node.attr}"


def test_no_file_reaches_for_another_packages_private_names():
    files = [(path, module_name(path, root).split(".")[0]) for root in SOURCE_ROOTS for path in root.rglob("*.py")]
    files += [(path, "tests") for path in (ROOT / "tests").rglob("*.py")]
    wrong = [f"{path.relative_to(ROOT)} {reach}" for path, top in sorted(files) for reach in private_reaches(path, top)]
    found = {re.sub(r" line \d+:", ":", w) for w in wrong}
    wrong = [w for w in wrong if re.sub(r" line \d+:", ":", w) not in KNOWN_PRIVATE]
    assert not wrong, "private names of another package:\n" + "\n".join(wrong)
    assert found >= KNOWN_PRIVATE, f"no longer reached for, drop from KNOWN_PRIVATE: {KNOWN_PRIVATE - found}"


# Underscored names that are public API all the same: documented as such by their library.
PUBLIC_UNDERSCORED = {
    "_mapping",  # SQLAlchemy's Row: the row as a mapping (the underscore keeps it clear of column names)
    "_asdict",  # namedtuple's API
    "_replace",
    "_fields",
    "_make",
    "_insert_tracking",  # eventsourcing's recipe for a tracking recorder's subclass (bench/es_bench.py)
}
OWN_TREES = [*SOURCE_ROOTS, ROOT / "tests", ROOT / "bench", ROOT / "deploy"]


def own_python_files() -> list[Path]:
    return sorted(p for tree in OWN_TREES for p in tree.rglob("*.py"))


def privately_named(tree: ast.AST) -> Iterator[str]:
    """The underscored names a file defines: functions, classes, attributes it assigns,
    variables, parameters and keyword arguments."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            name = node.attr
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(node, ast.keyword) and node.arg:
            name = node.arg
        elif isinstance(node, ast.alias):
            name = (node.asname or node.name).split(".")[-1]
        else:
            continue
        if private(name):
            yield name


def private_attribute_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``x._y`` read, and ``getattr(x, "_y")``, whatever ``x`` is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and private(node.attr):
            yield node.lineno, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr"}
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
        ):
            yield node.lineno, node.args[1].value


def test_no_file_reads_a_private_attribute_baton_does_not_define():
    """An object's ``_name`` that no Baton file defines is another package's private state
    (an httpx client's transport, an asyncio event's waiters): reached for through the object,
    not an import, so the test above cannot see it."""
    trees = {path: ast.parse(path.read_text(), str(path)) for path in own_python_files()}
    ours = {name for tree in trees.values() for name in privately_named(tree)}
    wrong = [
        f"{path.relative_to(ROOT)} line {line}: .{attr}"
        for path, tree in trees.items()
        for line, attr in private_attribute_reads(tree)
        if attr not in ours and attr not in PUBLIC_UNDERSCORED
    ]
    assert not wrong, "private attributes of another package's objects:\n" + "\n".join(wrong)
