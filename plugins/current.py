"""`migrate current`: the revision(s) in the database's version table."""

from __future__ import annotations

import typer

from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.graph.database_state import read_heads
from migrations_cli.graph.graph_answers import print_current
from migrations_cli.hookspecs import hookimpl


@fans_out()
def current(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the database's current revision(s)."""
    context = get_context(ctx, read_only=True)
    print_current(read_heads(context.database), context.graph, json_output)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(current)
