"""Plugin loading: a folder of plugin modules, disabling any plugin (built-ins and entry points
included) with a setting or `-p no:NAME`, and hooks validated as each plugin registers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Project

from migrations_cli.core.errors import SettingsError
from migrations_cli.core.settings import load_settings

AUDIT_PLUGIN = """
import json
from pathlib import Path

import typer
from _shared import GREETING

from migrations_cli.hookspecs import hookimpl

LOG = Path(__file__).parent.parent / "audit.jsonl"


@hookimpl
def register_commands(app):
    @app.command()
    def audit():
        typer.echo(GREETING)


@hookimpl
def after_migrate(direction, revisions):
    with LOG.open("a") as log:
        log.write(json.dumps({"direction": direction, "revisions": list(revisions)}) + "\\n")
"""

SHARED_HELPER = 'GREETING = "audited by the team"\n'

# Named like the standard library's module: loaded by path under a name of its own, it must
# neither replace `json` for the other modules nor be replaced by it.
JSON_NAMED_PLUGIN = """
import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def dump():
        import json

        typer.echo(json.dumps({"real": "json"}))
"""

RAISING_ON_IMPORT = 'raise RuntimeError("this plugin must never be imported")\n'

MISSPELT_HOOK = """
from migrations_cli.hookspecs import hookimpl


@hookimpl
def before_migrate(direction):
    pass


@hookimpl
def before_migrat(direction):
    raise RuntimeError("production is frozen")
"""

OPTIONAL_FUTURE_HOOK = """
from migrations_cli.hookspecs import hookimpl


@hookimpl(optionalhook=True)
def before_squash(revisions):
    pass
"""

WRONG_ARGUMENT = """
from migrations_cli.hookspecs import hookimpl


@hookimpl
def after_migrate(directions):
    pass
"""

TEAM_COMMAND = """
import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def hello():
        typer.echo("hello from team")
"""


def with_plugins_dir(project: Project, folder: str = "team_plugins", **settings: str) -> Path:
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS_DIR=folder,
        **settings,
    )
    path = project.root / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def audit_plugins(project: Project) -> Path:
    """team_plugins/ with audit.py (a command and a hook) and its helper _shared.py."""
    folder = with_plugins_dir(project)
    project.write("team_plugins/audit.py", AUDIT_PLUGIN)
    project.write("team_plugins/_shared.py", SHARED_HELPER)
    return folder


def entry_point_site(tmp_path: Path, module_source: str) -> dict[str, str]:
    """A distribution on PYTHONPATH declaring the entry point `team = team_ep_plugin`."""
    site = tmp_path / "site"
    dist_info = site / "team_ep_plugin-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / "team_ep_plugin.py").write_text(module_source)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: team-ep-plugin\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[migrations_cli]\nteam = team_ep_plugin\n")
    return {"PYTHONPATH": str(site)}


def row(stdout: str, name: str) -> list[str]:
    for line in stdout.splitlines():
        if line.split("  ", 1)[0] == name:
            return re.split(r" {2,}", line.strip())
    raise AssertionError(f"no row for {name!r} in:\n{stdout}")


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def section(stdout: str, title: str) -> list[str]:
    """The lines under `title` in `migrate plugins`' text output, up to a blank line."""
    return stdout.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()


# --- MIGRATIONS_PLUGINS_DIR ------------------------------------------------------------------


def test_a_module_in_the_plugins_dir_adds_a_command_and_a_hook(project, migrate):
    audit_plugins(project)
    assert migrate("create", "users").exit_code == 0
    (revision,) = (re.search(r"-([0-9a-f]+)_", p.name).group(1) for p in project.revision_files())

    command = migrate("audit")
    upgraded = migrate("upgrade")

    assert command.exit_code == 0, command.output
    assert command.stdout == "audited by the team\n"
    assert command.stderr == ""
    assert upgraded.exit_code == 0, upgraded.output
    log = (project.root / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in log] == [{"direction": "upgrade", "revisions": [revision]}]


