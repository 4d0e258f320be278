"""`migrate init`, and projects set up for plain Alembic (alembic.ini, [tool.alembic], their
own env.py) working with `migrate` unchanged."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_process, table_names, versions_in
from test_commands import revision_of

from migrations_cli.core.config import build_alembic_config
from migrations_cli.core.errors import SettingsError
from migrations_cli.core.settings import load_settings
from migrations_cli.plugins.init import template_text

ALEMBIC_SCRIPT = str(Path(sys.executable).with_name("alembic"))
SCAFFOLD = REPO_ROOT / "migrations_cli" / "scaffold"
TEMPLATES = ("env.py", "script.py.mako")


@pytest.fixture
def bare(project):
    """The temporary project without .env or migrations folder: only models.py."""
    shutil.rmtree(project.root / "alembic")
    (project.root / ".env").unlink()
    return project


@pytest.fixture(scope="session")
def alembic_init_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `alembic init migrations` writes (alembic.ini and migrations/), made once."""
    folder = tmp_path_factory.mktemp("alembic_init")
    result = run_process([ALEMBIC_SCRIPT, "init", "migrations"], cwd=folder)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def alembic_project(project, alembic_init_files, _restore_logging):
    """A project made by plain `alembic init`: alembic.ini, its own env.py, no alembic/."""
    shutil.rmtree(project.root / "alembic")
    shutil.copy(alembic_init_files / "alembic.ini", project.root / "alembic.ini")
    shutil.copytree(alembic_init_files / "migrations", project.root / "migrations")
    return project


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    """The env.py of `alembic init` configures logging from alembic.ini (fileConfig); undo
    that after in-process runs, so no later test inherits its handlers."""
    loggers = [logging.root] + [
        found
        for found in logging.Logger.manager.loggerDict.values()
        if isinstance(found, logging.Logger)
    ]
    saved = [(lg, lg.level, lg.handlers[:], lg.propagate, lg.disabled) for lg in loggers]
    yield
    for lg, level, handlers, propagate, disabled in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.disabled = disabled


def env_example(project) -> str:
    return (project.root / ".env.example").read_text()


def add_to_upgrade(created, statement: str) -> None:
    """Put `statement` first in the upgrade() of the revision `migrate create` wrote."""
    path = Path(created.stdout.strip())
    marker = "def upgrade() -> None:\n"
    path.write_text(path.read_text().replace(marker, f"{marker}    {statement}\n"))


# --- migrate init -----------------------------------------------------------------------


def test_the_packaged_templates_are_the_repositorys_alembic_files():
    for name in TEMPLATES:
        repository_file = (REPO_ROOT / "alembic" / name).read_text()
        assert (SCAFFOLD / name).read_text() == repository_file, name
        assert template_text(name) == repository_file, name


def test_init_scaffolds_a_fresh_project_then_create_and_upgrade_work(
    bare, migrate_console, migrate
):
    result = migrate_console("init")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created  alembic/env.py",
        "created  alembic/script.py.mako",
        "created  alembic/versions/",
        "created  alembic.ini",
        "created  .env.example",
    ]
    assert result.stderr.splitlines() == [
        "Next steps:",
        "  1. copy .env.example to .env and set DATABASE_URL, MIGRATIONS_METADATA there",
        '  2. migrate create "Initial schema"',
        "  3. migrate upgrade",
    ]
    for name in TEMPLATES:
        assert (bare.root / "alembic" / name).read_text() == template_text(name)
    assert (bare.root / "alembic" / "versions").is_dir()
    assert "\nDATABASE_URL=\n" in env_example(bare)
    assert "\nMIGRATIONS_METADATA=\n" in env_example(bare)
    assert "MIGRATIONS_DIR" not in env_example(bare)

    bare.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata")
    created = migrate("create", "Initial schema")
    assert created.exit_code == 0, created.output
    [revision_file] = bare.revision_files()
    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"Upgraded base -> {revision_of(revision_file)} (1 revision).\n"
    assert bare.tables() == {"users"}


