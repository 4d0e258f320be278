"""One upgrade or downgrade: what the command asked for and what env.py did about it.

The command (alembic_command.py) puts a MigrationRun into ``Config.attributes``; the
environment module fills it in as revisions run and fires the lifecycle hooks around the
run. For a project's own env.py, which knows nothing of that, alembic_command.py fills it
in from `on_version_apply` (`recorder`) and the version table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from migrations_cli.core import output
from migrations_cli.core.errors import PluginError, traceback_frames
from migrations_cli.fanout import target_report
from migrations_cli.running.locking import LockLost

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext, MigrationInfo
    from alembic.script import ScriptDirectory

    from migrations_cli.hookspecs import Direction
    from migrations_cli.running.checksums import ChecksumRecorder

RUN_KEY = "migrations_cli.run"
# A failed statement is shown cut to this many characters.
STATEMENT_CHARS = 120
# +2, -1, ae10+2, head-1: targets counted from where the database is.
RELATIVE_TARGET = re.compile(r"[+-]\d+$")


@dataclass
class MigrationRun:
    direction: Direction
    target: str
    current: tuple[str, ...] = ()
    revisions: list[str] = field(default_factory=list)
    _clock: float = field(default_factory=time.perf_counter, repr=False)
    _previous: tuple[str, ...] | None = field(default=None, repr=False)
    # Raises when the migration lock was lost; called before each revision commits.
    check_lock: Callable[[], None] = field(default=lambda: None, repr=False)
    # The heads the run has left the database at so far: where it started, then after each
    # revision. Heads read after a failure that are none of these were left by another process.
    _left: list[tuple[str, ...]] = field(default_factory=list, repr=False)

    @property
    def previous(self) -> tuple[str, ...]:
        """The database's revisions before the run (empty at base)."""
        return self._previous or ()

    @previous.setter
    def previous(self, heads: tuple[str, ...]) -> None:
        self._previous = heads
        self._left = [heads]

    @property
    def observed(self) -> bool:
        """Whether someone (the environment module) recorded where the run started: without
        that, an empty run would say "Already at base" whatever happened."""
        return self._previous is not None

    @property
    def verb(self) -> str:
        return "applied" if self.direction == "upgrade" else "reverted"

    def record(self, revision: str, doc: str | None, heads: tuple[str, ...]) -> None:
        """Called as each revision's migration has run, just before its transaction
        commits: remember it and tell the user."""
        now = time.perf_counter()
        seconds, self._clock = now - self._clock, now
        self.revisions.append(revision)
        self.current = heads
        self._left.append(heads)
        target_report.revision_applied(revision)
        output.info(f"  {self.verb:<8} {revision}  {seconds:6.2f}s  {doc or ''}".rstrip())

    def start_clock(self) -> None:
        """Time each revision from here: the first one's line excludes connecting."""
        self._clock = time.perf_counter()

    def settle(self, heads: tuple[str, ...]) -> str | None:
        """After a failure, take the database's word: a revision recorded whose commit then
        failed (a deferred constraint, say) was not applied. Returns that revision."""
        unrecorded = None
        if heads != self.current and self.revisions:
            unrecorded = self.revisions.pop()
        self.current = heads
        return unrecorded

    def overtaken_by(self, heads: tuple[str, ...]) -> bool:
        """Whether `heads`, read after a failure, were left by another process: a holder
        that lost the lock, or a waiter that took a lost one, migrated meanwhile."""
        return self.observed and heads not in self._left

    def overtaken(self, others: list[str]) -> str:
        """The one line for a run another process overtook: what that process did and where
        the database is now. Nothing is wrong with the revision that was under way."""
        mine = (
            f"; the {len(self.revisions)} revision(s) this run {self.verb} before it are committed"
        )
        return (
            f"{self.direction} stopped: another process {self.verb} "
            f"{', '.join(others) or 'revisions'} meanwhile, so the revision this run had under way "
            f"did not commit (the database is now at {describe_revisions(self.current)}"
            f"{mine if self.revisions else ''}); {self.retry()} to carry on from there if "
            "that is not where you meant it to be"
        )

    def summary(self) -> str:
        """One line for stdout: where the database went, or that it was already there."""
        if not self.observed:
            return (
                f"{self.direction.capitalize()} finished: the database is at "
                f"{describe_revisions(self.current)}."
            )
        if not self.revisions and self.previous == self.current:
            return f"Already at {describe_revisions(self.current)}: nothing to {self.direction}."
        count = len(self.revisions)
        counted = f" ({count} revision{'s' if count != 1 else ''})" if count else ""
        return (
            f"{self.direction.capitalize()}d {describe_revisions(self.previous)} -> "
            f"{describe_revisions(self.current)}{counted}."
        )

    def failure(self, failed: Failure) -> str:
        """The one line that says which revision failed, why, where that left the database
        and how to go on from there."""
        name = failed.revision or "the failed revision"
        where = f" in revision {failed.revision}" if failed.revision else ""
        sql = f" [SQL: {shortened_statement(failed.statement)}]" if failed.statement else ""
        state = (
            f"the database is at {describe_revisions(self.current)}; {len(self.revisions)} "
            f"revision(s) {self.verb} before the failure are committed"
        )
        if failed.interrupted:
            state = f"when it stopped, {state}"
        if failed.partial_because is None and failed.interrupted:
            after = (
                f"{name} was rolled back and left nothing behind; a process that waited for "
                f"the lock may carry on from there: {self.retry()} to be sure"
            )
        elif failed.partial_because is None:
            after = (
                f"{name} was rolled back and left nothing behind: {failed.remedy} and "
                f"{self.retry()}"
            )
        else:
            waiter = (
                f"a process that waited for the lock may carry on from there, running {name} "
                "again; if none does, "
                if failed.interrupted
                else ""
            )
            after = (
                f"{name} may have left partial changes: {failed.partial_because}, so "
                f"statements of {name} that ran before the error stay applied; "
                f"{waiter}{self._recovery(failed)}"
            )
        return f"{self.direction} stopped{where}: {failed.reason}{sql} ({state}; {after})"

    def _recovery(self, failed: Failure) -> str:
        """How to get from a half-run revision back to a known one."""
        name = failed.revision or "the failed revision"
        if self.direction == "upgrade":
            stamp = failed.revision
            undo = f"undo by hand what {name} already did (see its upgrade())"
        else:
            stamp = (" ".join(failed.below) or "base") if failed.revision else None
            undo = f"redo by hand what {name} already undid (see its downgrade())"
        if stamp is None:
            return f"{undo}, then {self.retry()}"
        return (
            f"{undo}, then {self.retry()}; or, if the schema already matches "
            f"{stamp.replace(' ', ', ')}, run `migrate stamp {stamp}`"
        )

    def retry(self) -> str:
        """The command that carries on. A relative target (+2, -1) counted from where the
        run started; once revisions ran, repeating it would go elsewhere."""
        if RELATIVE_TARGET.search(self.target) and self.revisions:
            return f"run the {self.direction} again, to the revision you meant"
        argument = "" if (self.direction, self.target) == ("upgrade", "head") else f" {self.target}"
        return f"run `migrate {self.direction}{argument}` again"


