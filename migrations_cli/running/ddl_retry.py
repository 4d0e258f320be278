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
at once (with what ran before it in the transaction), only when it had run no DDL before the
timeout, nor any write before the DDL that timed out. Any other error is never retried.

A project's own env.py (OwnEnvironmentRetries) gets the same: Alembic's command is run
again, toward the same revision, from wherever the rollback left the database. Where that
env.py runs every revision in one transaction (on PostgreSQL; on MariaDB/MySQL Alembic gives
each revision its own whatever env.py says), the rollback takes the revisions before the
failed one with it, and the next attempt runs them again: safe, unless something had
committed on the way (autocommit_block()), which is then said instead.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.core import output
from migrations_cli.running.ddl_timeouts import (
    RevisionSteps,
    StepsFunction,
    Timeouts,
    shares_one_transaction,
)
from migrations_cli.running.lock_holders import LockWait, lock_wait
from migrations_cli.running.migration_run import (
    RELATIVE_TARGET,
    Failure,
    failed_statement,
    failing_frame,
)

if TYPE_CHECKING:
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine

    from migrations_cli.running.migration_run import MigrationRun

# PostgreSQL's SQLSTATE for lock_not_available (lock_timeout, NOWAIT); MariaDB/MySQL's
# ER_LOCK_WAIT_TIMEOUT (lock_wait_timeout on metadata locks, InnoDB's on rows).
_POSTGRESQL_LOCK_NOT_AVAILABLE = "55P03"
_MYSQL_LOCK_WAIT_TIMEOUT = 1205
# The first pause before a retry; each next one doubles, up to the maximum wait.
FIRST_PAUSE_SECONDS = 1.0
# Statements that MariaDB/MySQL commit at once (with what ran before them).
_IMPLICIT_COMMIT = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)
# Statements that write rows: a DDL statement after them commits them too.
_WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|LOAD)\b", re.IGNORECASE)


@dataclass(frozen=True)
class LockWaitFailure:
    """How the last attempt of a revision that waited for a lock ended: for its error line."""

    reason: str  # what it waited for and who held it
    rolled_back: bool | None  # whether the revision left nothing behind; None: not known
    remedy: str  # what to do before running the command again


