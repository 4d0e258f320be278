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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from migrations_cli.context import MigrationsContext

Severity = Literal["error", "warning"]

DISABLE_SETTING = "MIGRATIONS_LINT_DISABLE"
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


@dataclass(frozen=True)
class OpCall:
    """One operation call, e.g. ``op.drop_column("users", "name")`` at line 21. A batch
    operation's arguments are given as the plain `op` call's, its table put back in place."""

    name: str
    line: int
    args: tuple[ast.expr, ...]
    keywords: dict[str, ast.expr]

    def text(self, index: int, keyword: str | None = None) -> str | None:
        """A string argument, by position or keyword; None when absent or not a literal."""
        node = self.keywords.get(keyword) if keyword else None
        if node is None and index < len(self.args):
            node = self.args[index]
        return _string(node)

    def shown(self, *names: str | None) -> str:
        """`drop_column('users', 'name')`: the call as a finding names it."""
        return f"{self.name}({', '.join(repr(name) for name in names if name is not None)})"


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


Rule = Callable[[RevisionSource], Iterable[Finding]]


def read_revision(
    path: Path, *, revision: str | None = None, dialect: str | None = None
) -> RevisionSource:
    """Parse a revision file; a file that is not valid Python raises SyntaxError."""
    with tokenize.open(path) as stream:  # honours a `# -*- coding: ... -*-` declaration
        source = stream.read()
    tree = ast.parse(source, filename=str(path))
    upgrade, upgrade_empty = _function_calls(tree, "upgrade")
    downgrade, downgrade_empty = _function_calls(tree, "downgrade")
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
    )


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
    value = os.environ.get(DISABLE_SETTING)
    if not value and env_file is not None:
        from migrations_cli.settings import read_env_file

        value = read_env_file(env_file).get(DISABLE_SETTING)
    return rule_ids(value)


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
            return _string(node.value)
    return None


def _assignment_target(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target: ast.expr = node.targets[0]
    elif isinstance(node, ast.AnnAssign):
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def _function_calls(tree: ast.Module, name: str) -> tuple[tuple[OpCall, ...], bool]:
    """The op calls of the module-level function `name` (and of multi-database templates'
    `name_<engine>` functions), and whether they do nothing at all."""
    functions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and (node.name == name or node.name.startswith(name + "_"))
    ]
    calls = [call for function in functions for call in _op_calls(function.body)]
    empty = all(_is_empty(function.body) for function in functions)
    return tuple(sorted(calls, key=lambda call: call.line)), empty


def _is_empty(body: list[ast.stmt]) -> bool:
    """Only `pass`, `...` or a docstring: the function does nothing."""
    return all(
        isinstance(statement, ast.Pass)
        or (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
        for statement in body
    )


def _op_calls(body: list[ast.stmt]) -> Iterator[OpCall]:
    """Calls on `op`, and on the names bound by `with op.batch_alter_table(T) as NAME`."""
    batches: dict[str, str | None] = {}
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.With):
                batches.update(_batch_names(node))
    for statement in body:
        for node in ast.walk(statement):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
            ):
                continue
            owner, name = node.func.value.id, node.func.attr
            if owner == "op" and name != "batch_alter_table":
                yield _op_call(node, name, list(node.args))
            elif owner in batches:
                args = list(node.args)
                position = _BATCH_TABLE_POSITION.get(name)
                if position is not None:
                    args.insert(min(position, len(args)), ast.Constant(batches[owner]))
                yield _op_call(node, name, args)


def _batch_names(node: ast.With) -> Iterator[tuple[str, str | None]]:
    for item in node.items:
        call = item.context_expr
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "batch_alter_table"
            and isinstance(item.optional_vars, ast.Name)
        ):
            table = call.args[0] if call.args else _keyword(call, "table_name")
            yield item.optional_vars.id, _string(table)


