"""`migrate baseline [REV]`: adopt a database that was built without migrations.

Its schema is compared with what the history builds at REV (head by default) on a scratch
database; when they are equal the database is stamped at REV, otherwise every difference is
listed and nothing changes.
"""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError
from migrations_cli.guards.scratch import ScratchOption, configured_scratch_url, scratch_database
from migrations_cli.hookspecs import hookimpl


def baseline(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="The revision whose schema the database should have.",
            autocompletion=complete_revision,
        ),
    ] = "head",
    scratch_url: ScratchOption = None,
) -> None:
    """Stamp a database without a version table at REVISION (default: head), when its
    schema is the one the history builds there; otherwise list the differences."""
    from alembic import command
    from alembic.util import CommandError

    from migrations_cli.core.config import WITHOUT_MODELS_KEY
    from migrations_cli.graph.database_state import read_heads
    from migrations_cli.guards.drift import differences_from_history
    from migrations_cli.guards.scratch import require_same_kind
    from migrations_cli.running.migration_run import describe_revisions

    context = get_context(ctx)
    config = context.alembic_config
    database = context.database
    heads = read_heads(database)
    if heads:
        raise MigrationsError(
            f"the database is already at {describe_revisions(heads)}: baseline adopts a "
            "database without a version table (`migrate drift` compares this one with its "
            "history)"
        )
    try:
        found = context.script.get_revision(revision)
    except CommandError as error:
        raise MigrationsError(f"baseline {revision}: {error}") from None
    if found is None:
        raise MigrationsError("baseline: name a revision, not base")
    target = found.revision
    hook = context.plugin_manager.hook
    configured = scratch_url or configured_scratch_url(context.settings)
    with scratch_database(context.settings, configured, "baseline") as scratch:
        require_same_kind(database, scratch, "baseline")
        differences = differences_from_history(database, scratch, hook, (target,), target)
    if differences:
        count = len(differences)
        output.result(
            f"{database.masked_url()} differs from the history at {target} "
            f"({count} difference{'s' if count != 1 else ''}):"
        )
        for difference in differences:
            output.result(f"  {difference.description}")
        raise MigrationsError(
            "baseline: nothing stamped (make the schemas match, or pick the revision it matches)"
        )
    config.attributes[WITHOUT_MODELS_KEY] = True
    command.stamp(config, target)
    output.result(f"Stamped {target}: {database.masked_url()} matches the history there.")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Migrate")(baseline)
