"""`migrate check`: do the models match the database at head? For CI, to catch a model
change that nobody wrote a migration for (what `alembic check` answers, in plain words)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption
from migrations_cli.context import get_context
from migrations_cli.errors import MigrationsError
from migrations_cli.hookspecs import hookimpl
from migrations_cli.migration_run import describe_revisions

if TYPE_CHECKING:
    import pluggy
    from alembic.script import ScriptDirectory
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True)
class Difference:
    """One difference between the models and the database, as Alembic's autogenerate sees
    it; `kind` is Alembic's own name for it (add_column, modify_type, ...)."""

    kind: str
    table: str | None
    column: str | None
    description: str


def check(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Compare the models with the database at head; exit 1 when they differ."""
    from migrations_cli.database import database_heads, opened_connection
    from migrations_cli.metadata import load_metadata

    context = get_context(ctx)
    settings = context.settings
    if settings.metadata is None:
        raise MigrationsError(
            "MIGRATIONS_METADATA is not set, so there are no models to compare: set it to "
            "the models' MetaData, e.g. MIGRATIONS_METADATA=app.models:Base.metadata"
        )
    metadata = load_metadata(settings.metadata)
    script = context.script
    with opened_connection(settings) as connection:
        revision = describe_revisions(head_of_database(script, database_heads(connection)))
        differences = model_differences(connection, metadata, context.plugin_manager.hook)
    if json_output:
        output.json_result(
            {"revision": revision, "differences": [asdict(found) for found in differences]}
        )
    elif differences:
        for found in differences:
            output.result(found.description)
        count = len(differences)
        output.info(
            f"{count} difference{'s' if count != 1 else ''} between the models and the "
            f"database at head ({revision}): the models changed without a migration; write "
            "one with `migrate create MESSAGE`."
        )
    else:
        output.result(f"No differences: the models match the database at head ({revision}).")
    if differences:
        raise typer.Exit(1)


def head_of_database(script: ScriptDirectory, heads: tuple[str, ...]) -> tuple[str, ...]:
    """The database's revisions when they are the migrations' heads; otherwise the error
    that says what to do, since a comparison with a database behind head reports the
    pending migrations' changes as missing."""
    unknown = [revision for revision in heads if not is_known_revision(script, revision)]
    if unknown:
        raise MigrationsError(
            f"the database is at {', '.join(unknown)}, which no migration file defines "
            "(a deleted file, or one not pulled yet): restore it, then check again "
            "(`migrate doctor` says more)"
        )
    expected = tuple(sorted(script.get_heads()))
    if heads != expected:
        raise MigrationsError(
            f"the database is not up to date (it is at {describe_revisions(heads)}, head is "
            f"{describe_revisions(expected)}): run `migrate upgrade` first, then check again"
        )
    return heads


def is_known_revision(script: ScriptDirectory, revision: str) -> bool:
    """Whether a migration file defines `revision` (the database may name a deleted one)."""
    from alembic.script.revision import ResolutionError
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False


def model_differences(
    connection: Connection, metadata: MetaData | list[MetaData], hook: pluggy.HookRelay
) -> list[Difference]:
    """Alembic's autogenerate comparison, with the options env.py gives it (type comparison,
    the plugins' include_object), each difference described in words."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from migrations_cli.environment import plugin_include_object

    migration_context = MigrationContext.configure(
        connection,
        opts={
            "target_metadata": metadata,
            "compare_type": True,
            "include_object": plugin_include_object(hook),
        },
    )
    # compare_metadata takes a list of MetaData as env.py's target_metadata does.
    diffs: list[Any] = compare_metadata(migration_context, metadata)  # type: ignore[arg-type]
    return [describe_difference(diff, connection.dialect) for diff in _flattened(diffs)]


def _flattened(diffs: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    """Alembic groups the changes to one column in a list; one difference per change here."""
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


def describe_difference(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    """One of Alembic's diff tuples in words, naming the table and the column."""
    kind = diff[0]
    describer = _DESCRIBERS.get(kind)
    if describer is None:  # a kind a later Alembic adds: still listed, in its own terms
        return Difference(kind, None, None, f"{kind}: {' '.join(map(str, diff[1:]))}")
    return describer(diff, dialect)


def _table_name(table: Any) -> str:
    return f"{table.schema}.{table.name}" if getattr(table, "schema", None) else str(table.name)


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _type_text(type_: Any, dialect: Dialect) -> str:
    """The type as this database spells it (VARCHAR(80)), as in the DDL a migration emits."""
    if type_ is None:
        return "unknown"
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type this dialect cannot render: SQLAlchemy's generic spelling
        return repr(type_)


def _quoted(value: Any) -> str:
    return "none" if value is None else f"'{value}'"


def _default_text(default: Any) -> str:
    """A server default, reflected (text) or from the model (DefaultClause), as SQL text."""
    if default is None or default is False:
        return "none"
    argument = getattr(default, "arg", default)
    return str(getattr(argument, "text", argument))


def _named(name: Any) -> str:
    """The name of an index or constraint before its table ("ix_users_name on "), if any."""
    return f"{name} on " if name else ""


def _columns(names: Iterable[str]) -> str:
    return f"({', '.join(names)})"


def _expression_names(expressions: Sequence[Any]) -> list[str]:
    return [str(getattr(expression, "name", None) or expression) for expression in expressions]


def _table(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, table = diff[0], diff[1]
    verb = "added" if kind == "add_table" else "removed"
    name = _table_name(table)
    return Difference(kind, name, None, f"table {verb}: {name}")


def _column(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, schema, table, column = diff[:4]
    name = _qualified(schema, table)
    if kind == "add_column":
        text = f"column added: {name}.{column.name} {_type_text(column.type, dialect)}"
    else:
        text = f"column removed: {name}.{column.name}"
    return Difference(kind, name, column.name, text)


_MODIFIED = {
    "modify_type": "column type changed",
    "modify_nullable": "column nullability changed",
    "modify_default": "column server default changed",
    "modify_comment": "column comment changed",
}


def _modified_column(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, schema, table, column, _existing, old, new = diff
    name = _qualified(schema, table)
    render: Callable[[Any], str] = {
        "modify_type": lambda type_: _type_text(type_, dialect),
        "modify_nullable": lambda nullable: "NULL" if nullable else "NOT NULL",
        "modify_default": _default_text,
        "modify_comment": _quoted,
    }[kind]
    return Difference(
        kind, name, column, f"{_MODIFIED[kind]}: {name}.{column} {render(old)} -> {render(new)}"
    )


def _index(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, index = diff[0], diff[1]
    table = _table_name(index.table)
    what = "unique index" if index.unique else "index"
    verb = "added" if kind == "add_index" else "removed"
    columns = _columns(_expression_names(list(index.expressions)))
    return Difference(kind, table, None, f"{what} {verb}: {_named(index.name)}{table} {columns}")


def _constraint(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, constraint = diff[0], diff[1]
    table = _table_name(constraint.table)
    what = constraint.__visit_name__.replace("_", " ")  # "unique constraint"
    verb = "added" if kind == "add_constraint" else "removed"
    columns = _columns(column.name for column in constraint.columns)
    return Difference(
        kind, table, None, f"{what} {verb}: {_named(constraint.name)}{table} {columns}"
    )


def _foreign_key(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, constraint = diff[0], diff[1]
    table = _table_name(constraint.table)
    verb = "added" if kind == "add_fk" else "removed"
    # target_fullname is "[schema.]table.column" even when the referred table is unknown.
    targets = [element.target_fullname.rpartition(".") for element in constraint.elements]
    referred = targets[0][0] if targets else "?"
    source = f"{_named(constraint.name)}{table} {_columns(constraint.column_keys)}"
    description = (
        f"foreign key {verb}: {source} -> {referred} {_columns(target[2] for target in targets)}"
    )
    return Difference(kind, table, None, description)


def _table_comment(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, table = diff[0], diff[1]
    name = _table_name(table)
    if kind == "remove_table_comment":
        return Difference(kind, name, None, f"table comment removed: {name}")
    existing = diff[2] if len(diff) > 2 else None
    if existing is None:
        return Difference(kind, name, None, f"table comment added: {name} {_quoted(table.comment)}")
    return Difference(
        kind,
        name,
        None,
        f"table comment changed: {name} {_quoted(existing)} -> {_quoted(table.comment)}",
    )


_DESCRIBERS: dict[str, Callable[[tuple[Any, ...], Dialect], Difference]] = {
    "add_table": _table,
    "remove_table": _table,
    "add_column": _column,
    "remove_column": _column,
    **dict.fromkeys(_MODIFIED, _modified_column),
    "add_index": _index,
    "remove_index": _index,
    "add_constraint": _constraint,
    "remove_constraint": _constraint,
    "add_fk": _foreign_key,
    "remove_fk": _foreign_key,
    "add_table_comment": _table_comment,
    "remove_table_comment": _table_comment,
}


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(check)