def test_init_twice_leaves_everything_alone_and_says_so(bare, migrate):
    migrate("init")
    (bare.root / "alembic" / "env.py").write_text("# the team's own\n")
    example = env_example(bare)

    result = migrate("init")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "exists   alembic/env.py (left alone)",
        "exists   alembic/script.py.mako (left alone)",
        "exists   alembic/versions/ (left alone)",
        "exists   alembic.ini (left alone)",
        "exists   .env.example (left alone)",
    ]
    assert (bare.root / "alembic" / "env.py").read_text() == "# the team's own\n"
    assert env_example(bare) == example


def test_init_completes_a_partial_folder(bare, migrate):
    bare.write("alembic/env.py", "# hand written\n")

    result = migrate("init")

    assert result.stdout.splitlines()[:3] == [
        "exists   alembic/env.py (left alone)",
        "created  alembic/script.py.mako",
        "created  alembic/versions/",
    ]
    assert (bare.root / "alembic" / "env.py").read_text() == "# hand written\n"


def test_init_keeps_existing_env_example_lines_and_adds_only_missing_keys(bare, migrate):
    original = "# our settings\nDATABASE_URL=postgresql://app@db/app\nexport SECRET_KEY=dev"
    bare.write(".env.example", original)

    result = migrate("init")

    assert result.exit_code == 0, result.output
    assert "updated  .env.example (added MIGRATIONS_METADATA)" in result.stdout.splitlines()
    text = env_example(bare)
    assert text.startswith(original + "\n\n# Import path of the models' MetaData")
    assert text.endswith("\nMIGRATIONS_METADATA=\n")
    assert text.count("DATABASE_URL=") == 1


