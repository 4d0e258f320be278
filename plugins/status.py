"""`migrate status`: where the database stands against the migration files, each revision
applied, pending or unknown (as `migrations_cli.database_state` decides); `--check` fails
on a pending or unknown one, for a deploy pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption
from migrations_cli.checksums import warn_about_checksums
from migrations_cli.context import get_context
from migrations_cli.database_state import (
    APPLIED,
    PENDING,
    UNKNOWN,
    read_database_state,
    unknown_revision_advice,
)
from migrations_cli.hookspecs import hookimpl
from migrations_cli.revision_graph import NO_REVISIONS, all_revisions

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.database_state import DatabaseState

_COLOURS = {APPLIED: "green", PENDING: "yellow", UNKNOWN: "red"}


def status(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 when a revision is pending or the database's is unknown."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show the database's revision, the heads, and which revisions are applied or pending."""
    context = get_context(ctx, read_only=True)
    revisions = all_revisions(context.script)
    state = read_database_state(context)
    heads = tuple(sorted(context.script.get_heads()))
    pending = sum(state.state_of(script.revision) == PENDING for script in revisions)
    if json_output:
        output.json_result(_document(state, heads, revisions, pending))
    else:
        _print_report(state, heads, revisions, pending)
    if state.unknown:
        output.warn(unknown_revision_advice(state.unknown))
    warn_about_checksums(context)
    if check and (pending or state.unknown):
        raise typer.Exit(1)


def _document(
    state: DatabaseState, heads: tuple[str, ...], revisions: list[Script], pending: int
) -> dict[str, Any]:
    return {
        "current": list(state.current),
        "heads": list(heads),
        "unknown": list(state.unknown),
        "pending": pending,
        "revisions": [
            {
                "revision": script.revision,
                "message": script.doc,
                "state": state.state_of(script.revision),
                "is_head": script.is_head,
            }
            for script in revisions
        ],
    }


def _print_report(
    state: DatabaseState, heads: tuple[str, ...], revisions: list[Script], pending: int
) -> None:
    current = [
        f"{revision} (no migration file)" if revision in state.unknown else revision
        for revision in state.current
    ]
    output.result(f"Current: {', '.join(current) or 'base (no revision applied)'}")
    label = "Heads:" if len(heads) > 1 else "Head:"
    output.result(f"{label:<9}{', '.join(heads) or 'none'}")
    if not revisions:
        output.info(NO_REVISIONS)
        return
    output.result("")
    rows = [(state.state_of(s.revision), s.revision, s.doc) for s in revisions]
    header, *lines = output.table(("state", "revision", "message"), rows)
    output.result(header)
    for (revision_state, _, _), line in zip(rows, lines, strict=True):
        # Coloured after aligning: escape codes would count as width.
        coloured = output.styled(revision_state, _COLOURS[revision_state])
        output.result(coloured + line[len(revision_state) :])
    if state.unknown:
        return
    output.result("")
    output.result(_summary(pending, len(heads)))


def _summary(pending: int, heads: int) -> str:
    if not pending:
        return "Up to date: every revision is applied."
    counted = f"{pending} revision{'s' if pending != 1 else ''} pending"
    if heads > 1:  # `upgrade` (to head) is refused until the heads are merged
        return f"{counted}: `migrate upgrade heads` applies every branch, or `migrate merge` first."
    return f"{counted}: `migrate upgrade` applies {'them' if pending != 1 else 'it'}."


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(status)
