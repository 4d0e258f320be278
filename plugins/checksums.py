"""`migrate checksums`: has any applied migration's file changed since it was applied?
Each applied revision is ok, edited (its code changed), comment-only (only comments or
whitespace changed), missing-file or unrecorded (applied before checksums were kept);
`--repair` records the files as they are now, once a human has reviewed them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.checksums import (
    COMMENT_ONLY,
    EDITED,
    MISSING_FILE,
    OK,
    UNRECORDED,
    ChecksumReport,
    create_checksum_table,
    forget,
    read_recorded,
    read_report,
    record,
)

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

_COLOURS = {
    OK: "green",
    COMMENT_ONLY: "blue",
    UNRECORDED: "yellow",
    EDITED: "red",
    MISSING_FILE: "red",
}


def checksums(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Record the applied migrations' files as they are now (after reviewing "
            "them), and forget revisions the database no longer has.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Check that applied migrations' files are unchanged since they were applied."""
    from migrations_cli.core.database import opened_connection

    context = get_context(ctx)
    changes: list[tuple[str, str]] = []
    with opened_connection(context.database) as connection:
        if repair:
            changes = _repair(connection, context.script)
            connection.commit()
        report = read_report(connection, context.script)
    if json_output:
        document = {
            "revisions": [
                {"revision": found.revision, "state": found.state, "path": found.path}
                for found in report.revisions
            ],
            "ok": not report.has_problems,
        }
        if repair:
            document["repaired"] = [{"revision": r, "action": a} for r, a in changes]
        output.json_result(document)
    else:
        if repair:
            _print_changes(changes)
        _print_report(report)
    if report.has_problems:
        raise typer.Exit(1)


def _repair(connection: Connection, script: ScriptDirectory) -> list[tuple[str, str]]:
    """Record every applied revision's file as it is; forget rows of revisions the
    database does not have (or whose file is gone). Returns (revision, action) pairs."""
    before = read_report(connection, script)
    create_checksum_table(connection)
    recorded = read_recorded(connection) or {}
    states = {found.revision: found.state for found in before.revisions}
    applied = [rev for rev, state in states.items() if state not in (OK, MISSING_FILE)]
    stale = sorted(rev for rev in recorded if rev not in states or states[rev] == MISSING_FILE)
    changes = [(rev, f"recorded ({states[rev]})") for rev in record(connection, script, applied)]
    forget(connection, stale)
    changes += [(rev, "forgotten (not applied, or no migration file)") for rev in stale]
    return changes


def _print_changes(changes: list[tuple[str, str]]) -> None:
    if not changes:
        output.info("Nothing to repair: every applied migration's checksum is recorded.")
    for revision, action in changes:
        output.info(f"  {revision}  {action}")


def _print_report(report: ChecksumReport) -> None:
    if not report.revisions:
        output.info("No revision is applied: nothing to check.")
        return
    rows = [(found.state, found.revision, found.message or "") for found in report.revisions]
    header, *lines = output.table(("checksum", "revision", "message"), rows)
    output.result(header)
    for (state, _, _), line in zip(rows, lines, strict=True):
        output.result(output.styled(state, _COLOURS[state]) + line[len(state) :])
    for line in report.warnings():
        output.warn(line)
    for line in report.notes():
        output.info(line)
    unrecorded = report.with_state(UNRECORDED)
    if unrecorded:
        output.info(
            f"{len(unrecorded)} applied revision(s) have no checksum yet (applied before "
            "checksums were kept): the next `migrate upgrade` records them"
        )


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(checksums)
