"""`migrate current`: the revision(s) in the database's version table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption
from migrations_cli.context import get_context
from migrations_cli.database_state import read_database_state, unknown_revision_advice
from migrations_cli.hookspecs import hookimpl
from migrations_cli.revision_graph import listed_document, one_line

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

AT_BASE = "base (no revision applied)"


def current(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the database's current revision(s)."""
    context = get_context(ctx, read_only=True)
    state = read_database_state(context)
    found = _scripts(context.script, state.current, state.unknown)
    if json_output:
        output.json_result(_document(state.current, found, state.unknown))
    elif not state.current:
        output.result(AT_BASE)
    else:
        for revision in state.current:
            script = found.get(revision)
            output.result(one_line(script) if script else f"{revision} (no migration file)")
    if state.unknown:
        output.warn(unknown_revision_advice(state.unknown))


def _scripts(
    script: ScriptDirectory, current: tuple[str, ...], unknown: tuple[str, ...]
) -> dict[str, Script]:
    return {
        revision: script.get_revision(revision) for revision in current if revision not in unknown
    }


def _document(
    current: tuple[str, ...], found: dict[str, Script], unknown: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "current": [
            listed_document(found[revision])
            if revision in found
            else {"revision": revision, "message": None, "is_head": False}
            for revision in current
        ],
        "unknown": list(unknown),
    }


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(current)
