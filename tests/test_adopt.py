"""Adopting an existing Alembic project: its own env.py (as `alembic init` writes it) gets
what migrations-cli's gives (a line per revision, checksums, warnings, hooks), one rule for
the database URL and for the models, and `.env` keys in the process environment."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import MODELS_V1, MODELS_V2, REPO_ROOT, run_process
from test_checksums import drop_checksum_table, recorded_rows
from test_commands import revision_of
from test_init import (  # (fixtures among them)
    ALEMBIC_SCRIPT,
    _restore_logging,
    add_to_upgrade,
    alembic_init_files,
    alembic_project,
)

CREATE_USERS = "op.create_table('users', sa.Column('id', sa.Integer, primary_key=True))"


def created(migrate, message: str) -> tuple[str, object]:
    result = migrate("create", message, "--empty")
    assert result.exit_code == 0, result.output
    return revision_of(Path(result.stdout.strip())), result


@pytest.fixture
def two_revisions(alembic_project, migrate, database_url):
    """The `alembic init` project on the test database, with two revisions: users, then
    nothing."""
    alembic_project.write_env(DATABASE_URL=database_url)
    first, first_file = created(migrate, "Users")
    add_to_upgrade(first_file, CREATE_USERS)
    second, _ = created(migrate, "Second")
    return first, second


def test_own_env_py_upgrade_prints_each_revision_and_records_checksums(
    two_revisions,
    alembic_project,
    migrate,
    database_url,
):
    first, second = two_revisions

    upgraded = migrate("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"Upgraded base -> {second} (2 revisions).\n"
    progress = [line.split() for line in upgraded.stderr.splitlines() if "applied" in line]
    assert [(words[0], words[1], words[3:]) for words in progress] == [
        ("applied", first, ["Users"]),
        ("applied", second, ["Second"]),
    ]
    assert set(recorded_rows(database_url)) == {first, second}
    report = migrate("checksums")
    assert report.exit_code == 0, report.output
    assert "no checksum yet" not in report.output
    assert [line.split()[0] for line in report.stdout.splitlines()[1:]] == ["ok", "ok"]

    downgraded = migrate("downgrade")
    assert downgraded.exit_code == 0, downgraded.output
    assert f"reverted {second}" in " ".join(downgraded.stderr.split())
    assert set(recorded_rows(database_url)) == {first}


def test_own_env_py_upgrade_warns_about_an_edited_applied_migration(
    two_revisions,
    alembic_project,
    migrate,
):
    first, _ = two_revisions
    migrate("upgrade", first)
    [path] = (alembic_project.root / "migrations" / "versions").glob(f"*{first}*.py")
    path.write_text(path.read_text().replace(CREATE_USERS, CREATE_USERS + "\n    pass"))

    upgraded = migrate("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert f"applied migration edited since it was applied: {first}" in upgraded.stderr
    assert migrate("checksums").exit_code == 1


def test_own_env_py_revisions_applied_by_plain_alembic_get_their_rows_next_upgrade(
    two_revisions, migrate, database_url
):
    """What `checksums` promises for revisions without a row ("the next `migrate upgrade`
    records them") holds under a project's own env.py."""
    first, second = two_revisions
    assert migrate("upgrade", first).exit_code == 0
    drop_checksum_table(database_url)
    promised = migrate("checksums")
    assert "the next `migrate upgrade` records them" in promised.output

    upgraded = migrate("upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert f"recorded checksums of 1 revision applied without them: {first}" in upgraded.stderr
    assert set(recorded_rows(database_url)) == {first, second}


# --- one rule for the database URL ------------------------------------------------------


def ini_url(project, url: str) -> None:
    ini = project.root / "alembic.ini"
    placeholder = "sqlalchemy.url = driver://user:pass@localhost/dbname"
    ini.write_text(ini.read_text().replace(placeholder, f"sqlalchemy.url = {url}"))


def test_doctor_passes_with_the_url_of_alembic_ini_and_says_so(alembic_project, migrate):
    ini_url(alembic_project, "sqlite:///%(here)s/from_ini.sqlite")
    alembic_project.write_env()
    created(migrate, "First")
    assert migrate("upgrade").exit_code == 0

    result = migrate("doctor", "--json")

    assert result.exit_code == 0, result.output
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["settings"]["status"] == "ok"
    ini_path = alembic_project.root / "alembic.ini"
    assert checks["settings"]["message"].endswith(
        f"; database URL sqlalchemy.url=sqlite:///{alembic_project.root}/from_ini.sqlite "
        f"(from {ini_path})"
    )
    assert checks["database"]["status"] == "ok"


def test_database_url_wins_over_alembic_ini_and_the_option_over_both(
    alembic_project,
    migrate,
    monkeypatch,
):
    ini_url(alembic_project, "sqlite:///%(here)s/from_ini.sqlite")
    alembic_project.write_env(DATABASE_URL="sqlite:///from_env_file.sqlite")
    created(migrate, "First")

    assert migrate("upgrade").exit_code == 0
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from_environment.sqlite")
    assert migrate("upgrade").exit_code == 0
    assert migrate("--database-url", "sqlite:///from_option.sqlite", "upgrade").exit_code == 0

    made = sorted(path.name for path in alembic_project.root.glob("*.sqlite"))
    assert made == ["from_env_file.sqlite", "from_environment.sqlite", "from_option.sqlite"]
    doctor = migrate("--database-url", "sqlite:///from_option.sqlite", "doctor", "--json")
    settings = json.loads(doctor.stdout)["checks"][0]
    assert "DATABASE_URL=sqlite:///" in settings["message"]
    assert "from_option.sqlite (from --database-url)" in settings["message"]


# --- .env in the process environment ----------------------------------------------------

APP_SETTINGS_MODELS = """
import os

from sqlalchemy import Column, Integer, MetaData, Table

SECRET_KEY = os.environ["SECRET_KEY"]  # as an application's settings module reads it
metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True))
"""


def test_env_file_keys_reach_the_models_import_without_overriding_the_environment(
    project, migrate, monkeypatch
):
    project.write(
        "models.py",
        APP_SETTINGS_MODELS
        + "open('seen.txt', 'w').write(SECRET_KEY + ' ' + os.environ['ORIGIN'])\n",
    )
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        SECRET_KEY="from-env-file",
        ORIGIN="env-file",
    )
    monkeypatch.setenv("ORIGIN", "environment")

    result = migrate("create", "Users")

    assert result.exit_code == 0, result.output
    assert (project.root / "seen.txt").read_text() == "from-env-file environment"
    assert "SECRET_KEY" not in os.environ  # (taken out again after the in-process run)
    doctor = json.loads(migrate("doctor", "--json").stdout)["checks"][0]
    assert "(from the environment)" not in doctor["message"]


def test_env_file_keys_reach_the_models_under_plain_alembic(project):
    project.write("models.py", APP_SETTINGS_MODELS)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        SECRET_KEY="from-env-file",
    )
    (project.root / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/alembic"\n'
    )

    result = run_process(
        [ALEMBIC_SCRIPT, "revision", "--autogenerate", "-m", "users"], project.root
    )

    assert result.exit_code == 0, result.output
    assert len(project.revision_files()) == 1


