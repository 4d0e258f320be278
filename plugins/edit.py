"""`migrate edit REV`: open a revision's file in $EDITOR, as `alembic edit` does."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.graph.database_state import named_revisions
from migrations_cli.hookspecs import hookimpl


def edit(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="A revision id or unique prefix, head, heads, a branch label, or current "
            "(the database's).",
            autocompletion=complete_revision,
        ),
    ],
) -> None:
    """Open the revision's file (each one's, for heads) in $EDITOR, as `alembic edit`."""
    from alembic.util import open_in_editor

    for script in named_revisions(get_context(ctx), revision):
        open_in_editor(script.path)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(edit)
