"""`migrate verify`: the stairway (up, down, up per revision) on a scratch database, the models
at head and the single head; what it prints, how it exits, and that it never touches the
project's own database."""

from __future__ import annotations

import json
import re
import tempfile

import pytest
from conftest import CREATE_TEAMS, CREATE_USERS, MODELS_V2, table_names

USERS = "aaaa11111111"
TEAMS = "bbbb22222222"
INDEX = "cccc33333333"
OTHER = "dddd44444444"
MERGE = "eeee55555555"

MODELS_INDEXED = (
    MODELS_V2
    + """
from sqlalchemy import Index

Index("ix_users_name", metadata.tables["users"].c.name)
"""
)
# A line per revision: result, id, seconds, message or problem.
STEP = re.compile(r"^(ok|FAIL)  +(\w+)  \d+\.\d\ds  (.*)$")


def write_revision(project, revision, down_revision, upgrade, downgrade, message):
    project.write_revision(
        revision,
        down_revision,
        upgrade=upgrade,
        downgrade=downgrade,
        message=message,
        file_name=f"{revision}.py",
    )


def write_good_history(project):
    write_revision(project, USERS, None, CREATE_USERS, 'op.drop_table("users")', "Add users")
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, 'op.drop_table("teams")', "Add teams")
    write_revision(
        project,
        INDEX,
        TEAMS,
        'op.create_index("ix_users_name", "users", ["name"])',
        'op.drop_index("ix_users_name", table_name="users")',
        "Index users.name",
    )
    project.write("models.py", MODELS_INDEXED)


def steps(stdout):
    """(result, revision, rest) for each revision line."""
    return [match.groups() for line in stdout.splitlines() if (match := STEP.match(line))]


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_args(request):
    """How verify is told its scratch database: nothing (a temporary SQLite file) or
    --scratch-url naming an empty PostgreSQL database."""
    if request.param == "sqlite":
        return []
    return ["--scratch-url", request.getfixturevalue("postgresql_url")]


def test_a_good_history_passes(project, migrate, scratch_args):
    write_good_history(project)
    result = migrate("verify", *scratch_args)
    assert result.exit_code == 0, result.output
    assert steps(result.stdout) == [
        ("ok", USERS, "Add users"),
        ("ok", TEAMS, "Add teams"),
        ("ok", INDEX, "Index users.name"),
    ]
    assert result.stdout.splitlines()[3:] == [
        "heads  ok (one head)",
        "models ok (match the schema at head)",
        "verify: 3 revisions ok",
    ]
    assert not project.db_path.exists()  # DATABASE_URL's database was never opened


def test_a_downgrade_that_leaves_an_index_behind_fails(project, migrate, scratch_args):
    write_good_history(project)
    write_revision(
        project,
        INDEX,
        TEAMS,
        'op.create_index("ix_users_name", "users", ["name"])',
        "pass",
        "Index users.name",
    )
    result = migrate("verify", *scratch_args)
    assert result.exit_code == 1
    problem = "downgrade left index users.ix_users_name behind"
    assert steps(result.stdout) == [
        ("ok", USERS, "Add users"),
        ("ok", TEAMS, "Add teams"),
        ("FAIL", INDEX, problem),
    ]
    assert "models skipped (the stairway failed)" in result.stdout
    assert result.stdout.splitlines()[-1] == f"verify failed: revision {INDEX}: {problem}"
    assert not project.db_path.exists()


def test_a_downgrade_that_raises_fails_naming_its_revision(project, migrate, scratch_args):
    write_good_history(project)
    write_revision(
        project, TEAMS, USERS, CREATE_TEAMS, 'raise RuntimeError("cannot undo")', "Add teams"
    )
    result = migrate("verify", *scratch_args)
    assert result.exit_code == 1
    problem = "downgrade failed: unexpected RuntimeError: cannot undo"
    assert steps(result.stdout) == [("ok", USERS, "Add users"), ("FAIL", TEAMS, problem)]
    assert result.stdout.splitlines()[-1] == f"verify failed: revision {TEAMS}: {problem}"


