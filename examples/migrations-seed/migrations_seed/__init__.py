"""migrations-seed: an example plugin that adds a command, `migrate seed [FILE]`.

It shows a command plugin: registered through ``register_commands``, reading the run's
settings and migrations through ``get_context``, talking to the database through
``opened_connection``, and reporting problems as one-line errors (``MigrationsError``).

The command loads fixture data, a JSON object of ``{"table": [{"column": value}, ...]}``,
into the database, and only into a database at head: seeding a schema that is missing a
pending migration's columns would fail half way or, worse, succeed against the old shape.
Every row goes in inside one transaction, parents before children (the reflected foreign
keys decide the order), so a bad row leaves nothing behind.

Installed, the package declares itself in its pyproject.toml::

    [project.entry-points.migrations_cli]
    seed = "migrations_seed"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrations_cli import hookimpl
from migrations_cli.core import output
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError, describe

if TYPE_CHECKING:  # the command imports SQLAlchemy when it runs, not at start-up
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

__version__ = "0.1.0"

DEFAULT_FILE = "seed.json"
Fixtures = dict[str, list[dict[str, Any]]]


def seed(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            help=f"A JSON file of {{table: [rows]}}. Default: {DEFAULT_FILE} beside .env.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Load fixture data into the database, which must be at head; all rows or none."""
    from migrations_cli.core.database import database_heads, opened_connection

    context = get_context(ctx)
    path = file if file is not None else context.settings.project_dir / DEFAULT_FILE
    fixtures = read_fixtures(path)
    if not fixtures:
        output.result(f"Nothing to seed: {path} names no tables.")
        return
    heads = tuple(sorted(context.script.get_heads()))
    with opened_connection(context.database) as connection, connection.begin():
        # One transaction: every row or none. (A concurrent upgrade is not excluded: seed
        # after the deploy's migrations, not during them.)
        refuse_unless_at_head(database_heads(connection), heads)
        counts = insert_fixtures(connection, fixtures)
    described = ", ".join(f"{table} ({count})" for table, count in counts.items())
    total = sum(counts.values())
    output.result(f"Seeded {total} row{'s' if total != 1 else ''}: {described}.")


def read_fixtures(path: Path) -> Fixtures:
    """The file's tables and rows, or one line that says what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigrationsError(f"seed file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MigrationsError(f"seed file {path} cannot be read ({error})") from None
    except json.JSONDecodeError as error:
        raise MigrationsError(
            f"seed file {path} is not JSON (line {error.lineno}: {error.msg})"
        ) from None
    if not isinstance(document, dict) or not all(
        isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
        for rows in document.values()
    ):
        raise MigrationsError(
            f"seed file {path} must be a JSON object of table names to lists of rows, "
            'e.g. {"users": [{"id": 1}]}'
        )
    return document


def refuse_unless_at_head(current: tuple[str, ...], heads: tuple[str, ...]) -> None:
    if current != heads:
        where = ", ".join(current) or "base"
        raise MigrationsError(
            f"the database is at {where}, not at head ({', '.join(heads) or 'base'}): "
            "run `migrate upgrade` first, then seed"
        )


def insert_fixtures(connection: Connection, fixtures: Fixtures) -> dict[str, int]:
    """Insert every row, parents first; an error names the table and rolls everything back."""
    from sqlalchemy import insert
    from sqlalchemy.exc import SQLAlchemyError

    counts: dict[str, int] = {}
    for table in reflected_tables(connection, list(fixtures)):
        rows = fixtures[table.name]
        check_columns(table, rows)
        if rows:
            try:
                connection.execute(insert(table), rows)
            except SQLAlchemyError as error:
                raise MigrationsError(
                    f"seeding {table.name} failed, nothing was loaded: {describe(error)}"
                ) from error
        counts[table.name] = len(rows)
    return counts


def reflected_tables(connection: Connection, names: list[str]) -> list[Table]:
    """The named tables as the database has them, in foreign-key order (parents first)."""
    from sqlalchemy import MetaData, inspect

    missing = sorted(set(names) - set(inspect(connection).get_table_names()))
    if missing:
        raise MigrationsError(f"the database has no table {', '.join(missing)}")
    metadata = MetaData()
    metadata.reflect(connection, only=names)
    return [table for table in metadata.sorted_tables if table.name in names]


def check_columns(table: Table, rows: list[dict[str, Any]]) -> None:
    """SQLAlchemy would drop or reject an unknown key with a less helpful message."""
    unknown = sorted({key for row in rows for key in row} - set(table.columns.keys()))
    if unknown:
        raise MigrationsError(f"table {table.name} has no column {', '.join(unknown)}")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Data")(seed)
