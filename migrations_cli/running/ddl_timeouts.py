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

Offline (`--sql`) the same statements are written into the script, each revision's just
after its BEGIN. Where the online run reads a session's value to put it back, the script
keeps it in a user variable (MariaDB/MySQL) or puts back SQLite's default, 0. A `mysql://`
URL may be MySQL or MariaDB, which name the statement timeout differently, and the script
cannot ask: it gets the lock timeout alone, and a comment saying so.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.core.durations import parse_duration

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext

    from migrations_cli.core.settings import Settings

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


class _Statements:
    """Where a session's statements go: the live connection."""

    offline = False

    def __init__(self, context: MigrationContext) -> None:
        self.context = context

    def send(self, sql: str) -> None:
        assert self.context.connection is not None
        self.context.connection.exec_driver_sql(sql)

    def scalar(self, sql: str) -> Any:
        assert self.context.connection is not None
        return self.context.connection.exec_driver_sql(sql).scalar()

    def note(self, text: str) -> None:
        """A line for whoever reads the script (nothing online)."""


class _Script(_Statements):
    """Offline (`--sql`): the statements are written into the script, at the point the
    online run would send them."""

    offline = True

    def send(self, sql: str) -> None:
        self.context.execute(sql)

    def scalar(self, sql: str) -> Any:
        raise AssertionError("a script cannot read the session")  # (never asked: _read)

    def note(self, text: str) -> None:
        self.context.impl.static_output(f"-- {text}")


class _Session:
    """Sends a database's statements for a revision's timeouts."""

    def __init__(self, statements: _Statements, one_transaction: bool) -> None:
        self.statements = statements
        self.one_transaction = one_transaction

    def apply(self, timeouts: Timeouts) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        """Put back what the session had before the run."""


class _PostgreSQL(_Session):
    """SET LOCAL lasts until the revision's transaction ends: a revision without a limit
    needs no statement to be rid of the one before it. Unless env.py runs every revision
    in one transaction: there the value in effect is followed, and a revision without a
    limit gets the session's default back (SET LOCAL ... TO DEFAULT)."""

    def __init__(self, statements: _Statements, one_transaction: bool) -> None:
        super().__init__(statements, one_transaction)
        self._in_effect: dict[str, str | None] = {}

    def apply(self, timeouts: Timeouts) -> None:
        if not self.one_transaction:
            self._in_effect = {}  # (a new transaction: nothing set in it yet)
        for name, seconds in (
            ("lock_timeout", timeouts.lock),
            ("statement_timeout", timeouts.statement),
        ):
            value = None if seconds is None else f"'{max(1, round(seconds * 1000))}ms'"
            if value == self._in_effect.get(name):
                continue
            setting = "TO DEFAULT" if value is None else f"= {value}"
            self.statements.send(f"SET LOCAL {name} {setting}")
            self._in_effect[name] = value


class _SessionVariables(_Session):
    """Variables of the session: each set when a revision needs another value than the last,
    the session's own read first so that None (and the end of the run) can put it back."""

    VARIABLES: tuple[str, str] = ("", "")

    def __init__(self, statements: _Statements, one_transaction: bool) -> None:
        super().__init__(statements, one_transaction)
        self._original: dict[str, Any] = {}
        self._current: dict[str, Any] = {}

    def apply(self, timeouts: Timeouts) -> None:
        for name, seconds in zip(self.VARIABLES, (timeouts.lock, timeouts.statement), strict=True):
            if not name or (seconds is None and name not in self._original):
                continue  # (the session's own, never changed: nothing to read or put back)
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
        if self.statements.offline:  # (the script's session keeps its own in a variable)
            variable = f"@migrations_cli_{name}"
            self.statements.send(f"SET {variable} = @@SESSION.{name}")
            return variable
        return self.statements.scalar(f"SELECT @@SESSION.{name}")

    def _write(self, name: str, value: Any) -> None:
        self.statements.send(f"SET SESSION {name} = {value}")


class _MariaDB(_SessionVariables):
    VARIABLES = ("lock_wait_timeout", "max_statement_time")

    def _value(self, name: str, seconds: float) -> Any:
        # lock_wait_timeout counts whole seconds: 500ms waits 1s rather than not at all.
        return math.ceil(seconds) if name == "lock_wait_timeout" else seconds


class _MySQL(_SessionVariables):
    VARIABLES = ("lock_wait_timeout", "max_execution_time")

    def _value(self, name: str, seconds: float) -> Any:
        return math.ceil(seconds) if name == "lock_wait_timeout" else max(1, round(seconds * 1000))


class _MySQLOrMariaDB(_MariaDB):
    """Offline with a `mysql://` URL, which MariaDB is often reached by too: the variable
    both servers share; their statement timeouts have different names (and MySQL's limits
    SELECTs alone)."""

    VARIABLES = ("lock_wait_timeout", "")

    def __init__(self, statements: _Statements, one_transaction: bool) -> None:
        super().__init__(statements, one_transaction)
        self._noted = False

    def apply(self, timeouts: Timeouts) -> None:
        if timeouts.statement is not None and not self._noted:
            self.statements.note(
                "statement_timeout is not written for a mysql:// URL (MySQL and MariaDB name "
                "it differently): a mariadb:// URL gets MariaDB's max_statement_time"
            )
            self._noted = True
        super().apply(timeouts)