def test_init_into_another_folder_names_it_in_the_alembic_ini_it_writes(project, migrate):
    (project.root / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite\n")

    result = migrate("init", "db/migrations")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [  # as docs/commands.md shows it
        "created  db/migrations/env.py",
        "created  db/migrations/script.py.mako",
        "created  db/migrations/versions/",
        "created  alembic.ini",
        "created  .env.example",
    ]
    # The alembic.ini names the folder, for `migrate` and plain alembic alike.
    assert "MIGRATIONS_DIR" not in env_example(project)
    assert "  1. set MIGRATIONS_METADATA in .env" in result.stderr
    assert migrate("create", "first", "--empty").stdout.startswith("db/migrations/versions/")
    heads = run_process([ALEMBIC_SCRIPT, "heads"], cwd=project.root)
    assert heads.exit_code == 0, heads.output


def test_init_into_another_folder_of_an_alembic_configured_project_adds_migrations_dir(
    project, migrate
):
    project.write("pyproject.toml", '[tool.alembic]\nscript_location = "%(here)s/alembic"\n')
    (project.root / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite\n")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DIR="db/migrations")

    result = migrate("init")

    assert result.exit_code == 0, result.output
    assert "exists   pyproject.toml (left alone)" in result.stdout.splitlines()
    assert "\nMIGRATIONS_DIR=db/migrations\n" in env_example(project)


def test_init_json_lists_each_file_with_what_was_done(bare, migrate):
    bare.write(".env.example", "DATABASE_URL=\n")

    result = migrate("init", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "migrations_dir": "alembic",
        "files": [
            {"path": "alembic/env.py", "status": "created"},
            {"path": "alembic/script.py.mako", "status": "created"},
            {"path": "alembic/versions", "status": "created"},
            {"path": "alembic.ini", "status": "created"},
            {"path": ".env.example", "status": "updated", "added": ["MIGRATIONS_METADATA"]},
        ],
    }


def test_init_refuses_a_folder_that_alembic_ini_would_override(alembic_project, migrate):
    result = migrate("init", "db")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: alembic.ini sets script_location to migrations, the folder `migrate` uses"
    )
    assert "nothing was written" in result.stderr
    assert not (alembic_project.root / "db").exists()
    assert not (alembic_project.root / ".env.example").exists()

    # Without a folder, init looks at the one alembic.ini names and keeps its env.py.
    own_env_py = (alembic_project.root / "migrations" / "env.py").read_text()
    kept = migrate("init")
    assert kept.exit_code == 0, kept.output
    assert kept.stdout.splitlines()[0] == "exists   migrations/env.py (left alone)"
    assert (alembic_project.root / "migrations" / "env.py").read_text() == own_env_py


def test_init_refuses_a_file_where_the_folder_should_be(bare, migrate):
    bare.write("alembic", "not a folder")

    result = migrate("init")

    assert result.exit_code == 1
    assert result.stderr == "error: alembic exists and is not a folder: nothing was written\n"
    assert not (bare.root / ".env.example").exists()


# --- projects set up for plain Alembic ---------------------------------------------------


def test_alembic_init_project_works_unchanged(alembic_project, migrate, database_url):
    """Its alembic.ini and its own env.py, untouched; .env supplies the URL."""
    alembic_project.write_env(DATABASE_URL=database_url)
    first_file = migrate("create", "Users", "--empty")
    second_file = migrate("create", "Second", "--empty")
    assert first_file.stdout.startswith("migrations/versions/"), first_file.output
    first, second = (revision_of(Path(r.stdout.strip())) for r in (first_file, second_file))
    add_to_upgrade(
        first_file, "op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))"
    )

    upgraded = migrate("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"Upgraded base -> {second} (2 revisions).\n"
    assert versions_in(database_url) == {second}
    assert table_names(database_url) == {"users"}
    assert migrate("heads").stdout == f"{second} (head)  Second\n"
    downgraded = migrate("downgrade")
    assert downgraded.stdout == f"Downgraded {second} -> {first} (1 revision).\n"
    assert versions_in(database_url) == {first}
    assert migrate("upgrade").stdout == f"Upgraded {first} -> {second} (1 revision).\n"
    assert migrate("upgrade").stdout == f"Already at {second}: nothing to upgrade.\n"


def test_alembic_init_project_through_the_console_script(alembic_project, migrate_console):
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    created = migrate_console("create", "First", "--empty")
    revision = revision_of(Path(created.stdout.strip()))

    upgraded = migrate_console("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"Upgraded base -> {revision} (1 revision).\n"
    # The project's alembic.ini logging shows Alembic's own progress, once.
    assert upgraded.stderr.count("Running upgrade  -> " + revision) == 1
    assert upgraded.stderr.count("Context impl SQLiteImpl") == 1
    assert alembic_project.versions_in_db() == {revision}


def test_alembic_init_project_without_database_url_says_so(alembic_project, migrate):
    alembic_project.write_env()
    migrate("create", "First", "--empty")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: DATABASE_URL is not set: add it to {alembic_project.root / '.env'} "
        "or the environment\n"
    )


def test_alembic_ini_url_is_used_without_database_url_and_loses_to_it(alembic_project, migrate):
    ini = alembic_project.root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "sqlalchemy.url = driver://user:pass@localhost/dbname",
            "sqlalchemy.url = sqlite:///%(here)s/from_ini.sqlite",
        )
    )
    alembic_project.write_env()
    migrate("create", "First", "--empty")

    assert migrate("upgrade").exit_code == 0
    assert (alembic_project.root / "from_ini.sqlite").is_file()

    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.startswith("Upgraded base -> ")
    assert alembic_project.db_path.is_file()


def test_own_env_py_failure_says_where_the_database_is(alembic_project, migrate):
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    first = revision_of(Path(migrate("create", "First", "--empty").stdout.strip()))
    broken = migrate("create", "Broken", "--empty")
    add_to_upgrade(broken, "raise RuntimeError('boom')")
    migrate("upgrade", first)

    result = migrate("upgrade")

    assert result.exit_code == 1
    # (Before it, Alembic's log lines: the project's alembic.ini turns them on.)
    assert result.stderr.splitlines()[-1] == (
        f"error: upgrade stopped in revision {revision_of(Path(broken.stdout.strip()))}: "
        "unexpected RuntimeError: boom "
        f"(the database is at {first}; it was at {first})"
    )


