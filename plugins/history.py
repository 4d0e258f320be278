"""`migrate history`: the revisions, oldest first and newest last (as `migrate status` lists
them), optionally limited to a range `START:END` in Alembic's terms."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption, complete_revision
from migrations_cli.context import get_context
from migrations_cli.database_state import CURRENT, known_current
from migrations_cli.hookspecs import hookimpl
from migrations_cli.revision_graph import (
    NO_REVISIONS,
    created,
    labelled,
    parents,
    revision_document,
    shown_path,
    walk,
)

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.context import MigrationsContext


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
    json_output: JsonOption = False,
) -> None:
    """Show the revisions, oldest first and newest last."""
    context = get_context(ctx, read_only=True)
    lower, upper = _range_ends(rev_range)
    found = _revisions_in_range(context, lower, upper)
    if json_output:
        output.json_result({"revisions": [revision_document(script) for script in found]})
        return
    if not found:
        output.info(NO_REVISIONS if rev_range is None else f"No revisions in {rev_range}.")
        return
    for line in history_table(found, verbose):
        output.result(line)


def _range_ends(rev_range: str | None) -> tuple[str, str]:
    """Alembic's reading of `-r`: one colon, an open end meaning base or heads."""
    if rev_range is None:
        return "base", "heads"
    parts = rev_range.strip().split(":")
    if len(parts) != 2:
        raise typer.BadParameter(
            f"{rev_range!r} is not a range: use START:END, START: or :END",
            param_hint="'--rev-range'",
        )
    lower, upper = parts
    return lower or "base", upper or "heads"


def _revisions_in_range(context: MigrationsContext, lower: str, upper: str) -> list[Script]:
    """Alembic's walk from `lower` to `upper` inclusive, oldest first; `current` reads the
    database (an end at base: nothing below it, everything above it)."""
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


def history_table(found: list[Script], verbose: bool) -> list[str]:
    if not verbose:
        return output.table(
            ("revision", "message"), ((labelled(script), script.doc) for script in found)
        )
    return output.table(
        ("revision", "parent", "branch", "created", "message", "path"),
        (
            (
                labelled(script, branches=False),
                ", ".join(parents(script)) or "base",
                ", ".join(sorted(script.branch_labels)),
                _short_date(created(script)),
                script.doc,
                shown_path(script.path),
            )
            for script in found
        ),
    )


def _short_date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(history)
