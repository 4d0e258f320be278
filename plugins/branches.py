"""`migrate branches`: the revisions history splits at, and the branch that starts at each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.graph.revision_graph import RevisionRecord, labelled, listed_document
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from migrations_cli.graph.graph_snapshot import GraphSnapshot


def branches(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the branch points (newest first, as `alembic branches`) and the revisions
    branching off each."""
    graph = get_context(ctx, read_only=True).graph
    points = [revision for revision in reversed(graph.revisions) if revision.is_branch_point]
    if json_output:
        output.json_result({"branch_points": [_document(graph, point) for point in points]})
        return
    if not points:
        output.info("No branch points: every revision has at most one child.")
        return
    for index, point in enumerate(points):
        if index:
            output.result("")
        output.result(_line(point))
        for child in _children(graph, point):
            output.result(f"  -> {_line(child)}")


def _line(revision: RevisionRecord) -> str:
    return f"{labelled(revision)}  {revision.doc}".rstrip()


def _children(graph: GraphSnapshot, point: RevisionRecord) -> list[RevisionRecord]:
    """Sorted by id: Alembic lists them in the order of a set, which changes from run to
    run."""
    return [graph.by_id[revision] for revision in sorted(point.nextrev)]


def _document(graph: GraphSnapshot, point: RevisionRecord) -> dict[str, Any]:
    return {
        "revision": point.revision,
        "message": point.doc,
        "branches": [listed_document(child) for child in _children(graph, point)],
    }


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(branches)
