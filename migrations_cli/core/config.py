"""The one factory for Alembic's `Config`: every command gets its configuration from here."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from migrations_cli.core.settings import ALEMBIC_INI, PYPROJECT

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config

    from migrations_cli.core.settings import Settings

# Keys under which the factory hands objects to env.py through `Config.attributes`.
SETTINGS_KEY = "migrations_cli.settings"
HOOK_KEY = "migrations_cli.hook"
# Set by `migrate create`; plain `alembic revision --autogenerate` says so in cmd_opts.
AUTOGENERATE_KEY = "migrations_cli.autogenerate"
# Set by commands whose run of env.py only touches the version table (stamp).
WITHOUT_MODELS_KEY = "migrations_cli.without_models"
# The target this run migrates ({"name": ..., "schema": ...}) when it is one of many
# (MIGRATIONS_TARGET, MIGRATIONS_TARGET_SCHEMA; set for each target by `--targets`). env.py
# also finds them as `-x` arguments: context.get_x_argument(as_dictionary=True)["target"].
TARGET_KEY = "migrations_cli.target"

# What `alembic init` writes into alembic.ini: not a database anyone means.
ALEMBIC_INI_PLACEHOLDER_URL = "driver://user:pass@localhost/dbname"

# YYYYMMDD_HHMM-<rev>_<slug>.py, as the team's migration guide names files: what `migrate
# init` writes into the Alembic configuration it creates, and the default of a project
# that has no Alembic configuration at all.
DEFAULT_FILE_TEMPLATE = (
    "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
)


def build_alembic_config(settings: Settings, hook: pluggy.HookRelay | None = None) -> Config:
    """The Alembic `Config` for a run, built from `settings`; no alembic.ini is needed.

    A project set up for plain Alembic keeps its files: an alembic.ini in the project folder
    and the `[tool.alembic]` section of its pyproject.toml are read as Alembic reads them
    (file_template, post_write_hooks, version_locations, ...), the ini's section being the
    one -n/--name chose. The settings still decide the script location, and the database
    URL when DATABASE_URL is set; without it the ini's `sqlalchemy.url` is left for env.py.
    Plugins adjust the result through the `configure_alembic` hook.
    """
    from argparse import Namespace

    from alembic.config import Config

    ini = settings.project_dir / ALEMBIC_INI
    pyproject = settings.project_dir / PYPROJECT
    config = Config(
        file_=ini if ini.is_file() else None,
        toml_file=pyproject if pyproject.is_file() else None,
        ini_section=settings.ini_section,
        # -x, where env.py's context.get_x_argument() reads it, as plain alembic keeps it.
        cmd_opts=Namespace(x=list(settings.x_arguments)) if settings.x_arguments else None,
        # Alembic's default is the sys.stdout of the moment it was imported; output must
        # go to today's (the masking wrapper, or a test's capture).
        stdout=sys.stdout,
    )
    config.set_main_option("script_location", _escape(str(settings.migrations_dir)))
    if not ini.is_file() and not config.toml_alembic_config:
        # A project configured by .env alone: migrate's file names. A project configured
        # for Alembic keeps its own file_template, or Alembic's default.
        config.set_main_option("file_template", DEFAULT_FILE_TEMPLATE)
    if settings.database_url:
        # env.py migrates the database this option names (so a plugin or a tool may
        # change it); tools that read the URL from the Config find it here too.
        config.set_main_option("sqlalchemy.url", _escape(settings.database_url))
    config.attributes[SETTINGS_KEY] = settings
    if settings.target_name or settings.target_schema:
        config.attributes[TARGET_KEY] = {
            "name": settings.target_name,
            "schema": settings.target_schema,
        }
        pairs = {"target": settings.target_name, "schema": settings.target_schema}
        add_x_arguments(config, {key: value for key, value in pairs.items() if value})
    if hook is not None:
        config.attributes[HOOK_KEY] = hook
        from migrations_cli.core.hook_calls import call_hook

        call_hook(hook.configure_alembic, config=config, settings=settings)
    return config


def add_x_arguments(config: Config, pairs: dict[str, str]) -> None:
    """Add `key=value` pairs to what env.py reads with `context.get_x_argument()`, as if
    given with alembic's `-x`. They go before the pairs already in `config.cmd_opts.x` (a
    `-x` of the command line), which so win in get_x_argument's dictionary."""
    from argparse import Namespace

    if config.cmd_opts is None:
        config.cmd_opts = Namespace()
    given = list(getattr(config.cmd_opts, "x", None) or [])
    config.cmd_opts.x = [f"{key}={value}" for key, value in pairs.items()] + given


def migrated_database(config: Config, settings: Settings) -> Settings:
    """The settings naming the database env.py will migrate: the Config's `sqlalchemy.url`
    (DATABASE_URL, or the alembic.ini's, or a plugin's), as any env.py reads it.

    Without a usable URL this is the usual "DATABASE_URL is not set" error: `alembic init`'s
    placeholder is not a database anyone means.
    """
    url = config.get_main_option("sqlalchemy.url")
    if url and url != ALEMBIC_INI_PLACEHOLDER_URL:
        return settings._replace(database_url=url)
    settings.require_database_url()
    return settings


def _escape(value: str) -> str:
    """Config options pass through configparser interpolation, where `%` is special."""
    return value.replace("%", "%%")
