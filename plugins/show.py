"""`migrate show REV`: one revision in detail, the fields of Alembic's `show` aligned."""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption, complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.graph.database_state import named_revisions
from migrations_cli.graph.revision_graph import (
    RevisionRecord,
    created,
    dependencies,
    labelled,
    parents,
    revision_document,
    shown_path,
)
from migrations_cli.hookspecs import hookimpl


def show(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="A revision id or unique prefix, head, heads, or current (the database's).",
            autocompletion=complete_revision,
        ),
    ],
    json_output: JsonOption = False,
) -> None:
    """Show one revision in detail: parents, branches, labels, date, path, docstring."""
    context = get_context(ctx, read_only=True)
    found = [RevisionRecord.of(script) for script in named_revisions(context, revision)]
    if json_output:
        output.json_result({"revisions": [revision_document(script) for script in found]})
        return
    output.result("\n\n".join(_details(script) for script in found))


def _details(script: RevisionRecord) -> str:
    fields = [
        ("Revision", labelled(script, branches=False)),
        ("Merges" if script.is_merge_point else "Parent", ", ".join(parents(script)) or "base"),
        ("Depends on", ", ".join(dependencies(script))),
        ("Branches into", ", ".join(sorted(script.nextrev)) if script.is_branch_point else ""),
        ("Branch labels", ", ".join(sorted(script.branch_labels))),
        ("Created", str(created(script) or "")),
        ("Path", shown_path(script.path)),
    ]
    width = max(len(name) for name, _ in fields) + 2
    lines = [f"{name + ':':<{width}}{value}" for name, value in fields if value]
    if script.longdoc:
        lines += ["", textwrap.indent(script.longdoc, "    ")]
    return "\n".join(lines)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(show)
