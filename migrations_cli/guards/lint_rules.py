"""The rules of `migrate lint`: what in a revision file can lose data, lock a table, or leave
a migration that cannot be undone.

Revisions are read, not run: each file is parsed with `ast` and its ``op.*`` calls (and the
``batch_op.*`` calls inside ``with op.batch_alter_table(...)``) are inspected. Running them
in offline mode would need Alembic's environment, a dialect, and for batch operations on
SQLite a live table; it would execute the project's code, and the SQL it prints has lost the
line each statement came from. Parsing needs no import and no database, works alike for every
dialect, reports the exact line of each call, and takes milliseconds, so `migrate create` can
lint every file it writes. What it cannot see is SQL built at run time or operations hidden in
helper functions: those pass unflagged.

A rule is any callable that takes a `RevisionSource` and yields `Finding`s; plugins add
theirs through the `lint_rules` hook. A file silences rules with a comment anywhere in it
(``# migrate-lint: disable=ML001,ML006``), a project with the setting MIGRATIONS_LINT_DISABLE.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from migrations_cli.guards.op_calls import OpCall, is_true, string_literal

if TYPE_CHECKING:
    from migrations_cli.guards.lint_actions import Action, Column

Severity = Literal["error", "warning"]

DISABLE_SETTING = "MIGRATIONS_LINT_DISABLE"
# Set project-wide, every revision runs under a lock timeout (ML022 is then satisfied).
LOCK_TIMEOUT_SETTING = "MIGRATIONS_DDL_LOCK_TIMEOUT"
# A module-level `lock_timeout = "5s"` in a revision: its own lock timeout (ML022).
LOCK_TIMEOUT_ATTRIBUTE = "lock_timeout"
_DISABLE_COMMENT = re.compile(r"#\s*migrate-lint:\s*disable\s*=\s*([\w\s,]+)")
# The argument index where a batch operation's table would stand in the plain `op` call, so
# `batch_op.drop_column("name")` reads as `op.drop_column("users", "name")`.
_BATCH_TABLE_POSITION = {
    "add_column": 0,
    "drop_column": 0,
    "alter_column": 0,
    "create_index": 1,
    "drop_index": 1,
    "create_unique_constraint": 1,
    "create_foreign_key": 1,
    "create_check_constraint": 1,
    "create_primary_key": 1,
    "drop_constraint": 1,
}
_INTEGER_WIDTHS = {"SmallInteger": 1, "SMALLINT": 1, "Integer": 2, "INTEGER": 2, "INT": 2}
_INTEGER_WIDTHS |= {"BigInteger": 3, "BIGINT": 3}
_LENGTH_TYPES = frozenset({"String", "VARCHAR", "Unicode", "NVARCHAR", "CHAR", "NCHAR"})
_UNBOUNDED_TEXT = frozenset({"Text", "TEXT", "UnicodeText", "CLOB"})


@dataclass(frozen=True)
class Finding:
    """One problem a rule found: `rule` is its id (ML001, or a plugin's own), `line` the line
    in the revision file, `message` what was found and what to do about it."""

    rule: str
    severity: Severity
    line: int
    message: str
    source: str = "migrate"


@dataclass(frozen=True)
class RevisionSource:
    """A revision file as a rule sees it: `tree` is the parsed module, `upgrade` and
    `downgrade` the operation calls of those functions in order, `dialect` the project's
    database dialect (``postgresql``...) when DATABASE_URL is set."""

    path: Path
    revision: str
    source: str
    tree: ast.Module
    upgrade: tuple[OpCall, ...]
    downgrade: tuple[OpCall, ...]
    upgrade_is_empty: bool
    downgrade_is_empty: bool
    disabled: frozenset[str] = field(default_factory=frozenset)
    dialect: str | None = None
    actions: tuple[Action, ...] = ()
    lock_timeout: bool = False
    unparsed_sql: bool = False
    emptied: Mapping[str, int] = field(default_factory=dict)

    def emptied_before(self, table: str | None, line: int) -> bool:
        """Whether the upgrade empties `table` before `line`: a NOT NULL column added
        there meets no rows."""
        return table is not None and self.emptied.get(table, line) < line

    @property
    def postgresql(self) -> bool:
        """Whether PostgreSQL's rules apply: DATABASE_URL names PostgreSQL, or no database."""
        return self.dialect in (None, "postgresql")


Rule = Callable[[RevisionSource], Iterable[Finding]]


def read_revision(
    path: Path,
    *,
    revision: str | None = None,
    dialect: str | None = None,
    project_lock_timeout: bool = False,
) -> RevisionSource:
    """Parse a revision file; a file that is not valid Python raises SyntaxError."""
    from migrations_cli.guards.emptied_tables import EMPTY_TABLE, emptied_tables
    from migrations_cli.guards.lint_actions import from_calls

    with tokenize.open(path) as stream:  # honours a `# -*- coding: ... -*-` declaration
        source = stream.read()
    tree = ast.parse(source, filename=str(path))
    upgrade, upgrade_empty = _function_calls(tree, "upgrade", dialect)
    downgrade, downgrade_empty = _function_calls(tree, "downgrade", dialect)
    actions = list(from_calls(upgrade))
    unparsed = _raw_sql_actions(upgrade, actions)
    own_timeout = any(
        _assignment_target(node) == LOCK_TIMEOUT_ATTRIBUTE
        and not _is_none_or_absent(getattr(node, "value", None))
        for node in tree.body
    )
    return RevisionSource(
        path=path,
        revision=revision or _assigned_revision(tree) or path.stem,
        source=source,
        tree=tree,
        upgrade=upgrade,
        downgrade=downgrade,
        upgrade_is_empty=upgrade_empty,
        downgrade_is_empty=downgrade_empty,
        disabled=disabled_in_file(source),
        dialect=dialect,
        actions=tuple(sorted(actions, key=lambda action: action.line)),
        lock_timeout=project_lock_timeout or own_timeout,
        unparsed_sql=unparsed,
        emptied=emptied_tables(
            tree, [(a.table, a.line) for a in actions if a.kind == EMPTY_TABLE and a.table]
        ),
    )


def _raw_sql_actions(calls: Sequence[OpCall], actions: list[Action]) -> bool:
    """Add the actions of the literal SQL of op.execute calls to `actions`, each statement
    at its own line; returns whether SQL was left unparsed, pglast not being installed
    (only `SET lock_timeout` is recognised then). SQL PostgreSQL's parser rejects (another
    dialect's, or with bind parameters) is left to the other rules."""
    from migrations_cli.guards.lint_actions import (
        Action,
        SqlSyntaxError,
        from_sql,
        sets_lock_timeout,
    )
    from migrations_cli.guards.lint_actions import sql_is_parsable as parsable

    unparsed = False
    for call in calls:
        found = _execute_sql(call) if call.name == "execute" else None
        if found is None:
            continue
        sql, line = found
        if not parsable():
            unparsed = True
            if sets_lock_timeout(sql):
                actions.append(Action("set_lock_timeout", call.line, "SET lock_timeout"))
            continue
        with suppress(SqlSyntaxError):
            actions += from_sql(sql, line, in_transaction=not call.in_autocommit_block)
    return unparsed


def _execute_sql(call: OpCall) -> tuple[str, int] | None:
    """The SQL of `op.execute("...")` or `op.execute(sa.text("..."))`, and its first line."""
    node = call.keywords.get("sqltext") or (call.args[0] if call.args else None)
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    sql = string_literal(node)
    return (sql, node.lineno) if sql is not None and node is not None else None


def disabled_in_file(source: str) -> frozenset[str]:
    """The rule ids named in `# migrate-lint: disable=...` comments (real comments only)."""
    found: set[str] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                match = _DISABLE_COMMENT.search(token.string)
                if match:
                    found.update(rule_ids(match[1]))
    except (tokenize.TokenError, SyntaxError):
        pass
    return frozenset(found)


def rule_ids(text: str | None) -> frozenset[str]:
    """`ML001, ml006` → {"ML001", "ML006"}: rule ids are compared upper-case."""
    return frozenset(part.strip().upper() for part in (text or "").split(",") if part.strip())


def project_disabled(env_file: Path | None) -> frozenset[str]:
    """MIGRATIONS_LINT_DISABLE from the environment, else from the project's .env file."""
    return rule_ids(project_setting(DISABLE_SETTING, env_file))


def project_setting(name: str, env_file: Path | None) -> str | None:
    """A setting from the environment, else from the project's .env file."""
    value = os.environ.get(name)
    if not value and env_file is not None:
        from migrations_cli.core.settings import read_env_file

        value = read_env_file(env_file).get(name)
    return value or None


def run_rules(
    revision: RevisionSource, rules: Sequence[Rule], disabled: frozenset[str] = frozenset()
) -> list[Finding]:
    """Every finding of `rules` on one revision, by line, minus the silenced rules."""
    silenced = disabled | revision.disabled
    findings = [
        finding for rule in rules for finding in rule(revision) if finding.rule not in silenced
    ]
    return sorted(findings, key=lambda finding: (finding.line, finding.rule))


# --- reading the file ------------------------------------------------------------------------


def _assigned_revision(tree: ast.Module) -> str | None:
    for node in tree.body:
        target = _assignment_target(node)
        if target == "revision":
            assert isinstance(node, ast.Assign | ast.AnnAssign)
            return string_literal(node.value)
    return None


def _assignment_target(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target: ast.expr = node.targets[0]
    elif isinstance(node, ast.AnnAssign):
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _function_calls(
    tree: ast.Module, name: str, dialect: str | None = None
) -> tuple[tuple[OpCall, ...], bool]:
    """The op calls of the module-level function `name` (and of multi-database templates'
    `name_<engine>` functions), and whether they do nothing at all. With `dialect` known,
    a branch for other databases only (``if bind.engine.name == "mysql":``) is left out."""
    functions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and (node.name == name or node.name.startswith(name + "_"))
    ]
    calls = [call for function in functions for call in _op_calls(function.body, dialect)]
    empty = all(_is_empty(function.body) for function in functions)
    return tuple(sorted(calls, key=lambda call: call.line)), empty


def _is_empty(body: list[ast.stmt]) -> bool:
    """Only `pass`, `...` or a docstring: the function does nothing."""
    return all(
        isinstance(statement, ast.Pass)
        or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
        for statement in body
    )


def _op_calls(body: list[ast.stmt], dialect: str | None = None) -> Iterator[OpCall]:
    """Calls on `op`, and on the names bound by `with op.batch_alter_table(T) as NAME`."""
    collector = _OpCollector(dialect)
    for statement in body:
        collector.visit(statement)
    return iter(collector.calls)


class _OpCollector(ast.NodeVisitor):
    """Collects op calls in source order. A name bound by ``with op.batch_alter_table(T) as
    NAME`` stands for table T only inside that block (two blocks may both say `batch_op`),
    and a call inside ``with op.get_context().autocommit_block():`` is marked as such."""

    def __init__(self, dialect: str | None = None) -> None:
        self.dialect = _DIALECT_FAMILY.get(dialect or "", dialect)
        self.calls: list[OpCall] = []
        self._batches: dict[str, str | None] = {}
        self._autocommit = False

    def visit_With(self, node: ast.With) -> None:
        saved = dict(self._batches), self._autocommit
        for item in node.items:
            self.visit(item.context_expr)
            call = item.context_expr
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                continue
            if call.func.attr == "autocommit_block":
                self._autocommit = True
            elif call.func.attr == "batch_alter_table" and isinstance(item.optional_vars, ast.Name):
                table = call.args[0] if call.args else _keyword(call, "table_name")
                self._batches[item.optional_vars.id] = string_literal(table)
        for statement in node.body:
            self.visit(statement)
        self._batches, self._autocommit = saved

    def visit_If(self, node: ast.If) -> None:
        runs = _branch_runs_on(node.test, self.dialect) if self.dialect else None
        if runs is not False:
            self.visit(node.test)
            for statement in node.body:
                self.visit(statement)
        if runs is not True:
            for statement in node.orelse:
                self.visit(statement)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            owner, name = function.value.id, function.attr
            args = list(node.args)
            if owner == "op" and name != "batch_alter_table":
                self.calls.append(_op_call(node, name, args, self._autocommit))
            elif owner in self._batches:
                position = _BATCH_TABLE_POSITION.get(name)
                if position is not None:
                    args.insert(min(position, len(args)), ast.Constant(self._batches[owner]))
                self.calls.append(_op_call(node, name, args, self._autocommit))
        self.generic_visit(node)


_DIALECT_FAMILY = {"mariadb": "mysql"}
_DIALECTS = frozenset({"postgresql", "mysql", "mariadb", "sqlite", "mssql", "oracle"})


def _branch_runs_on(test: ast.expr, dialect: str) -> bool | None:
    """For ``if <...>.name == "mysql":`` (or ``!=``, ``in``, ``not in`` a tuple of names):
    whether the branch runs on `dialect`; None when the test is not such a comparison."""
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.left, ast.Attribute)
        and test.left.attr == "name"
    ):
        return None
    right = test.comparators[0]
    items = right.elts if isinstance(right, ast.Tuple | ast.List | ast.Set) else [right]
    names = {string_literal(item) for item in items}
    if not names or not names <= _DIALECTS:
        return None
    named = dialect in {_DIALECT_FAMILY.get(name, name) for name in names if name}
    operator = test.ops[0]
    if isinstance(operator, ast.Eq | ast.In):
        return named
    if isinstance(operator, ast.NotEq | ast.NotIn):
        return not named
    return None