class RevisionWatch:
    """What the revision under way has done that a rollback no longer undoes, read from
    the migration connection's events: a commit (autocommit_block()), and on MariaDB/MySQL
    DDL, which commits at once, and writes, which the next DDL commits along with it.
    With every revision in one transaction (`one_transaction`), a commit anywhere in the
    run counts: the rollback goes back to the run's start."""

    def __init__(self) -> None:
        self.revision: str | None = None
        self.mysql = False
        self.database = "PostgreSQL"
        self.one_transaction = False
        self._listening: list[tuple[Connection, str, Callable[..., None]]] = []
        self.start_attempt()

    def start_attempt(self) -> None:
        self.revision = None
        self._committed = False
        self._ddl = self._wrote = self._ddl_in_run = False

    def follow(self, connection: Connection, one_transaction: bool) -> None:
        """Watch this connection's commits and statements from now on."""
        from sqlalchemy import event

        dialect = connection.dialect
        self.mysql = dialect.name in ("mysql", "mariadb")
        self.database = (
            ("MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL")
            if self.mysql
            else "PostgreSQL"
        )
        self.one_transaction = one_transaction
        listeners: list[tuple[str, Callable[..., None]]] = [("commit", self._on_commit)]
        if self.mysql:
            listeners.append(("after_cursor_execute", self._on_statement))
        for name, listener in listeners:
            event.listen(connection, name, listener)
            self._listening.append((connection, name, listener))

    def stop(self) -> None:
        from sqlalchemy import event

        for connection, name, listener in self._listening:
            with suppress(Exception):  # (a connection env.py has closed since)
                event.remove(connection, name, listener)
        self._listening = []

    def on_revision(self, step: Any) -> None:
        """RevisionSteps calls this as each revision is about to run."""
        self.revision = str(step.revision.revision)
        if not self.one_transaction:
            self._committed = False  # (Alembic's commit of the revision before)
        self._ddl = self._wrote = False

    def not_retried_because(self, statement: str | None) -> str | None:
        """Why running the failed revision again would not be safe; None when it is."""
        timed_out_in_ddl = bool(statement and _IMPLICIT_COMMIT.match(statement))
        if self._committed:
            return "it had committed in autocommit_block()"
        if not self.mysql:
            return None
        if self._ddl:
            return f"{self.database} had already committed its DDL"
        if timed_out_in_ddl and self._wrote:
            return f"{self.database} committed its earlier statements as its DDL began"
        if self.one_transaction and self._ddl_in_run and not timed_out_in_ddl:
            return (
                f"{self.database} had committed DDL of a revision before it, in the one "
                "transaction env.py runs every revision in"
            )
        return None

    def _on_commit(self, connection: Connection) -> None:
        """A commit inside a revision (autocommit_block()); Alembic's own at its end comes
        after on_version_apply, and on_revision resets the flag for the next one."""
        if self.revision is not None:
            self._committed = True

    def _on_statement(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.revision is None:
            return
        if _IMPLICIT_COMMIT.match(statement):
            self._ddl = self._ddl_in_run = True
        elif _WRITE.match(statement):
            self._wrote = True


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
        self._watch = RevisionWatch()
        self.failure: LockWaitFailure | None = None
        self._mysql = connection.dialect.name in ("mysql", "mariadb")

    def on_revision(self, step: Any) -> None:
        """RevisionSteps calls this as each revision is about to run."""
        self._watch.on_revision(step)

    def run(self, context: EnvironmentContext, run: MigrationRun) -> None:
        """Alembic's run_migrations(), again from a revision that timed out waiting for a
        lock while retries are left. Whether it committed part of its work is watched (on
        the connection's events) only when there are retries to decide."""
        if self._retries:
            self._watch.follow(
                self._connection, one_transaction=shares_one_transaction(context.get_context())
            )
        try:
            self._run(context, run)
        finally:
            self._watch.stop()

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
                statement = failed_statement(error)
                waited = lock_wait(self._connection, self._mysql, statement)
                why_not = self._watch.not_retried_because(statement) if self._retries else None
                if why_not is not None or attempt > self._retries:
                    self.failure = _last_failure(waited, attempt, self._retries, why_not)
                    raise
                pause = _pause(attempt, self._max_wait)
                _pause_before_retry(self._watch.revision, waited, attempt, self._retries, pause)
                attempt += 1
                run.start_clock()


class _WatchedSteps(RevisionSteps):
    """A project's own env.py's list of revisions: each revision's timeouts, and the
    migration connection watched for what a rollback would not undo."""

    def __init__(self, steps: StepsFunction, defaults: Timeouts, watch: RevisionWatch) -> None:
        super().__init__(steps, defaults, watch.on_revision, restore_when_done=True)
        self._watch = watch

    def __call__(self, heads: tuple[str, ...], context: MigrationContext) -> Iterator[Any]:
        if not context.as_sql and context.connection is not None:
            self._watch.follow(context.connection, shares_one_transaction(context))
        yield from super().__call__(heads, context)


class OwnEnvironmentRetries:
    """For a project's own env.py, which `migrate` does not edit: `steps` wraps the list of
    revisions Alembic hands it (configure_options.adjusted_configure does, at each of its
    `context.configure()` calls), and `run` runs the command again after a lock timeout,
    toward the same revision (a target counted from where the database was, +2 or -1,
    is the revision the first attempt was going to), while that is safe and retries are
    left. `settle` brings the run's record up to date with the version table."""

    def __init__(
        self,
        run: MigrationRun,
        script: ScriptDirectory,
        engine: Engine,
        timeouts: Timeouts,
        retries: int,
        max_wait: float,
        settle: Callable[[], object],
    ) -> None:
        self._run = run
        self._script = script
        self._engine = engine
        self._timeouts = timeouts
        self._retries = retries
        self._max_wait = max_wait
        self._settle = settle
        self._watch = RevisionWatch()
        self._plans: list[RevisionSteps] = []
        self.failure: LockWaitFailure | None = None

    def steps(self, steps: StepsFunction) -> RevisionSteps:
        """Alembic's `fn` for one `context.configure()` of env.py, wrapped."""
        watched = _WatchedSteps(steps, self._timeouts, self._watch)
        self._plans.append(watched)
        return watched

    def run(self, command: Callable[[str], object]) -> None:
        target, attempt = self._run.target, 1
        while True:
            self._watch.start_attempt()
            self._plans.clear()
            try:
                command(target)
                return
            except Exception as error:
                if self._watch.revision is None or not _timed_out_waiting_for_a_lock(
                    error, self._watch.mysql
                ):
                    raise
                self._settle()
                statement = failed_statement(error)
                with self._engine.connect() as connection:
                    waited = lock_wait(connection, self._watch.mysql, statement)
                why_not = self._watch.not_retried_because(statement)
                again = self._same_target(target)
                if why_not is None and again is None:
                    why_not = f"`{target}` names no single revision to go on to"
                if why_not is not None or attempt > self._retries:
                    self.failure = _last_failure(waited, attempt, self._retries, why_not)
                    raise
                pause = _pause(attempt, self._max_wait)
                _pause_before_retry(self._watch.revision, waited, attempt, self._retries, pause)
                attempt += 1
                self._run.start_clock()
                target = again or target
            finally:
                self._watch.stop()

    def failed(self, error: BaseException) -> Failure | None:
        """What the error line says of the revision, after the last attempt."""
        if self.failure is None:
            return None
        frame = failing_frame(error)
        revision = str(frame.f_globals.get("revision")) if frame else self._watch.revision
        partial_because = None
        if not self.failure.rolled_back:
            partial_because = (
                f"{self._watch.database} commits DDL at once"
                if self._watch.mysql
                else "it ran statements in autocommit_block(), which commits"
            )
        return Failure(
            reason=self.failure.reason,
            revision=revision,
            statement=failed_statement(error),
            partial_because=partial_because,
            below=self._below(revision),
            remedy=self.failure.remedy,
        )

    def _same_target(self, target: str) -> str | None:
        """The revision the first attempt was going to: the target itself unless counted
        from where the database was, then where the planned steps ended."""
        if not RELATIVE_TARGET.search(target):
            return target
        ends = {_end_of(plan.planned) for plan in self._plans if plan.planned}
        return ends.pop() if len(ends) == 1 else None

    def _below(self, revision: str | None) -> tuple[str, ...]:
        try:
            found = self._script.get_revision(revision) if revision else None
        except Exception:
            return ()
        return _as_tuple(found.down_revision) if found is not None else ()


def _end_of(steps: list[Any] | None) -> str | None:
    """Where a list of Alembic's steps leaves a database: one revision, or base."""
    last = (steps or [None])[-1]
    script = getattr(last, "revision", None)
    if script is None:
        return None
    if last.is_upgrade:
        return str(script.revision)
    below = _as_tuple(script.down_revision)
    return "base" if not below else (below[0] if len(below) == 1 else None)


def _as_tuple(revisions: Any) -> tuple[str, ...]:
    if revisions is None:
        return ()
    return (revisions,) if isinstance(revisions, str) else tuple(revisions)


def _pause_before_retry(
    revision: str | None, waited: LockWait, attempt: int, retries: int, pause: float
) -> None:
    """The line each attempt gets, under any env.py, then the pause."""
    output.info(
        f"  {'retry':<8} {revision}  timed out waiting for a lock "
        f"{waited.where}; attempt {attempt + 1} of {retries + 1} in {pause:.1f}s"
    )
    time.sleep(pause)


def _last_failure(
    waited: LockWait, attempt: int, retries: int, not_retried_because: str | None
) -> LockWaitFailure:
    remedy = "wait for the transaction holding the lock to end"
    if waited.end_holders:
        remedy += f" (or end it: {'; '.join(waited.end_holders)})"
    if not_retried_because is not None:
        reason = f"timed out waiting for a lock {waited.where} (not retried: {not_retried_because})"
        return LockWaitFailure(reason, rolled_back=False, remedy=remedy)
    tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
    more = "" if retries else "; MIGRATIONS_DDL_RETRIES=3 would try again"
    return LockWaitFailure(
        f"timed out waiting for a lock {waited.where}, {tries}{more}",
        # (known only when watched: otherwise what the database does with DDL says)
        rolled_back=True if retries else None,
        remedy=remedy,
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
