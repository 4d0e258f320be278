"""Plugins: discovery, failures kept contained, command clashes, and every lifecycle hook."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from conftest import MODELS_V1, Project, run_process

PLUGIN_ENV = {
    "DATABASE_URL": "sqlite:///db.sqlite",
    "MIGRATIONS_METADATA": "models:metadata",
}

HELLO_PLUGIN = """
import typer

from migrations_cli.hookspecs import hookimpl


@hookimpl
def register_commands(app):
    @app.command()
    def hello():
        typer.echo("hello from team")
"""

RECORDING_MIGRATE_PLUGIN = """
import json
from pathlib import Path

from migrations_cli.hookspecs import hookimpl

LOG = Path(__file__).with_name("hooks.jsonl")


def record(**entry):
    with LOG.open("a") as log:
        log.write(json.dumps(entry) + "\\n")


@hookimpl
def before_migrate(direction, current, target):
    record(hook="before_migrate", direction=direction, current=list(current), target=target)


@hookimpl
def after_migrate(direction, previous, current, revisions):
    record(
        hook="after_migrate",
        direction=direction,
        previous=list(previous),
        current=list(current),
        revisions=list(revisions),
    )
"""

RECORDING_WRITTEN_PLUGIN = """
import json
from pathlib import Path

from migrations_cli.hookspecs import hookimpl

LOG = Path(__file__).with_name("written.jsonl")


@hookimpl
def after_revision_written(path, revision, message):
    entry = {"path": str(path), "exists": path.exists(), "revision": revision, "message": message}
    with LOG.open("a") as log:
        log.write(json.dumps(entry) + "\\n")
"""

FAILING_BEFORE_PLUGIN = """
from migrations_cli.hookspecs import hookimpl


@hookimpl
def before_migrate(direction):
    raise RuntimeError("backup failed")
"""

SECOND_ROOT_REVISION = """
revision = "bbbb00000002"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
"""


def use_plugins(project: Project, *modules: str) -> None:
    project.write_env(**PLUGIN_ENV, MIGRATIONS_PLUGINS=",".join(modules))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def only_new_revision(project: Project, before: set[Path]) -> tuple[Path, str]:
    """The one file written since `before`, and the revision id in its name."""
    (path,) = set(project.revision_files()) - before
    match = re.search(r"-([0-9a-f]+)_", path.name)
    assert match, path.name
    return path, match.group(1)


# --- discovery -------------------------------------------------------------------------------


def test_migrations_plugins_module_adds_a_command(project, migrate):
    project.write("team_plugin.py", HELLO_PLUGIN)
    use_plugins(project, "team_plugin")

    result = migrate("hello")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "hello from team"


def test_plugin_command_is_listed_in_help(project, migrate):
    project.write("team_plugin.py", HELLO_PLUGIN)
    use_plugins(project, "team_plugin")

    result = migrate("--help")

    assert result.exit_code == 0, result.output
    assert re.search(r"\bhello\b", result.stdout)
    assert re.search(r"\bupgrade\b", result.stdout)


def test_entry_point_plugin_is_discovered_by_the_console_script(project, migrate_console, tmp_path):
    site = tmp_path / "site"
    (site / "team_ep_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "team_ep_plugin.py").write_text(
        "import typer\n"
        "from migrations_cli.hookspecs import hookimpl\n\n\n"
        "@hookimpl\n"
        "def register_commands(app):\n"
        "    @app.command()\n"
        "    def greet():\n"
        "        typer.echo('greetings from the entry point')\n"
    )
    (site / "team_ep_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: team-ep-plugin\nVersion: 1.0\n"
    )
    (site / "team_ep_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[migrations_cli]\nteam = team_ep_plugin\n"
    )

    result = migrate_console("greet", env={"PYTHONPATH": str(site)})

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "greetings from the entry point"
    assert "warning" not in result.stderr


def test_entry_point_plugin_also_named_in_settings_is_loaded_once(
    project, migrate_console, tmp_path
):
    site = tmp_path / "site"
    (site / "team_ep_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "team_ep_plugin.py").write_text(HELLO_PLUGIN)
    (site / "team_ep_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: team-ep-plugin\nVersion: 1.0\n"
    )
    (site / "team_ep_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[migrations_cli]\nteam = team_ep_plugin\n"
    )
    use_plugins(project, "team_ep_plugin")

    result = migrate_console("hello", env={"PYTHONPATH": str(site)})

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "hello from team"
    assert "warning" not in result.stderr


# --- failures stay contained -----------------------------------------------------------------


def test_plugin_failing_to_import_is_a_warning_and_builtins_still_work(project, migrate):
    project.write("team_broken.py", 'raise ImportError("needs boto3")\n')
    use_plugins(project, "team_broken", "team_missing")

    created = migrate("create", "first")
    upgraded = migrate("upgrade")

    assert created.exit_code == 0, created.output
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users"}
    assert re.search(r"warning: plugin 'team_broken' .*ImportError: needs boto3", upgraded.stderr)
    assert re.search(
        r"warning: plugin 'team_missing' .*ModuleNotFoundError: .*team_missing", upgraded.stderr
    )
    assert "Traceback" not in upgraded.output


def test_plugin_raising_in_configure_alembic_is_named(project, migrate):
    project.write(
        "team_config.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def configure_alembic(config):
            raise KeyError("VAULT_TOKEN")
        """,
    )
    use_plugins(project, "team_config")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert "plugin 'team_config' failed in configure_alembic: KeyError" in result.stderr
    assert "Traceback" not in result.output


