"""The package's shape: no import cycles, and ARCHITECTURE.md names every module there is."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "migrations_cli"
PLUGINS = REPO_ROOT / "plugins"


def module_name(path: Path) -> str:
    """The import name of a source file (./plugins installs as migrations_cli.plugins)."""
    if path.is_relative_to(PLUGINS):
        parts = ("migrations_cli", "plugins", *path.relative_to(PLUGINS).with_suffix("").parts)
    else:
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def sources() -> dict[str, Path]:
    paths = [*PACKAGE.rglob("*.py"), *PLUGINS.glob("*.py")]
    return {module_name(path): path for path in paths if "scaffold" not in path.parts}


def imports(path: Path, name: str, known: set[str], deferred: bool) -> set[str]:
    """The modules of ours that `path` imports: at the top (for types only too), and with
    `deferred` also inside functions. The root package is left out: every module imports it
    on the way, and it holds only the version and a lazy `hookimpl`."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if deferred else _module_level(tree.body)
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    # `from migrations_cli.core import output` names the package and the module: the
    # module is the dependency, its package's (empty) __init__ is not a step of a cycle.
    return {
        module
        for module in found
        if module in known and module not in (name, "migrations_cli") and module in known
    }


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when the module is imported: its body, and the bodies of its
    top-level `if` (TYPE_CHECKING) and `try` blocks."""
    for statement in body:
        yield statement
        if isinstance(statement, ast.If):
            yield from _module_level(statement.body + statement.orelse)
        elif isinstance(statement, ast.Try):
            yield from _module_level(statement.body + statement.orelse + statement.finalbody)


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    known = sources()
    return {name: imports(path, name, set(known), deferred) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("deferred", [False, True], ids=["at import", "in functions too"])
def test_the_package_has_no_import_cycle(deferred: bool) -> None:
    """Among the imports run when a module is imported (types included), and with those
    deferred into functions added: none leads back, so each module can be read, and
    changed, from the ones it imports alone."""
    graph = import_graph(deferred)
    assert len(graph) > 40  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_plugin_authors_contract_imports_nothing_of_ours_but_types() -> None:
    graph = import_graph()
    hookspecs_imports = graph["migrations_cli.hookspecs"]
    assert all(module.startswith("migrations_cli.") for module in hookspecs_imports)
    source = (PACKAGE / "hookspecs.py").read_text()
    runtime = source.split("if TYPE_CHECKING:", 1)[0]
    assert "from migrations_cli" not in runtime.split('"""', 2)[2]


def test_architecture_md_names_every_module_and_only_those() -> None:
    text = (REPO_ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`(migrations_cli/[\w/]+\.py)`", text))
    on_disk = {
        str(path.relative_to(REPO_ROOT))
        for path in PACKAGE.rglob("*.py")
        if (path.name != "__init__.py" or path.parent == PACKAGE) and "scaffold" not in path.parts
    }
    assert named == on_disk
