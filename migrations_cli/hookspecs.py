"""The plugin author's contract: every hook migrations-cli calls, when, and with what.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match the
specifications below. An implementation may accept any subset of a hook's arguments, so
hooks can gain arguments in later versions without breaking existing plugins.

Register a plugin through the ``migrations_cli`` entry-point group of an installed package,
or name its module in the ``MIGRATIONS_PLUGINS`` setting. Built-in commands use these same
hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pluggy

if TYPE_CHECKING:
    import typer
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext

    from migrations_cli.settings import Settings

PROJECT_NAME = "migrations_cli"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Direction = Literal["upgrade", "downgrade"]


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the CLI, e.g. with ``@app.command()``.

    Runs once at start-up, before the command line is parsed. Keep it cheap: import heavy
    libraries inside the command functions, not at module level. A command name that another
    plugin already registered is an error naming both plugins.
    """


@hookspec
def configure_alembic(config: Config, settings: Settings) -> None:
    """Adjust the Alembic ``Config`` after migrations-cli has built it from the settings.

    Runs once per command, the first time the command asks for the Config. Set options with
    ``config.set_main_option`` (escape ``%`` as ``%%``) or share objects through
    ``config.attributes``.
    """


@hookspec
def before_migrate(
    config: Config, direction: Direction, current: tuple[str, ...], target: str
) -> None:
    """Runs before ``upgrade`` or ``downgrade`` changes anything.

    ``current`` holds the revisions the database is at (empty at base) and ``target`` the
    revision asked for (``head``, an id, ``+2``, ``-1``, ``base``). Raise to abort: nothing
    has been applied yet, and the error is reported with this plugin's name.
    """


@hookspec
def after_migrate(
    config: Config,
    direction: Direction,
    previous: tuple[str, ...],
    current: tuple[str, ...],
    revisions: Sequence[str],
) -> None:
    """Runs after an ``upgrade`` or ``downgrade`` has committed.

    ``revisions`` lists the revisions applied (upgrade) or reverted (downgrade), in the
    order they ran; it is empty when the database was already at the target. ``previous`` and
    ``current`` are the database's revisions before and after. An exception here is reported
    as a failure, and the message says the migrations themselves were applied.
    """


@hookspec
def after_revision_written(config: Config, path: Path, revision: str, message: str) -> None:
    """Runs after ``create`` or ``merge`` has written a new revision file at ``path``."""


@hookspec
def include_object(
    object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool | None:
    """Filter what autogenerate compares; the arguments are Alembic's ``include_object``'s.

    Return ``False`` to leave the object out; ``True`` or ``None`` leaves the decision to
    the other plugins. An object is compared only when no plugin returns ``False``.
    """


@hookspec
def process_revision_directives(
    context: MigrationContext, revision: tuple[str, ...], directives: list[MigrationScript]
) -> None:
    """Rewrite the revision about to be generated, as Alembic's hook of the same name.

    Every plugin's implementation runs, in registration order reversed (pluggy's order), on
    the same ``directives`` list. Emptying the list writes no file.
    """
