"""`migrate heads`: the newest revision of every branch, and a warning when there are several."""

from __future__ import annotations

import typer

from migrations_cli import output
from migrations_cli.context import get_context
from migrations_cli.hookspecs import hookimpl


def heads(ctx: typer.Context) -> None:
    """Show the head revision(s) of the migration history."""
    found = get_context(ctx).script.get_revisions("heads")
    if not found:
        output.info("No revisions yet: create the first with `migrate create MESSAGE`.")
        return
    for script in found:
        labels = f" ({', '.join(sorted(script.branch_labels))})" if script.branch_labels else ""
        output.result(f"{script.revision}{labels} (head)  {script.doc or ''}".rstrip())
    if len(found) > 1:
        output.warn(
            f"{len(found)} heads: upgrade to `head` is ambiguous until they are merged "
            "with `migrate merge`"
        )


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(heads)
