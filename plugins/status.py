"""`migrate status`: where the database stands against the migration files, each revision
applied, pending or unknown (as `migrations_cli.database_state` decides); `--check` fails
on a pending or unknown one, for a deploy pipeline."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.arguments import JsonOption
from migrations_cli.checksums import warn_about_checksums
from migrations_cli.context import get_context
from migrations_cli.database_state import graph_state
from migrations_cli.fan_out import fans_out
from migrations_cli.graph_answers import print_status
from migrations_cli.hookspecs import hookimpl


@fans_out()
def status(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 when a revision is pending or the database's is unknown."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the database's revision, the heads, and which revisions are applied or pending."""
    context = get_context(ctx, read_only=True)
    state, graph = graph_state(context)
    pending = print_status(state, graph, json_output)
    warn_about_checksums(context)
    if check and (pending or state.unknown):
        raise typer.Exit(1)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(status)
