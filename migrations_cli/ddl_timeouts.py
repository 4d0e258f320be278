"""Lock and statement timeouts on each revision a migration runs, and a revision's own.

A revision sets its own beside `revision` and `down_revision`, as module-level names::

    revision = "ae1027a6acf"
    down_revision = "1975ea83b712"
    lock_timeout = "2s"         # give up (and retry) when a lock is not granted within 2s
    statement_timeout = "10m"   # a backfill that may take long

A duration as in the settings (`500ms`, `5s`, `2m`, seconds), or None: the database's own
limit for this revision, whatever MIGRATIONS_DDL_LOCK_TIMEOUT / MIGRATIONS_STATEMENT_TIMEOUT
say. REVISION_ATTRIBUTES are the names, for tools that read revision files (`migrate lint`).

Where each database keeps them: PostgreSQL ``SET LOCAL`` in the revision's transaction (gone
when it ends: nothing leaks into a pooled session, nor into `autocommit_block()`, which
begins a new transaction); MariaDB/MySQL the session's ``lock_wait_timeout`` (whole seconds,
rounded up) and ``max_statement_time`` (``max_execution_time`` on MySQL, SELECT only);
SQLite ``PRAGMA busy_timeout`` (SQLite has no statement timeout). Session values are put back
once the run ends. With neither a setting nor a revision of its own, nothing is sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.durations import parse_duration

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from migrations_cli.settings import Settings

LOCK_TIMEOUT_ATTRIBUTE = "lock_timeout"
STATEMENT_TIMEOUT_ATTRIBUTE = "statement_timeout"
REVISION_ATTRIBUTES = (LOCK_TIMEOUT_ATTRIBUTE, STATEMENT_TIMEOUT_ATTRIBUTE)


@dataclass(frozen=True)
class Timeouts:
    """Seconds; None: the database's own limit."""

    lock: float | None = None
    statement: float | None = None


def configured_timeouts(settings: Settings) -> Timeouts:
    return Timeouts(lock=settings.ddl_lock_timeout, statement=settings.statement_timeout)


def revision_timeouts(module: Any, revision: str, defaults: Timeouts) -> Timeouts:
    """The revision's own timeouts where it sets them, the settings' elsewhere."""
    lock, statement = (
        _revision_duration(module, revision, name, default)
        for name, default in (
            (LOCK_TIMEOUT_ATTRIBUTE, defaults.lock),
            (STATEMENT_TIMEOUT_ATTRIBUTE, defaults.statement),
        )
    )
    return Timeouts(lock=lock, statement=statement)


