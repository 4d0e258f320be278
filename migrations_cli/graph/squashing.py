"""Squashing: the revisions up to REV become one baseline revision that keeps REV's id.

Which revisions may go (those below REV, when no revision outside them hangs off one of
them), what the baseline's file says (Alembic's autogenerate rendering of the schema the old
history built, and the old revisions' non-schema statements in a block to review), and the
error a database still below REV gets afterwards. The proof (replay both, compare) is the
command's, in plugins/squash.py, on the scratch database.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import MigrationsError
from migrations_cli.guards.op_calls import called_name

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

    from migrations_cli.guards.schema_compare import Schema

# The baseline's module attribute naming the revisions it replaced (oldest first): what lets
# `migrate upgrade` tell a database below the baseline what to do.
SQUASHED_ATTRIBUTE = "squashed_revisions"
# Calls that move data or run SQL of their own (op.execute, a connection's, an ORM
# session's, sa.insert/update/delete): what autogenerate cannot render.
_DATA_CALLS = frozenset(
    {
        "execute",
        "bulk_insert",
        "exec_driver_sql",
        "executemany",
        "Session",
        "sessionmaker",
        "query",
        "add",
        "add_all",
        "merge",
        "commit",
        "insert",
        "update",
        "delete",
    }
)
_REVIEW_RULE = "# " + "-" * 86


@dataclass(frozen=True)
class DataOperation:
    """A statement of an old revision's upgrade() that is not schema: the baseline lists it."""

    revision: str
    message: str
    file: str
    line: int
    code: str


def revisions_to_squash(script: ScriptDirectory, revision: str) -> list[Script]:
    """REV and every revision below it, oldest first; refused when a revision that stays
    (not below REV) has a parent or dependency among those below REV: a branch that is not
    merged into REV would lose the revision it starts from."""
    from alembic.util import CommandError

    try:
        target = script.get_revision(revision)
    except CommandError as error:
        raise MigrationsError(f"squash {revision}: {error}") from None
    if target is None:
        raise MigrationsError("squash: name a revision, not base")
    replaced = list(script.iterate_revisions(target.revision, "base"))[::-1]
    below = {found.revision for found in replaced} - {target.revision}
    for found in script.walk_revisions():
        if found.revision in below or found.revision == target.revision:
            continue
        hanging = [parent for parent in _parents(found) if parent in below]
        if hanging:
            raise MigrationsError(
                f"cannot squash {target.revision}: revision {found.revision} "
                f"({found.doc or 'no message'}) branches off {hanging[0]}, below "
                f"{target.revision}, and is not merged into it; merge that branch first "
                "(`migrate merge`) and squash the merge, or squash a revision below the fork"
            )
    if len(replaced) < 2:
        raise MigrationsError(
            f"squash {target.revision}: it is the first revision, nothing to squash"
        )
    return replaced


def _parents(revision: Script) -> tuple[str, ...]:
    def as_tuple(value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        return (value,) if isinstance(value, str) else tuple(value)

    return as_tuple(revision.down_revision) + as_tuple(revision.dependencies)


def data_operations(revisions: list[Script]) -> list[DataOperation]:
    """Each top-level statement of the revisions' upgrade() that executes SQL or inserts
    rows, with its source as written."""
    found: list[DataOperation] = []
    for revision in revisions:
        source = Path(revision.path).read_text(encoding="utf-8")
        tree = ast.parse(source)
        upgrade = next(
            (
                node
                for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
            ),
            None,
        )
        # Module-level helpers that move data count as data calls where upgrade() calls them.
        helpers = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef)
            and node.name not in ("upgrade", "downgrade")
            and any(_is_data_call(inner, set()) for inner in ast.walk(node))
        }
        for statement in upgrade.body if upgrade else []:
            if any(_is_data_call(node, helpers) for node in ast.walk(statement)):
                found.append(
                    DataOperation(
                        revision.revision,
                        revision.doc or "",
                        Path(revision.path).name,
                        statement.lineno,
                        ast.get_source_segment(source, statement, padded=True) or "",
                    )
                )
    return found


