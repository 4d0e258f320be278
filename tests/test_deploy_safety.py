"""What keeps a deploy safe: --dry-run changes nothing, production asks before a downgrade,
and a revision message can never name a file outside versions/."""

from __future__ import annotations

import os
import pty
import re
import subprocess

import pytest
from conftest import MIGRATE_SCRIPT, SETTING_NAMES, table_names, versions_in

FIRST, SECOND = "aaaa11111111", "bbbb22222222"

REVISION = """\"\"\"{table}\"\"\"

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table({table!r})
"""


def two_revisions(project) -> None:
    for revision, down, table in ((FIRST, None, "first"), (SECOND, FIRST, "second")):
        project.write(
            f"alembic/versions/{revision}_{table}.py",
            REVISION.format(revision=revision, down=down, table=table),
        )


def test_upgrade_dry_run_lists_the_pending_revisions_and_changes_nothing(
    project, migrate, database_url
):
    two_revisions(project)
    project.write_env(DATABASE_URL=database_url)
    assert migrate("upgrade", "+1").exit_code == 0

    result = migrate("upgrade", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"  would apply  {SECOND}  second"]
    assert f"Dry run: the database is at {FIRST}; nothing was changed." in result.stderr
    assert versions_in(database_url) == {FIRST}
    assert table_names(database_url) == {"first"}


def test_downgrade_dry_run_lists_what_it_would_revert_newest_first(project, migrate, database_url):
    two_revisions(project)
    project.write_env(DATABASE_URL=database_url)
    assert migrate("upgrade").exit_code == 0

    result = migrate("downgrade", "base", "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"  would revert {SECOND}  second",
        f"  would revert {FIRST}  first",
    ]
    assert versions_in(database_url) == {SECOND}
    assert table_names(database_url) == {"first", "second"}


def test_dry_run_at_the_target_says_there_is_nothing_to_do(project, migrate):
    two_revisions(project)
    migrate("upgrade")

    result = migrate("upgrade", "--dry-run")

    assert result.exit_code == 0
    assert result.stdout == f"Already at {SECOND}: nothing to upgrade.\n"


def test_dry_run_and_sql_together_is_a_usage_error(project, migrate):
    two_revisions(project)

    result = migrate("upgrade", "--dry-run", "--sql")

    assert result.exit_code == 2
    assert "pick one" in result.stderr


def production(project, **extra: str) -> None:
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_ENV="production", **extra)


def test_a_production_downgrade_without_a_terminal_is_refused_without_yes(project, migrate_console):
    two_revisions(project)
    production(project)
    assert migrate_console("upgrade").exit_code == 0

    refused = migrate_console("downgrade")

    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "error: refusing to run `migrate downgrade -1` on the production database "
    )
    assert "add --yes" in refused.stderr
    assert project.versions_in_db() == {SECOND}

    confirmed = migrate_console("downgrade", "--yes")

    assert confirmed.exit_code == 0, confirmed.output
    assert project.versions_in_db() == {FIRST}


def test_a_production_dry_run_needs_no_confirmation(project, migrate_console):
    two_revisions(project)
    production(project)
    migrate_console("upgrade")

    result = migrate_console("downgrade", "--dry-run")

    assert result.exit_code == 0, result.output
    assert f"would revert {SECOND}" in result.stdout


def test_other_environments_downgrade_without_asking(project, migrate):
    two_revisions(project)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_ENV="staging")
    migrate("upgrade")

    assert migrate("downgrade").exit_code == 0
    assert project.versions_in_db() == {FIRST}


def answer_on_a_terminal(project, answer: str, *args: str) -> tuple[int, str]:
    """Run the console script with a terminal as stdin/stderr, type `answer`, return the
    exit code and what the terminal showed."""
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    with subprocess.Popen(
        [str(MIGRATE_SCRIPT), *args],
        cwd=project.root,
        env=environment,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        shown = b""
        while b"?" not in shown:
            shown += os.read(controller, 1024)
        os.write(controller, answer.encode() + b"\n")
        while True:
            try:
                chunk = os.read(controller, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=60)
    os.close(controller)
    return code, shown.decode()


@pytest.mark.parametrize(("answer", "code", "left_at"), [("y", 0, FIRST), ("n", 1, SECOND)])
def test_a_production_downgrade_on_a_terminal_asks_first(project, migrate, answer, code, left_at):
    two_revisions(project)
    production(project)
    migrate("upgrade")

    exit_code, shown = answer_on_a_terminal(project, answer, "downgrade")

    assert "Run `migrate downgrade -1` on the production database sqlite:///" in shown
    assert exit_code == code, shown
    assert project.versions_in_db() == {left_at}
    if answer == "n":
        assert "cancelled: nothing was changed" in shown


@pytest.mark.parametrize(
    "message",
    [
        "../../etc/passwd",
        "../..",
        "/absolute/path",
        'it\'s "quoted" `rm -rf ~`',
        "Ajouter l'élève 学生 ☃",
        "a|b:..:c<>?*",
        "x" * 300,
    ],
)
def test_a_revision_message_never_names_a_file_outside_versions(project, migrate, message):
    before = {path for path in project.root.rglob("*")}

    result = migrate("create", message, "--empty")

    assert result.exit_code == 0, result.output
    [written] = project.revision_files()
    created = {path for path in project.root.rglob("*")} - before
    assert created == {written}
    assert written.parent == project.versions
    assert re.fullmatch(r"\d{8}_\d{4}-[0-9a-f]{12}_\w*\.py", written.name)
    assert written.read_text().count(message.strip()) >= 1  # the message itself is kept


@pytest.mark.parametrize("message", ['Fix """ quoting', "Path C:\\temp\\n"])
def test_a_message_that_would_break_the_docstring_is_refused(project, migrate, message):
    result = migrate("create", message, "--empty")

    assert result.exit_code == 2
    assert "cannot contain" in result.stderr
    assert project.revision_files() == []
