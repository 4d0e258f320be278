"""What a user really runs: the console script, `python -m`, migrate.py, and plain alembic."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from conftest import MIGRATE_SCRIPT, MODELS_V2, REPO_ROOT, SETTING_NAMES, run_process

from migrations_cli.core.plugin_manager import DEFAULT_PLUGINS

ALEMBIC_SCRIPT = str(Path(sys.executable).with_name("alembic"))

PYPROJECT_WITH_ALEMBIC = """
[tool.alembic]
script_location = "%(here)s/alembic"
file_template = "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
prepend_sys_path = ["%(here)s"]
"""


def test_help_lists_every_built_in_command(migrate_console):
    result = migrate_console("--help")

    assert result.exit_code == 0
    listed = set(re.findall(r"^│ (\w+) ", result.stdout, re.M))
    assert listed == {module.rsplit(".", 1)[1] for module in DEFAULT_PLUGINS}


def test_the_whole_scenario_through_the_console_script(project, migrate_console):
    created = migrate_console("create", "Add users table")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("alembic/versions/")
    assert "Review it" in created.stderr

    upgraded = migrate_console("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users"}

    project.write("models.py", MODELS_V2)
    assert migrate_console("create", "Add teams table").exit_code == 0
    assert migrate_console("upgrade", "+1").exit_code == 0
    assert project.tables() == {"users", "teams"}

    heads = migrate_console("heads")
    assert heads.exit_code == 0 and "Add teams table" in heads.stdout

    downgraded = migrate_console("downgrade")
    assert downgraded.exit_code == 0, downgraded.output
    assert project.tables() == {"users"}

    merged = migrate_console("merge")
    assert merged.exit_code == 0 and "nothing to merge" in merged.stderr

    empty = migrate_console("create", "Backfill", "--empty")
    assert empty.exit_code == 0 and "backfill" in empty.stdout


def test_exit_codes_of_the_console_script(project, migrate_console):
    assert migrate_console("upgrade", "nosuchrevision").exit_code == 1
    assert migrate_console("no-such-command").exit_code == 2
    assert migrate_console("create").exit_code == 2  # missing MESSAGE


def test_python_dash_m_is_the_same_command(project):
    result = run_process([sys.executable, "-m", "migrations_cli", "heads"], cwd=project.root)

    assert result.exit_code == 0
    assert "No revisions yet" in result.stderr


def test_migrate_py_helper_from_the_project_root(project):
    shutil.copy(REPO_ROOT / "migrate.py", project.root / "migrate.py")

    created = run_process(
        [sys.executable, "migrate.py", "create", "Add users table"], cwd=project.root
    )
    upgraded = run_process([sys.executable, "migrate.py", "upgrade"], cwd=project.root)

    assert created.exit_code == 0, created.output
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users"}


def test_help_does_not_import_sqlalchemy_or_alembic(project):
    probe = (
        "import sys; from migrations_cli.core.cli import main; code = main(['--help']); "
        "print(code, sorted(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))"
    )

    result = run_process([sys.executable, "-c", probe], cwd=project.root)

    assert result.stdout.strip().splitlines()[-1] == "0 []"


def test_plain_alembic_works_in_the_same_project(project, migrate_console):
    project.write("pyproject.toml", PYPROJECT_WITH_ALEMBIC)
    alembic = ALEMBIC_SCRIPT

    generated = run_process(
        [alembic, "revision", "--autogenerate", "-m", "Add users table"], cwd=project.root
    )
    assert generated.exit_code == 0, generated.output
    [written] = project.revision_files()
    assert "-" in written.name and written.name.endswith("_add_users_table.py")

    upgraded = run_process([alembic, "upgrade", "head"], cwd=project.root)
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users"}

    # Autogenerate that finds nothing writes nothing under plain alembic too.
    noop = run_process([alembic, "revision", "--autogenerate", "-m", "noop"], cwd=project.root)
    assert noop.exit_code == 0, noop.output
    assert len(project.revision_files()) == 1

    heads = run_process([alembic, "heads"], cwd=project.root)
    assert heads.exit_code == 0
    assert migrate_console("heads").stdout.split()[0] == heads.stdout.split()[0]


def test_plain_alembic_reports_our_errors_as_alembic_does(project):
    project.write("pyproject.toml", PYPROJECT_WITH_ALEMBIC)
    project.write_env(MIGRATIONS_METADATA="models:metadata")
    alembic = ALEMBIC_SCRIPT

    result = run_process([alembic, "upgrade", "head"], cwd=project.root)

    assert result.exit_code != 0
    assert "FAILED: DATABASE_URL is not set" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_plain_alembic_upgrade_does_not_import_the_models(project, migrate):
    project.write("pyproject.toml", PYPROJECT_WITH_ALEMBIC)
    migrate("create", "Add users table")
    project.write("models.py", "raise RuntimeError('SECRET_KEY is not set')\n")

    result = run_process([ALEMBIC_SCRIPT, "upgrade", "head"], cwd=project.root)

    assert result.exit_code == 0, result.output
    assert project.tables() == {"users"}


def test_verbose_shows_alembics_log(project, migrate_console):
    migrate_console("create", "Add users table")

    quiet = migrate_console("upgrade", "head")
    migrate_console("downgrade", "base")
    verbose = migrate_console("--verbose", "upgrade")

    assert "Running upgrade" not in quiet.stderr
    assert "INFO [alembic.runtime.migration] Running upgrade" in verbose.stderr


def test_migrate_from_a_subfolder_uses_the_projects_env(project, migrate_console):
    (project.root / "src" / "deep").mkdir(parents=True)
    migrate_console("create", "Add users table")

    result = migrate_console("upgrade", cwd=project.root / "src" / "deep")

    assert result.exit_code == 0, result.output
    assert project.tables() == {"users"}
    assert not (project.root / "src" / "deep" / "db.sqlite").exists()


def test_revision_arguments_complete_with_known_revision_ids(project, migrate_console):
    first = migrate_console("create", "Add users table").stdout.strip()
    revision = re.search(r"-([0-9a-f]{12})_", first)[1]

    completed = migrate_console(
        env={"_MIGRATE_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "migrate upgrade "}
    )

    assert completed.exit_code == 0, completed.output
    assert f'"{revision}":"Add users table"' in completed.stdout
    assert '"head":' in completed.stdout and '"base":' in completed.stdout


def run_on_a_terminal(project, *args: str, env: dict[str, str]) -> str:
    """stdout and stderr of the console script as a terminal receives them."""
    import os
    import pty
    import subprocess

    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in (*SETTING_NAMES, "NO_COLOR")}
    environment.update(env)
    with subprocess.Popen(
        [str(MIGRATE_SCRIPT), *args],
        cwd=project.root,
        env=environment,
        stdout=terminal,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(controller)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color_is_set(project, migrate_console):
    migrate_console("create", "Add users table")

    coloured = run_on_a_terminal(project, "status", env={})
    plain = run_on_a_terminal(project, "status", env={"NO_COLOR": "1"})
    piped = migrate_console("status")

    assert "\x1b[" in coloured and "pending" in coloured
    assert "\x1b[" not in plain and "pending" in plain
    assert "\x1b[" not in piped.output


def test_a_run_of_several_revisions_prints_a_timed_line_for_each(project, migrate_console):
    migrate_console("create", "First", "--empty")
    migrate_console("create", "Second", "--empty")

    upgraded = migrate_console("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    lines = upgraded.stderr.splitlines()
    assert [
        re.match(r"  applied  [0-9a-f]{12} +\d+\.\d\ds  (\w+)$", line)[1] for line in lines
    ] == [
        "First",
        "Second",
    ]
