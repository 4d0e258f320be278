"""One upgrade or downgrade: what the command asked for and what env.py did about it.

The command puts a MigrationRun into ``Config.attributes``; the environment module fills it
in as revisions run and fires the lifecycle hooks around the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrations_cli import output

if TYPE_CHECKING:
    from migrations_cli.context import MigrationsContext
    from migrations_cli.hookspecs import Direction

RUN_KEY = "migrations_cli.run"


@dataclass
class MigrationRun:
    direction: Direction
    target: str
    previous: tuple[str, ...] = ()
    current: tuple[str, ...] = ()
    revisions: list[str] = field(default_factory=list)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

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
        output.info(f"  {self.verb:<8} {revision}  {seconds:6.2f}s  {doc or ''}".rstrip())

    def start_clock(self) -> None:
        """Time each revision from here: the first one's line excludes connecting."""
        self._clock = time.perf_counter()

    def settle(self, heads: tuple[str, ...]) -> None:
        """After a failure, take the database's word: a revision recorded whose commit then
        failed (a deferred constraint, say) was not applied."""
        if heads != self.current and self.revisions:
            self.revisions.pop()
        self.current = heads

    def summary(self) -> str:
        """One line for stdout: where the database went, or that it was already there."""
        if not self.revisions:
            return f"Already at {describe_revisions(self.current)}: nothing to {self.direction}."
        count = len(self.revisions)
        return (
            f"{self.direction.capitalize()}d {describe_revisions(self.previous)} -> "
            f"{describe_revisions(self.current)} ({count} revision{'s' if count != 1 else ''})."
        )

    def failure(self, reason: str, failed: str | None, dialect: str, ddl_rolls_back: bool) -> str:
        """The one line that says which revision failed, why, and where that left things."""
        where = f" in revision {failed}" if failed else ""
        partial = (
            ""
            if ddl_rolls_back
            else f"; statements of {failed or 'the failed revision'} that ran before the "
            f"error stay applied ({dialect} commits DDL at once): repair the schema before "
            "retrying"
        )
        return (
            f"{self.direction} stopped{where}: {reason} (the database is at "
            f"{describe_revisions(self.current)}; {len(self.revisions)} revision(s) "
            f"{self.verb} before the failure{partial})"
        )


def run_migration(context: MigrationsContext, direction: Direction, target: str) -> MigrationRun:
    """Run Alembic's upgrade or downgrade to `target` and return what happened."""
    from alembic import command

    config = context.alembic_config
    run = MigrationRun(direction, target)
    config.attributes[RUN_KEY] = run
    try:
        getattr(command, direction)(config, target)
    finally:
        del config.attributes[RUN_KEY]
    return run


def describe_revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "base"
