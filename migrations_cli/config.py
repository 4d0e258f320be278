"""The one factory for Alembic's `Config`: every command gets its configuration from here."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config

    from migrations_cli.settings import Settings

# Keys under which the factory hands objects to env.py through `Config.attributes`.
SETTINGS_KEY = "migrations_cli.settings"
HOOK_KEY = "migrations_cli.hook"
# Set by `migrate create`; plain `alembic revision --autogenerate` says so in cmd_opts.
AUTOGENERATE_KEY = "migrations_cli.autogenerate"

# YYYYMMDD_HHMM-<rev>_<slug>.py, as the team's migration guide names files.
DEFAULT_FILE_TEMPLATE = (
    "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
)


def build_alembic_config(settings: Settings, hook: pluggy.HookRelay | None = None) -> Config:
    """An in-memory Alembic `Config` built from `settings`; no alembic.ini is needed.

    A `[tool.alembic]` section in the project's pyproject.toml is read as Alembic reads it
    (file_template, post_write_hooks, ...), but the settings decide the script location and
    the database URL. Plugins adjust the result through the `configure_alembic` hook.
    """
    from alembic.config import Config

    pyproject = settings.project_dir / "pyproject.toml"
    config = Config(
        toml_file=pyproject if pyproject.is_file() else None,
        # Alembic's default is the sys.stdout of the moment it was imported; output must
        # go to today's (the masking wrapper, or a test's capture).
        stdout=sys.stdout,
    )
    config.set_main_option("script_location", _escape(str(settings.migrations_dir)))
    if config.get_alembic_option("file_template") is None:
        config.set_main_option("file_template", DEFAULT_FILE_TEMPLATE)
    if settings.database_url:
        # env.py migrates the database this option names (so a plugin or a tool may
        # change it); tools that read the URL from the Config find it here too.
        config.set_main_option("sqlalchemy.url", _escape(settings.database_url))
    config.attributes[SETTINGS_KEY] = settings
    if hook is not None:
        config.attributes[HOOK_KEY] = hook
        from migrations_cli.plugin_manager import call_hook

        call_hook(hook.configure_alembic, config=config, settings=settings)
    return config


def _escape(value: str) -> str:
    """Config options pass through configparser interpolation, where `%` is special."""
    return value.replace("%", "%%")
