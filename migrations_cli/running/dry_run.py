"""`--dry-run`: the revisions an upgrade or downgrade would run, read from the database and
the history, with nothing changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, cast

import typer

from migrations_cli.core import output
from migrations_cli.running.migration_run import describe_revisions

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.hookspecs import Direction

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="List the revisions that would run, and change nothing."),
]


def planned_revisions(
    context: MigrationsContext, direction: Direction, target: str
) -> tuple[tuple[str, ...], list[Script]]:
    """The database's revisions now, and the revisions a run to `target` would apply (oldest
    first) or revert (newest first).

    The steps come from the ScriptDirectory methods `alembic.command.upgrade` and
    `downgrade` themselves use, so relative targets (+2, -1), branches and merges resolve
    exactly as the real run would resolve them.
    """
    from migrations_cli.graph.database_state import read_heads

    current = read_heads(context.database)
    script = context.script
    heads = cast("str", current)  # (typed str, but alembic.command passes the heads tuple)
    steps = (
        script._upgrade_revs(target, heads)
        if direction == "upgrade"
        else script._downgrade_revs(target, heads)
    )
    return current, [step.revision for step in steps]


def report_dry_run(context: MigrationsContext, direction: Direction, target: str) -> None:
    """Print what would run (stdout) and that nothing was changed (stderr)."""
    current, revisions = planned_revisions(context, direction, target)
    verb = "apply" if direction == "upgrade" else "revert"
    if not revisions:
        output.result(f"Already at {describe_revisions(current)}: nothing to {direction}.")
    for script in revisions:
        output.result(f"  would {verb:<6} {script.revision}  {script.doc or ''}".rstrip())
    output.info(f"Dry run: the database is at {describe_revisions(current)}; nothing was changed.")