@dataclass(frozen=True)
class Failure:
    """What env.py learned about a revision that raised."""

    reason: str  # one line: what went wrong
    revision: str | None = None  # the revision whose upgrade() or downgrade() raised
    statement: str | None = None  # the SQL that failed, as sent: placeholders, no values
    partial_because: str | None = None  # why its earlier statements stay; None: rolled back
    below: tuple[str, ...] = ()  # the revision(s) it sits on: where a downgrade was going
    interrupted: bool = False  # stopped from outside (the lock lost), not by its own code
    remedy: str = "fix it"  # what to do, for a rolled-back revision, before running it again


def failing_frame(error: BaseException) -> FrameType | None:
    """The frame of the revision's upgrade() or downgrade() that raised: it is in the
    traceback, and its module globals name the revision."""
    for frame in traceback_frames(error):
        if frame.f_code.co_name in ("upgrade", "downgrade") and "down_revision" in frame.f_globals:
            return frame
    return None


def failed_statement(error: BaseException) -> str | None:
    """The SQL the database refused, as SQLAlchemy sent it: placeholders, never the values
    bound to them (those are the error's `.params`, left alone)."""
    import sqlalchemy.exc

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, sqlalchemy.exc.StatementError) and cause.statement:
            return str(cause.statement)
        cause = cause.__cause__
    return None


def shortened_statement(statement: str, limit: int = STATEMENT_CHARS) -> str:
    """The statement on one line, cut to `limit` characters: enough to find it in the
    revision file, short enough for an error line."""
    line = " ".join(statement.split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def applied_at(script: ScriptDirectory, heads: tuple[str, ...]) -> frozenset[str]:
    """The revisions a database at `heads` has had (none known when a file is missing)."""
    from migrations_cli.graph.database_state import database_state

    try:
        return database_state(script, heads).applied
    except Exception:
        return frozenset()


def call_after_migrate(hook: pluggy.HookRelay, config: Config, run: MigrationRun) -> None:
    """The after_migrate hooks; a failure there says the migrations themselves completed."""
    from migrations_cli.core.hook_calls import call_hook

    try:
        call_hook(
            hook.after_migrate,
            config=config,
            direction=run.direction,
            previous=run.previous,
            current=run.current,
            revisions=tuple(run.revisions),
        )
    except PluginError as error:
        raise PluginError(
            f"{error} (the {run.direction} itself completed: the database is at "
            f"{describe_revisions(run.current)})"
        ) from error


def revisions_between(
    script: ScriptDirectory, direction: Direction, before: tuple[str, ...], after: tuple[str, ...]
) -> list[str]:
    """The revisions applied (oldest first) or reverted (newest first) between the heads
    read before and after, by Alembic's own walk of the history."""
    upper, lower = (after, before) if direction == "upgrade" else (before, after)
    if upper == lower:
        return []
    try:
        walked = [
            revision.revision
            for revision in script.iterate_revisions(upper or "base", lower or "base")
        ]
    except Exception:
        return []  # a history Alembic cannot walk: the summary still names both ends
    return walked[::-1] if direction == "upgrade" else walked


def describe_revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "base"


def recorder(run: MigrationRun, checksums: ChecksumRecorder) -> Callable[..., None]:
    """The on_version_apply callable Alembic takes: as each revision is applied, in its
    transaction, the lock is checked, the file's checksums taken and the run told."""

    def on_version_apply(
        ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: dict[str, Any]
    ) -> None:
        try:
            run.check_lock()  # (this revision's transaction is still open: it rolls back)
        except LockLost as lost:
            lost.revision = step.up_revision_id
            raise
        script = step.up_revision  # (a look-up in the revision map: once)
        if not step.is_stamp and step.up_revision_id:
            checksums.applied(step.up_revision_id, step.is_upgrade, script)
        run.record(step.up_revision_id or "", _message(script), tuple(sorted(heads)))

    return on_version_apply


def _message(script: Any) -> str | None:
    """What Script.doc gives (the docstring's first paragraph), read from the module: Script.doc
    splits with a regular expression after looking for a Python 2 source encoding, which
    cost more than the rest of the revision's progress line."""
    text = getattr(getattr(script, "module", None), "__doc__", None)
    return text.strip().partition("\n\n")[0] if isinstance(text, str) else None