def test_the_plugins_dir_works_through_the_console_script(project, migrate, migrate_console):
    audit_plugins(project)

    command = migrate_console("audit")
    listed = migrate("plugins")

    assert command.exit_code == 0, command.output
    assert command.stdout == "audited by the team\n"
    assert command.stderr == ""
    assert row(listed.stdout, "audit") == [
        "audit",
        "MIGRATIONS_PLUGINS_DIR",
        "-",
        "audit",
        "after_migrate, register_commands",
    ]
    assert "_shared" not in listed.stdout  # a helper, not a plugin


def test_plugins_dir_is_relative_to_the_env_file_not_the_working_directory(
    project, migrate, monkeypatch
):
    audit_plugins(project)
    subfolder = project.root / "src" / "team_plugins"  # a decoy, relative to the cwd
    subfolder.mkdir(parents=True)
    (subfolder / "decoy.py").write_text(TEAM_COMMAND)
    monkeypatch.chdir(project.root / "src")

    result = migrate("audit")

    assert result.exit_code == 0, result.output
    assert result.stdout == "audited by the team\n"
    assert load_settings().plugins_dir == (project.root / "team_plugins").resolve()
    assert migrate("hello").exit_code == 2


def test_plugins_dir_of_an_env_file_elsewhere_is_relative_to_that_file(project, migrate, tmp_path):
    other = tmp_path / "elsewhere"
    (other / "tools").mkdir(parents=True)
    (other / "tools" / "greeter.py").write_text(TEAM_COMMAND)
    (other / ".env").write_text("MIGRATIONS_PLUGINS_DIR=tools\n")

    result = migrate("--env-file", str(other / ".env"), "hello")

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from team\n"


def test_a_missing_plugins_dir_is_a_one_line_settings_error(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS_DIR="team_plugins")

    result = migrate("heads")

    assert result.exit_code == 1
    assert result.stdout == ""
    missing = (project.root / "team_plugins").resolve()
    assert result.stderr == (
        f"error: MIGRATIONS_PLUGINS_DIR='team_plugins': no such folder {missing}\n"
    )
    with pytest.raises(SettingsError, match="MIGRATIONS_PLUGINS_DIR"):
        load_settings()


def test_a_broken_module_in_the_plugins_dir_is_a_warning_and_the_others_load(project, migrate):
    audit_plugins(project)
    project.write("team_plugins/broken.py", 'raise ImportError("needs boto3")\n')
    project.write("team_plugins/syntax.py", "def oops(:\n    pass\n")

    result = migrate("audit")
    listed = migrate("plugins")

    assert result.exit_code == 0, result.output
    assert result.stdout == "audited by the team\n"
    assert result.stderr.splitlines() == [
        "warning: plugin 'broken' was not loaded: ImportError: needs boto3",
        "warning: plugin 'syntax' was not loaded: SyntaxError: invalid syntax (syntax.py, line 1)",
    ]
    assert section(listed.stdout, "failed to load (skipped; see the warnings):") == [
        "  broken: ImportError: needs boto3",
        "  syntax: SyntaxError: invalid syntax (syntax.py, line 1)",
    ]


