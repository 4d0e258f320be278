"""`migrate history`: the revisions, oldest first and newest last (as `migrate status` lists
them), optionally limited to a range `START:END` in Alembic's terms.

The helpers that describe one revision (its markers, creation date, JSON fields) live here
and are shared by `show`, `current`, `status` and `branches`, so every command shows a
revision the same way.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrations_cli import output
from migrations_cli.arguments import JsonOption, complete_revision
from migrations_cli.context import get_context
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from migrations_cli.context import MigrationsContext

# Alembic's template writes this line into each revision's docstring; there is no attribute.
_CREATE_DATE = re.compile(r"^Create Date:\s*(\S.*?)\s*$", re.MULTILINE)
CURRENT = "current"
NO_REVISIONS = "No revisions yet: create the first with `migrate create MESSAGE`."


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
    context = get_context(ctx)
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
        from migrations_cli.errors import MigrationsError

        from .status import read_database_state, unknown_revision_advice

        state = read_database_state(context)
        if state.unknown:
            raise MigrationsError(unknown_revision_advice(state.unknown))
        current = state.current
        if upper == CURRENT and not current:
            return []
        return walk(
            context.script,
            (current or "base") if lower == CURRENT else lower,
            current if upper == CURRENT else upper,
        )
    return walk(context.script, lower, upper)


def walk(
    script: ScriptDirectory, lower: str | tuple[str, ...], upper: str | tuple[str, ...]
) -> list[Script]:
    """Revisions from `lower` to `upper` (both included), oldest first."""
    # walk_revisions is annotated with str ends; Alembic's own `history` passes tuples of
    # current revisions too, and its revision map takes both.
    newest_first = list(script.walk_revisions(base=lower, head=upper))  # type: ignore[arg-type]
    return newest_first[::-1]


def all_revisions(script: ScriptDirectory) -> list[Script]:
    """Every revision, oldest first: the order `status` and `history` print."""
    return walk(script, "base", "heads")


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


def labelled(script: Script, *, branches: bool = True) -> str:
    """The id with its branch labels and tree markers: `ab12 (feature) (head)`."""
    text = script.revision
    if branches and script.branch_labels:
        text += f" ({', '.join(sorted(script.branch_labels))})"
    return text + "".join(f" ({marker})" for marker in markers(script))


def markers(script: Script) -> list[str]:
    return [
        name
        for name, present in (
            ("head", script.is_head),
            ("branchpoint", script.is_branch_point),
            ("mergepoint", script.is_merge_point),
        )
        if present
    ]


def one_line(script: Script) -> str:
    """`id (labels) (head)  message`, as `migrate heads` prints a head."""
    labels = f" ({', '.join(sorted(script.branch_labels))})" if script.branch_labels else ""
    head = " (head)" if script.is_head else ""
    return f"{script.revision}{labels}{head}  {script.doc}".rstrip()


def parents(script: Script) -> list[str]:
    down = script.down_revision
    if down is None:
        return []
    return [down] if isinstance(down, str) else list(down)


def created(script: Script) -> datetime | None:
    """The `Create Date:` Alembic's template writes in the docstring, if it is there."""
    match = _CREATE_DATE.search(script.longdoc)
    if not match:
        return None
    try:
        return datetime.fromisoformat(match[1])
    except ValueError:
        return None


def _short_date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def shown_path(path: str) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return Path(path).as_posix() if relative.startswith("..") else Path(relative).as_posix()


def revision_document(script: Script) -> dict[str, Any]:
    """One revision for --json: everything `show` prints, in plain types."""
    moment = created(script)
    return {
        "revision": script.revision,
        "message": script.doc,
        "parents": parents(script),
        "depends_on": list(script.dependencies or ()),
        "children": sorted(script.nextrev),
        "branch_labels": sorted(script.branch_labels),
        "is_head": script.is_head,
        "is_branch_point": script.is_branch_point,
        "is_merge_point": script.is_merge_point,
        "created": moment.isoformat() if moment else None,
        "path": shown_path(script.path),
    }


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Revisions")(history)
