"""Options and arguments several commands share, declared once so they read and behave alike."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core.context import get_context

# Targets Alembic understands beside revision ids; offered first when completing.
SYMBOLIC_REVISIONS = (("head", "the newest revision"), ("base", "before the first revision"))


def complete_revision(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Shell completion for a revision argument: `head`, `base` and every known revision id,
    each with its message. Completion must never fail loudly, so any error offers nothing."""
    try:
        script = get_context(ctx).script
        known = [(script.revision, script.doc or "") for script in script.walk_revisions()]
    except Exception:
        return []
    return [
        (revision, doc)
        for revision, doc in (*SYMBOLIC_REVISIONS, *known)
        if revision.startswith(incomplete)
    ]


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout (messages still go to stderr).",
    ),
]


# Options of `alembic revision` and `alembic merge`, with Alembic's names and meanings.
BranchLabelOption = Annotated[
    str | None,
    typer.Option(
        "--branch-label",
        metavar="LABEL",
        help="Give the new revision this branch label (as `alembic revision --branch-label`).",
    ),
]
RevIdOption = Annotated[
    str | None,
    typer.Option("--rev-id", metavar="ID", help="Use this revision id instead of a generated one."),
]
SpliceOption = Annotated[
    bool,
    typer.Option(
        "--splice",
        help="Allow a revision that is not a head as the new revision's parent (a branch "
        "starting there).",
    ),
]