def test_plugins_dir_modules_load_in_name_order_and_only_python_files(project, migrate):
    with_plugins_dir(project)
    for name in ("zeta.py", "alpha.py", "mid.py"):
        project.write(f"team_plugins/{name}", "")
    project.write("team_plugins/notes.txt", "not a plugin")
    project.write("team_plugins/_private.py", RAISING_ON_IMPORT)
    project.write("team_plugins/.hidden.py", RAISING_ON_IMPORT)

    result = migrate("plugins", "--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    names = [plugin["name"] for plugin in json.loads(result.stdout)["plugins"]]
    assert names[-3:] == ["alpha", "mid", "zeta"]
    assert not {"notes", "_private", ".hidden"} & set(names)


def test_a_plugin_file_named_like_a_standard_module_shadows_nothing(project, migrate):
    with_plugins_dir(project)
    project.write("team_plugins/json.py", JSON_NAMED_PLUGIN)

    dumped = migrate("dump")
    listed = migrate("plugins", "--json")  # plugins --json itself uses the real json module

    assert dumped.exit_code == 0, dumped.output
    assert dumped.stdout == '{"real": "json"}\n'
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["plugins"][-1]["name"] == "json"


def test_a_plugins_dir_file_named_as_another_plugin_is_refused(project, migrate):
    with_plugins_dir(project, MIGRATIONS_PLUGINS="team_plugin")
    project.write("team_plugin.py", TEAM_COMMAND)
    project.write("team_plugins/team_plugin.py", RAISING_ON_IMPORT)

    result = migrate("hello")

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from team\n"
    assert result.stderr == (
        "warning: plugin 'team_plugin' was not loaded: the name 'team_plugin' is already "
        "taken by the MIGRATIONS_PLUGINS plugin team_plugin\n"
    )


# --- disabling plugins -----------------------------------------------------------------------


def test_p_no_disables_a_built_in_command(project, migrate):
    result = migrate("-p", "no:downgrade", "downgrade")
    listed = migrate("-p", "no:downgrade", "plugins")
    as_json = migrate("-pno:downgrade", "plugins", "--json")

    assert result.exit_code == 2
    assert "No such command 'downgrade'" in result.stderr
    assert listed.exit_code == 0, listed.output
    assert listed.stderr == ""
    assert section(listed.stdout, "disabled (not imported):") == [
        "  migrations_cli.plugins.downgrade: built-in, disabled by -p no:downgrade"
    ]
    assert "migrations_cli.plugins.downgrade  " not in listed.stdout  # not in the table
    document = json.loads(as_json.stdout)
    assert document["disabled"] == [
        {
            "name": "migrations_cli.plugins.downgrade",
            "source": "built-in",
            "by": "-p no:downgrade",
        }
    ]
    assert "migrations_cli.plugins.downgrade" not in [p["name"] for p in document["plugins"]]
    assert migrate("downgrade", "--help").exit_code == 0  # back without the option


def test_the_disable_setting_takes_built_ins_modules_and_plugins_dir_files(project, migrate):
    with_plugins_dir(
        project,
        MIGRATIONS_PLUGINS="team_module",
        MIGRATIONS_DISABLE_PLUGINS="migrations_cli.plugins.stamp, merge,team_module,broken",
    )
    project.write("team_plugins/audit.py", AUDIT_PLUGIN)
    project.write("team_plugins/_shared.py", SHARED_HELPER)
    project.write("team_plugins/broken.py", RAISING_ON_IMPORT)
    project.write("team_module.py", RAISING_ON_IMPORT)

    stamp = migrate("stamp", "head")
    merge = migrate("merge", "heads")
    listed = migrate("plugins", "--json")

    assert stamp.exit_code == merge.exit_code == 2
    assert "No such command 'stamp'" in stamp.stderr
    assert listed.exit_code == 0, listed.output
    assert listed.stderr == ""  # neither broken module was imported
    document = json.loads(listed.stdout)
    assert document["failures"] == []
    assert document["disabled"] == [
        {"name": name, "source": source, "by": "MIGRATIONS_DISABLE_PLUGINS"}
        for name, source in (
            ("migrations_cli.plugins.merge", "built-in"),
            ("migrations_cli.plugins.stamp", "built-in"),
            ("team_module", "MIGRATIONS_PLUGINS"),
            ("broken", "MIGRATIONS_PLUGINS_DIR"),
        )
    ]
    assert "audit" in [plugin["name"] for plugin in document["plugins"]]


def test_a_disabled_entry_point_is_never_imported(project, migrate_console, tmp_path):
    env = entry_point_site(tmp_path, RAISING_ON_IMPORT)

    enabled = migrate_console("heads", env=env)
    disabled = migrate_console("-p", "no:team", "plugins", "--json", env=env)

    assert "warning: plugin 'team' was not loaded: RuntimeError: this plugin must never" in (
        enabled.stderr
    )
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stderr == ""
    document = json.loads(disabled.stdout)
    assert document["failures"] == []
    assert document["disabled"] == [
        {
            "name": "team",
            "source": "entry point team = team_ep_plugin (team-ep-plugin)",
            "by": "-p no:team",
        }
    ]


def test_autoload_off_skips_entry_points_but_not_named_modules(project, migrate_console, tmp_path):
    env = entry_point_site(tmp_path, TEAM_COMMAND)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD="1",
        MIGRATIONS_PLUGINS="team_ep_plugin",
    )

    result = migrate_console("plugins", "--json", env=env)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["disabled"] == [
        {
            "name": "team",
            "source": "entry point team = team_ep_plugin (team-ep-plugin)",
            "by": "MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD",
        }
    ]
    assert document["plugins"][-1]["name"] == "team_ep_plugin"  # named, so loaded
    assert document["plugins"][-1]["commands"] == ["hello"]


