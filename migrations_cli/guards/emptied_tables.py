"""The tables an upgrade empties, and where: a NOT NULL column added after the table was
emptied (as Optuna's v2.4.0.a does, deleting through the ORM, then adding the column) meets
no rows, so ML003's "fails on a table with rows" is not true of it.

Read from the upgrade function's source, not run: ``session.query(Model).delete()``,
``delete(table)`` and ``table.delete()`` with no ``where``, the table named by a literal
(``sa.table("users")``, ``sa.Table("users", ...)``), a model's ``__tablename__`` or
``Model.__table__``. SQL (``DELETE FROM users``, ``TRUNCATE users``) comes as the lint's
``empty_table`` actions. Anything the source does not state plainly counts as not emptied.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping

from migrations_cli.guards.op_calls import called_name, string_literal

EMPTY_TABLE = "empty_table"
_TABLE_FACTORIES = frozenset({"table", "Table"})
# Statements with names of their own: another function's `users = ...` is not the upgrade's.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def emptied_tables(tree: ast.Module, sql_emptied: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Each table the upgrade empties, with the first line that does it."""
    upgrade = _function(tree, "upgrade")
    if upgrade is None:
        return {}
    module_level = [node for node in tree.body if not isinstance(node, _SCOPES)]
    names = {**_model_tables(tree), **_table_variables([*module_level, upgrade])}
    first: dict[str, int] = {}
    for table, line in [*sql_emptied, *_python_deletes(upgrade, names)]:
        first[table] = min(line, first.get(table, line))
    return first


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _model_tables(tree: ast.Module) -> dict[str, str]:
    """`class TrialModel(Base): __tablename__ = "trials"` → {"TrialModel": "trials"}."""
    found = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if (
                isinstance(statement, ast.Assign)
                and any(_is_name(target, "__tablename__") for target in statement.targets)
                and (table := string_literal(statement.value)) is not None
            ):
                found[node.name] = table
    return found


def _table_variables(scope: Iterable[ast.AST]) -> dict[str, str]:
    """`users = sa.table("users", ...)` → {"users": "users"}: names bound to a table."""
    found = {}
    for root in scope:
        for node in ast.walk(root):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and called_name(node.value) in _TABLE_FACTORIES
                and node.value.args
                and (table := string_literal(node.value.args[0])) is not None
            ):
                found[node.targets[0].id] = table
    return found


def _python_deletes(
    upgrade: ast.FunctionDef, names: Mapping[str, str]
) -> Iterator[tuple[str, int]]:
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call):
            continue
        target = _query_delete_target(node) or _delete_target(node)
        table = _table_of(target, names) if target is not None else None
        if table is not None and not _filtered(upgrade, node):
            yield table, node.lineno


def _delete_target(call: ast.Call) -> ast.expr | None:
    """`delete(users)` / `sa.delete(users)` → users; `users.delete()` → users."""
    if called_name(call) == "delete" and len(call.args) == 1 and not call.keywords:
        return call.args[0]
    if isinstance(call.func, ast.Attribute) and call.func.attr == "delete" and not call.args:
        value = call.func.value
        if not (isinstance(value, ast.Call) and called_name(value) == "query"):
            return value
    return None


def _query_delete_target(call: ast.Call) -> ast.expr | None:
    """`session.query(Model).delete()` → Model: only a query with nothing between."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "delete":
        query = func.value
        if isinstance(query, ast.Call) and called_name(query) == "query" and len(query.args) == 1:
            return query.args[0]
    return None


def _filtered(upgrade: ast.FunctionDef, call: ast.Call) -> bool:
    """Whether the delete is narrowed: `delete(t).where(...)` deletes only some rows."""
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Attribute) and node.value is call:
            return node.attr in ("where", "filter", "filter_by")
    return False


def _table_of(node: ast.expr, names: Mapping[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        return _table_of(node.value, names)
    if isinstance(node, ast.Call) and called_name(node) in _TABLE_FACTORIES and node.args:
        return string_literal(node.args[0])
    return None


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name
