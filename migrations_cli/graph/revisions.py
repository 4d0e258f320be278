"""What `create` and `merge` share: report a written revision and tell the plugins."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from migrations_cli.core import output
from migrations_cli.core.errors import MigrationsError, PluginError
from migrations_cli.core.hook_calls import call_hook

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.core.context import MigrationsContext


def checked_message(message: str) -> str:
    """A revision message names the file and the history entry: it cannot be blank, and it
    becomes the revision's docstring, which a triple quote or a backslash would break. Its
    lines are folded into one: `history` shows it as one row of a table."""
    message = " ".join(message.split())
    if not message:
        raise typer.BadParameter("the message must not be empty")
    if '"""' in message or "\\" in message:
        raise typer.BadParameter(
            'the message cannot contain """ or a backslash (it becomes the docstring of '
            "the revision file)"
        )
    return message.strip()


# The template Alembic renders every new revision file from, in the migrations folder.
REVISION_TEMPLATE = "script.py.mako"


def require_template(context: MigrationsContext) -> None:
    """A one-line error, before anything is written, when the template is missing (Alembic
    itself fails half way, with a FileNotFoundError from Mako)."""
    template = Path(context.script.dir) / REVISION_TEMPLATE
    if not template.is_file():
        raise MigrationsError(
            f"{_shown(template)} is missing: it is the template of new revision files "
            "(`migrate init` writes it again; existing files are left alone)"
        )


def alembic_messages_to_stderr() -> AbstractContextManager[object]:
    """Alembic prints "Generating ... done" on stdout; there it would mix with our result
    (the new file's path), so it goes to stderr with the other progress messages."""
    return redirect_stdout(sys.stderr)


def announce_revision(context: MigrationsContext, script: Script, message: str) -> Path:
    """Print the new file's path (stdout), then run the `after_revision_written` hooks."""
    path = Path(script.path)
    output.result(_shown(path))
    try:
        call_hook(
            context.plugin_manager.hook.after_revision_written,
            config=context.alembic_config,
            path=path,
            revision=script.revision,
            message=message,
        )
    except PluginError as error:
        raise PluginError(f"{error} (the revision file {_shown(path)} was written)") from error
    return path


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()