def test_plain_alembic_warns_about_a_broken_plugin_and_still_migrates(project):
    project.write("pyproject.toml", '[tool.alembic]\nscript_location = "%(here)s/alembic"\n')
    project.write("team_broken.py", 'raise ImportError("needs boto3")\n')
    use_plugins(project, "team_broken")
    alembic = str(Path(sys.executable).with_name("alembic"))

    generated = run_process([alembic, "revision", "--autogenerate", "-m", "first"], project.root)
    upgraded = run_process([alembic, "upgrade", "head"], project.root)

    assert generated.exit_code == 0 and upgraded.exit_code == 0, upgraded.output
    assert "warning: plugin 'team_broken' was not loaded" in upgraded.stderr
    assert project.tables() == {"users"}


def test_plugin_whose_register_commands_raises_loses_its_commands(project, migrate):
    project.write(
        "team_half.py",
        """
        import typer

        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def register_commands(app):
            @app.command()
            def half():
                typer.echo("half registered")

            raise RuntimeError("config missing")
        """,
    )
    project.write("team_plugin.py", HELLO_PLUGIN)
    use_plugins(project, "team_half", "team_plugin")

    half = migrate("half")
    hello = migrate("hello")
    heads = migrate("heads")

    assert half.exit_code == 2
    assert "half registered" not in half.output
    assert re.search(r"warning: plugin 'team_half' .*RuntimeError.*config missing", half.stderr)
    assert hello.exit_code == 0, hello.output
    assert hello.stdout.strip() == "hello from team"
    assert heads.exit_code == 0, heads.output


def test_two_plugins_registering_the_same_command_is_an_error_naming_both(project, migrate):
    project.write(
        "team_plugin.py",
        """
        import typer

        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def register_commands(app):
            @app.command()
            def upgrade():
                typer.echo("team upgrade")
        """,
    )
    use_plugins(project, "team_plugin")

    result = migrate("heads")

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "'upgrade'" in lines[0]
    assert "'migrations_cli.plugins.upgrade'" in lines[0]
    assert "'team_plugin'" in lines[0]
    assert "Traceback" not in result.output


# --- lifecycle hooks -------------------------------------------------------------------------


def test_migrate_hooks_receive_directions_revisions_and_heads(project, migrate):
    project.write("team_plugin.py", RECORDING_MIGRATE_PLUGIN)
    use_plugins(project, "team_plugin")
    log = project.root / "hooks.jsonl"

    assert migrate("create", "users").exit_code == 0
    (first,) = (re.search(r"-([0-9a-f]+)_", p.name).group(1) for p in project.revision_files())
    before = set(project.revision_files())
    assert migrate("create", "--empty", "nothing").exit_code == 0
    _, second = only_new_revision(project, before)
    assert not log.exists()  # create does not migrate

    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert project.versions_in_db() == {second}
    assert read_jsonl(log) == [
        {"hook": "before_migrate", "direction": "upgrade", "current": [], "target": "head"},
        {
            "hook": "after_migrate",
            "direction": "upgrade",
            "previous": [],
            "current": [second],
            "revisions": [first, second],
        },
    ]

    log.unlink()
    downgraded = migrate("downgrade")
    assert downgraded.exit_code == 0, downgraded.output
    assert project.versions_in_db() == {first}
    assert read_jsonl(log) == [
        {"hook": "before_migrate", "direction": "downgrade", "current": [second], "target": "-1"},
        {
            "hook": "after_migrate",
            "direction": "downgrade",
            "previous": [second],
            "current": [first],
            "revisions": [second],
        },
    ]


