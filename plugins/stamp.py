"""`migrate stamp`: record revision(s) in the version table without running any migration.

For a database whose schema was built another way (restored from a dump, created by
`metadata.create_all`), or one whose version table names a revision that no longer exists
(`--purge`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.config import WITHOUT_MODELS_KEY
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError
from migrations_cli.graph.database_state import database_state, read_heads
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.migration_run import describe_revisions


def stamp(
    ctx: typer.Context,
    revisions: Annotated[
        list[str],
        typer.Argument(
            help="head, base, a revision id or unique prefix; several to stamp several "
            "branch heads.",
            autocompletion=complete_revision,
            show_default=False,
        ),
    ],
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Empty the version table first (needed when it names a revision that no "
            "migration file defines).",
        ),
    ] = False,
    sql: Annotated[
        bool,
        typer.Option(
            "--sql",
            help="Print the SQL that stamps instead of running it (offline, as "
            "`alembic stamp --sql`).",
        ),
    ] = False,
) -> None:
    """Set the database's revision to REVISIONS without running migrations."""
    from alembic import command
    from alembic.util import CommandError

    context = get_context(ctx)
    config = context.alembic_config
    config.attributes[WITHOUT_MODELS_KEY] = True  # a deploy stamps without the app's settings
    if sql:
        command.stamp(config, revisions, sql=True, purge=purge)
        return
    before = read_heads(context.database)
    try:
        command.stamp(config, revisions, purge=purge)
    except CommandError as error:
        unknown = database_state(context.script, before).unknown
        if not purge and any(revision in str(error) for revision in unknown):
            raise MigrationsError(
                f"the database is at {', '.join(unknown)}, which no migration file defines: "
                "add --purge to replace it"
            ) from error
        raise
    after = read_heads(context.database)
    if before == after:
        output.result(f"Already at {describe_revisions(after)}: nothing to stamp.")
        return
    output.result(f"Stamped {describe_revisions(before)} -> {describe_revisions(after)}.")
    output.info("No migration ran: the schema is as it was.")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Migrate")(stamp)
