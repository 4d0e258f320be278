"""`migrate upgrade`: apply migrations up to a revision (head by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli import output
from migrations_cli.arguments import complete_revision
from migrations_cli.context import get_context
from migrations_cli.hookspecs import hookimpl
from migrations_cli.migration_run import run_migration


def upgrade(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="head, a revision id or unique prefix, or +N for N steps.",
            autocompletion=complete_revision,
        ),
    ] = "head",
) -> None:
    """Upgrade the database to REVISION (default: head)."""
    run = run_migration(get_context(ctx), "upgrade", revision)
    output.result(run.summary())


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Migrate")(upgrade)
