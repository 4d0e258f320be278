"""`migrate plugins`: every plugin loaded, where it came from, what it adds, and the failures."""

from __future__ import annotations

import json
import re

from migrations_cli import __version__
from migrations_cli.core.plugin_manager import DEFAULT_PLUGINS

TEAM_PLUGIN = """
import typer

from migrations_cli.hookspecs import hookimpl

__version__ = "2.3"


@hookimpl
def register_commands(app):
    @app.command()
    def hello():
        typer.echo("hello from team")


@hookimpl
def after_migrate(direction):
    pass
"""

HALF_REGISTERED = """
import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def half():
        pass

    raise RuntimeError("config missing")
"""

MISSPELT_HOOK = """
from migrations_cli.hookspecs import hookimpl


@hookimpl
def before_migrat(direction):
    pass
"""

ENTRY_POINT_PLUGIN = """
import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def greet():
        typer.echo("greetings from the entry point")


@hookimpl
def before_migrate(direction):
    pass
"""

INSTALLED_MODULE_PLUGIN = """
from migrations_cli.hookspecs import hookimpl


@hookimpl
def after_revision_written(path):
    pass
"""


def row(stdout: str, name: str) -> list[str]:
    """The cells of `name`'s row in the table (columns are two or more spaces apart)."""
    for line in stdout.splitlines():
        if line.split("  ", 1)[0] == name:
            return re.split(r" {2,}", line.strip())
    raise AssertionError(f"no row for {name!r} in:\n{stdout}")


def test_built_in_plugins_are_listed_with_their_commands(project, migrate):
    result = migrate("plugins")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "name",
        "source",
        "version",
        "commands",
        "hooks",
    ]
    for command in ("upgrade", "downgrade", "create", "merge", "heads", "plugins"):
        assert row(result.stdout, f"migrations_cli.plugins.{command}") == [
            f"migrations_cli.plugins.{command}",
            "built-in",
            __version__,
            command,
            "register_commands",
        ]
    assert "failed to load" not in result.stdout
    assert result.stderr == ""


def test_json_lists_every_built_in_in_loading_order(project, migrate):
    result = migrate("plugins", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"plugins", "failures", "disabled"}
    assert [plugin["name"] for plugin in document["plugins"]] == list(DEFAULT_PLUGINS)
    upgrade = document["plugins"][0]
    assert upgrade == {
        "name": "migrations_cli.plugins.upgrade",
        "source": "built-in",
        "version": __version__,
        "commands": ["upgrade"],
        "hooks": ["register_commands"],
    }
    assert document["failures"] == []


def test_a_team_module_shows_its_command_hooks_and_version(project, migrate):
    project.write("team_plugin.py", TEAM_PLUGIN)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="team_plugin")

    text = migrate("plugins")
    document = json.loads(migrate("plugins", "--json").stdout)

    assert text.exit_code == 0, text.output
    assert row(text.stdout, "team_plugin") == [
        "team_plugin",
        "MIGRATIONS_PLUGINS",
        "2.3",
        "hello",
        "after_migrate, register_commands",
    ]
    assert document["plugins"][-1] == {
        "name": "team_plugin",
        "source": "MIGRATIONS_PLUGINS",
        "version": "2.3",
        "commands": ["hello"],
        "hooks": ["after_migrate", "register_commands"],
    }


def test_plugins_that_failed_are_listed_with_their_error_and_exit_0(project, migrate):
    project.write("team_plugin.py", TEAM_PLUGIN)
    project.write("team_broken.py", 'raise ImportError("needs boto3")\n')
    project.write("team_half.py", HALF_REGISTERED)
    project.write("team_misspelt.py", MISSPELT_HOOK)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_PLUGINS="team_broken,team_half,team_misspelt,team_plugin",
    )

    text = migrate("plugins")
    as_json = migrate("plugins", "--json")

    assert text.exit_code == 0, text.output
    assert as_json.exit_code == 0, as_json.output
    failed_section = text.stdout.split("\nfailed to load (skipped; see the warnings):\n", 1)[1]
    assert failed_section.splitlines() == [
        "  team_broken: ImportError: needs boto3",
        "  team_misspelt: PluginError: unknown hook before_migrat (misspelt?)",
        "  team_half: register_commands raised RuntimeError('config missing')",
    ]
    assert "warning: plugin 'team_broken' was not loaded" in text.stderr
    document = json.loads(as_json.stdout)
    assert document["failures"] == [
        {"name": "team_broken", "error": "ImportError: needs boto3"},
        {"name": "team_misspelt", "error": "PluginError: unknown hook before_migrat (misspelt?)"},
        {"name": "team_half", "error": "register_commands raised RuntimeError('config missing')"},
    ]
    listed = [plugin["name"] for plugin in document["plugins"]]
    assert "team_plugin" in listed
    assert not {"team_broken", "team_half", "team_misspelt"} & set(listed)


def test_entry_point_plugins_show_their_distribution_and_version(
    project, migrate_console, tmp_path
):
    """Through the real entry-point machinery: a distribution on PYTHONPATH declaring a
    plugin, and a module of another installed distribution named in MIGRATIONS_PLUGINS."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "team_ep_plugin.py").write_text(ENTRY_POINT_PLUGIN)
    (site / "team_tools.py").write_text(INSTALLED_MODULE_PLUGIN)
    declaring = site / "team_ep_plugin-1.4.2.dist-info"
    declaring.mkdir()
    (declaring / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: team-ep-plugin\nVersion: 1.4.2\n"
    )
    (declaring / "entry_points.txt").write_text("[migrations_cli]\nteam = team_ep_plugin\n")
    providing = site / "team_tools-0.9.dist-info"
    providing.mkdir()
    (providing / "METADATA").write_text("Metadata-Version: 2.1\nName: team-tools\nVersion: 0.9\n")
    (providing / "top_level.txt").write_text("team_tools\n")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="team_tools")
    env = {"PYTHONPATH": str(site)}

    text = migrate_console("plugins", env=env)
    as_json = migrate_console("plugins", "--json", env=env)

    assert text.exit_code == 0, text.output
    assert text.stderr == ""
    assert row(text.stdout, "team") == [
        "team",
        "entry point team = team_ep_plugin (team-ep-plugin)",
        "1.4.2",
        "greet",
        "before_migrate, register_commands",
    ]
    assert row(text.stdout, "team_tools") == [
        "team_tools",
        "MIGRATIONS_PLUGINS",
        "0.9",
        "-",
        "after_revision_written",
    ]
    document = json.loads(as_json.stdout)
    assert document["plugins"][-2:] == [
        {
            "name": "team",
            "source": "entry point team = team_ep_plugin (team-ep-plugin)",
            "version": "1.4.2",
            "commands": ["greet"],
            "hooks": ["before_migrate", "register_commands"],
        },
        {
            "name": "team_tools",
            "source": "MIGRATIONS_PLUGINS",
            "version": "0.9",
            "commands": [],
            "hooks": ["after_revision_written"],
        },
    ]
