"""The models compared with a database by Alembic's autogenerate, each difference in words:
what `migrate check` reports and `migrate doctor` reads the unmodelled tables from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy
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
    return [describe_difference(diff, connection.dialect) for diff in flattened(diffs)]


def flattened(diffs: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
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


@dataclass(frozen=True)
class ColumnChange:
    """A modify_* diff's parts in words: `old` is the database's value, `new` the models'."""

    what: str  # "column type changed"
    column: str  # "users.name"
    old: str
    new: str


def column_change(diff: tuple[Any, ...], dialect: Dialect) -> ColumnChange:
    """One of Alembic's modify_* tuples (modify_type, modify_nullable, ...) in words."""
    kind, schema, table, column, _existing, old, new = diff
    render: Callable[[Any], str] = {
        "modify_type": lambda type_: _type_text(type_, dialect),
        "modify_nullable": lambda nullable: "NULL" if nullable else "NOT NULL",
        "modify_default": _default_text,
        "modify_comment": _quoted,
    }[kind]
    return ColumnChange(
        _MODIFIED[kind], f"{_qualified(schema, table)}.{column}", render(old), render(new)
    )


def _modified_column(diff: tuple[Any, ...], dialect: Dialect) -> Difference:
    kind, schema, table, column = diff[:4]
    change = column_change(diff, dialect)
    return Difference(
        kind,
        _qualified(schema, table),
        column,
        f"{change.what}: {change.column} {change.old} -> {change.new}",
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
