"""`migrate history`: the revisions, oldest first and newest last (as `migrate status` lists
them), optionally limited to a range `START:END` in Alembic's terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core.arguments import JsonOption, complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.graph.database_state import CURRENT, known_current
from migrations_cli.graph.graph_answers import print_history
from migrations_cli.graph.revision_graph import RevisionRecord, walk
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.core.context import MigrationsContext


def _complete_range(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Complete the end being typed: the start, or the end after the colon."""
    start, colon, end = incomplete.rpartition(":")
    prefix = f"{start}{colon}"
    offered = [(CURRENT, "the database's revision"), *complete_revision(ctx, "")]
    return [(prefix + value, doc) for value, doc in offered if value.startswith(end)]


def history(
    ctx: typer.Context,
    rev_range: Annotated[
        str | None,
        typer.Option(
            "--rev-range",
            "-r",
            help="START:END, START: or :END, as in Alembic: revision ids or prefixes, head, "
            "base, current (the database's revision), or relative steps such as -2.",
            autocompletion=_complete_range,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Add parent(s), branch labels, creation date and path."
        ),
    ] = False,
    indicate_current: Annotated[
        bool,
        typer.Option(
            "--indicate-current",
            "-i",
            help="Mark the database's revision(s) (current), as `alembic history -i`.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the revisions, oldest first and newest last."""
    context = get_context(ctx, read_only=True)
    found: Sequence[RevisionRecord] = (
        context.graph.revisions
        if rev_range is None
        else _revisions_in_range(context, *_range_ends(rev_range))
    )
    current = known_current(context) if indicate_current else None
    print_history(found, rev_range, verbose, json_output, current)


def _range_ends(rev_range: str) -> tuple[str, str]:
    """Alembic's reading of `-r`: one colon, an open end meaning base or heads."""
    parts = rev_range.strip().split(":")
    if len(parts) != 2:
        raise typer.BadParameter(
            f"{rev_range!r} is not a range: use START:END, START: or :END",
            param_hint="'--rev-range'",
        )
    lower, upper = parts
    return lower or "base", upper or "heads"


def _revisions_in_range(context: MigrationsContext, lower: str, upper: str) -> list[RevisionRecord]:
    """Alembic's walk from `lower` to `upper` inclusive, oldest first; `current` reads the
    database (an end at base: nothing below it, everything above it)."""
    return [RevisionRecord.of(script) for script in _walk_range(context, lower, upper)]


def _walk_range(context: MigrationsContext, lower: str, upper: str) -> list[Script]:
    if CURRENT in (lower, upper):
        current = known_current(context)
        if upper == CURRENT and not current:
            return []
        return walk(
            context.script,
            (current or "base") if lower == CURRENT else lower,
            current if upper == CURRENT else upper,
        )
    return walk(context.script, lower, upper)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(history)