# --- one rule for the models; check and create through env.py -----------------------------

# What an env.py adds to keep a table out of autogenerate (the legacy table no model has).
ENV_PY_INCLUDE_OBJECT = """
def include_object(object, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "legacy")
"""


def env_py_with(project, *, metadata: bool, include_object: bool = False) -> None:
    """The `alembic init` env.py, giving Alembic the models (as `target_metadata`) and an
    include_object, as teams edit it."""
    env_py = project.root / "migrations" / "env.py"
    text = env_py.read_text()
    if metadata:
        text = text.replace(
            "target_metadata = None", "import models\ntarget_metadata = models.metadata"
        )
    if include_object:
        text = text.replace(
            "def run_migrations_offline", ENV_PY_INCLUDE_OBJECT + "\n\ndef run_migrations_offline"
        )
        text = text.replace(
            "connection=connection, target_metadata=target_metadata",
            "connection=connection, target_metadata=target_metadata, include_object=include_object",
        )
    env_py.write_text(text)


def operations(path: Path) -> list[str]:
    """The op.* calls of a revision file's upgrade(), in order."""
    upgrade = path.read_text().split("def upgrade()")[1].split("def downgrade()")[0]
    return re.findall(r"op\.(\w+)\(", upgrade)


def test_create_autogenerates_from_env_py_target_metadata(alembic_project, migrate):
    """No MIGRATIONS_METADATA: the models are what env.py gives Alembic."""
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    env_py_with(alembic_project, metadata=True)

    result = migrate("create", "Users")

    assert result.exit_code == 0, result.output
    assert operations(Path(result.stdout.strip())) == ["create_table"]
    doctor = {
        check["name"]: check for check in json.loads(migrate("doctor", "--json").stdout)["checks"]
    }
    assert doctor["metadata"]["message"] == "env.py's target_metadata: 1 table(s): users"