class _SQLite(_SessionVariables):
    VARIABLES = ("busy_timeout", "")
    DEFAULT = 0  # what a new connection has: what a script puts back

    def _value(self, name: str, seconds: float) -> Any:
        return max(1, round(seconds * 1000))

    def _read(self, name: str) -> Any:
        if self.statements.offline:
            return self.DEFAULT
        return self.statements.scalar(f"PRAGMA {name}")

    def _write(self, name: str, value: Any) -> None:
        self.statements.send(f"PRAGMA {name} = {int(value)}")


def shares_one_transaction(context: MigrationContext) -> bool:
    """Whether Alembic runs every revision in one transaction: env.py configured no
    transaction_per_migration, on a database whose DDL is transactional (elsewhere Alembic
    gives each revision a transaction of its own whatever env.py says)."""
    per_migration = context.opts.get("transaction_per_migration", False)
    return bool(context.impl.transactional_ddl) and not per_migration


def _session(context: MigrationContext) -> _Session | None:
    dialect = context.dialect
    offline = context.as_sql
    statements = _Script(context) if offline else _Statements(context)
    one_transaction = shares_one_transaction(context)
    session: type[_Session]
    if dialect.name == "postgresql":
        session = _PostgreSQL
    elif dialect.name in ("mysql", "mariadb"):
        if getattr(dialect, "is_mariadb", False):
            session = _MariaDB
        else:  # (offline, only the URL tells, and mysql:// may be either)
            session = _MySQLOrMariaDB if offline else _MySQL
    elif dialect.name == "sqlite":
        session = _SQLite
    else:
        return None  # a database without these settings: its own limits apply
    return session(statements, one_transaction)


StepsFunction = Callable[[tuple[str, ...], "MigrationContext"], Iterable[Any]]


class RevisionSteps:
    """Alembic's list of revisions to run (the `fn` its upgrade and downgrade commands hand
    to env.py), wrapped: just before each revision's transaction begins, its timeouts are set
    (on PostgreSQL the SET LOCAL begins that transaction, which Alembic then takes as the
    revision's), and `on_revision` is told which revision is next. The list is worked out
    once: a run that resumes after a revision failed (a retry) picks up at that revision
    even for a target counted from where the database was (+2, -1).

    Offline (`--sql`) the statements go into the script as the revision's first, after the
    BEGIN Alembic writes for it, and what the session had is put back after the last one.
    `restore_when_done`: online too, once the last revision has run (for an env.py that
    knows nothing of `restore`)."""

    def __init__(
        self,
        steps: StepsFunction,
        defaults: Timeouts,
        on_revision: Callable[[Any], None] | None = None,
        *,
        restore_when_done: bool = False,
    ) -> None:
        self.steps_function = steps
        self._defaults = defaults
        self._on_revision = on_revision
        self._restore_when_done = restore_when_done
        self._steps: list[Any] | None = None
        self._next = 0  # the step to run next: the failed one, after a failure
        self._session: _Session | None = None

    @property
    def planned(self) -> list[Any] | None:
        """Alembic's steps for the run, once it has asked for them."""
        return self._steps

    def __call__(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
        if self._steps is None:
            self._steps = list(self.steps_function(heads, context))
        while self._next < len(self._steps):
            step = self._steps[self._next]
            if self._on_revision is not None:
                self._on_revision(step)
            if context.as_sql:
                yield self._setting_timeouts_first(step, context)
            else:
                self._set_timeouts(step, context)
                yield step
            self._next += 1  # (when the step's transaction ended without an error)
        if context.as_sql or self._restore_when_done:
            self.restore()

    def _setting_timeouts_first(self, step: Any, context: MigrationContext) -> Any:
        """The step, its migration writing the timeouts first: Alembic has written its
        BEGIN (and the revision's comment) by then."""
        if getattr(step, "revision", None) is None:
            return step
        migration = step.migration_fn

        @functools.wraps(migration)  # (Alembic's comment names it: "-- Running upgrade ...")
        def migration_fn(**kw: Any) -> Any:
            self._set_timeouts(step, context)
            return migration(**kw)

        written = copy.copy(step)
        written.migration_fn = migration_fn
        return written

    def _set_timeouts(self, step: Any, context: MigrationContext) -> None:
        script = getattr(step, "revision", None)  # (a stamp's step runs no revision)
        if context.connection is None or script is None:
            return
        timeouts = revision_timeouts(script.module, script.revision, self._defaults)
        if self._session is None:
            if timeouts == Timeouts():
                return  # the database's own, and nothing has been changed yet
            self._session = _session(context)
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
