"""`migrate upgrade`: apply migrations up to a revision (head by default), or with --sql
print the SQL they would run, for a DBA to review, without connecting to the database."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.alembic_command import run_migration
from migrations_cli.running.dry_run import DryRunOption, report_dry_run
from migrations_cli.running.offline_sql import (
    OutputOption,
    SqlOption,
    check_sql_options,
    write_offline_sql,
)


@fans_out()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="head, a revision id or unique prefix, or +N for N steps; with --sql also "
            "a range FROM:TO.",
            autocompletion=complete_revision,
        ),
    ] = "head",
    sql: SqlOption = False,
    output_file: OutputOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Upgrade the database to REVISION (default: head), or print its SQL with --sql."""
    check_sql_options(revision, sql, output_file, dry_run)
    # read_only: this command's own look at the history (checksums, dry run) may come from
    # the revision cache; the migrations themselves are loaded by Alembic's command.
    context = get_context(ctx, read_only=True)
    if dry_run:
        report_dry_run(context, "upgrade", revision)
        return
    if sql:
        write_offline_sql(context, "upgrade", revision, output_file)
        if ":" not in revision:
            output.info(
                "Offline, the database's revision is unknown, so the SQL starts from base; "
                "give FROM:TO (e.g. abc123:head) to start elsewhere."
            )
        return
    # Edited applied migrations are warned about (never refused) by the run itself, on its
    # own connection: no connection of its own beforehand.
    run = run_migration(context, "upgrade", revision)
    output.result(run.summary())


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Migrate")(upgrade)