def test_after_migrate_gets_no_revisions_when_already_at_target(project, migrate):
    project.write("team_plugin.py", RECORDING_MIGRATE_PLUGIN)
    use_plugins(project, "team_plugin")
    log = project.root / "hooks.jsonl"
    assert migrate("create", "users").exit_code == 0
    assert migrate("upgrade").exit_code == 0
    (head,) = project.versions_in_db()
    log.unlink()

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert read_jsonl(log)[-1] == {
        "hook": "after_migrate",
        "direction": "upgrade",
        "previous": [head],
        "current": [head],
        "revisions": [],
    }


def test_failing_before_migrate_aborts_and_changes_nothing(project, migrate):
    project.write("team_backup.py", FAILING_BEFORE_PLUGIN)
    use_plugins(project, "team_backup")
    assert migrate("create", "users").exit_code == 0

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert re.search(r"^error: .*'team_backup'.*before_migrate.*backup failed", result.stderr, re.M)
    assert "Traceback" not in result.output
    assert project.tables() == set()
    assert project.versions_in_db() == set()


def test_failing_after_migrate_says_the_upgrade_completed(project, migrate):
    project.write(
        "team_notify.py",
        """
        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def after_migrate(revisions):
            raise RuntimeError("chat is down")
        """,
    )
    use_plugins(project, "team_notify")
    assert migrate("create", "users").exit_code == 0
    (revision_file,) = project.revision_files()

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert re.search(r"^error: .*'team_notify'.*after_migrate.*chat is down", result.stderr, re.M)
    assert "upgrade itself completed" in result.stderr
    (revision,) = project.versions_in_db()
    assert revision in revision_file.name
    assert revision in result.stderr
    assert project.tables() == {"users"}
    assert "Traceback" not in result.output


def test_after_revision_written_by_create_and_merge(project, migrate):
    project.write("team_plugin.py", RECORDING_WRITTEN_PLUGIN)
    use_plugins(project, "team_plugin")
    log = project.root / "written.jsonl"

    assert migrate("create", "--empty", "first root").exit_code == 0
    project.write("alembic/versions/bbbb00000002_second_root.py", SECOND_ROOT_REVISION)
    before = set(project.revision_files())
    merged = migrate("merge", "-m", "join roots")
    assert merged.exit_code == 0, merged.output
    merge_file, merge_revision = only_new_revision(project, before)

    created, merge = read_jsonl(log)
    assert created["exists"] is True
    assert created["message"] == "first root"
    assert created["revision"] in Path(created["path"]).name
    assert Path(created["path"]) in before
    assert merge == {
        "path": str(merge_file),
        "exists": True,
        "revision": merge_revision,
        "message": "join roots",
    }


def test_include_object_false_keeps_a_table_out_of_autogenerate(project, migrate):
    project.write(
        "models.py",
        MODELS_V1 + 'Table("audit_log", metadata, Column("id", Integer, primary_key=True))\n',
    )
    project.write(
        "team_plugin.py",
        """
        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def include_object(name, type_):
            if type_ == "table" and name == "audit_log":
                return False
            return None
        """,
    )
    use_plugins(project, "team_plugin")

    result = migrate("create", "tables")

    assert result.exit_code == 0, result.output
    (revision_file,) = project.revision_files()
    source = revision_file.read_text()
    assert "create_table('users'" in source or 'create_table("users"' in source
    assert "audit_log" not in source


def test_process_revision_directives_can_rewrite_the_revision(project, migrate):
    project.write(
        "team_plugin.py",
        """
        from alembic.operations import ops

        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def process_revision_directives(directives):
            script = directives[0]
            script.message = "rewritten by team"
            script.upgrade_ops.ops.append(ops.ExecuteSQLOp("SELECT 42"))
        """,
    )
    use_plugins(project, "team_plugin")

    result = migrate("create", "original")

    assert result.exit_code == 0, result.output
    (revision_file,) = project.revision_files()
    source = revision_file.read_text()
    assert "rewritten by team" in source
    assert "original" not in source
    assert "SELECT 42" in source
    assert "create_table" in source


