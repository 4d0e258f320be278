"""Run the revisions again from the one that timed out waiting for a lock.

A revision whose statement gave up waiting for a lock (lock_timeout on PostgreSQL,
lock_wait_timeout on MariaDB/MySQL) was blocked by somebody else's transaction, not by a
mistake of its own: once that transaction ends, it would pass. With MIGRATIONS_DDL_RETRIES
above 0 it is run again, after a pause that doubles each time (with jitter, so that the
instances of a deploy do not come back in step, and at most MIGRATIONS_DDL_RETRY_MAX_WAIT).

The retry is at the depth of one revision: the revisions committed before it stay
committed and are never run again; the run resumes at the failed one, inside the same
migration lock, and checksum rows are written at the end as for any run. A revision is only
retried when its failure left nothing behind: on PostgreSQL its transaction rolled back whole
(unless it had committed through `autocommit_block()`); on MariaDB/MySQL, whose DDL commits
at once, only when it had run no DDL before the timeout. Any other error is never retried.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli import output
from migrations_cli.migration_run import failed_statement, shortened_statement

if TYPE_CHECKING:
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy.engine import Connection

    from migrations_cli.migration_run import MigrationRun

# PostgreSQL's SQLSTATE for lock_not_available (lock_timeout, NOWAIT); MariaDB/MySQL's
# ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout on metadata locks, InnoDB's on rows).
_POSTGRESQL_LOCK_NOT_AVAILABLE = "55P03"
_MYSQL_LOCK_WAIT_TIMEOUT = 1205
# The first pause before a retry; each next one doubles, up to the maximum wait.
FIRST_PAUSE_SECONDS = 1.0
# Statements that MariaDB/MySQL commit at once (with what ran before them).
_IMPLICIT_COMMIT = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)
# Names in a statement that may be the table it waited for: words and "quoted" or `quoted`.
_NAME = re.compile(r'"((?:[^"]|"")+)"|`((?:[^`]|``)+)`|\b([A-Za-z_][A-Za-z0-9_$]*)\b')
_SHOWN_QUERY_CHARS = 60


@dataclass(frozen=True)
class LockWaitFailure:
    """How the last attempt of a revision that waited for a lock ended: for its error line."""

    reason: str  # what it waited for and who held it
    rolled_back: bool | None  # whether the revision left nothing behind; None: not known
    remedy: str  # what to do before running the command again


@dataclass(frozen=True)
class _LockWait:
    """What the database says, just after the timeout, about the lock waited for."""

    where: str  # "on table accounts, held by pid 4242 (...)"
    end_holders: tuple[str, ...] = ()  # the statements that would end each holder


class RevisionRetries:
    """Runs Alembic's migrations, resuming at a revision that timed out waiting for a lock.

    `on_revision` is told, as each revision begins, which one it is; `after_failure` brings
    the run's record up to date with the database after a failure (MigrationRun.settle).
    On a caller's connection (`own` False) nothing is retried nor looked up: its
    transaction, aborted, is the caller's to end."""

    def __init__(
        self,
        connection: Connection,
        own: bool,
        retries: int,
        max_wait: float,
        after_failure: Callable[[], object],
    ) -> None:
        self._connection = connection
        self._own = own
        self._retries = retries if own else 0
        self._max_wait = max_wait
        self._after_failure = after_failure  # (its answer is not used)
        self._revision: str | None = None
        self._committed_early = False  # this revision has committed part of its work
        self.failure: LockWaitFailure | None = None
        dialect = connection.dialect
        self._mysql = dialect.name in ("mysql", "mariadb")
        self._database = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"

    def on_revision(self, step: Any) -> None:
        """RevisionSteps calls this as each revision is about to run."""
        self._revision = str(step.revision.revision)
        self._committed_early = False

    def run(self, context: EnvironmentContext, run: MigrationRun) -> None:
        """Alembic's run_migrations(), again from a revision that timed out waiting for a
        lock while retries are left. Whether it committed part of its work is watched (on
        the connection's events) only when there are retries to decide."""
        from sqlalchemy import event

        listeners: list[tuple[str, Callable[..., None]]] = []
        if self._retries:
            listeners.append(("commit", self._on_commit))
            if self._mysql:
                listeners.append(("after_cursor_execute", self._on_statement))
        for name, listener in listeners:
            event.listen(self._connection, name, listener)
        try:
            self._run(context, run)
        finally:
            for name, listener in listeners:
                event.remove(self._connection, name, listener)

    def _run(self, context: EnvironmentContext, run: MigrationRun) -> None:
        attempt = 1
        while True:
            try:
                with context.begin_transaction():
                    context.run_migrations()
                return
            except Exception as error:
                if not self._own or not _timed_out_waiting_for_a_lock(error, self._mysql):
                    raise
                self._after_failure()
                waited = self._lock_wait(failed_statement(error))
                if self._committed_early or attempt > self._retries:
                    self.failure = self._last_failure(waited, attempt)
                    raise
                pause = _pause(attempt, self._max_wait)
                output.info(
                    f"  {'retry':<8} {self._revision}  timed out waiting for a lock "
                    f"{waited.where}; attempt {attempt + 1} of {self._retries + 1} in {pause:.1f}s"
                )
                time.sleep(pause)
                attempt += 1
                run.start_clock()

    def _last_failure(self, waited: _LockWait, attempt: int) -> LockWaitFailure:
        remedy = "wait for the transaction holding the lock to end"
        if waited.end_holders:
            remedy += f" (or end it: {'; '.join(waited.end_holders)})"
        if self._committed_early:
            why = (
                f"not retried: {self._database} had already committed its DDL"
                if self._mysql
                else "not retried: it had committed in autocommit_block()"
            )
            reason = f"timed out waiting for a lock {waited.where} ({why})"
            return LockWaitFailure(reason, rolled_back=False, remedy=remedy)
        tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
        more = "" if self._retries else "; MIGRATIONS_DDL_RETRIES=3 would try again"
        return LockWaitFailure(
            f"timed out waiting for a lock {waited.where}, {tries}{more}",
            # (known only when watched: otherwise what the database does with DDL says)
            rolled_back=True if self._retries else None,
            remedy=remedy,
        )

    def _on_commit(self, connection: Connection) -> None:
        """A commit inside a revision (autocommit_block()); Alembic's own at its end comes
        after on_version_apply, and on_revision resets the flag for the next one."""
        if self._revision is not None:
            self._committed_early = True

    def _on_statement(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if _IMPLICIT_COMMIT.match(statement):
            self._committed_early = True

    def _lock_wait(self, statement: str | None) -> _LockWait:
        """The tables the failed statement names and the sessions holding locks on them, as
        far as the database says; the transaction that held the lock may have ended since."""
        names = _names(statement or "")
        try:
            if self._mysql:
                tables, holders = _mysql_holders(self._connection, names)
            else:
                tables, holders = _postgresql_holders(self._connection, names)
        except Exception as error:  # the look is for the message: never its own failure
            self._connection.rollback()
            return _LockWait(f"(could not look up who held it: {type(error).__name__})")
        self._connection.rollback()  # no transaction open while pausing
        where = f"on table {', '.join(tables)}" if tables else "(on a table the statement names)"
        if not holders:
            return _LockWait(f"{where} (whoever held it has finished since)")
        return _LockWait(
            f"{where}, held by {'; '.join(holder for holder, _ in holders)}",
            tuple(end for _, end in holders),
        )


def _timed_out_waiting_for_a_lock(error: BaseException, mysql: bool) -> bool:
    """By the driver's error code: MariaDB/MySQL drivers give the server's error number
    first; PostgreSQL's the SQLSTATE (psycopg's sqlstate, psycopg2's pgcode)."""
    import sqlalchemy.exc

    if not isinstance(error, sqlalchemy.exc.DBAPIError):
        return False
    original = error.orig
    if mysql:
        arguments: tuple[Any, ...] = getattr(original, "args", ())
        return bool(arguments) and arguments[0] == _MYSQL_LOCK_WAIT_TIMEOUT
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return bool(code == _POSTGRESQL_LOCK_NOT_AVAILABLE)


def _pause(attempt: int, max_wait: float) -> float:
    """Exponential backoff with jitter: between half and all of 1s, 2s, 4s..., capped."""
    ceiling = min(max_wait, FIRST_PAUSE_SECONDS * 2.0 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)


def _names(statement: str) -> list[str]:
    """Every name the statement could be naming, as the database stores it (unquoted names
    folded to lower case, which both PostgreSQL and MariaDB's defaults compare equal)."""
    names: dict[str, None] = {}
    for double, back, word in _NAME.findall(statement):
        name = double.replace('""', '"') or back.replace("``", "`") or word.lower()
        names[name] = None
    return list(names)


# The tables a statement names, and (description, statement that ends it) of each holder.
_Holders = tuple[list[str], list[tuple[str, str]]]


def _postgresql_holders(connection: Connection, names: list[str]) -> _Holders:
    from sqlalchemy import text

    rows = connection.execute(
        text(
            "SELECT c.oid::regclass::text FROM pg_class c "
            "WHERE c.oid IN (SELECT to_regclass(quote_ident(n)) "
            "FROM unnest(CAST(:names AS text[])) n) "
            "AND c.relkind IN ('r', 'p', 'm', 'i', 'I')"
        ),
        {"names": names},
    ).all()
    tables = [table for (table,) in rows]
    holders = connection.execute(
        text(
            "SELECT a.pid, a.application_name, a.usename, a.state, "
            "EXTRACT(EPOCH FROM now() - COALESCE(a.xact_start, a.query_start)), a.query "
            "FROM pg_stat_activity a WHERE a.pid IN ("
            "SELECT l.pid FROM pg_locks l WHERE l.granted AND l.pid <> pg_backend_pid() "
            "AND l.relation IN (SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) t)) "
            "ORDER BY a.xact_start"
        ),
        {"tables": tables},
    ).all()
    return tables, [
        (
            f"pid {pid} ({application + ', ' if application else ''}user {user}, {state} "
            f"for {_seconds(age)}: {_query(query)})",
            f"SELECT pg_terminate_backend({pid})",
        )
        for pid, application, user, state, age, query in holders
    ]


def _mysql_holders(connection: Connection, names: list[str]) -> _Holders:
    """MariaDB says which session holds a table's metadata lock only with its
    METADATA_LOCK_INFO plugin; without it, the sessions with a transaction open are the
    suspects (a transaction holds the metadata lock of every table it has touched)."""
    from sqlalchemy import bindparam, text

    tables = [
        table
        for (table,) in connection.execute(
            text(
                "SELECT TABLE_NAME FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": names or [""]},
        )
    ]
    has_lock_info = connection.execute(
        text(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            "'information_schema' AND TABLE_NAME = 'METADATA_LOCK_INFO'"
        )
    ).scalar()
    if has_lock_info:
        suspects = (
            "SELECT THREAD_ID FROM information_schema.METADATA_LOCK_INFO "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :tables"
        )
    else:
        suspects = "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX"
    statement = text(
        "SELECT p.ID, p.USER, p.COMMAND, p.TIME, p.INFO FROM information_schema.PROCESSLIST p "
        f"WHERE p.ID <> CONNECTION_ID() AND p.ID IN ({suspects}) ORDER BY p.TIME DESC"
    )
    parameters: dict[str, Any] = {}
    if has_lock_info:
        statement = statement.bindparams(bindparam("tables", expanding=True))
        parameters["tables"] = tables or [""]
    holders = connection.execute(statement, parameters).all()
    open_transaction = "" if has_lock_info else ", a transaction open"
    return tables, [
        (
            f"connection {thread} (user {user}, {command} for {_seconds(age)}{open_transaction}"
            f"{': ' + _query(query) if query else ''})",
            f"KILL {thread}",
        )
        for thread, user, command, age, query in holders
    ]


def _seconds(age: Any) -> str:
    return f"{float(age or 0):.1f}s"


def _query(query: str | None) -> str:
    return shortened_statement(query or "", _SHOWN_QUERY_CHARS) or "no query"