def _revision_duration(
    module: Any, revision: str, name: str, default: float | None
) -> float | None:
    if not hasattr(module, name):
        return default
    value = getattr(module, name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        value = repr(value)  # (rejected below, with the value shown)
    return parse_duration(f"revision {revision}: {name}", value)


class _Session:
    """Sends a database's statements for a revision's timeouts."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def apply(self, timeouts: Timeouts) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        """Put back what the session had before the run."""


class _PostgreSQL(_Session):
    """SET LOCAL lasts until the revision's transaction ends: a revision without a limit
    needs no statement to be rid of the one before it."""

    def apply(self, timeouts: Timeouts) -> None:
        for name, seconds in (
            ("lock_timeout", timeouts.lock),
            ("statement_timeout", timeouts.statement),
        ):
            if seconds is not None:
                milliseconds = max(1, round(seconds * 1000))
                self.connection.exec_driver_sql(f"SET LOCAL {name} = '{milliseconds}ms'")


class _SessionVariables(_Session):
    """Variables of the session: each set when a revision needs another value than the last,
    the session's own read first so that None (and the end of the run) can put it back."""

    VARIABLES: tuple[str, str] = ("", "")

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        self._original: dict[str, Any] = {}
        self._current: dict[str, Any] = {}

    def apply(self, timeouts: Timeouts) -> None:
        for name, seconds in zip(self.VARIABLES, (timeouts.lock, timeouts.statement), strict=True):
            if not name:
                continue
            if name not in self._original:
                self._original[name] = self._read(name)
                self._current[name] = self._original[name]
            value = self._original[name] if seconds is None else self._value(name, seconds)
            if value != self._current[name]:
                self._write(name, value)
                self._current[name] = value

    def restore(self) -> None:
        for name, value in self._original.items():
            if self._current[name] != value:
                self._write(name, value)
        self._current = dict(self._original)

    def _value(self, name: str, seconds: float) -> Any:
        return seconds

    def _read(self, name: str) -> Any:
        return self.connection.exec_driver_sql(f"SELECT @@SESSION.{name}").scalar()

    def _write(self, name: str, value: Any) -> None:
        self.connection.exec_driver_sql(f"SET SESSION {name} = {value}")


class _MariaDB(_SessionVariables):
    VARIABLES = ("lock_wait_timeout", "max_statement_time")

    def _value(self, name: str, seconds: float) -> Any:
        # lock_wait_timeout counts whole seconds: 500ms waits 1s rather than not at all.
        return math.ceil(seconds) if name == "lock_wait_timeout" else seconds


class _MySQL(_SessionVariables):
    VARIABLES = ("lock_wait_timeout", "max_execution_time")

    def _value(self, name: str, seconds: float) -> Any:
        return math.ceil(seconds) if name == "lock_wait_timeout" else max(1, round(seconds * 1000))


class _SQLite(_SessionVariables):
    VARIABLES = ("busy_timeout", "")

    def _value(self, name: str, seconds: float) -> Any:
        return max(1, round(seconds * 1000))

    def _read(self, name: str) -> Any:
        return self.connection.exec_driver_sql(f"PRAGMA {name}").scalar()

    def _write(self, name: str, value: Any) -> None:
        self.connection.exec_driver_sql(f"PRAGMA {name} = {int(value)}")


def _session(connection: Connection) -> _Session | None:
    dialect = connection.dialect
    if dialect.name == "postgresql":
        return _PostgreSQL(connection)
    if dialect.name in ("mysql", "mariadb"):
        return _MariaDB(connection) if getattr(dialect, "is_mariadb", False) else _MySQL(connection)
    if dialect.name == "sqlite":
        return _SQLite(connection)
    return None  # a database without these settings: its own limits apply


StepsFunction = Callable[[tuple[str, ...], "MigrationContext"], Iterable[Any]]


class RevisionSteps:
    """Alembic's list of revisions to run (the `fn` its upgrade and downgrade commands hand
    to env.py), wrapped: just before each revision's transaction begins, its timeouts are set
    (on PostgreSQL the SET LOCAL begins that transaction, which Alembic then takes as the
    revision's), and `on_revision` is told which revision is next. The list is worked out
    once: a run that resumes after a revision failed (a retry) picks up at that revision
    even for a target counted from where the database was (+2, -1)."""

    def __init__(
        self,
        steps: StepsFunction,
        defaults: Timeouts,
        on_revision: Callable[[Any], None] | None = None,
    ) -> None:
        self._steps_function = steps
        self._defaults = defaults
        self._on_revision = on_revision
        self._steps: list[Any] | None = None
        self._next = 0  # the step to run next: the failed one, after a failure
        self._session: _Session | None = None

    def __call__(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
        if self._steps is None:
            self._steps = list(self._steps_function(heads, context))
        while self._next < len(self._steps):
            step = self._steps[self._next]
            if self._on_revision is not None:
                self._on_revision(step)
            self._set_timeouts(step, context)
            yield step
            self._next += 1  # (when the step's transaction ended without an error)

    def _set_timeouts(self, step: Any, context: MigrationContext) -> None:
        script = getattr(step, "revision", None)  # (a stamp's step runs no revision)
        if context.connection is None or script is None:
            return
        timeouts = revision_timeouts(script.module, script.revision, self._defaults)
        if self._session is None:
            if timeouts == Timeouts():
                return  # the database's own, and nothing has been changed yet
            self._session = _session(context.connection)
            if self._session is None:
                return
        self._session.apply(timeouts)

    def restore(self) -> None:
        """The session as it was before the run (MariaDB, SQLite): for a connection that
        outlives the run, a caller's. Quietly: after a failure, the connection may be
        unusable, and that failure is the one to report."""
        from sqlalchemy import exc

        if self._session is not None:
            with suppress(exc.DBAPIError):
                self._session.restore()
