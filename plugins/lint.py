"""`migrate lint`: flag what in the revisions can lose data, lock a table, or not undo.

The rules read each file's `op` calls without running them (see
migrations_cli/guards/revision_source.py for why); plugins add rules through the
`lint_rules` hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption, complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.core.report_formats import FormatOption, OutputFormat, chosen
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.core.report_formats import Annotation
    from migrations_cli.guards.linting import Reported

SEVERITY_COLOURS = {"error": "red", "warning": "yellow"}


def lint(
    ctx: typer.Context,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            help="Revision ids (or revision files) to lint; every revision by default.",
            autocompletion=complete_revision,
            show_default=False,
        ),
    ] = None,
    offline_sql: Annotated[
        bool,
        typer.Option(
            "--sql",
            help="Also lint each revision's offline SQL (what `upgrade --sql` writes), parsed "
            "by PostgreSQL's parser (needs migrations-cli\\[sql] and a PostgreSQL DATABASE_URL).",
        ),
    ] = False,
    squawk: Annotated[
        bool,
        typer.Option(
            "--squawk",
            help="Also run squawk on each revision's offline SQL and merge its findings "
            "(needs migrations-cli\\[squawk]).",
        ),
    ] = False,
    output_format: FormatOption = OutputFormat.text,
    json_output: JsonOption = False,
) -> None:
    """Check revisions for data loss, locking and downgrades that do not undo (exit 1 on an
    error-level finding)."""
    # Imported here: `migrate --help` need not load the rules.
    from migrations_cli.core.report_formats import print_annotations
    from migrations_cli.guards.lint_rules import rule_descriptions
    from migrations_cli.guards.linting import lint_files

    context = get_context(ctx, read_only=True)
    files = _files(context, revisions or [])
    found = lint_files(context, files, offline_sql=offline_sql, squawk=squawk)
    shown_format = chosen(output_format, json_output)
    if shown_format is OutputFormat.json:
        output.json_result({"findings": [reported.document() for reported in found]})
    elif shown_format is not OutputFormat.text:
        annotations = [_annotation(reported) for reported in found]
        print_annotations(shown_format, "migrate lint", annotations, rule_descriptions())
    else:
        for reported in found:
            output.result(_shown(reported))
        output.info(_summary(found, len(files)))
    if any(reported.finding.severity == "error" for reported in found):
        raise typer.Exit(1)


def _files(context: MigrationsContext, wanted: list[str]) -> list[tuple[Path, str | None]]:
    """The files to lint, in history order by default; a revision file given by path keeps
    its own revision id, read from the file."""
    from migrations_cli.graph.revision_graph import all_revisions

    if not wanted:
        return [(Path(script.path), script.revision) for script in all_revisions(context.script)]
    files: list[tuple[Path, str | None]] = []
    for name in wanted:
        path = Path(name)
        if path.suffix == ".py" and path.is_file():
            files.append((path, None))
        else:
            files += [(Path(script.path), script.revision) for script in _resolved(context, name)]
    return list(dict.fromkeys(files))


def _resolved(context: MigrationsContext, name: str) -> list[Script]:
    from alembic.script.revision import ResolutionError
    from alembic.util import CommandError

    try:
        found = [script for script in context.script.get_revisions(name) if script is not None]
    except (ResolutionError, CommandError) as error:
        raise typer.BadParameter(f"{name}: {error}", param_hint="REVISIONS") from None
    if not found:
        raise typer.BadParameter(f"{name}: no such revision", param_hint="REVISIONS")
    return found


def _annotation(reported: Reported) -> Annotation:
    from migrations_cli.core.report_formats import Annotation

    finding = reported.finding
    return Annotation(
        finding.rule,
        finding.severity,
        f"{finding.message} (revision {reported.revision})",
        reported.path,
        finding.line,
        finding.source,
    )


def _shown(reported: Reported) -> str:
    severity = reported.finding.severity
    return reported.line_text(output.styled(severity, SEVERITY_COLOURS.get(severity, "yellow")))


def _summary(found: list[Reported], linted: int) -> str:
    checked = f"{linted} revision{'s' if linted != 1 else ''}"
    if not found:
        return f"No problems found in {checked}."
    errors = sum(reported.finding.severity == "error" for reported in found)
    warnings = len(found) - errors
    counts = [
        f"{count} {word}{'s' if count != 1 else ''}"
        for count, word in ((errors, "error"), (warnings, "warning"))
        if count
    ]
    return f"{' and '.join(counts)} in {checked}."


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(lint)
