"""`migrate lint` beyond the catalogue: what satisfies the lock-timeout rule, the offline SQL
(--sql) and squawk (--squawk) mapped to the revision's lines, --format github and sarif, and
the revisions of two real projects (tests/real_projects, copied with their licences)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project
from test_lint import POSTGRES_ENV, line_of

from migrations_cli.guards.lint_rules import BUILTIN_RULES, read_revision, run_rules
from migrations_cli.guards.revision_source import LOCK_TIMEOUT_SETTING

REAL_PROJECTS = Path(__file__).parent / "real_projects"

LOCKING = """
import sqlalchemy as sa
from alembic import op

revision = "lock00000001"
down_revision = None


def upgrade():
{body}


def downgrade():
    op.drop_column("users", "nickname")
"""
ADD_NICKNAME = '    op.add_column("users", sa.Column("nickname", sa.Text()))'


@pytest.fixture(autouse=True)
def _no_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCK_TIMEOUT_SETTING, raising=False)


def rules_of(result) -> list[str]:
    return [item["rule"] for item in json.loads(result.stdout)["findings"]]


@pytest.mark.parametrize(
    "body, settings",
    [
        (ADD_NICKNAME, {LOCK_TIMEOUT_SETTING: "5s"}),
        (f"    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n{ADD_NICKNAME}", {}),
        (f'    op.execute("SET lock_timeout TO 5000")\n{ADD_NICKNAME}', {}),
    ],
    ids=["project setting", "SET LOCAL", "SET"],
)
def test_a_lock_timeout_satisfies_the_rule(project: Project, migrate, body, settings):
    project.write_env(**POSTGRES_ENV, **settings)
    project.write("alembic/versions/lock.py", LOCKING.format(body=body))

    assert rules_of(migrate("lint", "--json")) == []


def test_a_module_level_lock_timeout_satisfies_the_rule(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    source = LOCKING.format(body=ADD_NICKNAME)
    project.write(
        "alembic/versions/lock.py",
        source.replace("down_revision = None", 'down_revision = None\nlock_timeout = "5s"'),
    )
    with_timeout = rules_of(migrate("lint", "--json"))
    project.write(
        "alembic/versions/lock.py",
        source.replace("down_revision = None", "down_revision = None\nlock_timeout = None"),
    )

    assert with_timeout == []
    assert rules_of(migrate("lint", "--json")) == ["ML022"]


def test_a_lock_timeout_set_after_the_lock_is_too_late(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    body = f"{ADD_NICKNAME}\n    op.execute(\"SET LOCAL lock_timeout = '5s'\")"
    project.write("alembic/versions/lock.py", LOCKING.format(body=body))

    result = migrate("lint", "--json")

    assert [(item["rule"], item["line"]) for item in json.loads(result.stdout)["findings"]] == [
        ("ML022", line_of(project, "lock.py", "add_column"))
    ]


OFFLINE = """
import sqlalchemy as sa
from alembic import op

revision = "offline00001"
down_revision = None


def add_flag(table):
    op.add_column(table, sa.Column("flag", sa.CHAR(1)))


def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    add_flag("users")


def downgrade():
    op.drop_column("users", "flag")
