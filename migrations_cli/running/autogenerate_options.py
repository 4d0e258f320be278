"""What migrate adds to a project's own env.py for an autogenerate (`migrate create`,
`check`): the models of MIGRATIONS_METADATA, the tool's tables left out, the plugins' hooks.
Apart from configure_options.py, which merges options into any command's configure() and
needs none of the models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrations_cli.core.env_py import is_projects_own_env_py
from migrations_cli.core.metadata import load_metadata
from migrations_cli.core.tool_tables import plugin_include_object
from migrations_cli.running.configure_options import (
    Options,
    merged,
    plugin_options,
    revision_directives,
)

if TYPE_CHECKING:
    from migrations_cli.core.context import MigrationsContext


def autogenerate_additions(context: MigrationsContext, *, revision: bool) -> Options:
    """What `migrate` adds to env.py's arguments for an autogenerate (`revision`: one that
    writes a file). Nothing to migrations-cli's env.py, which does the same itself. To a
    project's own: the models of MIGRATIONS_METADATA when set, the tool's tables left out
    (and whatever the plugins' include_object leaves out), the plugins'
    process_revision_directives (and no file for an autogenerate that found nothing, as
    with migrations-cli's env.py), and the plugins' configure_options."""
    if not is_projects_own_env_py(context.script):
        return {}
    hook = context.plugin_manager.hook
    settings = context.settings
    ours: Options = {
        "include_object": plugin_include_object(hook),
        "process_revision_directives": revision_directives(hook, revision),
    }
    if settings.metadata is not None:
        ours["target_metadata"] = load_metadata(settings.metadata)
    return merged(ours, plugin_options(hook, context.alembic_config, settings))
