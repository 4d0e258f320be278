"""`migrate heads`: the newest revision of every branch, and a warning when there are several."""

from __future__ import annotations

import typer

from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.graph.graph_answers import print_heads
from migrations_cli.hookspecs import hookimpl


def heads(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the head revision(s) of the migration history."""
    print_heads(get_context(ctx, read_only=True).graph, json_output)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(heads)
