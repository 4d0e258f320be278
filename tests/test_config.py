"""The Alembic Config factory: script location, URL escaping, file names, toml, the hook."""

from __future__ import annotations

import re

import pytest
from alembic import command

from migrations_cli.core.config import HOOK_KEY, SETTINGS_KEY, build_alembic_config
from migrations_cli.core.plugin_manager import MigrationsPluginManager
from migrations_cli.core.settings import load_settings
from migrations_cli.hookspecs import hookimpl


def test_script_location_is_the_migrations_dir(project):
    project.write_env(MIGRATIONS_DIR="db/migrations")
    settings = load_settings()

    config = build_alembic_config(settings)

    assert config.get_main_option("script_location") == str(
        project.root.resolve() / "db/migrations"
    )


def test_settings_are_handed_over_in_attributes(project):
    settings = load_settings()

    config = build_alembic_config(settings)

    assert config.attributes[SETTINGS_KEY] is settings
    assert HOOK_KEY not in config.attributes


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://user:p%40ss%25w0rd@host:5432/db",
        "postgresql+psycopg://user:100%25sure@host/db",
        "mysql+pymysql://root:p%40ss%word@host/db",
        "postgresql://user:%(here)s@host/db",
    ],
)
def test_database_url_with_percent_and_at_survives_interpolation(project, url):
    settings = load_settings(overrides={"DATABASE_URL": url})

    config = build_alembic_config(settings)

    assert config.get_main_option("sqlalchemy.url") == url


def test_no_database_url_sets_no_sqlalchemy_url(project):
    project.write_env()

    config = build_alembic_config(load_settings())

    assert config.get_main_option("sqlalchemy.url") is None


def test_migrations_dir_with_percent_survives_interpolation(tmp_path):
    folder = tmp_path / "100% done %(here)s"
    folder.mkdir()
    (folder / ".env").write_text("MIGRATIONS_DIR=mig%25rations\n")
    settings = load_settings(start=folder, environ={})

    config = build_alembic_config(settings)

    expected = str(folder.resolve() / "mig%25rations")
    assert config.get_main_option("script_location") == expected
    assert config.get_alembic_option("script_location") == expected


def written_file_name(project, config) -> str:
    """Write one revision with Alembic's own command and return its file name."""
    command.revision(config, message="Add email field")
    [path] = project.revision_files()
    return path.name


def test_default_file_template_names_files_by_date_rev_and_slug(project):
    config = build_alembic_config(load_settings())

    name = written_file_name(project, config)

    assert re.match(r"^\d{8}_\d{4}-[0-9a-f]{12}_add_email_field\.py$", name), name


def test_pyproject_file_template_is_honoured(project):
    project.write(
        "pyproject.toml",
        """
        [tool.alembic]
        file_template = "%%(rev)s_custom_%%(slug)s"
        """,
    )
    config = build_alembic_config(load_settings())

    name = written_file_name(project, config)

    assert re.match(r"^[0-9a-f]{12}_custom_add_email_field\.py$", name), name


def test_pyproject_script_location_does_not_override_settings(project):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DIR="alembic")
    project.write(
        "pyproject.toml",
        """
        [tool.alembic]
        script_location = "%(here)s/elsewhere"
        """,
    )
    settings = load_settings()

    config = build_alembic_config(settings)
    command.revision(config, message="Add email field")

    assert config.get_alembic_option("script_location") == str(settings.migrations_dir)
    assert len(project.revision_files()) == 1
    assert not (project.root / "elsewhere").exists()


class _ConfigurePlugin:
    @hookimpl
    def configure_alembic(self, config, settings):
        config.set_main_option("custom_option", "from the plugin")
        config.attributes["seen_settings"] = settings


def test_configure_alembic_hook_adjusts_the_config(project):
    manager = MigrationsPluginManager()
    manager.register(_ConfigurePlugin(), name="configure-plugin")
    settings = load_settings()

    config = build_alembic_config(settings, hook=manager.hook)

    assert config.get_main_option("custom_option") == "from the plugin"
    assert config.attributes["seen_settings"] is settings
    assert config.attributes[HOOK_KEY] is manager.hook


class _TemplatePlugin:
    @hookimpl
    def configure_alembic(self, config):
        config.set_main_option("file_template", "%%(slug)s_by_plugin")


def test_configure_alembic_hook_runs_after_the_defaults(project):
    manager = MigrationsPluginManager()
    manager.register(_TemplatePlugin(), name="template-plugin")
    config = build_alembic_config(load_settings(), hook=manager.hook)

    assert written_file_name(project, config) == "add_email_field_by_plugin.py"


def test_upgrade_into_folder_with_percent_and_at_in_its_name(project, migrate):
    created = migrate("create", "init")
    assert created.exit_code == 0, created.output
    # Not "%25": SQLAlchemy decodes percent-escapes in the path, as URLs should.
    folder = project.root / "data 100% %(here)s user@host"
    folder.mkdir()
    database = folder / "app.sqlite"

    result = migrate("--database-url", "sqlite:///" + str(database), "upgrade")

    assert result.exit_code == 0, result.output
    assert database.is_file()
