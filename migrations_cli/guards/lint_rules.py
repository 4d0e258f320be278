"""The built-in rules of `migrate lint`: what in a revision file can lose data, lock a
table, or leave a migration that cannot be undone. The PostgreSQL rules (ML010 to ML022,
for operations and SQL alike) are in postgresql_rules.py.

A rule is any callable that takes a `RevisionSource` and yields `Finding`s; plugins add
theirs through the `lint_rules` hook, importing both from here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator

from migrations_cli.guards.op_calls import OpCall, called_name, is_true, string_literal
from migrations_cli.guards.postgresql_rules import ACTION_RULES
from migrations_cli.guards.revision_source import (
    DISABLE_SETTING,
    Finding,
    RevisionSource,
    Rule,
    column_name,
    function_line,
    is_none_or_absent,
    keyword_argument,
    read_revision,
    run_rules,
)

# What plugin authors and the commands import from here.
__all__ = [
    "BUILTIN_RULES",
    "DISABLE_SETTING",
    "Finding",
    "RevisionSource",
    "Rule",
    "read_revision",
    "rule_descriptions",
    "run_rules",
]

_INTEGER_WIDTHS = {"SmallInteger": 1, "SMALLINT": 1, "Integer": 2, "INTEGER": 2, "INT": 2}
_INTEGER_WIDTHS |= {"BigInteger": 3, "BIGINT": 3}
_LENGTH_TYPES = frozenset({"String", "VARCHAR", "Unicode", "NVARCHAR", "CHAR", "NCHAR"})
_UNBOUNDED_TEXT = frozenset({"Text", "TEXT", "UnicodeText", "CLOB"})


def _type_of(node: ast.expr | None) -> tuple[str, int | None] | None:
    """`sa.String(length=50)` → ("String", 50); `sa.Integer()` → ("Integer", None)."""
    node = _postgresql_variant(node)
    name = called_name(node)
    if name is None:
        return None
    length_node = None
    if isinstance(node, ast.Call):
        length_node = node.args[0] if node.args else keyword_argument(node, "length")
    length = length_node.value if isinstance(length_node, ast.Constant) else None
    return name, length if isinstance(length, int) else None


def _postgresql_variant(node: ast.expr | None) -> ast.expr | None:
    """`sa.Text().with_variant(MEDIUMTEXT, "mysql")` is Text on PostgreSQL, and the variant
    where one is named for "postgresql"."""
    while (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "with_variant"
    ):
        if len(node.args) == 2 and string_literal(node.args[1]) == "postgresql":
            return node.args[0]
        node = node.func.value
    return node


def _shown_type(kind: tuple[str, int | None] | None) -> str:
    if kind is None:
        return "?"
    name, length = kind
    return f"{name}({length})" if length is not None else name


# --- the built-in rules ----------------------------------------------------------------------


def drop_table(revision: RevisionSource) -> Iterator[Finding]:
    """ML001: dropping a table deletes its rows for good."""
    for call in revision.upgrade:
        if call.name == "drop_table":
            yield Finding(
                "ML001",
                "error",
                call.line,
                f"{call.shown(call.text(0, 'table_name'))}: its rows are deleted for good and "
                "running code that still reads the table fails; stop using it in one release, "
                "back it up, and drop it in a later one",
            )


def drop_column(revision: RevisionSource) -> Iterator[Finding]:
    """ML002: dropping a column deletes its data, and breaks code that still selects it."""
    for call in revision.upgrade:
        if call.name == "drop_column":
            yield Finding(
                "ML002",
                "error",
                call.line,
                f"{call.shown(call.text(0, 'table_name'), call.text(1, 'column_name'))}: its "
                "data is deleted for good and running code that still selects the column "
                "fails; stop using it in one release, drop it in a later one",
            )


def not_null_without_default(revision: RevisionSource) -> Iterator[Finding]:
    """ML003: a NOT NULL column added to a table with rows needs a value for them."""
    for call in revision.upgrade:
        column = call.keywords.get("column") or (call.args[1] if len(call.args) > 1 else None)
        if call.name != "add_column" or not isinstance(column, ast.Call):
            continue
        nullable = keyword_argument(column, "nullable")
        not_null = isinstance(nullable, ast.Constant) and nullable.value is False
        if not not_null or not is_none_or_absent(keyword_argument(column, "server_default")):
            continue
        if revision.emptied_before(call.text(0, "table_name"), call.line):
            continue
        shown = call.shown(call.text(0, "table_name"), column_name(column))
        yield Finding(
            "ML003",
            "error",
            call.line,
            f"{shown} is NOT NULL without a server_default: the ALTER fails on a table that "
            "has rows; give it a server_default, or add it nullable, fill it, then make it "
            "NOT NULL",
        )


def type_change(revision: RevisionSource) -> Iterator[Finding]:
    """ML004: changing a column's type can truncate or reject existing values, and rewrites
    the table on most databases. A known widening (String(50) to String(100)) is not flagged."""
    for call in revision.upgrade:
        if call.name != "alter_column" or "type_" not in call.keywords:
            continue
        new = _type_of(call.keywords["type_"])
        old = _type_of(call.keywords.get("existing_type"))
        if old is not None and new is not None and _widens(old, new):
            continue
        shown = call.shown(call.text(0, "table_name"), call.text(1, "column_name"))
        if old is not None and new is not None and _narrows(old, new):
            what = f"narrows the type from {_shown_type(old)} to {_shown_type(new)}"
            advice = "values that do not fit are cut or refused; check the longest value first"
        else:
            what = f"changes the type to {_shown_type(new)}"
            advice = (
                "values may not convert and the table may be rewritten under a lock; "
                "check the data, and give existing_type so lint can tell a widening"
            )
        yield Finding("ML004", "warning", call.line, f"{shown} {what}: {advice}")


def _rank(kind: tuple[str, int | None]) -> tuple[str, float] | None:
    """A type's family and its capacity within it, for the types whose order is known."""
    name, length = kind
    if name in _INTEGER_WIDTHS:
        return "integer", _INTEGER_WIDTHS[name]
    if name in _UNBOUNDED_TEXT:
        return "text", float("inf")
    if name in _LENGTH_TYPES:
        return "text", float("inf") if length is None else length
    return None


