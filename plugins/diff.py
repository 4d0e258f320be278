"""`migrate diff URL_A URL_B`: two live databases compared as `drift` compares a database
with its history (staging against production, one tenant against another)."""

from __future__ import annotations

from typing import Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.hookspecs import hookimpl

UrlArgument = Annotated[str, typer.Argument(help="A database URL.", show_default=False)]


def diff(
    ctx: typer.Context, url_a: UrlArgument, url_b: UrlArgument, json_output: JsonOption = False
) -> None:
    """Compare the schemas of two databases; exit 1 when they differ."""
    from migrations_cli.core.database import opened_connection
    from migrations_cli.core.settings import _absolute_sqlite_path
    from migrations_cli.guards.schema_compare import reflect_schema, schema_differences

    settings = get_context(ctx).settings
    first, second = (
        settings._replace(database_url=_absolute_sqlite_path(url, settings.project_dir) or url)
        for url in (url_a, url_b)
    )
    with opened_connection(first) as connection:
        expected = reflect_schema(connection)
    with opened_connection(second) as connection:
        differences = schema_differences(expected, connection, expected_name="A", found_name="B")
    if json_output:
        output.json_result(
            {
                "a": first.masked_url(),
                "b": second.masked_url(),
                "differ": bool(differences),
                "differences": [
                    {"kind": found.kind, "description": found.description} for found in differences
                ],
            }
        )
    else:
        output.result(f"A = {first.masked_url()}")
        output.result(f"B = {second.masked_url()}")
        count = len(differences)
        if differences:
            output.result(f"{count} difference{'s' if count != 1 else ''}:")
            for difference in differences:
                output.result(f"  {difference.description}")
        else:
            output.result("no differences")
    if differences:
        raise typer.Exit(1)


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(diff)