def _op_call(node: ast.Call, name: str, args: list[ast.expr]) -> OpCall:
    keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
    return OpCall(name, node.lineno, tuple(args), keywords)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_none_or_absent(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _column_name(node: ast.expr | None) -> str | None:
    """The name of `sa.Column("email", ...)`."""
    if isinstance(node, ast.Call) and node.args:
        return _string(node.args[0])
    return None


def _type_of(node: ast.expr | None) -> tuple[str, int | None] | None:
    """`sa.String(length=50)` → ("String", 50); `sa.Integer()` → ("Integer", None)."""
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
                f"new_column_name={_string(call.keywords['new_column_name'])!r})"
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
        if call.name != "create_index" or _is_true(call.keywords.get("postgresql_concurrently")):
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
        lambda call: (call.text(0, "table_name"), call.text(1, "column_name")),
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


def _function_line(tree: ast.Module, name: str) -> int:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.lineno
    return 1


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
)


# --- running the rules on a project ----------------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """A finding in a given revision file, as `migrate lint` and `migrate create` print it."""

    finding: Finding
    revision: str
    path: str

    def line_text(self, severity: str | None = None) -> str:
        """`alembic/versions/x.py:12: ML002 error in ab12: drop_column(...): advice`;
        `severity` is the severity as shown (coloured, say)."""
        finding = self.finding
        return (
            f"{self.path}:{finding.line}: {finding.rule} {severity or finding.severity} "
            f"in {self.revision}: {finding.message}"
        )

    def document(self) -> dict[str, object]:
        finding = self.finding
        return {
            "rule": finding.rule,
            "severity": finding.severity,
            "revision": self.revision,
            "path": self.path,
            "line": finding.line,
            "message": finding.message,
        }


def project_rules(context: MigrationsContext) -> list[Rule]:
    """The built-in rules, then those the plugins return from `lint_rules`."""
    from migrations_cli.plugin_manager import call_hook

    returned = call_hook(context.plugin_manager.hook.lint_rules)
    return [*BUILTIN_RULES, *(rule for rules in returned for rule in rules or ())]


def lint_files(
    context: MigrationsContext, files: Sequence[tuple[Path, str | None]]
) -> list[Reported]:
    """Every finding in `files` (each a path and its revision id when known), file by file."""
    from migrations_cli.revision_graph import shown_path

    rules = project_rules(context)
    disabled = project_disabled(context.settings.env_file)
    dialect = _dialect(context.settings.database_url)
    reported: list[Reported] = []
    for path, revision_id in files:
        revision = _parsed(path, revision_id, dialect)
        shown = shown_path(str(path))
        reported += [
            Reported(finding, revision.revision, shown)
            for finding in _checked_findings(revision, rules, disabled, shown)
        ]
    return reported


def _parsed(path: Path, revision: str | None, dialect: str | None) -> RevisionSource:
    from migrations_cli.errors import MigrationsError

    try:
        return read_revision(path, revision=revision, dialect=dialect)
    except SyntaxError as error:
        where = f"line {error.lineno}: " if error.lineno else ""
        raise MigrationsError(f"{path}: {where}{error.msg}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MigrationsError(f"{path}: cannot read ({error})") from None


def _checked_findings(
    revision: RevisionSource, rules: Sequence[Rule], disabled: frozenset[str], shown: str
) -> list[Finding]:
    """run_rules, with a rule that raises (a plugin's bug) reported as one line naming it."""
    from migrations_cli.errors import PluginError, first_line
    from migrations_cli.output import mask_outside

    checked: list[Rule] = []
    for rule in rules:

        def guarded(source: RevisionSource, rule: Rule = rule) -> list[Finding]:
            try:
                return list(rule(source))
            except Exception as error:
                name = f"{getattr(rule, '__module__', '?')}.{getattr(rule, '__qualname__', rule)}"
                raise PluginError(
                    f"lint rule {name} failed on {shown}: "
                    f"{type(error).__name__}: {mask_outside(first_line(str(error)))}"
                ) from error

        checked.append(guarded)
    return run_rules(revision, checked, disabled)


def _dialect(url: str | None) -> str | None:
    """`postgresql+psycopg://...` → "postgresql", without importing SQLAlchemy."""
    if not url or ":" not in url:
        return None
    name = url.split(":", 1)[0].split("+", 1)[0].lower()
    return "postgresql" if name == "postgres" else name