def _narrows(old: tuple[str, int | None], new: tuple[str, int | None]) -> bool:
    old_rank, new_rank = _rank(old), _rank(new)
    return bool(old_rank and new_rank and old_rank[0] == new_rank[0] and new_rank[1] < old_rank[1])


def _widens(old: tuple[str, int | None], new: tuple[str, int | None]) -> bool:
    old_rank, new_rank = _rank(old), _rank(new)
    return bool(old_rank and new_rank and old_rank[0] == new_rank[0] and new_rank[1] >= old_rank[1])


def rename(revision: RevisionSource) -> Iterator[Finding]:
    """ML005: the code running while (and until) the migration is deployed uses the old name.
    Whether it does cannot be seen from the file, so every rename is flagged."""
    for call in revision.upgrade:
        if call.name == "rename_table":
            shown = call.shown(call.text(0, "old_table_name"), call.text(1, "new_table_name"))
        elif call.name == "alter_column" and "new_column_name" in call.keywords:
            shown = (
                f"alter_column({call.text(0, 'table_name')!r}, {call.text(1, 'column_name')!r}, "
                f"new_column_name={string_literal(call.keywords['new_column_name'])!r})"
            )
        else:
            continue
        yield Finding(
            "ML005",
            "warning",
            call.line,
            f"{shown}: code already running still uses the old name and fails once this is "
            "applied; add the new name beside the old, move the code over, then drop the old",
        )


def index_without_concurrently(revision: RevisionSource) -> Iterator[Finding]:
    """ML006: on PostgreSQL a plain CREATE INDEX blocks writes to the table while it builds.
    Skipped when DATABASE_URL names another database, and for tables created in the same
    upgrade (they are empty)."""
    if revision.dialect is not None and revision.dialect != "postgresql":
        return
    created = {
        call.text(0, "table_name") for call in revision.upgrade if call.name == "create_table"
    }
    for call in revision.upgrade:
        if call.name != "create_index" or is_true(call.keywords.get("postgresql_concurrently")):
            continue
        if call.text(1, "table_name") in created:
            continue
        yield Finding(
            "ML006",
            "warning",
            call.line,
            f"{call.shown(call.text(0, 'index_name'), call.text(1, 'table_name'))} without "
            "postgresql_concurrently=True: on PostgreSQL it blocks writes to the table while "
            "it builds; pass it, inside `with op.get_context().autocommit_block():`",
        )


def empty_downgrade(revision: RevisionSource) -> Iterator[Finding]:
    """ML007: an upgrade that does something with a downgrade that does nothing: `migrate
    downgrade` then reports success and leaves the schema as it was. Raw SQL with an empty
    downgrade is ML009's (an error) instead."""
    if revision.upgrade_is_empty or not revision.downgrade_is_empty:
        return
    if any(call.name == "execute" for call in revision.upgrade):
        return
    yield Finding(
        "ML007",
        "warning",
        function_line(revision.tree, "downgrade"),
        "downgrade() is empty: downgrading past this revision silently keeps its changes; "
        "write the inverse, or raise an error saying it cannot be undone",
    )