def test_a_downgrade_that_drops_too_much_fails(project, migrate):
    write_good_history(project)
    write_revision(
        project,
        INDEX,
        TEAMS,
        'op.create_index("ix_users_name", "users", ["name"])',
        'op.drop_index("ix_users_name", table_name="users")\nop.drop_table("teams")',
        "Index users.name",
    )
    result = migrate("verify")
    assert result.exit_code == 1
    assert ("FAIL", INDEX, "downgrade removed table teams") in steps(result.stdout)


def test_a_model_change_without_a_migration_fails(project, migrate, scratch_args):
    write_good_history(project)
    project.write(
        "models.py", MODELS_INDEXED.replace("String(80)", "String(80)), Column('x', Integer")
    )
    result = migrate("verify", *scratch_args)
    assert result.exit_code == 1
    assert [step[0] for step in steps(result.stdout)] == ["ok", "ok", "ok"]
    lines = result.stdout.splitlines()
    assert lines[4:6] == ["models FAIL 1 difference at head:", "  column added: teams.x INTEGER"]
    assert lines[-1].startswith("verify failed: the models differ from the migrations at head")


def test_two_heads_fail(project, migrate):
    write_good_history(project)
    write_revision(project, OTHER, USERS, "pass", "pass", "Another branch")
    result = migrate("verify")
    assert result.exit_code == 1
    # Each revision after the ones it depends on; the branch is stepped like the rest.
    assert [step[:2] for step in steps(result.stdout)] == [
        ("ok", USERS),
        ("ok", OTHER),
        ("ok", TEAMS),
        ("ok", INDEX),
    ]
    heads_line = f"heads  FAIL 2 heads ({INDEX}, {OTHER}): merge them"
    assert heads_line in result.stdout.splitlines()
    assert "models skipped (more than one head)" in result.stdout
    assert (
        result.stdout.splitlines()[-1] == f"verify failed: 2 heads ({INDEX}, {OTHER}): merge them"
    )


def test_branches_and_their_merge_are_stepped_one_revision_at_a_time(project, migrate):
    """A downgrade of one branch's revision leaves the other branch applied."""
    write_good_history(project)
    write_revision(
        project,
        OTHER,
        USERS,
        'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("tags")',
        "Add tags",
    )
    write_revision(project, MERGE, (INDEX, OTHER), "pass", "pass", "Merge")
    project.write(
        "models.py",
        MODELS_INDEXED + '\nTable("tags", metadata, Column("id", Integer, primary_key=True))\n',
    )
    result = migrate("verify")
    assert result.exit_code == 0, result.output
    assert sorted(step[1] for step in steps(result.stdout)) == [USERS, TEAMS, INDEX, OTHER, MERGE]
    assert steps(result.stdout)[-1] == ("ok", MERGE, "Merge")
    assert result.stdout.splitlines()[-1] == "verify: 5 revisions ok"


def test_from_steps_only_the_newer_revisions(project, migrate):
    write_good_history(project)
    result = migrate("verify", "--from", USERS)
    assert result.exit_code == 0, result.output
    assert re.match(rf"^setup  upgraded to {USERS}  \d+\.\d\ds$", result.stdout.splitlines()[0])
    assert steps(result.stdout) == [("ok", TEAMS, "Add teams"), ("ok", INDEX, "Index users.name")]
    assert result.stdout.splitlines()[-1] == "verify: 2 revisions ok"


def test_from_an_unknown_revision_is_a_usage_error(project, migrate):
    write_good_history(project)
    result = migrate("verify", "--from", "nope")
    assert result.exit_code == 2
    assert "--from nope" in result.stderr


def test_without_metadata_the_models_are_skipped(project, migrate):
    write_good_history(project)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    result = migrate("verify")
    assert result.exit_code == 0, result.output
    assert "models skipped: MIGRATIONS_METADATA not set" in result.stdout.splitlines()


