"""`migrate lint`: each rule on a revision written to provoke it, silencing, plugin rules,
--json, and the findings `migrate create` prints for the file it writes."""

from __future__ import annotations

import json

import pytest
from conftest import Project

from migrations_cli.guards.lint_rules import DISABLE_SETTING

POSTGRES_ENV = {"DATABASE_URL": "postgresql+psycopg://app@db.invalid/app"}  # lint never connects

RISKY = """
import sqlalchemy as sa
from alembic import op

revision = "bad000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table("legacy")
    op.drop_column("users", "nickname")
    op.add_column("users", sa.Column("email", sa.String(100), nullable=False))
    op.alter_column("users", "name", existing_type=sa.String(100), type_=sa.String(20))
    op.alter_column("users", "bio", new_column_name="about")
    op.create_index("ix_users_name", "users", ["name"])
    op.create_table("teams", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_index("ix_users_name", table_name="users")
    op.create_table("legacy", sa.Column("id", sa.Integer))
    op.add_column("users", sa.Column("nickname", sa.String(50)))
"""

EMPTY_DOWNGRADE = """
import sqlalchemy as sa
from alembic import op

revision = "empty0000002"
down_revision = None


def upgrade():
    op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    pass
"""

RAW_SQL = """
from alembic import op

revision = "rawsql000003"
down_revision = None


def upgrade():
    op.execute("UPDATE users SET name = lower(name)")


def downgrade():
    pass
"""

CLEAN = """
import sqlalchemy as sa
from alembic import op

revision = "clean0000004"
down_revision = None
lock_timeout = "5s"


def upgrade():
    op.create_table("teams", sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True))
    op.create_index("ix_teams_id", "teams", ["id"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(100), nullable=True))
        batch_op.alter_column("name", existing_type=sa.String(50), type_=sa.String(100))
    with op.get_context().autocommit_block():
        op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)


def downgrade():
    op.drop_index("ix_users_email", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(100), type_=sa.String(50))
        batch_op.drop_column("email")
    op.drop_index("ix_teams_id", table_name="teams")
    op.drop_table("teams")
"""

TEAM_RULES_PLUGIN = """
from migrations_cli.hookspecs import hookimpl
from migrations_cli.guards.lint_rules import Finding


def no_update_without_where(revision):
    for call in revision.upgrade:
        sql = call.text(0, "sqltext") or ""
        if call.name == "execute" and "UPDATE" in sql.upper() and "WHERE" not in sql.upper():
            yield Finding("TEAM01", "warning", call.line, "UPDATE without WHERE")


@hookimpl
def lint_rules():
    return [no_update_without_where]
"""

BROKEN_RULE_PLUGIN = """
from migrations_cli.hookspecs import hookimpl


def broken(revision):
    raise KeyError("oops")


@hookimpl
def lint_rules():
    return [broken]
"""


@pytest.fixture(autouse=True)
def _no_lint_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLE_SETTING, raising=False)


def line_of(project: Project, name: str, text: str) -> int:
    lines = (project.versions / name).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def findings(result) -> list[tuple[str, int]]:
    return [(item["rule"], item["line"]) for item in json.loads(result.stdout)["findings"]]


def test_every_rule_fires_on_the_line_that_provokes_it(project, migrate):
    project.write_env(**POSTGRES_ENV)
    for name, source in (("bad.py", RISKY), ("empty.py", EMPTY_DOWNGRADE), ("raw.py", RAW_SQL)):
        project.write(f"alembic/versions/{name}", source)

    result = migrate("lint", "--json")

    assert result.exit_code == 1, result.output
    expected = [
        ("ML001", line_of(project, "bad.py", 'drop_table("legacy")')),
        ("ML002", line_of(project, "bad.py", 'drop_column("users"')),
        ("ML003", line_of(project, "bad.py", '"email"')),
        ("ML008", line_of(project, "bad.py", '"email"')),
        ("ML004", line_of(project, "bad.py", "type_=sa.String(20)")),
        ("ML005", line_of(project, "bad.py", "new_column_name")),
        ("ML006", line_of(project, "bad.py", "op.create_index")),
        ("ML008", line_of(project, "bad.py", 'create_table("teams"')),
        ("ML021", line_of(project, "bad.py", 'create_table("teams"')),
        ("ML022", line_of(project, "bad.py", 'drop_table("legacy")')),
        ("ML007", line_of(project, "empty.py", "def downgrade")),
        ("ML021", line_of(project, "empty.py", "create_table")),
        ("ML009", line_of(project, "raw.py", "op.execute")),
    ]
    assert sorted(findings(result)) == sorted(expected)


