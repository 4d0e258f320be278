"""`migrate heads`: the newest revision of every branch, and a warning when there are several."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption
from migrations_cli.context import get_context
from migrations_cli.hookspecs import hookimpl
from migrations_cli.revision_graph import NO_REVISIONS, is_effective_head, one_line

if TYPE_CHECKING:
    from alembic.script import Script


def heads(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the head revision(s) of the migration history."""
    script_directory = get_context(ctx, read_only=True).script
    # Every head, as `alembic heads` lists them (effective heads included, and marked);
    # upgrading to `head` is ambiguous only when several remain once depends_on is resolved.
    found = script_directory.get_revisions(script_directory.get_heads())
    resolved = script_directory.get_revisions("heads")
    if json_output:
        output.json_result({"heads": [_document(script) for script in found]})
    elif not found:
        output.info(NO_REVISIONS)
        return
    else:
        for script in found:
            output.result(one_line(script))
    if len(resolved) > 1:
        output.warn(
            f"{len(resolved)} heads: upgrade to `head` is ambiguous until they are merged "
            "with `migrate merge`"
        )


def _document(script: Script) -> dict[str, Any]:
    return {
        "revision": script.revision,
        "message": script.doc,
        "branch_labels": sorted(script.branch_labels),
        "effective_head": is_effective_head(script),
    }


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(heads)
