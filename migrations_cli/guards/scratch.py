"""Scratch databases: where `verify`, `squash`, `baseline` and `drift` replay the history,
never the project's own database.

The scratch database is `--scratch-url`, else MIGRATIONS_VERIFY_URL, else a temporary SQLite
file deleted afterwards. A configured one must be empty (it may be someone's data) and must
not be DATABASE_URL. Replaying a history there and reflecting the result is how a history's
schema is known without trusting anyone's models.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrations_cli.core import output
from migrations_cli.core.errors import MigrationsError, SettingsError, describe

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config

    from migrations_cli.core.settings import Settings
    from migrations_cli.guards.schema_compare import Schema

VERIFY_URL_SETTING = "MIGRATIONS_VERIFY_URL"

ScratchOption = Annotated[
    str | None,
    typer.Option(
        "--scratch-url",
        help=f"An empty scratch database to replay the history on (default: "
        f"{VERIFY_URL_SETTING}, else a temporary SQLite file). Never DATABASE_URL.",
        show_default=False,
    ),
]


def configured_scratch_url(settings: Settings) -> str | None:
    """MIGRATIONS_VERIFY_URL from the environment or the .env file (Settings has no field
    for it: only the commands using a scratch database read it)."""
    from migrations_cli.core.settings import read_env_file

    found = os.environ.get(VERIFY_URL_SETTING, "").strip()
    if not found and settings.env_file is not None:
        found = read_env_file(settings.env_file).get(VERIFY_URL_SETTING, "").strip()
    return found or None


@contextmanager
def scratch_database(
    settings: Settings, configured: str | None, command: str = "verify"
) -> Iterator[Settings]:
    """The settings naming the scratch database: the configured one once it is checked to
    be safe, or a temporary SQLite file deleted afterwards."""
    if configured is None:
        with tempfile.TemporaryDirectory(prefix=f"migrate-{command}-") as folder:
            path = Path(folder) / "scratch.sqlite"
            yield settings._replace(database_url=f"sqlite:///{path.as_posix()}")
        return
    from migrations_cli.core.settings import _absolute_sqlite_path

    url = _absolute_sqlite_path(configured, settings.project_dir) or configured
    scratch = settings._replace(database_url=url)
    if settings.database_url and same_database(url, settings.database_url):
        raise SettingsError(
            f"the scratch database is the project's database (DATABASE_URL): {command} drops "
            "and recreates everything, so give it an empty database of its own"
        )
    refuse_unless_empty(scratch, command)
    try:
        yield scratch
    finally:  # passed or failed: the next run needs it empty again
        empty_again(scratch)


def empty_again(scratch: Settings) -> None:
    """`wipe`, on a connection of its own (the run's may be in a failed state), a failure
    told as a warning: the command's own result matters more."""
    try:
        wipe(scratch)
    except Exception as error:
        output.warn(
            f"could not empty the scratch database {scratch.masked_url()} again "
            f"({describe(error)}): drop its tables before the next run"
        )


def normalised_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return url
    # The driver does not change which database it is: postgresql+psycopg == postgresql.
    parsed = parsed.set(drivername=parsed.get_backend_name())
    if parsed.host:
        parsed = parsed.set(host=parsed.host.lower())
    return parsed.render_as_string(hide_password=False)


def same_database(first: str, second: str) -> bool:
    return normalised_url(first) == normalised_url(second)


def refuse_unless_empty(scratch: Settings, command: str = "verify") -> None:
    """A scratch database with tables may be someone's data: the command would drop it."""
    from sqlalchemy import inspect

    from migrations_cli.core.database import opened_connection

    with opened_connection(scratch) as connection:
        tables = sorted(inspect(connection).get_table_names())
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise SettingsError(
            f"the scratch database {scratch.masked_url()} is not empty (tables: {shown}): "
            f"{command} needs an empty database it may fill and empty again"
        )


def scratch_config(
    scratch: Settings, hook: pluggy.HookRelay | None, version_location: Path | None = None
) -> Config:
    """The project's Alembic Config aimed at the scratch database (and, with
    `version_location`, at the revision files there instead of the project's), refused when
    a plugin or alembic.ini would still point the migrations elsewhere."""
    from migrations_cli.core.config import build_alembic_config, migrated_database

    config = build_alembic_config(scratch, hook=hook)
    if version_location is not None:
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", str(version_location).replace("%", "%%"))
    migrated = migrated_database(config, scratch).require_database_url()
    if not same_database(migrated, scratch.require_database_url()):
        raise SettingsError(
            "a plugin or alembic.ini points the migrations at another database than the "
            "scratch one: stopping rather than migrate it"
        )
    return config


def replay(config: Config, scratch: Settings, targets: tuple[str, ...]) -> Schema:
    """Upgrade the scratch database to each of `targets` (several: one per branch head) and
    reflect the schema the history built there."""
    from alembic import command

    from migrations_cli.core.database import opened_connection
    from migrations_cli.core.errors import describe
    from migrations_cli.guards.schema_compare import reflect_schema

    for target in targets:
        try:
            command.upgrade(config, target)
        except MigrationsError as error:
            raise MigrationsError(
                f"replaying the history on the scratch database: {error}"
            ) from None
        except Exception as error:
            raise MigrationsError(
                f"replaying the history to {target} on the scratch database failed: "
                f"{describe(error)}"
            ) from None
    with opened_connection(scratch) as connection:
        return reflect_schema(connection)


def history_schema(
    scratch: Settings, hook: pluggy.HookRelay | None, targets: tuple[str, ...]
) -> Schema:
    """The schema the history builds at `targets`, replayed on the scratch database, which
    is emptied again afterwards (for the next database of a fan-out, say)."""
    try:
        return replay(scratch_config(scratch, hook), scratch, targets)
    finally:
        wipe(scratch)


def wipe(scratch: Settings) -> None:
    """Drop everything from the scratch database (tables, views, and PostgreSQL's types and
    sequences), so the next replay starts from nothing."""
    from sqlalchemy import inspect

    from migrations_cli.core.database import opened_connection

    with opened_connection(scratch) as connection:
        inspector: Any = inspect(connection)  # (get_enums is PostgreSQL's inspector's)
        quote = connection.dialect.identifier_preparer.quote
        dialect = connection.dialect.name
        cascade = " CASCADE" if dialect == "postgresql" else ""
        statements = [
            f"DROP VIEW IF EXISTS {quote(view)}{cascade}" for view in inspector.get_view_names()
        ]
        statements += [
            f"DROP TABLE IF EXISTS {quote(table)}{cascade}" for table in inspector.get_table_names()
        ]
        if dialect == "postgresql":
            statements += [
                f"DROP TYPE IF EXISTS {quote(enum['name'])} CASCADE"
                for enum in inspector.get_enums()
            ]
            statements += [
                f"DROP SEQUENCE IF EXISTS {quote(name)}" for name in inspector.get_sequence_names()
            ]
        if dialect in ("mysql", "mariadb"):
            statements = ["SET FOREIGN_KEY_CHECKS = 0", *statements, "SET FOREIGN_KEY_CHECKS = 1"]
        elif dialect == "sqlite":
            statements = ["PRAGMA foreign_keys = OFF", *statements]
        for statement in statements:
            connection.exec_driver_sql(statement)
        connection.commit()


def require_same_kind(database: Settings, scratch: Settings, command: str) -> None:
    """Two schemas compare only on one kind of database: a PostgreSQL enum replayed on
    SQLite is a VARCHAR there, which would read as drift."""
    from sqlalchemy.engine import make_url

    kinds = [make_url(url.require_database_url()).get_backend_name() for url in (database, scratch)]
    if kinds[0] != kinds[1]:
        raise SettingsError(
            f"{command} replays the history on a database of the same kind as the one it "
            f"compares ({kinds[0]}), not on {kinds[1]}: give --scratch-url (or "
            f"{VERIFY_URL_SETTING}) an empty {kinds[0]} database"
        )