def _op_call(node: ast.Call, name: str, args: list[ast.expr], autocommit: bool) -> OpCall:
    keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
    return OpCall(name, node.lineno, tuple(args), keywords, autocommit)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _is_none_or_absent(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _column_name(node: ast.expr | None) -> str | None:
    """The name of `sa.Column("email", ...)`."""
    if isinstance(node, ast.Call) and node.args:
        return string_literal(node.args[0])
    return None


def _type_of(node: ast.expr | None) -> tuple[str, int | None] | None:
    """`sa.String(length=50)` → ("String", 50); `sa.Integer()` → ("Integer", None)."""
    node = _postgresql_variant(node)
    if isinstance(node, ast.Call):
        function, args = node.func, node.args
        length_node = args[0] if args else _keyword(node, "length")
    elif isinstance(node, ast.Name | ast.Attribute):
        function, length_node = node, None
    else:
        return None
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if not isinstance(name, str):
        return None
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
        nullable = _keyword(column, "nullable")
        not_null = isinstance(nullable, ast.Constant) and nullable.value is False
        if not not_null or not _is_none_or_absent(_keyword(column, "server_default")):
            continue
        if revision.emptied_before(call.text(0, "table_name"), call.line):
            continue
        shown = call.shown(call.text(0, "table_name"), _column_name(column))
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
        _function_line(revision.tree, "downgrade"),
        "downgrade() is empty: downgrading past this revision silently keeps its changes; "
        "write the inverse, or raise an error saying it cannot be undone",
    )


