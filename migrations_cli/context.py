"""What a command receives: the settings, the plugins, and Alembic objects built on demand."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import typer

from migrations_cli.errors import SettingsError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from migrations_cli.plugin_manager import MigrationsPluginManager
    from migrations_cli.settings import Settings


@dataclass
class MigrationsContext:
    settings: Settings
    plugin_manager: MigrationsPluginManager

    @cached_property
    def alembic_config(self) -> Config:
        """Built once per run by the one factory, then adjusted by plugins."""
        from migrations_cli.config import build_alembic_config

        if not self.settings.migrations_dir.is_dir():
            where = self.settings.env_file or "the environment"
            raise SettingsError(
                f"migrations folder {self.settings.migrations_dir} does not exist "
                f"(MIGRATIONS_DIR, from {where})"
            )
        return build_alembic_config(self.settings, hook=self.plugin_manager.hook)

    @cached_property
    def script(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config)


def get_context(ctx: typer.Context) -> MigrationsContext:
    """The context main() handed to Click; a command calls this first."""
    found = ctx.find_object(MigrationsContext)
    if found is None:
        raise RuntimeError("migrations_cli commands must run through migrations_cli.cli.main")
    return found
