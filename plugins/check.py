"""`migrate check`: do the models match the database at head? For CI, to catch a model
change that nobody wrote a migration for (what `alembic check` answers, in plain words)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError
from migrations_cli.core.report_formats import (
    Annotation,
    FormatOption,
    OutputFormat,
    chosen,
    print_annotations,
)
from migrations_cli.fanout import target_report
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.graph.revision_graph import undefined_revisions
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.migration_run import describe_revisions

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@fans_out()
def check(
    ctx: typer.Context,
    output_format: FormatOption = OutputFormat.text,
    json_output: JsonOption = False,
) -> None:
    """Compare the models with the database at head; exit 1 when they differ."""
    from migrations_cli.core.database import database_heads, opened_connection
    from migrations_cli.core.metadata import NO_MODELS, without_models
    from migrations_cli.guards.model_diff import env_differences

    context = get_context(ctx)
    if without_models(context):
        raise MigrationsError(NO_MODELS)
    script = context.script
    with opened_connection(context.database) as connection:
        heads = database_heads(connection)
        target_report.where_it_stands(heads)
        revision = describe_revisions(head_of_database(script, heads))
    # (as `alembic check`: through env.py, whose comparators and filters apply)
    differences = env_differences(context)
    shown_format = chosen(output_format, json_output)
    if shown_format is OutputFormat.json:
        output.json_result(
            {"revision": revision, "differences": [asdict(found) for found in differences]}
        )
    elif shown_format is not OutputFormat.text:
        annotations = [
            Annotation(
                f"model-{found.kind}".replace("_", "-"),
                "error",
                f"{found.description}: the models changed without a migration; write one "
                "with `migrate create MESSAGE`",
            )
            for found in differences
        ]
        print_annotations(shown_format, "migrate check", annotations)
    elif differences:
        for found in differences:
            output.result(found.description)
        count = len(differences)
        output.info(
            f"{count} difference{'s' if count != 1 else ''} between the models and the "
            f"database at head ({revision}): the models changed without a migration; write "
            "one with `migrate create MESSAGE`."
        )
    else:
        output.result(f"No differences: the models match the database at head ({revision}).")
    if differences:
        raise typer.Exit(1)


def head_of_database(script: ScriptDirectory, heads: tuple[str, ...]) -> tuple[str, ...]:
    """The database's revisions when they are the migrations' heads; otherwise the error
    that says what to do, since a comparison with a database behind head reports the
    pending migrations' changes as missing."""
    unknown = undefined_revisions(script, heads)
    if unknown:
        raise MigrationsError(
            f"the database is at {', '.join(unknown)}, which no migration file defines "
            "(a deleted file, or one not pulled yet): restore it, then check again "
            "(`migrate doctor` says more)"
        )
    expected = tuple(sorted(script.get_heads()))
    if heads != expected:
        raise MigrationsError(
            f"the database is not up to date (it is at {describe_revisions(heads)}, head is "
            f"{describe_revisions(expected)}): run `migrate upgrade` first, then check again"
        )
    return heads


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(check)
