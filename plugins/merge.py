"""`migrate merge`: join several heads into one revision."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import BranchLabelOption, RevIdOption, SpliceOption
from migrations_cli.core.context import get_context
from migrations_cli.graph.revisions import (
    alembic_messages_to_stderr,
    announce_revision,
    checked_message,
    require_template,
)
from migrations_cli.hookspecs import hookimpl


def merge(
    ctx: typer.Context,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(help="The revisions to merge (ids or prefixes). Default: every head."),
    ] = None,
    message: Annotated[
        str, typer.Option("--message", "-m", help="The merge revision's message.")
    ] = "merge heads",
    branch_label: BranchLabelOption = None,
    rev_id: RevIdOption = None,
    splice: SpliceOption = False,
) -> None:
    """Merge heads into one revision (default: all current heads)."""
    from alembic import command

    message = checked_message(message)
    context = get_context(ctx)
    if not revisions:
        revisions = [script.revision for script in context.script.get_revisions("heads")]
        if len(revisions) < 2:
            output.info(f"Only one head ({', '.join(revisions) or 'none'}): nothing to merge.")
            return
    elif len(revisions) < 2:
        raise typer.BadParameter(
            "give two or more revisions, or none to merge every head", param_hint="REVISIONS"
        )
    require_template(context)
    with alembic_messages_to_stderr():
        script = command.merge(
            context.alembic_config,
            revisions,
            message=message,
            branch_label=branch_label,
            rev_id=rev_id,
            splice=splice,
        )
    if script is not None:
        announce_revision(context, script, message)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(merge)
