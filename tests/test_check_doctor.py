"""`migrate check` and `migrate doctor`: what they find, what they print, how they exit."""

from __future__ import annotations

import json

import pytest
from conftest import CREATE_TEAMS, CREATE_USERS, MODELS_V1, MODELS_V2, versions_in

from migrations_cli.core.url_secrets import mask_url

USERS = "aaaa00000001"
TEAMS = "bbbb00000002"
BRANCH = "cccc00000003"

# MODELS_V1 changed three ways: a new table, a new column, a longer column.
MODELS_CHANGED = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80)),
    Column("email", String(120)),
)
Table("teams", metadata, Column("id", Integer, primary_key=True))
"""

DOCTOR_NAMES = [
    "settings",
    "migrations",
    "database",
    "metadata",
    "model imports",
    "heads",
    "db revision",
    "pending",
    "checksums",
]


def write_revision(project, revision, down_revision, upgrade="pass", message="step"):
    project.write_revision(revision, down_revision, upgrade=upgrade, message=message)


def users_at_head(project, migrate, database_url):
    """A project whose one migration creates the users table, applied."""
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    write_revision(project, USERS, None, CREATE_USERS, "Add users table")
    assert migrate("upgrade").exit_code == 0


def doctor_checks(migrate, *args):
    """Run `doctor --json`; its exit code and its checks by name."""
    result = migrate(*args, "doctor", "--json")
    document = json.loads(result.stdout)
    assert [check["name"] for check in document["checks"]] == DOCTOR_NAMES
    assert document["ok"] == (result.exit_code == 0)
    return result.exit_code, {check["name"]: check for check in document["checks"]}


def statuses(checks):
    return {name: check["status"] for name, check in checks.items()}


# check --------------------------------------------------------------------------------------


def test_check_finds_no_differences_at_head(project, migrate, database_url):
    users_at_head(project, migrate, database_url)

    result = migrate("check")

    assert result.exit_code == 0, result.output
    assert result.stdout == (f"No differences: the models match the database at head ({USERS}).\n")


def test_check_lists_each_model_change_and_exits_1(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    project.write("models.py", MODELS_CHANGED)

    result = migrate("check")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "table added: teams",
        "column added: users.email VARCHAR(120)",
        "column type changed: users.name VARCHAR(50) -> VARCHAR(80)",
    ]
    assert result.stderr.strip() == (
        f"3 differences between the models and the database at head ({USERS}): the models "
        "changed without a migration; write one with `migrate create MESSAGE`."
    )


def test_check_names_removed_tables_columns_indexes_and_foreign_keys(
    project, migrate, database_url
):
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    write_revision(
        project,
        USERS,
        None,
        CREATE_USERS
        + """
    op.add_column("users", sa.Column("legacy", sa.Integer()))
    op.create_index("ix_users_name", "users", ["name"])
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id")),
    )
    op.create_table("old", sa.Column("id", sa.Integer(), primary_key=True))
""",
        "Schema",
    )
    assert migrate("upgrade").exit_code == 0, "upgrade failed"
    project.write(
        "models.py",
        """
        from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table

        metadata = MetaData()
        Table("users", metadata, Column("id", Integer, primary_key=True),
              Column("name", String(50)), Index("ix_users_id_name", "id", "name"))
        Table("posts", metadata, Column("id", Integer, primary_key=True),
              Column("user_id", Integer), Column("team_id", ForeignKey("teams.id")))
        Table("teams", metadata, Column("id", Integer, primary_key=True))
        """,
    )

    result = migrate("check", "--json")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["revision"] == USERS
    found = {
        (d["kind"], d["table"], d["column"]): d["description"] for d in document["differences"]
    }
    assert found == {
        ("add_table", "teams", None): "table added: teams",
        ("remove_table", "old", None): "table removed: old",
        ("remove_column", "users", "legacy"): "column removed: users.legacy",
        ("add_index", "users", None): "index added: ix_users_id_name on users (id, name)",
        ("remove_index", "users", None): "index removed: ix_users_name on users (name)",
        ("add_column", "posts", "team_id"): "column added: posts.team_id INTEGER",
        ("add_fk", "posts", None): "foreign key added: posts (team_id) -> teams (id)",
        ("remove_fk", "posts", None): found[("remove_fk", "posts", None)],
    }
    # The reflected foreign key's name is the database's own (MySQL names it, SQLite not).
    assert found[("remove_fk", "posts", None)].startswith("foreign key removed: ")
    assert found[("remove_fk", "posts", None)].endswith("posts (user_id) -> users (id)")


def test_check_json_document(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    project.write("models.py", MODELS_V1.replace("String(50)", "String(80)"))

    result = migrate("check", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "revision": USERS,
        "differences": [
            {
                "kind": "modify_type",
                "table": "users",
                "column": "name",
                "description": "column type changed: users.name VARCHAR(50) -> VARCHAR(80)",
            }
        ],
    }
    assert result.stderr == ""


def test_check_json_without_differences(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")

    result = migrate("check", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"revision": USERS, "differences": []}


def test_check_through_the_console_script(project, migrate, migrate_console):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    project.write("models.py", MODELS_V2)

    result = migrate_console("check")

    assert result.exit_code == 1
    assert result.stdout == "table added: teams\n"
    assert "1 difference between the models" in result.stderr


def test_check_without_metadata_says_so(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    result = migrate("check")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: MIGRATIONS_METADATA is not set")
    assert len(result.stderr.splitlines()) == 1
    assert not project.db_path.exists()


def test_check_refuses_a_database_behind_head(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    project.write("models.py", MODELS_V2)

    result = migrate("check")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: the database is not up to date (it is at {USERS}, head is {TEAMS}): "
        "run `migrate upgrade` first, then check again\n"
    )


def test_check_refuses_a_database_at_a_deleted_revision(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    assert migrate("upgrade").exit_code == 0
    next(project.versions.glob(f"{TEAMS}_*.py")).unlink()

    result = migrate("check")

    assert result.exit_code == 1
    assert f"error: the database is at {TEAMS}, which no migration file defines" in result.stderr


def test_check_leaves_out_what_a_plugin_excludes(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    project.write(
        "team_plugin.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def include_object(name, type_):
            return not (type_ == "table" and name == "teams")
        """,
    )
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="team_plugin",
    )
    project.write("models.py", MODELS_V2)

    result = migrate("check")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No differences")


