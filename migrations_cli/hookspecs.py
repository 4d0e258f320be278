"""The plugin author's contract: every hook migrations-cli calls, when, and with what.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match the
specifications below. An implementation may accept any subset of a hook's arguments, so
hooks can gain arguments in later versions without breaking existing plugins.

Register a plugin through the ``migrations_cli`` entry-point group of an installed package,
name its module in the ``MIGRATIONS_PLUGINS`` setting, or drop it into the folder named by
``MIGRATIONS_PLUGINS_DIR``. Built-in commands use these same hooks; the guide is
docs/plugins.md. A plugin that implements a hook not listed here (a misspelt name) is refused.

An exception raised in a hook is reported as one line naming the plugin and the hook;
``raise typer.Exit(code)`` ends the command with that exit code instead.

Under plain ``alembic`` (env.py run by Alembic's own CLI or API) the plugins load too, but
only the hooks of env.py's configuration run there: ``include_object``,
``process_revision_directives`` and ``configure_options``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pluggy

if TYPE_CHECKING:
    import typer
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext

    from migrations_cli.core.settings import Settings
    from migrations_cli.fanout.targets import Target
    from migrations_cli.guards.lint_rules import Rule

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

    Runs under ``migrate``, once per command, the first time the command asks for the Config
    (``--help`` never does). Set options with ``config.set_main_option`` (escape ``%`` as
    ``%%``) or share objects through ``config.attributes``. Setting ``sqlalchemy.url`` here
    chooses the database env.py migrates.
    """


@hookspec
def configure_options(config: Config, settings: Settings) -> dict[str, Any] | None:
    """Return keyword arguments to add to env.py's ``context.configure()``, e.g.
    ``{"include_schemas": True}``, ``{"autogenerate_plugins": ["alembic.autogenerate.*",
    "my_comparators"]}`` or an ``include_object`` callable, without editing env.py.

    Runs when env.py configures Alembic: with migrations-cli's env.py for every command (plain
    ``alembic``'s too); with a project's own env.py for ``migrate upgrade``, ``downgrade``,
    ``create``, ``check`` and ``verify``. An argument env.py
    also passes is combined: ``include_object``/``include_name`` must both keep an object,
    ``process_revision_directives`` run in turn (env.py's first), ``on_version_apply`` and
    ``autogenerate_plugins`` add up; any other argument replaces env.py's. Return ``None`` to
    add nothing.
    """


@hookspec
def before_migrate(
    config: Config, direction: Direction, current: tuple[str, ...], target: str
) -> None:
    """Runs before ``migrate upgrade`` or ``migrate downgrade`` changes anything.

    It runs under the migration lock, once the revisions the database is really at have
    been read (``current``, empty at base): in env.py, on the migration's own connection, or
    around a project's own env.py; ``target`` is the revision asked for
    (``head``, an id, ``+2``, ``-1``, ``base``). Raise to abort: nothing has been applied
    yet, and the error is reported with this plugin's name.
    """


@hookspec
def after_migrate(
    config: Config,
    direction: Direction,
    previous: tuple[str, ...],
    current: tuple[str, ...],
    revisions: tuple[str, ...],
) -> None:
    """Runs after ``migrate upgrade`` or ``migrate downgrade`` has finished without error.

    Each revision's transaction has committed by then, unless a caller handed env.py a
    connection in ``config.attributes["connection"]`` inside a transaction of its own, which
    is the caller's to commit. ``revisions`` lists the revisions applied (upgrade) or
    reverted (downgrade), in the order they ran; it is empty when the database was already
    at the target. ``previous`` and ``current`` are the database's revisions before and
    after. An exception here is reported as a failure, and the message says the migrations
    themselves were applied.
    """


@hookspec
def after_revision_written(config: Config, path: Path, revision: str, message: str) -> None:
    """Runs after ``migrate create`` or ``migrate merge`` has written a revision file at
    ``path``, once per file, after Alembic's own ``post_write_hooks``; ``message`` is the
    message given to the command. An exception here is reported after the file's path."""


@hookspec
def lint_rules() -> list[Rule] | None:
    """Return rules for ``migrate lint`` to run beside the built-in ones (ML001...).

    A rule is a callable taking a ``migrations_cli.guards.lint_rules.RevisionSource`` (the file's
    ``path``, ``revision`` id, ``source``, parsed ``tree`` and the ``op`` calls of its
    ``upgrade`` and ``downgrade``) and yielding ``Finding(rule, severity, line, message)``,
    severity ``"error"`` (exit 1) or ``"warning"``. Called once per run; the rules then run on
    every revision linted, and on the file ``migrate create`` writes. A rule id is silenced
    like a built-in one: a ``# migrate-lint: disable=ID`` comment in the revision, or the
    setting MIGRATIONS_LINT_DISABLE.
    """


@hookspec
def migration_targets(settings: Settings) -> list[Target | dict[str, Any]] | None:
    """List databases for ``--targets`` and ``--group`` beside those of the targets file
    (MIGRATIONS_TARGETS): e.g. the tenants in a team's own registry.

    Called once by a command given ``--targets`` or ``--group``. Return a list of
    ``migrations_cli.fanout.targets.Target(name, url, schema=None, group=None)``, or of dicts with
    those keys; ``None`` or ``[]`` adds none. Every plugin's targets are added, after the
    file's; a name listed twice is an error. A ``schema`` makes the target that schema of a
    shared PostgreSQL database.
    """


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
    """Rewrite an autogenerated revision before it is written, as Alembic's hook of the
    same name.

    Runs for ``migrate create`` with models to compare and for plain ``alembic revision
    --autogenerate``. ``create --empty`` and ``merge`` do not run env.py, as in Alembic
    (unless ``revision_environment`` is set). Every plugin's implementation runs, newest
    registration first (pluggy's order), on the same ``directives`` list. Emptying the list
    writes no file.
    """