def test_process_revision_directives_emptying_the_list_writes_no_file(project, migrate):
    project.write(
        "team_plugin.py",
        """
        from migrations_cli.hookspecs import hookimpl


        @hookimpl
        def process_revision_directives(directives):
            directives[:] = []
        """,
    )
    use_plugins(project, "team_plugin")

    result = migrate("create", "users")

    assert result.exit_code == 0, result.output
    assert project.revision_files() == []
    assert result.stdout == ""


# --- --verbose -------------------------------------------------------------------------------


def test_failing_hook_shows_a_traceback_only_with_verbose(project, migrate):
    project.write("team_backup.py", FAILING_BEFORE_PLUGIN)
    use_plugins(project, "team_backup")
    assert migrate("create", "users").exit_code == 0

    quiet = migrate("upgrade")
    verbose = migrate("--verbose", "upgrade")

    assert quiet.exit_code == verbose.exit_code == 1
    assert "Traceback" not in quiet.output
    assert "Traceback" in verbose.stderr
    assert "backup failed" in verbose.stderr
    assert 'raise RuntimeError("backup failed")' in verbose.stderr
    assert "Traceback" not in verbose.stdout


def test_a_misspelt_hook_is_reported_and_the_plugin_refused(project, migrate):
    project.write(
        "team_guard.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def before_migrat(direction):
            raise RuntimeError("production is frozen")
        """,
    )
    use_plugins(project, "team_guard")

    result = migrate("heads")

    assert result.exit_code == 0
    assert "plugin 'team_guard' was not loaded" in result.stderr
    assert "unknown hook before_migrat (misspelt?)" in result.stderr


def test_two_plugins_adding_the_same_command_group_clash(project, migrate):
    for module, word in (("team_ga", "A"), ("team_gb", "B")):
        project.write(
            f"{module}.py",
            f"""
            import typer
            from migrations_cli.hookspecs import hookimpl

            db = typer.Typer(name="db")

            @db.command()
            def seed() -> None:
                typer.echo("{word} seed")

            @hookimpl
            def register_commands(app):
                app.add_typer(db)
            """,
        )
    use_plugins(project, "team_ga", "team_gb")

    result = migrate("db", "seed")

    assert result.exit_code == 1
    assert "command 'db' is registered by two plugins: 'team_ga' and 'team_gb'" in result.stderr


def test_a_plugin_exit_in_a_hook_keeps_its_exit_code(project, migrate):
    project.write(
        "team_stop.py",
        """
        import typer
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def before_migrate():
            typer.echo("change freeze: not migrating", err=True)
            raise typer.Exit(3)
        """,
    )
    use_plugins(project, "team_stop")
    migrate("create", "first")

    result = migrate("upgrade")

    assert result.exit_code == 3
    assert "change freeze" in result.stderr
    assert project.tables() == set()


def test_a_failing_after_revision_written_still_shows_the_written_file(project, migrate):
    project.write(
        "team_lint.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def after_revision_written(path):
            raise ValueError("lint failed")
        """,
    )
    use_plugins(project, "team_lint")

    result = migrate("create", "add x", "--empty")

    [written] = project.revision_files()
    assert result.exit_code == 1
    assert result.stdout.strip() == f"alembic/versions/{written.name}"
    assert "lint failed" in result.stderr
    assert f"the revision file alembic/versions/{written.name} was written" in result.stderr


def test_a_plugin_command_can_print_through_alembic(project, migrate):
    project.write(
        "team_history.py",
        """
        import typer
        from alembic import command
        from migrations_cli.core.context import get_context
        from migrations_cli.hookspecs import hookimpl

        def alembic_history(ctx: typer.Context) -> None:
            command.history(get_context(ctx).alembic_config)

        @hookimpl
        def register_commands(app):
            app.command()(alembic_history)
        """,
    )
    use_plugins(project, "team_history")
    migrate("create", "first revision", "--empty")

    result = migrate("alembic-history")

    assert result.exit_code == 0, result.output
    assert "first revision" in result.stdout


def test_configure_alembic_can_choose_the_database(project, migrate):
    elsewhere = project.root / "chosen.sqlite"
    project.write(
        "team_db.py",
        f"""
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def configure_alembic(config):
            config.set_main_option("sqlalchemy.url", "sqlite:///{elsewhere}")
        """,
    )
    project.write_env(MIGRATIONS_PLUGINS="team_db")  # and no DATABASE_URL at all
    migrate("create", "first", "--empty")

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert elsewhere.exists()
    assert not project.db_path.exists()