def _unnamed_unique_constraint(sa):
    table = sa.Table(
        "users", sa.MetaData(), sa.Column("name", sa.String), sa.UniqueConstraint("name")
    )
    return next(c for c in table.constraints if isinstance(c, sa.UniqueConstraint))


@pytest.mark.parametrize(
    ("make_diff", "kind", "table", "column", "description"),
    [
        (
            lambda sa, ops: ops.AlterColumnOp(
                "users",
                "status",
                schema="app",
                existing_server_default=sa.text("'a'"),
                modify_server_default=sa.DefaultClause(sa.text("'b'")),
            ).to_diff_tuple()[0],
            "modify_default",
            "app.users",
            "status",
            "column server default changed: app.users.status 'a' -> 'b'",
        ),
        (
            lambda sa, ops: ops.AlterColumnOp(
                "users", "name", existing_nullable=False, modify_nullable=True
            ).to_diff_tuple()[0],
            "modify_nullable",
            "users",
            "name",
            "column nullability changed: users.name NOT NULL -> NULL",
        ),
        (
            lambda sa, ops: ops.AlterColumnOp(
                "users", "name", existing_comment=None, modify_comment="the name"
            ).to_diff_tuple()[0],
            "modify_comment",
            "users",
            "name",
            "column comment changed: users.name none -> 'the name'",
        ),
        (
            lambda sa, ops: ops.CreateTableCommentOp("users", "people").to_diff_tuple(),
            "add_table_comment",
            "users",
            None,
            "table comment added: users 'people'",
        ),
        (
            lambda sa, ops: ops.CreateTableCommentOp(
                "users", "persons", existing_comment="people"
            ).to_diff_tuple(),
            "add_table_comment",
            "users",
            None,
            "table comment changed: users 'people' -> 'persons'",
        ),
        (
            lambda sa, ops: ops.DropTableCommentOp("users").to_diff_tuple(),
            "remove_table_comment",
            "users",
            None,
            "table comment removed: users",
        ),
        (
            lambda sa, ops: ops.CreateUniqueConstraintOp(
                "uq_users_name", "users", ["name"]
            ).to_diff_tuple(),
            "add_constraint",
            "users",
            None,
            "unique constraint added: uq_users_name on users (name)",
        ),
        (
            lambda sa, ops: ops.DropConstraintOp.from_constraint(
                _unnamed_unique_constraint(sa)
            ).to_diff_tuple(),
            "remove_constraint",
            "users",
            None,
            "unique constraint removed: users (name)",
        ),
        (
            lambda sa, ops: ("rename_universe", "users"),
            "rename_universe",
            None,
            None,
            "rename_universe: users",
        ),
    ],
)
def test_check_describes_the_kinds_not_every_database_reports(
    make_diff, kind, table, column, description
):
    import sqlalchemy as sa
    from alembic.operations import ops
    from sqlalchemy.dialects import sqlite

    from migrations_cli.guards.model_diff import Difference, describe_difference

    found = describe_difference(make_diff(sa, ops), sqlite.dialect())

    assert found == Difference(kind, table, column, description)


