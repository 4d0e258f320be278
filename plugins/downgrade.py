"""`migrate downgrade`: revert migrations, one step by default."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from migrations_cli import output
from migrations_cli.arguments import complete_revision
from migrations_cli.context import get_context
from migrations_cli.errors import MigrationsError
from migrations_cli.hookspecs import hookimpl
from migrations_cli.migration_run import run_migration

STEPS_BACK = re.compile(r"-\d+")


def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="-N for N steps back, a revision id or unique prefix, or base.",
            autocompletion=complete_revision,
        ),
    ] = "-1",
) -> None:
    """Downgrade the database to REVISION (default: one step back)."""
    if revision.startswith("-") and not STEPS_BACK.fullmatch(revision):
        # Unknown options arrive here, since "-2" must not be read as an option.
        raise typer.BadParameter(f"no such option: {revision}", param_hint="REVISION")
    from alembic.util import CommandError

    context = get_context(ctx)
    try:
        run = run_migration(context, "downgrade", revision)
    except CommandError as error:
        # Alembic's wording for "-N" past the first revision does not say what is wrong.
        if revision.startswith("-") and "didn't produce" in str(error):
            raise MigrationsError(
                f"cannot downgrade {revision}: that is below base (fewer revisions are "
                "applied); use `migrate downgrade base` to revert everything"
            ) from error
        raise
    output.result(run.summary())


@hookimpl
def register_commands(app: typer.Typer) -> None:
    # `migrate downgrade -2` is a revision argument, not an unknown option.
    app.command(rich_help_panel="Migrate", context_settings={"ignore_unknown_options": True})(
        downgrade
    )