def _is_data_call(node: ast.AST, helpers: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = called_name(node)
    return name in _DATA_CALLS or name in helpers


def render_operations(connection: Connection, schema: Schema) -> tuple[str, str]:
    """The Python bodies of upgrade() and downgrade() that build and drop `schema`, from
    the empty database behind `connection`: Alembic's autogenerate against it, rendered with
    the dialect's types. PostgreSQL's enum types are created once before the tables and
    dropped after them (autogenerate would create a shared one twice and drop none),
    free-standing sequences likewise, and a SERIAL column's nextval() default is left to
    the SERIAL that recreates it."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.operations import ops
    from alembic.runtime.migration import MigrationContext

    migration_context = MigrationContext.configure(connection)
    first: list[Any] = []
    last: list[Any] = []
    if connection.dialect.name == "postgresql":
        first, last = _postgresql_objects(connection, schema)
    generated = produce_migrations(migration_context, schema.metadata)
    upgrade_ops = generated.upgrade_ops
    downgrade_ops = generated.downgrade_ops
    assert upgrade_ops is not None and downgrade_ops is not None
    upgrade_ops.ops[:0] = [ops.ExecuteSQLOp(statement) for statement in first]
    # A dropped table takes its indexes along (MySQL refuses to drop a foreign key's first).
    dropped = {op.table_name for op in downgrade_ops.ops if isinstance(op, ops.DropTableOp)}
    for container in downgrade_ops.ops:
        if isinstance(container, ops.ModifyTableOps) and container.table_name in dropped:
            container.ops = [op for op in container.ops if not isinstance(op, ops.DropIndexOp)]
    downgrade_ops.ops = [
        op
        for op in downgrade_ops.ops
        if not (isinstance(op, ops.ModifyTableOps) and not op.ops)
        and not (isinstance(op, ops.DropIndexOp) and op.table_name in dropped)
    ]
    downgrade_ops.ops.extend(ops.ExecuteSQLOp(statement) for statement in last)

    def rendered(operations: Any) -> str:
        code = render_python_code(operations, migration_context=migration_context)
        return "    " + code.strip()

    return rendered(upgrade_ops), rendered(downgrade_ops)


def _postgresql_objects(connection: Connection, schema: Schema) -> tuple[list[str], list[str]]:
    """CREATE/DROP statements for the enum types and free sequences; the reflected columns
    adjusted so that the tables do not create them again."""
    from sqlalchemy.dialects.postgresql import ENUM
    from sqlalchemy.dialects.postgresql.named_types import CreateEnumType
    from sqlalchemy.schema import CreateSequence, Sequence

    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    for table in schema.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, ENUM):
                column.type.create_type = False
            default = getattr(column.server_default, "arg", None)
            if str(getattr(default, "text", default)).startswith("nextval(") and column.primary_key:
                column.server_default = None
    create = [
        str(CreateEnumType(ENUM(*labels, name=name)).compile(dialect=dialect))
        for name, labels in sorted(schema.enums.items())
    ]
    create += [
        str(CreateSequence(Sequence(name)).compile(dialect=dialect))
        for name in sorted(schema.sequences)
    ]
    drop = [f"DROP TYPE {quote(name)}" for name in sorted(schema.enums)]
    drop += [f"DROP SEQUENCE {quote(name)}" for name in sorted(schema.sequences)]
    return create, drop


def baseline_source(
    target: Script,
    replaced: list[Script],
    upgrade_body: str,
    downgrade_body: str,
    data: list[DataOperation],
    scratch_dialect: str,
) -> str:
    """The baseline revision file: REV's id, no parent, the rendered operations, the review
    block, and the list of the revisions it replaced."""
    labels = sorted({label for found in replaced for label in found.branch_labels})
    imports = "".join(
        f"from sqlalchemy.dialects import {name}\n"
        for name in ("mysql", "postgresql", "sqlite")
        if re.search(rf"\b{name}\.", upgrade_body + downgrade_body)
    )
    squashed = "".join(f"    {found.revision!r},\n" for found in replaced)
    return f'''"""{target.doc or "baseline"} (baseline: {len(replaced)} revisions squashed)

Revision ID: {target.revision}
Revises:
Create Date: {datetime.now().isoformat(sep=" ", timespec="seconds")}

Written by `migrate squash {target.revision}`: upgrade() builds the schema the squashed
revisions built, as Alembic's autogenerate rendered it from a {scratch_dialect} database they
were replayed on, and the replay of this file was compared with theirs before it was written.
A database below {target.revision} cannot upgrade through it: upgrade it to
{target.revision} with a release of the project from before the squash first.
"""

import sqlalchemy as sa
from alembic import op
{imports}
revision = {target.revision!r}
down_revision = None
branch_labels = {tuple(labels) if labels else None!r}
depends_on = None

# The revisions this baseline replaced, oldest first.
{SQUASHED_ATTRIBUTE} = (
{squashed})


def upgrade():
{upgrade_body}
{review_block(data)}

def downgrade():
{downgrade_body}
'''


def review_block(data: list[DataOperation]) -> str:
    """The old revisions' non-schema statements, commented out in upgrade(): nothing they did
    is silently dropped, and nothing runs twice on a database that had them."""
    if not data:
        return ""
    lines = [
        "",
        _REVIEW_RULE,
        "# REVIEW: the squashed revisions also ran these statements, which are not schema",
        "# (data, raw SQL). This baseline does NOT run them. Add back above what a fresh",
        "# database still needs (seed rows, extensions, views), then delete this block.",
    ]
    for operation in data:
        lines += [
            "#",
            f"# {operation.revision}  {operation.message}  "
            f"({operation.file}, line {operation.line})",
        ]
        lines += [f"#   {line}".rstrip() for line in textwrap.dedent(operation.code).splitlines()]
    lines.append(_REVIEW_RULE)
    return "\n".join(f"    {line}" for line in lines) + "\n"


def squashed_into(script: ScriptDirectory) -> dict[str, str]:
    """Each revision a baseline of this history replaced -> that baseline's id (the
    baseline itself included). Read from the base files' text, so that it holds for a
    history loaded from the revision cache too."""
    found: dict[str, str] = {}
    for base in script.get_bases():
        revision = script.get_revision(base)
        if revision is None or not revision.path:
            continue
        for replaced in _squashed_attribute(Path(revision.path).read_text(encoding="utf-8")):
            found[replaced] = revision.revision
    return found


def _squashed_attribute(source: str) -> tuple[str, ...]:
    if SQUASHED_ATTRIBUTE not in source:
        return ()
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(getattr(target, "id", None) == SQUASHED_ATTRIBUTE for target in node.targets)
            and isinstance(node.value, ast.Tuple | ast.List)
        ):
            return tuple(
                element.value
                for element in node.value.elts
                if isinstance(element, ast.Constant) and isinstance(element.value, str)
            )
    return ()


def below_baseline_error(script: ScriptDirectory, heads: tuple[str, ...]) -> MigrationsError | None:
    """The error for a database whose revision a baseline replaced (None for any other)."""
    squashed = squashed_into(script)
    for revision in heads:
        baseline = squashed.get(revision)
        if baseline is not None and baseline != revision:
            return MigrationsError(
                f"the database is at {revision}, which baseline {baseline} replaced (migrate "
                f"squash): upgrade it to {baseline} with a release of the project from before "
                "the squash (one that still has the old revisions), then upgrade with this one"
            )
    return None