def test_disabling_a_name_no_plugin_has_is_a_warning(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DISABLE_PLUGINS="dowgrade")

    result = migrate("-p", "no:upgrad", "-p", "no:stamp", "heads")

    assert result.exit_code == 0, result.output
    assert warnings(result.stderr) == [
        "warning: MIGRATIONS_DISABLE_PLUGINS: no plugin is named 'dowgrade' "
        "(`migrate plugins` lists the plugins)",
        "warning: -p no:upgrad: no plugin is named 'upgrad' (`migrate plugins` lists the plugins)",
    ]


def test_p_takes_only_no_name(project, migrate):
    for value in ("downgrade", "no:", "=no:downgrade"):
        result = migrate("-p", value, "heads")

        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (
            f"error: -p takes no:NAME, to disable the plugin NAME (got {value!r})\n"
        )


def test_p_combined_with_other_short_flags_is_refused_not_ignored(project, migrate):
    result = migrate("-vpno:downgrade", "downgrade")

    assert result.exit_code == 2
    assert "write each -p no:NAME on its own, before the command" in result.stderr


def test_help_lists_the_p_option(project, migrate):
    result = migrate("--help")

    assert result.exit_code == 0
    assert re.search(r"-p\s+no:NAME\s+Disable the plugin NAME", result.stdout)


@pytest.mark.parametrize(
    ("value", "autoload"), [("1", False), ("true", False), ("0", True), ("off", True)]
)
def test_autoload_switch_values(project, value, autoload):
    project.write_env(MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD=value)

    assert load_settings().plugin_autoload is autoload


def test_an_unreadable_autoload_switch_is_an_error(project):
    project.write_env(MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD="maybe")

    with pytest.raises(SettingsError, match=r"MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD='maybe' must be"):
        load_settings()


def test_disable_setting_is_split_on_commas(project):
    project.write_env(MIGRATIONS_DISABLE_PLUGINS=" downgrade, ,team-notify,,downgrade ")

    assert load_settings().disabled_plugins == ("downgrade", "team-notify")


# --- hooks validated at registration ---------------------------------------------------------


def test_a_misspelt_hook_is_named_and_only_its_plugin_refused(project, migrate):
    audit_plugins(project)
    project.write("team_plugins/guard.py", MISSPELT_HOOK)

    result = migrate("audit")

    assert result.exit_code == 0, result.output
    assert result.stdout == "audited by the team\n"
    assert result.stderr == (
        "warning: plugin 'guard' was not loaded: "
        "PluginError: unknown hook before_migrat (misspelt?)\n"
    )


def test_an_optional_hook_without_specification_is_accepted(project, migrate):
    """pluggy's check_pending rule: `optionalhook=True` marks a hook that a later version
    may define, so it is not a misspelling."""
    with_plugins_dir(project)
    project.write("team_plugins/future.py", OPTIONAL_FUTURE_HOOK)

    result = migrate("plugins", "--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.stdout)["plugins"][-1] == {
        "name": "future",
        "source": "MIGRATIONS_PLUGINS_DIR",
        "version": None,
        "commands": [],
        "hooks": ["before_squash"],
    }


def test_a_hook_argument_not_in_the_specification_is_one_warning_line(project, migrate):
    with_plugins_dir(project)
    project.write("team_plugins/typo.py", WRONG_ARGUMENT)

    result = migrate("heads")

    assert result.exit_code == 0, result.output
    assert warnings(result.stderr) == [
        "warning: plugin 'typo' was not loaded: PluginValidationError: Plugin 'typo' for hook "
        "'after_migrate'; hookimpl definition: after_migrate(directions); Argument(s) "
        "{'directions'} are declared in the hookimpl but can not be found in the hookspec"
    ]