def test_migrations_metadata_wins_over_an_env_py_without_models(alembic_project, migrate):
    """MIGRATIONS_METADATA set, env.py's target_metadata None: `check` and `create` agree."""
    alembic_project.write_env(
        DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata"
    )
    first = migrate("create", "Users")
    assert first.exit_code == 0, first.output
    assert operations(Path(first.stdout.strip())) == ["create_table"]
    assert migrate("upgrade").exit_code == 0
    alembic_project.write("models.py", MODELS_V2)

    checked = migrate("check")
    created_file = migrate("create", "Teams")

    assert checked.exit_code == 1
    assert checked.stdout == "table added: teams\n"
    assert created_file.exit_code == 0, created_file.output
    assert operations(Path(created_file.stdout.strip())) == ["create_table"]


def test_check_and_create_apply_env_pys_include_object_and_leave_out_the_tools_tables(
    alembic_project, migrate
):
    alembic_project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    env_py_with(alembic_project, metadata=True, include_object=True)
    assert migrate("create", "Users").exit_code == 0
    assert migrate("upgrade").exit_code == 0  # (records checksums: migrate's own table)
    import sqlite3

    with sqlite3.connect(alembic_project.root / "db.sqlite") as connection:
        connection.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY)")

    checked = migrate("check")
    created_file = migrate("create", "Nothing changed")

    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("No differences")
    assert created_file.exit_code == 0, created_file.output
    assert created_file.stdout == ""
    assert "no revision written" in created_file.stderr


CONFIGURE_OPTIONS_PLUGIN = """
from migrations_cli.hookspecs import hookimpl


def include_name(name, type_, parent_names):
    return not (type_ == "table" and name.startswith("legacy"))


@hookimpl
def configure_options(config, settings):
    return {"include_name": include_name}
"""


@pytest.mark.parametrize("own_env_py", [True, False])
def test_a_plugins_configure_options_reach_either_env_py(project, migrate, own_env_py, request):
    if own_env_py:
        project = request.getfixturevalue("alembic_project")
        env_py_with(project, metadata=True)
    project.write("ignore_legacy.py", CONFIGURE_OPTIONS_PLUGIN)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="ignore_legacy",
    )
    assert migrate("create", "Users").exit_code == 0
    assert migrate("upgrade").exit_code == 0
    import sqlite3

    with sqlite3.connect(project.root / "db.sqlite") as connection:
        connection.execute("CREATE TABLE legacy_orders (id INTEGER PRIMARY KEY)")

    checked = migrate("check")

    assert checked.exit_code == 0, checked.output


@pytest.mark.parametrize("own_env_py", [True, False])
def test_the_guides_configure_options_example_works(project, migrate, own_env_py, request):
    guide = (REPO_ROOT / "docs" / "plugins.md").read_text()
    example = re.search(r"\(`team_autogenerate.py`\):\n\n```python\n(.*?)```", guide, re.S)[1]
    if own_env_py:
        project = request.getfixturevalue("alembic_project")
        env_py_with(project, metadata=True)
    project.write("team_autogenerate.py", example)
    project.write("models.py", MODELS_V1.replace("String(50))", 'String(50), server_default="x")'))
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="team_autogenerate",
    )
    import sqlite3

    with sqlite3.connect(project.root / "db.sqlite") as connection:
        connection.execute("CREATE TABLE legacy_orders (id INTEGER PRIMARY KEY)")
    assert migrate("create", "Users").exit_code == 0
    assert migrate("upgrade").exit_code == 0
    project.write("models.py", MODELS_V1.replace("String(50))", 'String(50), server_default="y")'))

    checked = migrate("check")

    assert checked.exit_code == 1, checked.output
    assert checked.stdout == "column server default changed: users.name 'x' -> y\n"


def test_doctor_does_not_claim_unchanged_files_without_checksums(
    two_revisions, migrate, database_url
):
    """A database migrated without checksums (plain alembic, or before they were kept):
    doctor says the files were not checked, rather than that they are unchanged."""
    assert migrate("upgrade").exit_code == 0
    drop_checksum_table(database_url)

    checks = {c["name"]: c for c in json.loads(migrate("doctor", "--json").stdout)["checks"]}

    assert checks["checksums"]["message"] == (
        "no checksum recorded yet: 2 applied before checksums were kept, not checked "
        "(the next `migrate upgrade` records them)"
    )
    assert migrate("upgrade").exit_code == 0
    checks = {c["name"]: c for c in json.loads(migrate("doctor", "--json").stdout)["checks"]}
    assert checks["checksums"]["message"] == "2 applied migration file(s) unchanged in code"