def test_text_output_names_file_line_rule_severity_revision_and_advice(project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/bad.py", RISKY)

    result = migrate("lint")

    assert result.exit_code == 1
    line = line_of(project, "bad.py", "drop_table")
    assert result.stdout.splitlines()[0] == (
        f"alembic/versions/bad.py:{line}: ML001 error in bad000000001: drop_table('legacy'): "
        "its rows are deleted for good and running code that still reads the table fails; "
        "stop using it in one release, back it up, and drop it in a later one"
    )
    narrowing = next(text for text in result.stdout.splitlines() if " ML004 " in text)
    assert "ML004 warning" in narrowing and "narrows the type from String(100) to String(20)" in (
        narrowing
    )
    assert result.stderr.strip() == "5 errors and 5 warnings in 1 revision."


def test_a_clean_revision_passes(project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/clean.py", CLEAN)

    result = migrate("lint")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == "No problems found in 1 revision."


def test_warnings_alone_exit_0(project, migrate):
    project.write("alembic/versions/empty.py", EMPTY_DOWNGRADE)

    result = migrate("lint", "--json")

    assert result.exit_code == 0
    assert findings(result) == [("ML007", line_of(project, "empty.py", "def downgrade"))]


def test_index_rule_is_skipped_when_the_database_is_not_postgresql(project, migrate):
    source = RISKY.replace('op.drop_table("legacy")', "pass")
    project.write("alembic/versions/bad.py", source)  # the project's .env names SQLite

    result = migrate("lint", "--json")

    assert "ML006" not in {rule for rule, _ in findings(result)}


def test_a_comment_in_the_revision_silences_its_rules(project, migrate):
    project.write_env(**POSTGRES_ENV)
    silenced = RISKY.replace(
        'op.drop_table("legacy")', 'op.drop_table("legacy")  # migrate-lint: disable=ML001, ml006'
    )
    project.write("alembic/versions/bad.py", silenced)
    project.write("alembic/versions/raw.py", RAW_SQL)

    result = migrate("lint", "--json")

    rules = {rule for rule, _ in findings(result)}
    assert "ML001" not in rules and "ML006" not in rules
    assert {"ML002", "ML009"} <= rules  # other rules, and other revisions, still checked


def test_the_project_setting_silences_rules_everywhere(project, migrate, monkeypatch):
    project.write_env(**POSTGRES_ENV, MIGRATIONS_LINT_DISABLE="ML001,ML002,ML003,ML008")
    project.write("alembic/versions/bad.py", RISKY)

    from_file = migrate("lint", "--json")
    monkeypatch.setenv(DISABLE_SETTING, "ML004,ML005,ML006,ML021,ML022")
    from_environment = migrate("lint", "--json")

    assert from_file.exit_code == 0, from_file.output
    assert {rule for rule, _ in findings(from_file)} == {
        "ML004",
        "ML005",
        "ML006",
        "ML021",
        "ML022",
    }
    assert from_environment.exit_code == 1  # the environment wins over .env
    assert {rule for rule, _ in findings(from_environment)} == {"ML001", "ML002", "ML003", "ML008"}


def test_a_plugin_adds_a_rule_through_the_hook(project, migrate):
    project.write("team_rules.py", TEAM_RULES_PLUGIN)
    project.write_env(**POSTGRES_ENV, MIGRATIONS_PLUGINS="team_rules")
    project.write("alembic/versions/raw.py", RAW_SQL)

    result = migrate("lint")

    assert result.exit_code == 1
    line = line_of(project, "raw.py", "op.execute")
    assert result.stdout.splitlines() == [
        f"alembic/versions/raw.py:{line}: ML009 error in rawsql000003: op.execute() runs raw "
        "SQL and downgrade() is empty: nothing undoes it; write the SQL that reverses it, or "
        "raise an error saying it cannot be undone",
        f"alembic/versions/raw.py:{line}: TEAM01 warning in rawsql000003: UPDATE without WHERE",
    ]


def test_a_plugin_rule_that_raises_is_one_line_naming_it(project, migrate):
    project.write("broken_rules.py", BROKEN_RULE_PLUGIN)
    project.write_env(**POSTGRES_ENV, MIGRATIONS_PLUGINS="broken_rules")
    project.write("alembic/versions/raw.py", RAW_SQL)

    result = migrate("lint")

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: lint rule broken_rules.broken failed on alembic/versions/raw.py: KeyError: 'oops'"
    )


def test_lints_only_the_revisions_named(project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/bad.py", RISKY)
    project.write("alembic/versions/raw.py", RAW_SQL)

    by_id = migrate("lint", "rawsql", "--json")
    by_path = migrate("lint", "alembic/versions/raw.py", "--json")
    unknown = migrate("lint", "nosuchrev")

    assert (
        findings(by_id) == findings(by_path) == [("ML009", line_of(project, "raw.py", "execute"))]
    )
    assert json.loads(by_path.stdout)["findings"][0]["revision"] == "rawsql000003"
    assert unknown.exit_code == 2
    assert "nosuchrev" in unknown.stderr


def test_no_revisions_is_nothing_to_report(project, migrate):
    result = migrate("lint", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"findings": []}


def test_create_prints_what_lint_finds_in_the_new_file_and_still_succeeds(project, migrate):
    migrate("create", "Add users table")
    migrate("upgrade")
    project.write(
        "models.py",
        """
        from sqlalchemy import Column, Integer, MetaData, Table

        metadata = MetaData()
        Table("users", metadata, Column("id", Integer, primary_key=True))
        """,
    )

    result = migrate("create", "Drop name")

    assert result.exit_code == 0, result.output
    written = next(path for path in project.revision_files() if "drop_name" in path.name)
    line = line_of(project, written.name, "drop_column")
    revision = written.name.split("-")[1].split("_")[0]
    assert result.stdout.strip() == f"alembic/versions/{written.name}"
    assert "warning: lint found 1 problem(s) in the new revision:" in result.stderr
    assert (
        f"  alembic/versions/{written.name}:{line}: ML002 error in {revision}: "
        "drop_column('users', 'name'):"
    ) in result.stderr


def test_create_of_a_clean_revision_prints_no_lint(project, migrate):
    result = migrate("create", "Add users table")

    assert result.exit_code == 0, result.output
    assert "lint" not in result.stderr


def test_create_survives_a_broken_lint_rule(project, migrate):
    project.write("broken_rules.py", BROKEN_RULE_PLUGIN)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="broken_rules",
    )

    result = migrate("create", "Add users table")

    assert result.exit_code == 0, result.output
    assert len(project.revision_files()) == 1
    assert "warning: lint could not check the new revision: lint rule broken_rules.broken" in (
        result.stderr
    )


def test_console_script_json_and_exit_code(project, migrate_console):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/raw.py", RAW_SQL)
    project.write(
        "alembic/versions/clean.py",
        CLEAN.replace("down_revision = None", 'down_revision = "rawsql000003"'),
    )

    result = migrate_console("lint", "--json")

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document == {
        "findings": [
            {
                "rule": "ML009",
                "severity": "error",
                "revision": "rawsql000003",
                "path": "alembic/versions/raw.py",
                "line": line_of(project, "raw.py", "op.execute"),
                "message": "op.execute() runs raw SQL and downgrade() is empty: nothing undoes "
                "it; write the SQL that reverses it, or raise an error saying it cannot be "
                "undone",
                "source": "migrate",
            }
        ]
    }


TWO_BATCH_BLOCKS = """
import sqlalchemy as sa
from alembic import op

revision = "batch0000005"
down_revision = None


def upgrade():
    with op.batch_alter_table("alpha") as batch_op:
        batch_op.add_column(sa.Column("a_col", sa.String(20), nullable=True))
        batch_op.create_index("ix_alpha_a_col", ["a_col"])
    with op.batch_alter_table("beta") as batch_op:
        batch_op.add_column(sa.Column("b_col", sa.String(20), nullable=True))


def downgrade():
    with op.batch_alter_table("beta") as batch_op:
        batch_op.drop_column("b_col")
    with op.batch_alter_table("alpha") as batch_op:
        batch_op.drop_index("ix_alpha_a_col")
        batch_op.drop_column("a_col")
"""


def test_several_batch_blocks_each_credit_their_own_table(project, migrate):
    project.write("alembic/versions/batch.py", TWO_BATCH_BLOCKS)

    result = migrate("lint", "--json")

    assert result.exit_code == 0, result.output
    assert findings(result) == []


def test_a_wrong_downgrade_in_a_batch_block_is_found_on_its_own_table(project, migrate):
    wrong = TWO_BATCH_BLOCKS.replace('batch_op.drop_column("a_col")', "pass")
    project.write("alembic/versions/batch.py", wrong)

    result = migrate("lint")

    assert result.exit_code == 1, result.output
    line = line_of(project, "batch.py", '"a_col", sa.String')
    assert result.stdout.splitlines() == [
        f"alembic/versions/batch.py:{line}: ML008 error in batch0000005: "
        "add_column('alpha', 'a_col') in upgrade() has no drop_column('alpha', 'a_col') in "
        "downgrade(): downgrading leaves the schema out of step with the revision; add it"
    ]


def test_batch_drops_name_the_table_of_their_block(project, migrate):
    project.write(
        "alembic/versions/drops.py",
        """
        from alembic import op

        revision = "drops0000006"
        down_revision = None


        def upgrade():
            with op.batch_alter_table("alpha") as b:
                b.drop_column("a_col")
            with op.batch_alter_table("beta") as b:
                b.drop_column("b_col")


        def downgrade():
            raise NotImplementedError
        """,
    )

    result = migrate("lint", "--json")

    found = json.loads(result.stdout)["findings"]
    messages = [item["message"] for item in found if item["rule"] == "ML002"]
    assert [message.split(":")[0] for message in messages] == [
        "drop_column('alpha', 'a_col')",
        "drop_column('beta', 'b_col')",
    ]


def test_help_names_the_extras_to_install(migrate):
    """The extras are written in brackets, which the help's markup must not swallow."""
    shown = " ".join(migrate("lint", "--help").stdout.split())

    assert "migrations-cli[sql]" in shown
    assert "migrations-cli[squawk]" in shown