def _added_column_name(call: OpCall) -> str | None:
    return _column_name(
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
    return call.text(1, "column_name") or _column_name(_column_argument(call))


def _column_argument(call: OpCall) -> ast.expr | None:
    """The second argument when it is a `Column(...)`."""
    node = call.keywords.get("column_name") or (call.args[1] if len(call.args) > 1 else None)
    if isinstance(node, ast.Call):
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name == "Column":
            return node
    return None


def column_for_a_name(revision: RevisionSource) -> Iterator[Finding]:
    """ML023: drop_column and alter_column take the column's name; given a Column instead,
    Alembic raises TypeError and the migration stops there."""
    for function, calls in (("upgrade", revision.upgrade), ("downgrade", revision.downgrade)):
        for call in calls:
            column = _column_argument(call)
            if call.name not in ("drop_column", "alter_column") or column is None:
                continue
            name = _column_name(column)
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


# --- PostgreSQL: locks, rewrites and types (from operations and SQL alike) -------------------


def _existing(revision: RevisionSource, action: Action) -> bool:
    """Whether `action` works on a table that may hold rows: not one this upgrade creates
    (a new table is empty, and no one else uses it yet)."""
    created = {
        a.table for a in revision.actions if a.kind == "create_table" and a.line <= action.line
    }
    return action.table is None or action.table not in created


def _postgresql_actions(revision: RevisionSource, *kinds: str) -> Iterator[Action]:
    if revision.postgresql:
        yield from (action for action in revision.actions if action.kind in kinds)


def sql_counterparts(revision: RevisionSource) -> Iterator[Finding]:
    """ML001 to ML006 for raw SQL: what the operation rules flag, written as SQL instead."""
    for action in _postgresql_actions(
        revision, "drop_table", "drop_column", "add_column", "alter_type", "rename", "create_index"
    ):
        if not action.from_sql:
            continue
        finding = _counterpart(revision, action)
        if finding is not None:
            yield finding


def _counterpart(revision: RevisionSource, action: Action) -> Finding | None:
    shown, line = action.shown, action.line
    if action.kind == "drop_table":
        return Finding("ML001", "error", line, f"{shown}: its rows are deleted for good")
    if action.kind == "drop_column":
        return Finding(
            "ML002",
            "error",
            line,
            f"{shown}: the column's data is deleted for good and "
            "code still selecting it fails; stop using it in one release, drop it in a later one",
        )
    missing_default = any(c.not_null and c.default is None for c in action.columns)
    if (
        action.kind == "add_column"
        and missing_default
        and _existing(revision, action)
        and not revision.emptied_before(action.table, action.line)
    ):
        return Finding(
            "ML003",
            "error",
            line,
            f"{shown}: NOT NULL without a DEFAULT fails on a "
            "table with rows; add it with a default, or nullable, fill it, then constrain it",
        )
    if action.kind == "alter_type" and _existing(revision, action):
        return Finding(
            "ML004",
            "warning",
            line,
            f"{shown}: changing a type rewrites the table under an "
            "ACCESS EXCLUSIVE lock and values may not convert; add a new column and backfill",
        )
    if action.kind == "rename":
        return Finding(
            "ML005",
            "warning",
            line,
            f"{shown}: code already running still uses the old "
            "name; add the new name beside the old, move the code over, then drop the old",
        )
    if action.kind == "create_index" and not action.concurrently and _existing(revision, action):
        return Finding(
            "ML006",
            "warning",
            line,
            f"{shown}: without CONCURRENTLY it blocks writes to the "
            "table while it builds; use CREATE INDEX CONCURRENTLY outside a transaction",
        )
    return None


def constraint_without_not_valid(revision: RevisionSource) -> Iterator[Finding]:
    """ML010: adding a foreign key or check constraint checks every row under a lock that
    blocks writes (for a foreign key, on both tables)."""
    for action in _postgresql_actions(revision, "add_constraint"):
        checked = action.constraint in ("foreign", "check") and not action.not_valid
        if checked and _existing(revision, action):
            what = "foreign key" if action.constraint == "foreign" else "check constraint"
            yield Finding(
                "ML010",
                "warning",
                action.line,
                f"{action.shown}: the {what} is checked against every row while writes "
                "wait; add it NOT VALID (postgresql_not_valid=True), then VALIDATE "
                "CONSTRAINT in a later transaction",
            )


def set_not_null(revision: RevisionSource) -> Iterator[Finding]:
    """ML011: SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, unless a validated
    CHECK (col IS NOT NULL) already proves it (PostgreSQL 12+): a VALIDATE CONSTRAINT on the
    same table earlier in the revision is taken as that proof."""
    for action in _postgresql_actions(revision, "set_not_null"):
        before = revision.actions[: revision.actions.index(action)]
        validated = any(
            other.kind == "validate_constraint" and other.table == action.table for other in before
        )
        if _existing(revision, action) and not validated:
            yield Finding(
                "ML011",
                "warning",
                action.line,
                f"{action.shown}: SET NOT NULL reads every row under an ACCESS EXCLUSIVE "
                "lock; add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
            )


def unique_constraint(revision: RevisionSource) -> Iterator[Finding]:
    """ML012: a unique constraint builds its index while writes wait."""
    for action in _postgresql_actions(revision, "add_constraint"):
        if action.constraint == "unique" and not action.using_index and _existing(revision, action):
            yield Finding(
                "ML012",
                "warning",
                action.line,
                f"{action.shown}: the unique index is built while writes wait; create it "
                "with create_index(..., unique=True, postgresql_concurrently=True), then "
                "ADD CONSTRAINT ... UNIQUE USING INDEX",
            )


def primary_key_added(revision: RevisionSource) -> Iterator[Finding]:
    """ML013: a primary key added to a table with rows builds its index (and, for a new
    column, rewrites the table) under ACCESS EXCLUSIVE."""
    for action in _postgresql_actions(revision, "add_constraint", "add_column"):
        adds_key = (
            action.constraint == "primary" and not action.using_index
            if action.kind == "add_constraint"
            else any(column.primary_key for column in action.columns)
        )
        if adds_key and _existing(revision, action):
            yield Finding(
                "ML013",
                "warning",
                action.line,
                f"{action.shown}: the primary key's index is built under an ACCESS EXCLUSIVE "
                "lock; build a unique index concurrently, then ADD CONSTRAINT ... PRIMARY KEY "
                "USING INDEX",
            )


def volatile_default(revision: RevisionSource) -> Iterator[Finding]:
    """ML014: a column added with a volatile default rewrites the whole table."""
    for action in _postgresql_actions(revision, "add_column"):
        for column in action.columns:
            function = column.volatile_default
            if function and _existing(revision, action):
                yield Finding(
                    "ML014",
                    "warning",
                    action.line,
                    f"{action.shown}: the default {function}() is volatile, so every row is "
                    "rewritten under an ACCESS EXCLUSIVE lock; add the column without it, set "
                    "the default, then backfill in batches",
                )


def drop_index_without_concurrently(revision: RevisionSource) -> Iterator[Finding]:
    """ML015: a plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the table."""
    dropped = {action.table for action in revision.actions if action.kind == "drop_table"}
    for action in _postgresql_actions(revision, "drop_index"):
        if action.concurrently or not _existing(revision, action):
            continue
        if action.table is not None and action.table in dropped:
            continue
        yield Finding(
            "ML015",
            "warning",
            action.line,
            f"{action.shown}: without CONCURRENTLY it locks the table against reads and "
            "writes; pass postgresql_concurrently=True inside autocommit_block()",
        )


def concurrently_in_transaction(revision: RevisionSource) -> Iterator[Finding]:
    """ML016: PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY inside a transaction, and
    every revision runs in one unless inside ``op.get_context().autocommit_block()``."""
    for action in _postgresql_actions(revision, "create_index", "drop_index"):
        if action.concurrently and action.in_transaction:
            yield Finding(
                "ML016",
                "error",
                action.line,
                f"{action.shown}: CONCURRENTLY fails inside the revision's transaction; run "
                "it inside `with op.get_context().autocommit_block():`",
            )


def truncate_cascade(revision: RevisionSource) -> Iterator[Finding]:
    """ML017: TRUNCATE ... CASCADE empties every table that references it, recursively."""
    for action in _postgresql_actions(revision, "truncate"):
        if action.cascade:
            yield Finding(
                "ML017",
                "error",
                action.line,
                f"{action.shown}: CASCADE also empties every table with a foreign key to it, "
                "and theirs; name each table to empty instead",
            )


def drop_database(revision: RevisionSource) -> Iterator[Finding]:
    """ML018: a migration has no business dropping a database."""
    for action in _postgresql_actions(revision, "drop_database"):
        yield Finding(
            "ML018",
            "error",
            action.line,
            f"{action.shown}: every table and row of the database is gone; do it by hand, "
            "never in a migration",
        )


def _created_columns(revision: RevisionSource) -> Iterator[tuple[Action, Column | None, str]]:
    """Each column a revision creates or retypes, with its type family."""
    for action in _postgresql_actions(revision, "create_table", "add_column", "alter_type"):
        if action.kind == "alter_type":
            if action.new_type:
                yield action, None, action.new_type
            continue
        for column in action.columns:
            if column.family:
                yield action, column, column.family


def _named(action: Action, column: Column | None) -> str:
    return f"{action.shown}, column {column.name!r}" if column and column.name else action.shown


def char_column(revision: RevisionSource) -> Iterator[Finding]:
    """ML019: CHAR(n) pads with spaces and is no faster than text or varchar."""
    for action, column, family in _created_columns(revision):
        if family == "char":
            yield Finding(
                "ML019",
                "warning",
                action.line,
                f"{_named(action, column)}: CHAR pads values with spaces and compares them "
                "surprisingly; use sa.Text or sa.String",
            )


def timestamp_without_time_zone(revision: RevisionSource) -> Iterator[Finding]:
    """ML020: a timestamp without time zone drops the offset it was given."""
    for action, column, family in _created_columns(revision):
        if family == "timestamp":
            yield Finding(
                "ML020",
                "warning",
                action.line,
                f"{_named(action, column)}: timestamp without time zone drops the UTC offset "
                "it is given; use sa.DateTime(timezone=True) (timestamptz)",
            )


def int_primary_key(revision: RevisionSource) -> Iterator[Finding]:
    """ML021: a 32-bit key runs out at 2.1 billion rows, and widening it later rewrites the
    table and every foreign key to it."""
    for action, column, family in _created_columns(revision):
        if column is not None and column.primary_key and family in ("int", "serial"):
            yield Finding(
                "ML021",
                "warning",
                action.line,
                f"{_named(action, column)}: a 32-bit key runs out at 2,147,483,647 and "
                "widening it rewrites the table; use sa.BigInteger with sa.Identity()",
            )


# What takes a lock that stops reads or writes on an existing table until the revision ends.
_STRONG_LOCKS = frozenset(
    {
        "add_column",
        "alter_type",
        "set_not_null",
        "rename",
        "drop_table",
        "drop_column",
        "add_constraint",
        "drop_constraint",
        "truncate",
        "other_ddl",
    }
)


def _strong_lock(revision: RevisionSource, action: Action) -> bool:
    if action.kind in ("create_index", "drop_index"):
        return not action.concurrently and _existing(revision, action)
    return action.kind in _STRONG_LOCKS and _existing(revision, action)


def missing_lock_timeout(revision: RevisionSource) -> Iterator[Finding]:
    """ML022: a strong lock waits behind any long transaction on the table, and every query
    on the table queues behind it: the outage a lock timeout turns into a failed deploy."""
    if not revision.postgresql or revision.lock_timeout:
        return
    # In order of execution (a helper's SQL in --sql mode may stand on an earlier line).
    for first in revision.actions:
        if first.kind == "set_lock_timeout":
            return
        if _strong_lock(revision, first):
            break
    else:
        return
    yield Finding(
        "ML022",
        "warning",
        first.line,
        f"{first.shown} takes a lock that queues every query on the table while it waits, "
        f"and no lock timeout is set; set {LOCK_TIMEOUT_SETTING}, or `lock_timeout = "
        '"5s"` in the revision, or op.execute("SET LOCAL lock_timeout = \'5s\'") first',
    )


def _function_line(tree: ast.Module, name: str) -> int:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.lineno
    return 1


# The rules that read `RevisionSource.actions`, and so apply to offline SQL as well.
ACTION_RULES: tuple[Rule, ...] = (
    sql_counterparts,
    constraint_without_not_valid,
    set_not_null,
    unique_constraint,
    primary_key_added,
    volatile_default,
    drop_index_without_concurrently,
    concurrently_in_transaction,
    truncate_cascade,
    drop_database,
    char_column,
    timestamp_without_time_zone,
    int_primary_key,
    missing_lock_timeout,
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


def dialect_of(url: str | None) -> str | None:
    """`postgresql+psycopg://...` → "postgresql", without importing SQLAlchemy."""
    if not url or ":" not in url:
        return None
    name = url.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if name == "postgres" else name
