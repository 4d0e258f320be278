"""`migrate drift`: is the database's schema the one its history builds at its revision?

Hand-made changes (an index added in a console, a column dropped during an incident) are
named one by one; exit 1 when there are any. The history is replayed on a scratch database,
never on the project's. Over many databases (`--targets`), each target's is replayed on a
temporary SQLite file of its own, or on the configured scratch database one target at a
time (`--jobs 1`).
"""

from __future__ import annotations

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.guards.scratch import ScratchOption, configured_scratch_url, scratch_database
from migrations_cli.hookspecs import hookimpl


@fans_out()
def drift(
    ctx: typer.Context, scratch_url: ScratchOption = None, json_output: JsonOption = False
) -> None:
    """Compare the database with the schema its history builds at its revision; exit 1 when
    they differ."""
    from migrations_cli.guards.drift import drift_of
    from migrations_cli.running.migration_run import describe_revisions

    context = get_context(ctx)
    context.alembic_config  # noqa: B018 - raises the usual "folder does not exist" error
    configured = scratch_url or configured_scratch_url(context.settings)
    with scratch_database(context.settings, configured, "drift") as scratch:
        found = drift_of(context.database, scratch, context.plugin_manager.hook)
    at = describe_revisions(found.current)
    if json_output:
        output.json_result(found.as_json())
    elif found.drifted:
        count = len(found.differences)
        output.result(
            f"drift: {found.database} differs from its history at {at} "
            f"({count} difference{'s' if count != 1 else ''}):"
        )
        for difference in found.differences:
            output.result(f"  {difference.description}")
    else:
        output.result(f"no drift: {found.database} matches its history at {at}")
    if found.drifted:
        raise typer.Exit(1)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(drift)
