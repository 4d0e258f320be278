"""Checksums of applied migrations: has a migration file changed since it was applied?

When a revision is applied, two SHA-256 sums of its file are taken, and go into
CHECKSUM_TABLE beside the version table when the run ends: one of the raw bytes, and one
of its code (its Python tokens without comments, blank lines and indentation widths). A
later file whose text sum differs but whose code sum matches had whitespace or comments
edited; one whose code sum differs was edited after it ran, and the database may not hold
what the file now says (Flyway's validate, for Alembic). `migrate checksums --repair`
records the files as they are once a human has reviewed them.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from migrations_cli.core import output
from migrations_cli.core.errors import describe
from migrations_cli.core.tool_tables import CHECKSUM_TABLE
from migrations_cli.guards.code_sums import (
    CodeSumMemo,
    FileChecksums,
    code_sum_of,
    file_checksums,
    read_file,
)

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from migrations_cli.core.context import MigrationsContext

OK, EDITED, COMMENT_ONLY, MISSING_FILE, UNRECORDED, SQUASHED = (
    "ok",
    "edited",
    "comment-only",
    "missing-file",
    "unrecorded",
    # Replaced by a baseline (`migrate squash`): its file rewritten or gone, by design.
    "squashed",
)
# States that mean the database may not match the files: warned about, and `checksums` exits 1.
PROBLEMS = frozenset({EDITED, MISSING_FILE})
REPAIR_ADVICE = "review them, then record the files as they are with `migrate checksums --repair`"


@dataclass(frozen=True)
class Recorded:
    code: str
    text: str
    applied_at: datetime | None


@dataclass(frozen=True)
class RevisionChecksum:
    """One applied (or recorded) revision against its file."""

    revision: str
    state: str
    path: str | None
    message: str | None


@functools.cache
def checksum_table() -> Table:
    """Built once per process: recording runs once per revision applied."""
    from sqlalchemy import CHAR, Column, DateTime, MetaData, String, Table

    return Table(
        CHECKSUM_TABLE,
        MetaData(),
        # As long as any revision id: a project may widen alembic_version.version_num.
        Column("revision", String(255), primary_key=True),
        Column("code_sha256", CHAR(64), nullable=False),
        Column("text_sha256", CHAR(64), nullable=False),
        Column("applied_at", DateTime(), nullable=True),
        # On SQLite, one B-tree keyed by revision rather than a table and an index of it:
        # each revision's commit then journals and writes one page of ours fewer.
        sqlite_with_rowid=False,
    )


# sums ---------------------------------------------------------------------------------------


def _state_of_file(path: Path, recorded: Recorded) -> str:
    """The cheap text sum first: only a file whose bytes changed is tokenized."""
    data = read_file(path)
    text = hashlib.sha256(data).hexdigest()
    if text == recorded.text:
        return OK
    return state_of(FileChecksums(code=code_sum_of(data, text), text=text), recorded)


def state_of(current: FileChecksums, recorded: Recorded) -> str:
    if current.text == recorded.text:
        return OK
    return COMMENT_ONLY if current.code == recorded.code else EDITED


# the table ----------------------------------------------------------------------------------


def has_checksum_table(connection: Connection) -> bool:
    from sqlalchemy import inspect

    return inspect(connection).has_table(CHECKSUM_TABLE)


def read_recorded(connection: Connection) -> dict[str, Recorded] | None:
    """The recorded sums by revision; None when the table does not exist (a database
    never upgraded since checksums were kept)."""
    from sqlalchemy import select

    if not has_checksum_table(connection):
        return None
    table = checksum_table()
    rows = connection.execute(
        select(table.c.revision, table.c.code_sha256, table.c.text_sha256, table.c.applied_at)
    )
    return {
        revision: Recorded(code.strip(), text.strip(), applied_at)
        for revision, code, text, applied_at in rows
    }


def all_recorded(connection: Connection, revisions: frozenset[str]) -> bool:
    """Whether each of `revisions` has a row; not when the table is missing or unreadable."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        recorded = read_recorded(connection)
    except SQLAlchemyError:
        return False
    return recorded is not None and revisions <= recorded.keys()


