"""What `create` and `merge` share: report a written revision and tell the plugins."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from migrations_cli import output
from migrations_cli.plugin_manager import call_hook

if TYPE_CHECKING:
    from alembic.script import Script

    from migrations_cli.context import MigrationsContext


def checked_message(message: str) -> str:
    """A revision message names the file and the history entry: it cannot be blank."""
    if not message.strip():
        raise typer.BadParameter("the message must not be empty")
    return message.strip()


def announce_revision(context: MigrationsContext, script: Script, message: str) -> Path:
    """Print the new file's path (stdout) and run the `after_revision_written` hooks."""
    path = Path(script.path)
    call_hook(
        context.plugins.hook.after_revision_written,
        config=context.alembic_config,
        path=path,
        revision=script.revision,
        message=message,
    )
    output.result(_shown(path))
    return path


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()