def test_lifecycle_hooks_run_around_a_projects_own_env_py(alembic_project, migrate):
    alembic_project.write(
        "team_audit.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def before_migrate(direction, current, target):
            print("before", direction, current, target)

        @hookimpl
        def after_migrate(direction, previous, current, revisions):
            print("after", direction, previous, current, revisions)
        """,
    )
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="team_audit")
    revision = revision_of(Path(migrate("create", "First", "--empty").stdout.strip()))

    result = migrate("upgrade")

    assert result.stdout.splitlines() == [
        "before upgrade () head",
        f"after upgrade () ('{revision}',) ('{revision}',)",
        f"Upgraded base -> {revision} (1 revision).",
    ]


def test_alembic_ini_options_apply(alembic_project, migrate):
    ini = alembic_project.root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "[alembic]\n", "[alembic]\nfile_template = %%(rev)s_ini_%%(slug)s\n"
        )
    )
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    result = migrate("create", "Named by the ini", "--empty")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("_ini_named_by_the_ini.py")


def test_pyproject_script_location_is_used_without_migrations_dir(project, migrate):
    shutil.move(project.root / "alembic", project.root / "db" / "migrations")
    project.write(
        "pyproject.toml",
        """
        [tool.alembic]
        script_location = "%(here)s/db/migrations"
        """,
    )

    created = migrate("create", "Add users table")
    upgraded = migrate("upgrade")

    assert created.stdout.startswith("db/migrations/versions/"), created.output
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users"}


def test_pyproject_template_project_works_unchanged(project, migrate, _restore_logging):
    shutil.rmtree(project.root / "alembic")
    made = run_process([ALEMBIC_SCRIPT, "init", "-t", "pyproject", "migs"], cwd=project.root)
    assert made.exit_code == 0, made.output
    migrate("create", "First", "--empty")

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Upgraded base -> ")
    assert len(list((project.root / "migs" / "versions").glob("*.py"))) == 1


# --- where the migrations are --------------------------------------------------------------


def test_alembic_ini_script_location_with_here_and_relative(project):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/one\n")
    assert load_settings().migrations_dir == project.root.resolve() / "one"

    project.write("alembic.ini", "[alembic]\nscript_location = two\n")
    assert load_settings().migrations_dir == project.root.resolve() / "two"


def test_alembic_ini_wins_over_pyproject_and_migrations_dir_over_both(project):
    project.write("pyproject.toml", '[tool.alembic]\nscript_location = "%(here)s/toml"\n')
    assert load_settings().migrations_dir == project.root.resolve() / "toml"

    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/ini\n")
    assert load_settings().migrations_dir == project.root.resolve() / "ini"

    project.write_env(MIGRATIONS_DIR="alembic")
    assert load_settings().migrations_dir == project.root.resolve() / "alembic"


def test_a_broken_alembic_ini_is_one_clear_error(project):
    project.write("alembic.ini", "script_location = nowhere\n")

    with pytest.raises(SettingsError, match=r"alembic.ini: cannot read script_location"):
        load_settings()


def test_database_url_overrides_the_ini_url_in_the_config(project):
    project.write("alembic.ini", "[alembic]\nsqlalchemy.url = sqlite:///ini.db\nfoo = bar\n")

    config = build_alembic_config(load_settings())

    assert config.get_main_option("sqlalchemy.url") == load_settings().database_url
    assert config.get_main_option("foo") == "bar"
    assert config.config_file_name == str(project.root / "alembic.ini")


def test_an_env_py_that_only_mentions_our_module_gets_a_true_summary(alembic_project, migrate):
    env_py = alembic_project.root / "migrations" / "env.py"
    env_py.write_text(env_py.read_text() + "\n# (not migrations_cli.environment: ours)\n")
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    revision = revision_of(Path(migrate("create", "First", "--empty").stdout.strip()))

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Upgrade finished: the database is at {revision}.\n"
