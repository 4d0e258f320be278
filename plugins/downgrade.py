"""`migrate downgrade`: revert migrations, one step by default, or with --sql print the SQL
of a range FROM:TO without connecting to the database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.guards.production import YesOption, confirm_on_production
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.alembic_command import run_migration
from migrations_cli.running.dry_run import DryRunOption, report_dry_run
from migrations_cli.running.offline_sql import (
    OutputOption,
    SqlOption,
    check_sql_options,
    write_offline_sql,
)

if TYPE_CHECKING:
    from migrations_cli.core.context import MigrationsContext

STEPS_BACK = re.compile(r"-\d+")


@fans_out()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="-N for N steps back, a revision id or unique prefix, or base; with --sql "
            "a range FROM:TO, e.g. head:base.",
            autocompletion=complete_revision,
        ),
    ] = "-1",
    sql: SqlOption = False,
    output_file: OutputOption = None,
    dry_run: DryRunOption = False,
    yes: YesOption = False,
) -> None:
    """Downgrade the database to REVISION (default: one step back), or print the SQL of a
    range FROM:TO with --sql."""
    if revision.startswith("-") and not STEPS_BACK.fullmatch(revision):
        # Unknown options arrive here, since "-2" must not be read as an option.
        raise typer.BadParameter(f"no such option: {revision}", param_hint="REVISION")
    check_sql_options(revision, sql, output_file, dry_run)
    context = get_context(ctx)
    if sql:
        _write_downgrade_sql(context, revision, output_file)
        return
    from alembic.util import CommandError

    try:
        if dry_run:
            report_dry_run(context, "downgrade", revision)
            return
        confirm_on_production(context.settings, f"migrate downgrade {revision}", yes)
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


def _write_downgrade_sql(
    context: MigrationsContext, revision: str, output_file: Path | None
) -> None:
    """Offline, the revision the database is at is unknown: the range says where to start."""
    if ":" not in revision:
        raise typer.BadParameter(
            "--sql needs a range FROM:TO, e.g. head:base", param_hint="REVISION"
        )
    write_offline_sql(context, "downgrade", revision, output_file)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    # `migrate downgrade -2` is a revision argument, not an unknown option.
    app.command(rich_help_panel="Migrate", context_settings={"ignore_unknown_options": True})(
        downgrade
    )