def create_checksum_table(connection: Connection) -> None:
    """Create the table when missing (on the connection's transaction)."""
    checksum_table().create(connection, checkfirst=True)


def record(connection: Connection, script: ScriptDirectory, revisions: Iterable[str]) -> list[str]:
    """Record the current files of `revisions` (replacing their rows); returns those
    recorded (a revision without a file has nothing to record)."""
    rows = [
        row
        for revision in revisions
        if (row := _row(revision, revision_path(script, revision))) is not None
    ]
    recorded = [row["revision"] for row in rows]
    if rows:
        _replace(connection, recorded, rows)
    return recorded


def forget(connection: Connection, revisions: Iterable[str]) -> None:
    from sqlalchemy import delete

    ids = list(revisions)
    if ids:
        table = checksum_table()
        connection.execute(delete(table).where(table.c.revision.in_(ids)))


def revision_path(script: ScriptDirectory, revision: str) -> Path | None:
    """The file that defines `revision`, or None when no file does (any more)."""
    try:
        found = script.get_revision(revision)
    except Exception:
        return None
    if found is None or not found.path:
        return None
    path = Path(found.path)
    return path if path.exists() else None


# while migrating ----------------------------------------------------------------------------


_T = TypeVar("_T")


class ChecksumRecorder:
    """What the environment module does with checksums during an upgrade or downgrade:
    prepare the table (and record revisions applied without rows), warn about applied
    migrations edited since, take the sums of each file as its revision is applied, and
    write them when the run ends. Never fails a migration: a table that cannot be created
    or written is a warning.

    The rows of a run are written once, after its last revision, in one transaction under
    the migration lock; after a failure, those of the revisions that committed. A row
    written in each revision's own transaction cost a statement per revision (on SQLite
    compiled again after each revision's DDL, and a page more journaled per commit; on
    PostgreSQL a round trip). A run killed outright leaves its applied revisions without
    rows; the next upgrade records them, as it does those plain alembic applied. A code sum
    already taken is remembered (code_sums.CodeSumMemo).
    """

    def __init__(self, script: ScriptDirectory, memo: Path) -> None:
        """`memo`: the file of code sums already taken (code_sums.CodeSumMemo), read when
        the first revision is recorded and written back by finish()."""
        self._script = script
        self._memo_path = memo
        self._ready: bool | None = None
        self._memo: CodeSumMemo | None = None
        # By revision: the row to write, or None for one to forget (reverted).
        self._pending: dict[str, dict[str, Any] | None] = {}

    def prepare(
        self,
        connection: Connection,
        heads: tuple[str, ...],
        applied: frozenset[str],
        commit: bool,
    ) -> None:
        """Before an upgrade runs: create the table, record the revisions already applied
        that have no row, and warn about applied files edited or gone since. Commits when
        `commit` (the connection is the run's own); a caller's connection commits with the
        caller's transaction."""
        recorded: dict[str, Recorded] | None = None
        try:
            recorded, done = self._in_transaction(
                connection, commit, lambda: self._prepare(connection, applied)
            )
        except Exception as error:
            self._give_up(error)
            recorded = self._read_after_failure(connection, commit)
        else:
            self._ready = True
            if done:
                count = len(done)
                output.info(
                    f"recorded checksums of {count} revision{'s' if count != 1 else ''} "
                    f"applied without them: {', '.join(done)}"
                )
        self._warn(heads, applied, recorded)

    def _prepare(
        self, connection: Connection, applied: frozenset[str]
    ) -> tuple[dict[str, Recorded] | None, list[str]]:
        """The rows as they were (for the warnings), and the revisions recorded now."""
        had_table = has_checksum_table(connection)
        if not had_table:
            create_checksum_table(connection)
        recorded = read_recorded(connection) if had_table else None
        missing = sorted(applied - set(recorded or ()))
        return recorded, record(connection, self._script, missing)

    def _read_after_failure(
        self, connection: Connection, commit: bool
    ) -> dict[str, Recorded] | None:
        """The rows for the warnings, when the table could not be prepared (a user that
        may read it but not create or write it)."""
        try:
            if commit:
                try:
                    return read_recorded(connection)
                finally:
                    connection.rollback()  # Alembic commits no transaction it finds open
            with connection.begin_nested():
                return read_recorded(connection)
        except Exception:
            return None

    def _warn(
        self,
        heads: tuple[str, ...],
        applied: frozenset[str],
        recorded: dict[str, Recorded] | None,
    ) -> None:
        """Warn (never fail) about applied migrations edited or gone: read on the run's
        own connection, under its lock, rather than on one of their own beforehand."""
        try:
            report = compare(self._script, applied, heads, recorded)
        except Exception:
            return
        for line in report.warnings():
            output.warn(line)
        for line in report.notes():
            output.info(line)

    def applied(self, revision: str, upgrade: bool, script: Any = None) -> None:
        """A revision was applied (or reverted): take its file's sums now, as the file is
        when it runs (or mark its row to be forgotten). `script`: the revision's Script when
        the caller has it (else looked up)."""
        if not upgrade:
            self._pending[revision] = None
            return
        if self._memo is None:
            self._memo = CodeSumMemo(self._memo_path)
        path = _script_path(script) if script is not None else revision_path(self._script, revision)
        row = _row(revision, path, self._memo)
        if row is not None:  # (no file: nothing to record)
            self._pending[revision] = row

    def finish(self, connection: Connection, committed: Iterable[str], commit: bool) -> None:
        """After the run: write the rows of the revisions in `committed` (those whose
        transactions committed), in a transaction of their own when `commit` (else in a
        savepoint of the caller's), and keep the code sums taken for the next run."""
        kept = set(committed)
        pending = {revision: row for revision, row in self._pending.items() if revision in kept}
        self._pending.clear()
        if pending and self._ready is None:
            self._ready = self._table_exists(connection)
        if pending and self._ready:
            rows = [row for row in pending.values() if row is not None]
            try:
                self._in_transaction(
                    connection, commit, lambda: _replace(connection, pending, rows)
                )
            except Exception as error:
                self._give_up(error)
        if self._memo is not None:
            self._memo.save()

    @staticmethod
    def _in_transaction(connection: Connection, commit: bool, work: Callable[[], _T]) -> _T:
        """`work` committed on the run's own connection, or in a savepoint of the caller's
        transaction (a failure then leaves the caller's work alone)."""
        if not commit:
            with connection.begin_nested():
                return work()
        try:
            done = work()
        except Exception:
            connection.rollback()
            raise
        connection.commit()
        return done

    def _table_exists(self, connection: Connection) -> bool:
        try:
            with connection.begin_nested():
                return has_checksum_table(connection)
        except Exception:
            return False

    def _give_up(self, error: Exception) -> None:
        self._ready = False
        output.warn(
            f"cannot record migration checksums in {CHECKSUM_TABLE} ({describe(error)}); "
            "the migrations themselves are unaffected"
        )


