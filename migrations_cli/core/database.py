"""Engines and connections, with the failures a user can fix turned into one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import DatabaseError, SettingsError, first_line
from migrations_cli.core.output import mask_outside

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from migrations_cli.core.settings import Settings


def create_engine(settings: Settings) -> Engine:
    """An engine without a pool (a migration run opens one connection and is done), whose
    SQLite connections keep DDL inside the migration's transaction."""
    import sqlalchemy
    from sqlalchemy import exc
    from sqlalchemy.pool import NullPool

    url = settings.require_database_url()
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    except exc.NoSuchModuleError:
        scheme = url.split(":", 1)[0]
        raise SettingsError(f"DATABASE_URL names an unknown database dialect {scheme!r}") from None
    except (exc.ArgumentError, ValueError):
        # Not echoed: a URL that does not parse cannot be masked reliably.
        raise SettingsError(
            "DATABASE_URL is not a database URL "
            "(expected dialect+driver://user:password@host:port/database)"
        ) from None
    except ModuleNotFoundError as error:
        raise SettingsError(
            f"the database driver for {settings.masked_url().split(':', 1)[0]} is not "
            f"installed ({error})"
        ) from None
    if made_ddl_transactional(engine):
        _make_ddl_transactional(engine)
    if settings.target_schema:
        _confine_to_schema(engine, settings.target_schema)
    return engine


def _confine_to_schema(engine: Engine, schema: str) -> None:
    """A target that is a schema of a shared PostgreSQL database: every connection's
    search_path is that schema alone, so the version table, the tool's tables and the
    migrations' unqualified names are the schema's (a second schema on the path would let
    its alembic_version pass for the target's). SQLAlchemy's recipe for a default schema."""
    from sqlalchemy import event

    if engine.dialect.name != "postgresql":
        raise SettingsError(
            f"a target schema ({schema}) needs PostgreSQL; on {engine.dialect.name} give each "
            "target a database of its own"
        )

    @event.listens_for(engine, "connect", insert=True)
    def _search_path(dbapi_connection: Any, record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET in a transaction that rolls back is undone
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.autocommit = autocommit


def made_ddl_transactional(engine: Engine) -> bool:
    """Whether create_engine puts this engine's DDL in transactions (pysqlite), which the
    dialect alone does not report to Alembic."""
    return engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite"


def _make_ddl_transactional(engine: Engine) -> None:
    """SQLite can roll back DDL, but Python's sqlite3 commits before each DDL statement.

    SQLAlchemy's documented recipe: let SQLAlchemy emit BEGIN itself, so a migration that
    fails half way leaves no table of its own behind.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN")


def connect(engine: Engine, settings: Settings) -> Connection:
    from sqlalchemy import exc

    try:
        return engine.connect()
    except exc.DBAPIError as error:
        reason = mask_outside(first_line(str(error.orig if error.orig is not None else error)))
        raise DatabaseError(f"cannot connect to {settings.masked_url()}: {reason}") from None


@contextmanager
def opened_connection(settings: Settings) -> Iterator[Connection]:
    """A connection to the settings' database for a command that reads or stamps it, closed
    and its engine disposed afterwards."""
    engine = create_engine(settings)
    try:
        with connect(engine, settings) as connection:
            yield connection
    finally:
        engine.dispose()


def database_heads(connection: Connection) -> tuple[str, ...]:
    """The revisions in the version table, sorted; empty for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
