"""The production guard: a destructive command against a database marked as production
asks first on a terminal, and without a terminal refuses unless told --yes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from migrations_cli.core.errors import MigrationsError
from migrations_cli.core.settings import Settings

YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Do not ask for confirmation when MIGRATIONS_ENV=production.",
    ),
]


class Refused(MigrationsError):
    """A destructive command on production was not confirmed."""


def confirm_on_production(settings: Settings, command: str, yes: bool) -> None:
    """Go on, or raise Refused; `command` is what would run, e.g. "migrate downgrade base"."""
    if yes or not settings.is_production:
        return
    where = f"the production database {settings.masked_url()}"
    if not sys.stdin.isatty():
        raise Refused(
            f"refusing to run `{command}` on {where} (MIGRATIONS_ENV={settings.environment}) "
            "without a terminal to confirm on: add --yes if that is what you mean"
        )
    if not typer.confirm(f"Run `{command}` on {where}?", default=False, err=True):
        raise Refused(f"`{command}` cancelled: nothing was changed")
