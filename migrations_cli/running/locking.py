"""One migrating process at a time: the lock every `migrate upgrade` of a deploy takes.

The lock is a session's, taken outside any transaction and held for the whole run: a
transaction-scoped lock would be dropped by per-migration commits and `autocommit_block()`.
A waiter polls (try-lock, sleep, retry) instead of blocking inside the database: a blocked
`SELECT pg_advisory_lock(...)` holds a snapshot that `CREATE INDEX CONCURRENTLY` in the
running migration would wait on forever.

A session lock goes when its connection goes (a server restart, an idle-connection killer,
`pg_terminate_backend`, MariaDB's `KILL`), and the holder must not go on migrating beside
the waiter that takes it next. Which session holds it is chosen per database:
- MariaDB/MySQL: the migration connection itself. `GET_LOCK` is a session's and survives
  commits, and MariaDB has no `CREATE INDEX CONCURRENTLY` to wait on a waiter, so nothing
  calls for a second connection; the lock then shares the migration's fate: the connection
  that loses it can commit nothing more.
- PostgreSQL: a connection of the lock's own, so that the migration connection holds no lock
  a waiter's session could queue behind while `CREATE INDEX CONCURRENTLY` runs. Before each
  revision commits, the migration connection asks `pg_locks` whether the lock connection's
  backend still holds the lock. A waiter that takes the lock then also takes a second key on
  its migration connection, which every holder's migration connection keeps for its run: so
  it waits for a holder that lost the lock to stop (at that check at the latest) and never
  runs a revision the other is still running.
- A project's own env.py opens its own migration connection: the lock has one of its own.

Kinds (MIGRATIONS_LOCK):
- ``advisory``: PostgreSQL's session advisory lock, MariaDB/MySQL's ``GET_LOCK``, a file lock
  beside a SQLite file. Released by the database when the process dies.
- ``table``: a lease row in a small table of our own, taken and renewed by short autocommit
  statements, so it works where sessions are not pinned (PgBouncer in transaction mode). A
  killed holder's lease expires after LEASE_SECONDS. SQLite uses the file lock for both
  kinds: its single writer lock would make a lease row contend with the migration itself.
- ``none``: no lock (one deploying process, or the caller locks).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from migrations_cli.core.errors import DatabaseError, MigrationsError, SettingsError, describe
from migrations_cli.core.tool_tables import LOCK_TABLE

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    # The kinds, and the default timeout, are read with the settings (core/settings.py).
    from migrations_cli.core.settings import LockKind

LOCK_NAME = "migrations_cli"
LEASE_SECONDS = 30
LEASE_MS = LEASE_SECONDS * 1000
_FIRST_POLL_SECONDS = 0.02
_LONGEST_POLL_SECONDS = 0.5


class LockTimeout(DatabaseError):
    """Another process held the migration lock for longer than the timeout."""


class LockLost(DatabaseError):
    """The lock was lost while migrating: its connection went, or its lease could not be
    renewed in time. `revision` is the one that was about to commit, when known."""

    revision: str | None = None


class _Lock(Protocol):
    description: str

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...

    def lost(self) -> str | None:
        """Why the lock is no longer held, or None while it is."""


LockCheck = Callable[[], None]


@contextmanager
def migration_lock(
    engine: Engine,
    kind: LockKind,
    timeout: float,
    migration: Connection | None = None,
    schema: str | None = None,
) -> Iterator[LockCheck]:
    """Hold the migration lock of `kind` for the block; wait at most `timeout` seconds.
    `schema`: the run migrates that schema of a shared database (a target schema), which
    gets a lock of its own, so that the schemas of one database migrate side by side.

    `migration` is the connection the revisions run on, when the caller has one: the lock
    lives on it or is checked from it (see the module's docstring). The block receives a
    check to call before each revision commits: it raises LockLost when the lock is gone,
    so no revision commits unguarded.
    """
    lock = _make_lock(engine, kind, migration, schema)
    if lock is None:
        yield _always_held
        return
    try:
        _poll(lock.try_acquire, timeout, lock.description)
    except BaseException:
        _release_quietly(lock)
        raise
    lost_because: list[str] = []

    def still_held() -> None:
        because = lost_because[0] if lost_because else lock.lost()
        if because:
            lost_because[:] = [because]
            raise LockLost(
                f"lost the migration lock ({lock.description}) while migrating: {because}"
            )

    try:
        yield still_held
    except Exception as error:
        # A statement outside the revisions (reading the version table, say) that failed
        # as the lock's connection went: the lock is the news, the driver's words the detail.
        if isinstance(error, MigrationsError) or lost_because:
            raise
        try:
            still_held()
        except LockLost as lost:
            raise LockLost(f"{lost} ({describe(error)})") from error
        except Exception:
            pass  # the check cannot run either: the error says why
        raise
    finally:  # (once the holder was told the lock is gone, no second word on releasing it)
        _release_quietly(lock, warn=not lost_because)


def _always_held() -> None:
    """The check when there is no lock to lose."""


def _release_quietly(lock: _Lock, warn: bool = True) -> None:
    """Releasing comes after the migrations committed: a failure there (a dropped
    connection, which frees the lock anyway) must not turn a done upgrade into an error."""
    from migrations_cli.core import output

    try:
        lock.release()
    except Exception as error:
        if warn:
            output.warn(
                f"could not release the migration lock ({lock.description}): "
                f"{describe(error)}; the database releases it as that connection closes"
            )


def _make_lock(
    engine: Engine, kind: LockKind, migration: Connection | None, schema: str | None = None
) -> _Lock | None:
    if kind == "none":
        return None
    dialect = engine.dialect.name
    if kind == "table" and dialect != "sqlite":
        return _TableLease(engine)
    if dialect == "sqlite":  # one writer at a time: a lease row would contend with the
        # migration's own writes, and no pooler sits between SQLite and its file
        database = engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None  # a database private to this process
        return _FileLock(Path(f"{database}.migrate-lock"))
    if dialect == "postgresql":
        return _PostgreSQLAdvisoryLock(engine, migration, schema)
    if dialect in ("mysql", "mariadb"):
        return _NamedLock(engine, migration)
    raise SettingsError(
        f"MIGRATIONS_LOCK=advisory has no implementation for {dialect}: use "
        "MIGRATIONS_LOCK=table (a lease row) or MIGRATIONS_LOCK=none"
    )


def _poll(try_acquire: Callable[[], bool], timeout: float, description: str) -> None:
    """Try, sleep, try again (backing off) until acquired or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_POLL_SECONDS
    while not try_acquire():
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"gave up after {timeout:g}s waiting for the migration lock ({description}): "
                "another `migrate` is still running, or died holding it; raise "
                "MIGRATIONS_LOCK_TIMEOUT or check what holds it"
            )
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, _LONGEST_POLL_SECONDS)