# doctor -------------------------------------------------------------------------------------


def test_doctor_all_ok_prints_one_line_per_check(project, migrate, database_url):
    users_at_head(project, migrate, database_url)

    result = migrate("doctor")

    assert result.exit_code == 0, result.output
    env_file = (project.root / ".env").resolve()
    assert result.stdout.splitlines() == [
        f"ok    settings       from {env_file}: DATABASE_URL={mask_url(database_url)}, "
        "MIGRATIONS_DIR=alembic (default), MIGRATIONS_METADATA=models:metadata",
        "ok    migrations     alembic: 1 revision file(s)",
        f"ok    database       reachable: {mask_url(database_url)}",
        "ok    metadata       models:metadata: 1 table(s): users",
        "ok    model imports  every table in the database and the migrations has a model",
        f"ok    heads          one head: {USERS} (Add users table)",
        f"ok    db revision    the database is at {USERS} (Add users table)",
        f"ok    pending        none: the database is at head ({USERS})",
        "ok    checksums      1 applied migration file(s) unchanged in code",
    ]
    assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal


def test_doctor_warns_of_pending_migrations(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    project.write("models.py", MODELS_V2)

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 0
    assert checks["pending"] == {
        "name": "pending",
        "status": "warn",
        "message": f"1 migration(s) not applied: {TEAMS}",
        "advice": "apply them with `migrate upgrade`",
    }
    assert set(statuses(checks).values()) == {"ok", "warn"}


def test_doctor_fails_on_several_heads(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    write_revision(project, BRANCH, USERS, message="Other branch")

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    assert checks["heads"]["status"] == "fail"
    assert checks["heads"]["message"] == (
        f"2 heads: {TEAMS} (Add teams table), {BRANCH} (Other branch)"
    )
    assert checks["heads"]["advice"].startswith("join them with `migrate merge`")
    pending = checks["pending"]["message"]
    assert pending.startswith("2 migration(s) not applied: ")  # branches in no set order
    assert set(pending.split(": ")[1].split(", ")) == {TEAMS, BRANCH}


def test_doctor_fails_on_a_database_at_a_deleted_revision(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    assert migrate("upgrade").exit_code == 0
    next(project.versions.glob(f"{TEAMS}_*.py")).unlink()

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    assert checks["db revision"]["status"] == "fail"
    assert checks["db revision"]["message"] == (
        f"the database is at {TEAMS}, which no migration file defines "
        "(a deleted file, or one not pulled yet)"
    )
    assert "git log --diff-filter=D" in checks["db revision"]["advice"]
    assert checks["pending"]["status"] == "skip"
    assert checks["heads"]["status"] == "ok"
    assert versions_in(database_url) == {TEAMS}


def test_doctor_warns_of_a_table_no_model_defines(project, migrate, database_url):
    users_at_head(project, migrate, database_url)
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    assert migrate("upgrade").exit_code == 0
    # models.py still defines users only: the teams model is "not imported".

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 0
    assert checks["model imports"]["status"] == "warn"
    assert checks["model imports"]["message"] == (
        f"no model defines teams (in the database, created by migration {TEAMS})"
    )
    assert "the next `migrate create` drops them" in checks["model imports"]["advice"]


def test_doctor_finds_an_unmodelled_table_in_pending_migrations_too(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    write_revision(
        project,
        TEAMS,
        USERS,
        CREATE_TEAMS + '    op.create_table("tmp", sa.Column("id", sa.Integer()))\n'
        '    op.rename_table("tmp", "scratch")\n'
        '    op.drop_table("scratch")\n',
        "Add teams table",
    )

    _, checks = doctor_checks(migrate)

    assert checks["model imports"]["message"] == (
        f"no model defines teams (created by migration {TEAMS})"
    )


def test_doctor_reports_a_broken_revision_chain_and_keeps_going(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    write_revision(project, BRANCH, TEAMS, message="Third")
    next(project.versions.glob(f"{TEAMS}_*.py")).unlink()

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    assert checks["migrations"]["status"] == "fail"
    assert f"Revision {TEAMS} referenced from" in checks["migrations"]["message"]
    assert "is not present" in checks["migrations"]["message"]
    assert statuses(checks) == {
        "settings": "ok",
        "migrations": "fail",
        "database": "ok",
        "metadata": "ok",
        "model imports": "ok",
        "heads": "skip",
        "db revision": "skip",
        "pending": "skip",
        "checksums": "skip",
    }
    assert checks["heads"]["message"] == "skipped: the migrations did not load"


def test_doctor_never_prints_the_password_and_skips_what_needs_the_database(
    project, migrate, migrate_console
):
    url = "postgresql+psycopg://app:Zq9marker@127.0.0.1:1/app"

    text = migrate_console("--database-url", url, "doctor")
    as_json = migrate("--database-url", url, "doctor", "--json")

    for result in (text, as_json):
        assert result.exit_code == 1
        assert "Zq9marker" not in result.stdout + result.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("ok    settings ")
    assert (
        "DATABASE_URL=postgresql+psycopg://app:***@127.0.0.1:1/app (from --database-url)"
        in (lines[0])
    )
    assert lines[2].startswith(
        "fail  database       cannot connect to postgresql+psycopg://app:***@127.0.0.1:1/app: "
    )
    assert lines[-3:] == [
        "skip  db revision    skipped: the database could not be read",
        "skip  pending        skipped: the database could not be read",
        "skip  checksums      skipped: the database could not be read",
    ]
    checks = {check["name"]: check for check in json.loads(as_json.stdout)["checks"]}
    assert checks["database"]["advice"].startswith("check that the server is running")


def test_doctor_without_a_database_url_fails_settings_and_skips_the_database(project, migrate):
    project.write_env(MIGRATIONS_METADATA="models:metadata")

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    settings = checks["settings"]
    assert settings["status"] == "fail"
    assert "DATABASE_URL not set" in settings["message"]
    assert settings["advice"] == (
        "add DATABASE_URL=dialect+driver://user:password@host:port/database to "
        f"{(project.root / '.env').resolve()}"
    )
    assert checks["database"]["status"] == "skip"
    assert checks["database"]["message"].startswith("skipped: DATABASE_URL is not set")
    assert checks["database"]["advice"] is None
    assert checks["metadata"]["status"] == "ok"


def test_doctor_says_where_a_setting_came_from(project, migrate, monkeypatch):
    monkeypatch.setenv("MIGRATIONS_METADATA", "models:metadata")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DIR="alembic")

    _, checks = doctor_checks(migrate)

    assert checks["settings"]["message"] == (
        f"from {(project.root / '.env').resolve()}: "
        f"DATABASE_URL=sqlite:///{(project.root / 'db.sqlite').resolve().as_posix()}, "
        "MIGRATIONS_DIR=alembic, MIGRATIONS_METADATA=models:metadata (from the environment)"
    )


def test_doctor_reports_models_that_do_not_import(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="app_models:Base")

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    assert checks["metadata"]["status"] == "fail"
    assert checks["metadata"]["message"] == (
        "MIGRATIONS_METADATA='app_models:Base': importing app_models failed: "
        "ModuleNotFoundError: No module named 'app_models'"
    )
    assert checks["model imports"]["status"] == "skip"


def test_doctor_warns_of_models_without_tables_and_unset_metadata(project, migrate):
    project.write("models.py", "from sqlalchemy import MetaData\n\nmetadata = MetaData()\n")

    _, empty = doctor_checks(migrate)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    exit_code, unset = doctor_checks(migrate)

    assert empty["metadata"]["status"] == "warn"
    assert empty["metadata"]["message"] == "models:metadata holds no tables"
    assert unset["metadata"]["status"] == "warn"
    assert unset["metadata"]["message"].startswith("MIGRATIONS_METADATA is not set")
    assert exit_code == 0


def test_doctor_does_not_create_a_missing_sqlite_database(project, migrate):
    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 0
    assert checks["database"]["status"] == "warn"
    assert checks["database"]["advice"] == "`migrate upgrade` creates it"
    assert checks["pending"]["status"] == "skip"
    assert not project.db_path.exists()


def test_doctor_without_a_migrations_folder(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DIR="missing")

    exit_code, checks = doctor_checks(migrate)

    assert exit_code == 1
    assert checks["migrations"]["status"] == "fail"
    assert "migrate init" in checks["migrations"]["advice"]
    assert checks["heads"]["status"] == "skip"


def test_doctor_ignores_tables_a_plugin_excludes(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    write_revision(project, TEAMS, USERS, CREATE_TEAMS, "Add teams table")
    assert migrate("upgrade").exit_code == 0
    project.write(
        "team_plugin.py",
        """
        from migrations_cli.hookspecs import hookimpl

        @hookimpl
        def include_object(name, type_):
            return not (type_ == "table" and name == "teams")
        """,
    )
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="team_plugin",
    )

    _, checks = doctor_checks(migrate)

    assert checks["model imports"]["status"] == "ok"


def test_doctor_through_the_console_script(project, migrate, migrate_console):
    users_at_head(project, migrate, "sqlite:///db.sqlite")

    result = migrate_console("doctor", env={"NO_COLOR": "1"})

    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ok"] * 9
    assert result.stderr == ""