"""


def test_sql_lints_what_a_helper_function_writes_on_the_helpers_line(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/offline.py", OFFLINE)

    plain = migrate("lint", "--json")
    offline = migrate("lint", "--sql", "--json")

    assert rules_of(plain) == []  # the operation is hidden in a helper function
    assert offline.exit_code == 0, offline.output
    found = json.loads(offline.stdout)["findings"]
    assert [(item["rule"], item["line"]) for item in found] == [
        ("ML019", line_of(project, "offline.py", "op.add_column(table"))
    ]
    assert found[0]["message"].startswith("ALTER TABLE users ADD COLUMN flag CHAR(1)")


def test_sql_needs_a_postgresql_url(project: Project, migrate):
    project.write("alembic/versions/offline.py", OFFLINE)  # the project's .env names SQLite

    result = migrate("lint", "--sql")

    assert result.exit_code == 1
    assert result.stderr.strip().startswith(
        "error: linting offline SQL needs PostgreSQL's SQL, and DATABASE_URL names sqlite"
    )


def test_squawk_findings_are_merged_and_tagged(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/offline.py", OFFLINE)

    result = migrate("lint", "--squawk", "--json")

    found = json.loads(result.stdout)["findings"]
    line = line_of(project, "offline.py", "op.add_column(table")
    assert {(item["rule"], item["source"], item["line"]) for item in found} >= {
        ("ban-char-field", "squawk", line)
    }
    text = migrate("lint", "--squawk").stdout
    assert f"alembic/versions/offline.py:{line}: ban-char-field (squawk) warning" in text


def test_github_format_annotates_file_and_line(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/lock.py", LOCKING.format(body=ADD_NICKNAME))

    result = migrate("lint", "--format", "github")

    line = line_of(project, "lock.py", "add_column")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"::warning file=alembic/versions/lock.py,line={line},title=ML022::"
        "add_column('users', 'nickname') takes a lock that queues every query on the table "
        "while it waits, and no lock timeout is set; set MIGRATIONS_DDL_LOCK_TIMEOUT, or "
        '`lock_timeout = "5s"` in the revision, or op.execute("SET LOCAL lock_timeout = '
        "'5s'\") first (revision lock00000001)"
    ]


def test_sarif_has_every_required_field(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/lock.py", LOCKING.format(body=ADD_NICKNAME))
    project.write(
        "alembic/versions/drop.py",
        LOCKING.format(body='    op.execute("DROP DATABASE x")')
        .replace("lock00000001", "drop00000002")
        .replace("down_revision = None", 'down_revision = "lock00000001"'),
    )

    result = migrate("lint", "--format", "sarif")

    assert result.exit_code == 1  # an error-level finding, as with text
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "migrate lint"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert all(rule["shortDescription"]["text"] for rule in driver["rules"])
    assert {result["ruleId"] for result in run["results"]} == {"ML018", "ML022"}
    for found in run["results"]:
        assert found["message"]["text"]
        assert found["level"] in ("error", "warning", "note", "none")
        assert rule_ids[found["ruleIndex"]] == found["ruleId"]
        (location,) = found["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].startswith("alembic/versions/")
        assert physical["region"]["startLine"] >= 1
    assert {found["level"] for found in run["results"]} == {"error", "warning"}


def test_an_unknown_or_contradictory_format_is_refused(project: Project, migrate):
    unknown = migrate("lint", "--format", "xml")
    both = migrate("lint", "--json", "--format", "sarif")

    assert unknown.exit_code == both.exit_code == 2
    assert "xml" in unknown.stderr
    assert "ask for two formats" in both.stderr  # the message is wrapped in a box


@pytest.mark.parametrize("name", ["mlflow", "optuna"])
def test_real_projects_have_no_new_error(name: str):
    """MLflow (71 revisions) has no error at all. Optuna's v2.4.0.a has three, all true:
    drop_column (ML002) of columns Optuna's running code still reads during a rolling
    deploy. Its NOT NULL add_column is not an error: the revision empties the table through
    the ORM first (test_lint_context.py)."""
    errors = []
    for path in sorted((REAL_PROJECTS / name).glob("*.py")):
        revision = read_revision(path, dialect="postgresql")
        errors += [
            (path.name, finding.rule)
            for finding in run_rules(revision, BUILTIN_RULES)
            if finding.severity == "error"
        ]
    expected = {"mlflow": [], "optuna": [("v2.4.0.a.py", "ML002")] * 3}
    assert sorted(errors) == sorted(expected[name])


def test_without_pglast_raw_sql_is_left_with_a_note_and_sql_is_refused(
    project: Project, migrate, monkeypatch
):
    import migrations_cli.guards.lint_actions

    monkeypatch.setattr(migrations_cli.guards.lint_actions, "sql_is_parsable", lambda: False)
    project.write_env(**POSTGRES_ENV)
    body = '    op.execute("SET lock_timeout = \'5s\'")\n    op.execute("TRUNCATE users CASCADE")'
    project.write("alembic/versions/lock.py", LOCKING.format(body=body))

    plain = migrate("lint", "--json")
    offline = migrate("lint", "--sql")

    assert rules_of(plain) == []  # TRUNCATE ... CASCADE needs the parser to be seen
    assert plain.stderr.strip() == (
        "note: the SQL of op.execute() in 1 revision(s) was not linted: pip install "
        "'migrations-cli[sql]' (pglast, PostgreSQL's parser) to lint it"
    )
    assert offline.exit_code == 1
    assert "error: --sql parses SQL with pglast: pip install 'migrations-cli[sql]'" in (
        offline.stderr
    )


def test_squawk_missing_is_one_line_saying_what_to_install(project: Project, migrate, monkeypatch):
    monkeypatch.setattr("sys.executable", str(project.root / "bin" / "python"))
    monkeypatch.setenv("PATH", str(project.root))
    project.write_env(**POSTGRES_ENV)
    project.write("alembic/versions/offline.py", OFFLINE)

    result = migrate("lint", "--squawk")

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: --squawk needs squawk: pip install 'migrations-cli[squawk]' (squawk-cli)"
    )


def test_each_statement_of_multi_line_sql_is_found_on_its_own_line(tmp_path):
    path = tmp_path / "revision.py"
    path.write_text(
        LOCKING.format(
            body='''    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute(
        """
        -- réglages régionaux
        ALTER TABLE users ADD COLUMN country char(2);
        /* then */ TRUNCATE sessions CASCADE;
        """
    )'''
        )
    )
    lines = path.read_text().splitlines()

    found = run_rules(read_revision(path, dialect="postgresql"), BUILTIN_RULES)

    assert [(finding.rule, lines[finding.line - 1].strip()) for finding in found] == [
        ("ML019", "ALTER TABLE users ADD COLUMN country char(2);"),
        ("ML017", "/* then */ TRUNCATE sessions CASCADE;"),
    ]


def test_sql_on_a_revision_that_cannot_run_offline_names_its_line(project: Project, migrate):
    project.write_env(**POSTGRES_ENV)
    project.write(
        "alembic/versions/live.py",
        LOCKING.format(body="    op.get_bind().close()  # reads the live database"),
    )

    result = migrate("lint", "--sql")

    line = line_of(project, "live.py", "get_bind")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(
        f"error: the offline SQL could not be written at alembic/versions/live.py:{line}: "
        "AttributeError: "
    )
    assert "Traceback" not in result.stderr