def _added_column_name(call: OpCall) -> str | None:
    return column_name(
        call.keywords.get("column") or (call.args[1] if len(call.args) > 1 else None)
    )


# An operation in upgrade(), the operation that undoes it, and how both name their object
# (add_column names its column in a Column, drop_column as a string: the keys compare equal).
_INVERSES: dict[str, tuple[str, Callable[[OpCall], tuple[str | None, ...]]]] = {
    "create_table": ("drop_table", lambda call: (call.text(0, "table_name"),)),
    "drop_table": ("create_table", lambda call: (call.text(0, "table_name"),)),
    "add_column": (
        "drop_column",
        lambda call: (call.text(0, "table_name"), _added_column_name(call)),
    ),
    "drop_column": (
        "add_column",
        lambda call: (call.text(0, "table_name"), _named_column(call)),
    ),
    "create_index": ("drop_index", lambda call: (call.text(0, "index_name"),)),
    "drop_index": ("create_index", lambda call: (call.text(0, "index_name"),)),
}


def _object_key(call: OpCall) -> tuple[str | None, ...]:
    return _INVERSES[call.name][1](call)


def not_inverse(revision: RevisionSource) -> Iterator[Finding]:
    """ML008: a written downgrade that misses the inverse of a simple create or drop in the
    upgrade. (An empty downgrade is ML007's.) Dropping a table in the downgrade also undoes
    the columns and indexes added to it."""
    if revision.downgrade_is_empty:
        return
    undone = {
        (call.name, _object_key(call)) for call in revision.downgrade if call.name in _INVERSES
    }
    dropped_tables = {
        call.text(0, "table_name") for call in revision.downgrade if call.name == "drop_table"
    }
    for call in revision.upgrade:
        if call.name not in _INVERSES:
            continue
        inverse = _INVERSES[call.name][0]
        key = _object_key(call)
        if None in key or (inverse, key) in undone:
            continue
        table = call.text(0 if call.name == "add_column" else 1, "table_name")
        if call.name in ("add_column", "create_index") and table in dropped_tables:
            continue
        yield Finding(
            "ML008",
            "error",
            call.line,
            f"{call.shown(*key)} in upgrade() has no {inverse}({', '.join(map(repr, key))}) in "
            "downgrade(): downgrading leaves the schema out of step with the revision; add it",
        )


def _named_column(call: OpCall) -> str | None:
    """The column a call names, given as a string or (wrongly: see ML023) as a Column."""
    return call.text(1, "column_name") or column_name(_column_argument(call))


def _column_argument(call: OpCall) -> ast.expr | None:
    """The second argument when it is a `Column(...)`."""
    node = call.keywords.get("column_name") or (call.args[1] if len(call.args) > 1 else None)
    return node if isinstance(node, ast.Call) and called_name(node) == "Column" else None


def column_for_a_name(revision: RevisionSource) -> Iterator[Finding]:
    """ML023: drop_column and alter_column take the column's name; given a Column instead,
    Alembic raises TypeError and the migration stops there."""
    for function, calls in (("upgrade", revision.upgrade), ("downgrade", revision.downgrade)):
        for call in calls:
            column = _column_argument(call)
            if call.name not in ("drop_column", "alter_column") or column is None:
                continue
            name = column_name(column)
            shown = call.shown(call.text(0, "table_name"), name)
            yield Finding(
                "ML023",
                "error",
                call.line,
                f"{shown} in {function}() is given a Column where Alembic takes the column's "
                f"name: it raises TypeError; write {repr(name) if name else 'the name'} instead",
            )


def raw_sql_without_downgrade(revision: RevisionSource) -> Iterator[Finding]:
    """ML009: SQL run with op.execute cannot be reversed by anyone but its author."""
    if not revision.downgrade_is_empty:
        return
    for call in revision.upgrade:
        if call.name == "execute":
            yield Finding(
                "ML009",
                "error",
                call.line,
                "op.execute() runs raw SQL and downgrade() is empty: nothing undoes it; write "
                "the SQL that reverses it, or raise an error saying it cannot be undone",
            )


BUILTIN_RULES: tuple[Rule, ...] = (
    drop_table,
    drop_column,
    not_null_without_default,
    type_change,
    rename,
    index_without_concurrently,
    empty_downgrade,
    not_inverse,
    raw_sql_without_downgrade,
    column_for_a_name,
    *ACTION_RULES,
)


def rule_descriptions() -> dict[str, str]:
    """Each built-in rule's id and the first sentence of its docstring, for SARIF."""
    found = {}
    for rule in BUILTIN_RULES:
        match = re.match(r"(ML\d{3}): (.+?)(?:\.\s|$)", " ".join((rule.__doc__ or "").split()))
        if match:
            found[match[1]] = match[2]
    return found