def _script_path(script: Any) -> str | None:
    return getattr(script, "path", None) or None


def _row(
    revision: str, path: str | Path | None, memo: CodeSumMemo | None = None
) -> dict[str, Any] | None:
    """The row recording `path` as the file of `revision`; None without a readable file."""
    if path is None:
        return None
    try:
        sums = file_checksums(path, memo)
    except OSError:
        return None
    return {
        "revision": revision,
        "code_sha256": sums.code,
        "text_sha256": sums.text,
        "applied_at": _utc_now(),
    }


_EPOCH = datetime(1970, 1, 1)


def _utc_now() -> datetime:
    """Now in UTC without a time zone, as the column holds it: the epoch plus time.time()
    costs half what now(timezone.utc).replace(tzinfo=None) does, once per revision."""
    return _EPOCH + timedelta(seconds=time.time())


def _replace(connection: Connection, revisions: Iterable[str], rows: list[dict[str, Any]]) -> None:
    """Delete the rows of `revisions`, then insert `rows`: two statements however many."""
    from sqlalchemy import insert

    forget(connection, revisions)
    if rows:
        connection.execute(insert(checksum_table()), rows)


# reading them back ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecksumReport:
    """Applied revisions against their recorded sums. `recorded` is False when the
    database has no checksum table yet."""

    revisions: tuple[RevisionChecksum, ...]
    recorded: bool

    def with_state(self, *states: str) -> list[RevisionChecksum]:
        return [found for found in self.revisions if found.state in states]

    @property
    def has_problems(self) -> bool:
        return bool(self.with_state(*PROBLEMS))

    def warnings(self) -> list[str]:
        """One line per kind of problem, for status, doctor and upgrade."""
        lines = []
        edited = self.with_state(EDITED)
        if edited:
            lines.append(
                f"applied migration{'s' if len(edited) != 1 else ''} edited since "
                f"{'they were' if len(edited) != 1 else 'it was'} applied: "
                f"{_listed(edited)} (the database may not match the file); {REPAIR_ADVICE}"
            )
        missing = self.with_state(MISSING_FILE)
        if missing:
            lines.append(
                f"applied revision{'s' if len(missing) != 1 else ''} without a migration file "
                f"any more: {', '.join(found.revision for found in missing)}; restore the "
                f"file{'s' if len(missing) != 1 else ''}, or forget "
                f"{'them' if len(missing) != 1 else 'it'} with `migrate checksums --repair`"
            )
        return lines

    def notes(self) -> list[str]:
        """Lines for changes that are not problems: comments or whitespace edited."""
        light = self.with_state(COMMENT_ONLY)
        if not light:
            return []
        return [
            f"only comments or whitespace changed since applied: {_listed(light)} "
            "(`migrate checksums --repair` records the files as they are)"
        ]


