"""A revision file as `migrate lint`'s rules read it, and the findings they give.

Revisions are read, not run: each file is parsed with `ast` and its ``op.*`` calls (and the
``batch_op.*`` calls inside ``with op.batch_alter_table(...)``) are inspected. Running them
in offline mode would need Alembic's environment, a dialect, and for batch operations on
SQLite a live table; it would execute the project's code, and the SQL it prints has lost the
line each statement came from. Parsing needs no import and no database, works alike for every
dialect, reports the exact line of each call, and takes milliseconds, so `migrate create` can
lint every file it writes. What it cannot see is SQL built at run time or operations hidden in
helper functions: those pass unflagged. A file silences rules with a comment anywhere in it
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

from migrations_cli.guards.op_calls import OpCall, string_literal

if TYPE_CHECKING:
    from migrations_cli.guards.lint_actions import Action

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
        and not is_none_or_absent(getattr(node, "value", None))
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
                table = call.args[0] if call.args else keyword_argument(call, "table_name")
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


def keyword_argument(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def is_none_or_absent(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def column_name(node: ast.expr | None) -> str | None:
    """The name of `sa.Column("email", ...)`."""
    if isinstance(node, ast.Call) and node.args:
        return string_literal(node.args[0])
    return None


def function_line(tree: ast.Module, name: str) -> int:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.lineno
    return 1


def dialect_of(url: str | None) -> str | None:
    """`postgresql+psycopg://...` → "postgresql", without importing SQLAlchemy."""
    if not url or ":" not in url:
        return None
    name = url.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if name == "postgres" else name
