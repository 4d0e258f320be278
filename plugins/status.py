"""`migrate status`: where the database stands against the migration files, each revision
applied, pending or unknown (as `migrations_cli.graph.database_state` decides); `--check` fails
on a pending or unknown one, for a deploy pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.core.report_formats import (
    Annotation,
    FormatOption,
    OutputFormat,
    chosen,
    print_annotations,
)
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.graph.database_state import PENDING, graph_state, unknown_revision_advice
from migrations_cli.graph.graph_answers import print_status
from migrations_cli.graph.revision_graph import shown_path
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.checksums import warn_about_checksums

if TYPE_CHECKING:
    from migrations_cli.graph.database_state import DatabaseState
    from migrations_cli.graph.graph_snapshot import GraphSnapshot


@fans_out()
def status(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 when a revision is pending or the database's is unknown."
        ),
    ] = False,
    output_format: FormatOption = OutputFormat.text,
    json_output: JsonOption = False,
) -> None:
    """Show the database's revision, the heads, and which revisions are applied or pending."""
    context = get_context(ctx, read_only=True)
    state, graph = graph_state(context)
    shown_format = chosen(output_format, json_output)
    if shown_format in (OutputFormat.github, OutputFormat.sarif):
        annotations = status_annotations(state, graph, "error" if check else "warning")
        print_annotations(shown_format, "migrate status", annotations)
        pending = sum(annotation.rule == "pending-revision" for annotation in annotations)
    else:
        pending = print_status(state, graph, shown_format is OutputFormat.json)
    warn_about_checksums(context)
    if check and (pending or state.unknown):
        raise typer.Exit(1)


def status_annotations(state: DatabaseState, graph: GraphSnapshot, level: str) -> list[Annotation]:
    """A pending revision on its file; a database revision no file defines, on none."""
    found = [
        Annotation(
            "pending-revision",
            level,
            f"revision {record.revision} ({record.doc}) is not applied to the database: "
            "run `migrate upgrade`",
            shown_path(record.path),
            1,
        )
        for record in graph.revisions
        if state.state_of(record.revision) == PENDING
    ]
    if state.unknown:
        found.append(Annotation("unknown-revision", level, unknown_revision_advice(state.unknown)))
    return found


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(status)