def _lock_connection(engine: Engine) -> Connection:
    """A connection of the lock's own, in autocommit: no transaction stays open on it."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _scalar(connection: Connection, sql: str, **parameters: Any) -> Any:
    from sqlalchemy import text

    return connection.execute(text(sql), parameters).scalar()


def _between_transactions(connection: Connection, sql: str, **parameters: Any) -> Any:
    """A statement on the migration connection, whose transaction is ended at once: a
    session lock outlives it, no snapshot stays open for `CREATE INDEX CONCURRENTLY` to wait
    on, and what the run reads next comes from a new transaction."""
    try:
        return _scalar(connection, sql, **parameters)
    finally:
        connection.rollback()


def _gone(connection: Connection) -> bool:
    """Whether SQLAlchemy saw the connection drop (a disconnect error invalidates it)."""
    return connection.invalidated or connection.closed


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class _PostgreSQLAdvisoryLock:
    """A session-level advisory lock, per database (per schema for a target schema: the
    schemas of one database migrate side by side), on a connection of its own, checked from
    the migration connection before each revision commits; the migration connection keeps
    RUNNING_KEY for the run (see the module's docstring)."""

    # The keys of the database's own lock; a target schema's are derived from its name.
    KEY = _advisory_key(LOCK_NAME)
    RUNNING_KEY = _advisory_key(f"{LOCK_NAME}.running")
    # pg_locks shows a bigint key as its high half (classid) and low half (objid), objsubid 1.
    _HELD = """
        SELECT count(*) FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND pid = :pid AND objsubid = 1
          AND classid::bigint = :high AND objid::bigint = :low
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    """

    def __init__(
        self, engine: Engine, migration: Connection | None, schema: str | None = None
    ) -> None:
        if schema:
            self.KEY = _advisory_key(f"{LOCK_NAME}.{schema}")
            self.RUNNING_KEY = _advisory_key(f"{LOCK_NAME}.{schema}.running")
        self._connection = _lock_connection(engine)
        self._migration = migration
        self._pid: int | None = None  # the lock connection's backend, once it holds the lock
        self._running = False
        self.description = f"PostgreSQL advisory lock {self.KEY}"

    def try_acquire(self) -> bool:
        if self._pid is None:
            self._pid = _scalar(
                self._connection,
                "SELECT CASE WHEN pg_try_advisory_lock(:key) THEN pg_backend_pid() END",
                key=self.KEY,
            )
            if self._pid is None:
                return False
        if self._migration is None:
            return True
        # Held, but a holder that lost it may still be running: wait for its connection to
        # let go of RUNNING_KEY (it does when it stops).
        self._running = bool(
            _between_transactions(
                self._migration, "SELECT pg_try_advisory_lock(:key)", key=self.RUNNING_KEY
            )
        )
        return self._running

    def lost(self) -> str | None:
        if self._migration is None:
            return None  # (a project's own env.py: nothing runs between its revisions)
        held = _scalar(
            self._migration,
            self._HELD,
            pid=self._pid,
            high=(self.KEY >> 32) & 0xFFFFFFFF,
            low=self.KEY & 0xFFFFFFFF,
        )
        if held:
            return None
        return (
            f"the connection that held it (server process {self._pid}) was closed or "
            "terminated, so another process may hold it now"
        )

    def release(self) -> None:
        try:
            if self._running and self._migration is not None and not _gone(self._migration):
                _between_transactions(
                    self._migration, "SELECT pg_advisory_unlock(:key)", key=self.RUNNING_KEY
                )
            if self._pid is not None:
                _scalar(self._connection, "SELECT pg_advisory_unlock(:key)", key=self.KEY)
        finally:
            self._connection.close()  # ending the session releases it in any case


class _NamedLock:
    """MariaDB/MySQL GET_LOCK on the migration connection, whose fate it shares (see the
    module's docstring); on a connection of its own when there is none (a project's own
    env.py). Names are server-wide, so the name carries the database's. GET_LOCK answers 1
    (granted), 0 (not granted) or NULL (an error): only 1 is held."""

    def __init__(self, engine: Engine, migration: Connection | None) -> None:
        self._own = migration is None
        self._connection = _lock_connection(engine) if migration is None else migration
        self._session: object = None  # the DBAPI connection that took the lock
        database = self._ask("SELECT DATABASE()") or ""
        self._name = f"{LOCK_NAME}.{database}"[:64]
        self.description = f"GET_LOCK {self._name!r}"

    def _ask(self, sql: str, **parameters: Any) -> Any:
        ask = _scalar if self._own else _between_transactions
        return ask(self._connection, sql, **parameters)

    def try_acquire(self) -> bool:
        granted = self._ask("SELECT GET_LOCK(:name, 0)", name=self._name)
        if granted is None:
            raise DatabaseError(f"GET_LOCK({self._name!r}) failed on the server")
        if int(granted) != 1:
            return False
        self._session = self._connection.connection.dbapi_connection
        return True

    def lost(self) -> str | None:
        """A live session keeps its GET_LOCK: the lock is gone when the session is. SQLAlchemy
        opens a new one on the next use of a connection it saw drop, which must not pass
        for the session that held the lock."""
        if self._own:
            return None
        if not _gone(self._connection) and (
            self._connection.connection.dbapi_connection is self._session
        ):
            return None
        return "the migration connection, which held it, was closed or killed"

    def release(self) -> None:
        if self._own:
            try:
                self._ask("SELECT RELEASE_LOCK(:name)", name=self._name)
            finally:
                self._connection.close()
        elif not self.lost():  # (a closed session has released it)
            self._ask("SELECT RELEASE_LOCK(:name)", name=self._name)


class _FileLock:
    """An OS lock on a file beside the SQLite database, released when the process dies."""

    def __init__(self, path: Path) -> None:
        self._handle: IO[bytes] = path.open("ab")
        self.description = f"file lock {path}"

    def try_acquire(self) -> bool:
        import fcntl

        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        self._handle.close()  # closing the file drops its lock

    def lost(self) -> str | None:
        return None  # held by the open file until the process ends


class _TableLease:
    """A row in LOCK_TABLE owned by one process until it releases it or the lease expires;
    a thread renews the lease while the migrations run. Every statement is a short
    autocommit, so no session or transaction has to stay pinned to one server."""

    def __init__(self, engine: Engine) -> None:
        import uuid

        from sqlalchemy import BigInteger, Column, MetaData, String, Table

        self._table = Table(
            LOCK_TABLE,
            MetaData(),
            Column("name", String(64), primary_key=True),
            Column("owner", String(64), nullable=True),
            Column("expires_ms", BigInteger, nullable=True),  # epoch milliseconds
        )
        self._engine = engine
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._prepared = False
        self._lost = False
        self.description = f"lease row {LOCK_NAME!r} in table {LOCK_TABLE}"

    def try_acquire(self) -> bool:
        from sqlalchemy import update

        table = self._table
        with _lock_connection(self._engine) as connection:
            if not self._prepared:
                self._prepare(connection)
            now = _database_now_ms(connection)
            free = table.c.owner.is_(None) | (table.c.expires_ms < now)
            taken = connection.execute(
                update(table)
                .where(table.c.name == LOCK_NAME, free)
                .values(owner=self._owner, expires_ms=now + LEASE_MS)
            )
        if taken.rowcount != 1:
            return False
        self._renewer = threading.Thread(target=self._renew, name="lock-lease", daemon=True)
        self._renewer.start()
        return True

    def _prepare(self, connection: Connection) -> None:
        """Create the table and its row when missing; another process may do so first,
        so "already there" is fine, but a table that cannot be created is an error."""
        from sqlalchemy import exc, insert, inspect

        failure: exc.DBAPIError | None = None
        for statement in (
            lambda: self._table.create(connection, checkfirst=True),
            lambda: connection.execute(insert(self._table).values(name=LOCK_NAME)),
        ):
            try:
                statement()
            except exc.DBAPIError as error:  # created meanwhile, or already there
                failure = failure or error
        if failure is not None and not inspect(connection).has_table(LOCK_TABLE):
            raise DatabaseError(
                f"cannot create the lock table {LOCK_TABLE} ({describe(failure)}): create it "
                "with a user that may, or use MIGRATIONS_LOCK=advisory or none"
            )
        self._prepared = True

    def _renew(self) -> None:
        """Extend the lease every LEASE_SECONDS / 3; once it cannot be extended before it
        runs out (taken over, or the database unreachable), the lock counts as lost."""
        deadline = time.monotonic() + LEASE_SECONDS
        while not self._stop.wait(LEASE_SECONDS / 3):
            try:
                if self._set_lease(renew=True):
                    deadline = time.monotonic() + LEASE_SECONDS
                    continue
                self._lost = True  # the row is someone else's now
            except Exception:
                self._lost = time.monotonic() >= deadline
            if self._lost:
                return

    def _set_lease(self, renew: bool) -> bool:
        """Extend our lease (renew) or give it up; whether our row was there to update."""
        from sqlalchemy import update

        table = self._table
        with _lock_connection(self._engine) as connection:
            expires_ms = _database_now_ms(connection) + LEASE_MS if renew else None
            updated = connection.execute(
                update(table)
                .where(table.c.name == LOCK_NAME, table.c.owner == self._owner)
                .values(owner=self._owner if renew else None, expires_ms=expires_ms)
            )
        return bool(updated.rowcount == 1)

    def lost(self) -> str | None:
        return "its lease could not be renewed in time" if self._lost else None

    def release(self) -> None:
        if self._renewer is None:
            return  # never acquired
        self._stop.set()
        self._renewer.join(timeout=LEASE_SECONDS)
        self._set_lease(renew=False)


def _database_now_ms(connection: Connection) -> int:
    """The database's clock, not this host's: deploying hosts' clocks may disagree."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        sql = "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    elif dialect in ("mysql", "mariadb"):
        sql = "SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"
    else:
        return int(time.time() * 1000)
    return int(_scalar(connection, sql))