def _listed(found: list[RevisionChecksum]) -> str:
    return ", ".join(
        f"{each.revision} ({Path(each.path).name})" if each.path else each.revision
        for each in found
    )


def compare(
    script: ScriptDirectory,
    applied: frozenset[str],
    heads: tuple[str, ...],
    recorded: dict[str, Recorded] | None,
) -> ChecksumReport:
    """Each applied revision (and each recorded one whose file is gone) against its row."""
    rows = recorded or {}
    if not (applied or rows or heads):  # a database never migrated: nothing to walk
        return ChecksumReport((), recorded is not None)
    from migrations_cli.graph.squashing import squashed_into

    found: list[RevisionChecksum] = []
    defined = {each.revision: each for each in script.walk_revisions()}
    squashed = squashed_into(script)
    for revision in [each for each in defined if each in applied][::-1]:  # oldest first
        path = revision_path(script, revision)
        message = defined[revision].doc
        if path is None:
            found.append(RevisionChecksum(revision, MISSING_FILE, None, message))
            continue
        state = _state_of_file(path, rows[revision]) if revision in rows else UNRECORDED
        if state == EDITED and revision in squashed:
            state = SQUASHED
        found.append(RevisionChecksum(revision, state, str(path), message))
    gone = sorted((set(rows) | set(heads)) - set(defined))
    found.extend(
        RevisionChecksum(revision, SQUASHED if revision in squashed else MISSING_FILE, None, None)
        for revision in gone
    )
    return ChecksumReport(tuple(found), recorded is not None)


def read_report(connection: Connection, script: ScriptDirectory) -> ChecksumReport:
    """The report for the database on `connection`."""
    from migrations_cli.core.database import database_heads
    from migrations_cli.graph.database_state import database_state

    heads = database_heads(connection)
    state = database_state(script, heads)
    return compare(script, state.applied, heads, read_recorded(connection))


def database_report(context: MigrationsContext) -> ChecksumReport:
    """The report, on a connection of its own."""
    from migrations_cli.core.database import opened_connection

    with opened_connection(context.database) as connection:
        return read_report(connection, context.script)


def warn_about_checksums(context: MigrationsContext) -> None:
    """Warn (never fail) about applied migrations edited or gone; for status and upgrade."""
    try:
        report = database_report(context)
    except Exception:
        return  # the command itself reports an unreachable database
    for line in report.warnings():
        output.warn(line)
    for line in report.notes():
        output.info(line)
