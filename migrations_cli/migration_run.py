"""One upgrade or downgrade: what the command asked for and what env.py did about it.

The command puts a MigrationRun into ``Config.attributes``; the environment module fills it
in as revisions are applied and fires the lifecycle hooks around the run.
"""

from __future__ import annotations

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

    def record(self, revision: str, doc: str | None, heads: tuple[str, ...]) -> None:
        """Called as each revision commits: remember it and tell the user."""
        self.revisions.append(revision)
        self.current = heads
        verb = "applied " if self.direction == "upgrade" else "reverted"
        output.info(f"  {verb} {revision}  {doc or ''}".rstrip())

    def summary(self) -> str:
        """One line for stdout: where the database went, or that it was already there."""
        if not self.revisions:
            return f"Already at {describe_revisions(self.current)}: nothing to {self.direction}."
        count = len(self.revisions)
        return (
            f"{self.direction.capitalize()}d {describe_revisions(self.previous)} -> "
            f"{describe_revisions(self.current)} ({count} revision{'s' if count != 1 else ''})."
        )


def run_migration(context: MigrationsContext, direction: Direction, target: str) -> MigrationRun:
    """Run Alembic's upgrade or downgrade to `target` and return what happened."""
    from alembic import command

    context.settings.require_database_url()
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