def test_refuses_a_scratch_database_that_is_not_empty(project, migrate, postgresql_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(postgresql_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE precious (id integer)"))
    engine.dispose()
    write_good_history(project)
    result = migrate("verify", "--scratch-url", postgresql_url)
    assert result.exit_code == 1
    assert "is not empty (tables: precious)" in result.stderr
    assert "verify needs an empty database" in result.stderr
    assert table_names(postgresql_url) == {"precious"}
    assert result.stdout == ""


@pytest.mark.parametrize(
    "scratch", ["sqlite:///db.sqlite", "sqlite:///{root}/db.sqlite", "sqlite+pysqlite:///db.sqlite"]
)
def test_refuses_the_project_database(project, migrate, scratch):
    write_good_history(project)
    result = migrate("verify", "--scratch-url", scratch.format(root=project.root))
    assert result.exit_code == 1
    assert "the scratch database is the project's database (DATABASE_URL)" in result.stderr
    assert not project.db_path.exists()


def test_refuses_the_project_database_on_postgresql(project, migrate, postgresql_url):
    write_good_history(project)
    project.write_env(DATABASE_URL=postgresql_url, MIGRATIONS_METADATA="models:metadata")
    same = postgresql_url.replace("postgresql+psycopg://", "postgresql://")
    result = migrate("verify", "--scratch-url", same)
    assert result.exit_code == 1
    assert "the scratch database is the project's database" in result.stderr
    assert table_names(postgresql_url) == set()


def test_the_temporary_scratch_file_is_deleted(project, migrate, tmp_path, monkeypatch):
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    write_good_history(project)
    assert migrate("verify").exit_code == 0
    assert list(temporary.iterdir()) == []


def test_json_document(project, migrate):
    write_good_history(project)
    result = migrate("verify", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert [step["revision"] for step in document["revisions"]] == [USERS, TEAMS, INDEX]
    assert document["revisions"][0]["ok"] is True
    assert document["heads"] == [INDEX]
    assert document["models"] == "ok"
    assert document["failures"] == []


def test_console_script_uses_the_verify_url_setting(project, migrate_console, tmp_path):
    """MIGRATIONS_VERIFY_URL in .env names the scratch database; DATABASE_URL stays unopened."""
    write_good_history(project)
    scratch = f"sqlite:///{tmp_path / 'scratch.sqlite'}"
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_VERIFY_URL=scratch,
    )
    result = migrate_console("verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "verify: 3 revisions ok"
    # The scratch file was migrated (it exists), then emptied for the next verify.
    assert (tmp_path / "scratch.sqlite").exists()
    assert table_names(scratch) == set()
    assert not project.db_path.exists()


def test_refuses_a_scratch_sqlite_file_with_tables(project, migrate, tmp_path):
    import sqlite3
    from contextlib import closing

    scratch = tmp_path / "scratch.sqlite"
    with closing(sqlite3.connect(scratch)) as connection:
        connection.execute("CREATE TABLE precious (id integer)")
    write_good_history(project)
    result = migrate("verify", "--scratch-url", f"sqlite:///{scratch}")
    assert result.exit_code == 1
    assert "is not empty (tables: precious)" in result.stderr
    assert table_names(f"sqlite:///{scratch}") == {"precious"}


@pytest.mark.parametrize("passes", [True, False], ids=["passed", "failed"])
def test_a_scratch_database_is_left_empty_for_the_next_verify(
    project, migrate, postgresql_url, passes
):
    from sqlalchemy import create_engine, inspect

    write_good_history(project)
    if not passes:
        write_revision(
            project, TEAMS, USERS, CREATE_TEAMS, 'raise RuntimeError("cannot undo")', "Add teams"
        )

    first = migrate("verify", "--scratch-url", postgresql_url)
    again = migrate("verify", "--scratch-url", postgresql_url)

    assert first.exit_code == again.exit_code == (0 if passes else 1), first.output
    assert "is not empty" not in again.output
    assert steps(again.stdout) == steps(first.stdout)
    engine = create_engine(postgresql_url)
    try:
        assert inspect(engine).get_table_names() == []  # alembic_version too
    finally:
        engine.dispose()
