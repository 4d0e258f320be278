"""Checksums of applied migrations: recorded on upgrade, compared by status, doctor, upgrade
and `migrate checksums`, repaired by `migrate checksums --repair`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from conftest import MODELS_V1

from migrations_cli.core.tool_tables import CHECKSUM_TABLE

USERS = "aaaa00000001"
EMAIL = "bbbb00000002"

USERS_FILE = "alembic/versions/aaaa00000001_add_users.py"
EMAIL_FILE = "alembic/versions/bbbb00000002_add_email.py"

USERS_SOURCE = '''\
"""Add users"""
import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
    )


def downgrade():
    op.drop_table("users")
'''

EMAIL_SOURCE = '''\
"""Add email"""
import sqlalchemy as sa
from alembic import op

revision = "bbbb00000002"
down_revision = "aaaa00000001"


def upgrade():
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("notes")
'''

MODELS_WITH_NOTES = (
    MODELS_V1 + '\nTable("notes", metadata, Column("id", Integer, primary_key=True))\n'
)


def recorded_rows(database_url: str) -> dict[str, tuple[str, str]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(f"SELECT revision, code_sha256, text_sha256 FROM {CHECKSUM_TABLE}")
            )
            return {revision: (code, text_sum) for revision, code, text_sum in rows}
    finally:
        engine.dispose()


def drop_checksum_table(database_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {CHECKSUM_TABLE}"))
    finally:
        engine.dispose()


def at_head(project, migrate, database_url):
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    project.write("models.py", MODELS_WITH_NOTES)
    project.write(USERS_FILE, USERS_SOURCE)
    project.write(EMAIL_FILE, EMAIL_SOURCE)
    result = migrate("upgrade")
    assert result.exit_code == 0, result.output


def test_upgrade_records_checksums_and_downgrade_forgets_them(project, migrate, database_url):
    at_head(project, migrate, database_url)
    rows = recorded_rows(database_url)
    assert set(rows) == {USERS, EMAIL}
    assert all(len(code) == 64 and len(text) == 64 for code, text in rows.values())

    result = migrate("checksums")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        f"ok        {USERS}  Add users",
        f"ok        {EMAIL}  Add email",
    ]
    assert "edited" not in migrate("status").stderr

    assert migrate("downgrade", "-1").exit_code == 0
    assert set(recorded_rows(database_url)) == {USERS}


def test_each_revision_records_when_it_was_applied_in_utc(project, migrate, database_url):
    from sqlalchemy import create_engine, select

    from migrations_cli.running.checksums import checksum_table

    second = timedelta(seconds=1)
    started = datetime.now(timezone.utc).replace(tzinfo=None) - second
    at_head(project, migrate, database_url)
    finished = datetime.now(timezone.utc).replace(tzinfo=None) + second
    table = checksum_table()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:  # (read back through the column's own type)
            rows = dict(connection.execute(select(table.c.revision, table.c.applied_at)).all())
    finally:
        engine.dispose()
    assert set(rows) == {USERS, EMAIL}
    assert all(started <= applied_at <= finished for applied_at in rows.values()), rows
    assert rows[USERS] <= rows[EMAIL]


def test_a_failed_upgrade_records_the_revisions_that_committed(project, migrate, database_url):
    """The rows are written when the run ends: after a failure, those of the revisions
    applied before it, and none for the one that failed."""
    project.write_env(DATABASE_URL=database_url)
    project.write(USERS_FILE, USERS_SOURCE)
    failing = EMAIL_SOURCE.replace(
        "def upgrade():\n", "def upgrade():\n    raise RuntimeError('boom')\n"
    )
    project.write(EMAIL_FILE, failing)

    failed = migrate("upgrade")
    assert failed.exit_code == 1
    assert "boom" in failed.stderr
    assert "cannot record" not in failed.stderr
    assert set(recorded_rows(database_url)) == {USERS}

    project.write(EMAIL_FILE, EMAIL_SOURCE)
    upgrade = migrate("upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert "recorded checksums" not in upgrade.stderr  # USERS had its row already
    assert set(recorded_rows(database_url)) == {USERS, EMAIL}
    assert migrate("checksums").exit_code == 0


def test_code_edit_warns_everywhere_and_repair_clears_it(project, migrate, database_url):
    at_head(project, migrate, database_url)
    project.write(EMAIL_FILE, EMAIL_SOURCE.replace('"notes"', '"memos"', 1))

    checked = migrate("checksums")
    assert checked.exit_code == 1
    assert f"edited    {EMAIL}  Add email" in checked.stdout.splitlines()
    warning = (
        f"warning: applied migration edited since it was applied: {EMAIL} "
        "(bbbb00000002_add_email.py) (the database may not match the file); review them, "
        "then record the files as they are with `migrate checksums --repair`"
    )
    assert warning in checked.stderr.splitlines()
    status = migrate("status")
    assert status.exit_code == 0
    assert warning in status.stderr.splitlines()
    upgrade = migrate("upgrade")
    assert upgrade.exit_code == 0  # a warning, never a failure
    assert warning in upgrade.stderr.splitlines()
    doctor = migrate("doctor", "--json")
    assert doctor.exit_code == 0
    check = json.loads(doctor.stdout)["checks"][-1]
    assert check["name"] == "checksums" and check["status"] == "warn"
    assert EMAIL in check["message"]

    repaired = migrate("checksums", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"  {EMAIL}  recorded (edited)" in repaired.stderr.splitlines()
    assert migrate("checksums").exit_code == 0
    assert "edited" not in migrate("status").stderr
    assert json.loads(migrate("doctor", "--json").stdout)["checks"][-1]["status"] == "ok"


def test_comment_and_whitespace_edits_are_told_apart(project, migrate):
    at_head(project, migrate, "sqlite:///db.sqlite")
    edited = (
        EMAIL_SOURCE.replace(
            "def upgrade():\n",
            "# notes are kept for the support team\ndef upgrade():  # idempotent\n\n",
        )
        .replace("    op.create_table(", "  op.create_table(  ")
        .replace("\n", "\r\n")
    )
    project.write(EMAIL_FILE, edited)

    checked = migrate("checksums")
    assert checked.exit_code == 0
    assert f"comment-only  {EMAIL}  Add email" in checked.stdout.splitlines()
    assert "warning" not in checked.stderr
    assert (
        f"only comments or whitespace changed since applied: {EMAIL} "
        "(bbbb00000002_add_email.py) (`migrate checksums --repair` records the files as they are)"
    ) in migrate("status").stderr.splitlines()
    check = json.loads(migrate("doctor", "--json").stdout)["checks"][-1]
    assert check["status"] == "ok"
    assert "1 with comment/whitespace edits" in check["message"]


def test_deleted_file_of_an_applied_revision_is_warned_about(project, migrate, database_url):
    at_head(project, migrate, database_url)
    (project.root / EMAIL_FILE).unlink()  # the head: the chain below still loads

    checked = migrate("checksums", "--json")
    assert checked.exit_code == 1
    document = json.loads(checked.stdout)
    assert {"revision": EMAIL, "state": "missing-file", "path": None} in document["revisions"]
    assert document["ok"] is False
    assert (
        f"warning: applied revision without a migration file any more: {EMAIL}; restore the "
        "file, or forget it with `migrate checksums --repair`"
    ) in migrate("status").stderr.splitlines()

    # Once the database is back at a revision a file defines, repair forgets the row.
    assert migrate("stamp", "--purge", USERS).exit_code == 0
    repaired = migrate("checksums", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert set(recorded_rows(database_url)) == {USERS}


def test_database_migrated_before_checksums_gets_them_on_next_upgrade(
    project, migrate, database_url
):
    at_head(project, migrate, database_url)
    drop_checksum_table(database_url)

    checked = migrate("checksums")
    assert checked.exit_code == 0
    assert f"unrecorded  {USERS}  Add users" in checked.stdout.splitlines()

    upgrade = migrate("upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert (
        f"recorded checksums of 2 revisions applied without them: {USERS}, {EMAIL}"
        in upgrade.stderr.splitlines()
    )
    assert set(recorded_rows(database_url)) == {USERS, EMAIL}
    assert "recorded checksums" not in migrate("upgrade").stderr  # only once


def test_upgrade_commits_the_migration_with_its_checksum(project, migrate, postgresql_url):
    project.write_env(DATABASE_URL=postgresql_url, MIGRATIONS_METADATA="models:metadata")
    project.write(USERS_FILE, USERS_SOURCE)
    assert migrate("upgrade").exit_code == 0
    drop_checksum_table(postgresql_url)  # as if migrated before checksums existed
    project.write("models.py", MODELS_WITH_NOTES)
    project.write(EMAIL_FILE, EMAIL_SOURCE)

    assert migrate("upgrade").exit_code == 0
    from conftest import table_names, versions_in

    # Seen from other connections: the tables, the version and both rows are committed.
    assert {"users", "notes"} <= table_names(postgresql_url)
    assert versions_in(postgresql_url) == {EMAIL}
    assert set(recorded_rows(postgresql_url)) == {USERS, EMAIL}


def test_autogenerate_ignores_the_checksum_table(project, migrate, database_url):
    at_head(project, migrate, database_url)
    created = migrate("create", "nothing changed")
    assert created.exit_code == 0, created.output
    assert len(project.revision_files()) == 2
    assert migrate("check").exit_code == 0


def test_console_script_checksums(project, migrate, migrate_console):
    at_head(project, migrate, "sqlite:///db.sqlite")
    project.write(USERS_FILE, USERS_SOURCE.replace("String(50)", "String(80)"))
    result = migrate_console("checksums")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "checksum  revision      message",
        f"edited    {USERS}  Add users",
        f"ok        {EMAIL}  Add email",
    ]
    assert "applied migration edited since it was applied" in result.stderr


def test_a_row_left_behind_is_replaced_when_its_revision_is_applied_again(
    project, migrate, database_url
):
    """A stamp (or plain alembic's downgrade) leaves the row of a revision no longer applied:
    applying the revision again records its file as it is now, in one statement."""
    from sqlalchemy import create_engine, text

    at_head(project, migrate, database_url)
    assert migrate("stamp", "--purge", USERS).exit_code == 0
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE notes"))
            connection.execute(
                text(f"UPDATE {CHECKSUM_TABLE} SET code_sha256 = :x, text_sha256 = :x"),
                {"x": "0" * 64},
            )
    finally:
        engine.dispose()
    edited = EMAIL_SOURCE.replace("def upgrade():\n", "# reviewed\ndef upgrade():\n")
    project.write(EMAIL_FILE, edited)

    upgrade = migrate("upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert "cannot record" not in upgrade.stderr
    rows = recorded_rows(database_url)
    assert rows[EMAIL] != ("0" * 64, "0" * 64)  # replaced
    assert rows[USERS] == ("0" * 64, "0" * 64)  # applied before: left as recorded
    checked = migrate("checksums")
    assert f"ok        {EMAIL}  Add email" in checked.stdout.splitlines()


def test_a_checksum_table_that_cannot_be_written_is_a_warning_not_a_failure(
    project, migrate, database_url
):
    """The first write of a run goes in a savepoint: a table that refuses it stops recording
    with a warning, and every migration still runs and commits."""
    from conftest import versions_in
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:  # a table of that name, but not ours
            connection.execute(
                text(
                    f"CREATE TABLE {CHECKSUM_TABLE} (revision VARCHAR(255) PRIMARY KEY, "
                    "code_sha256 CHAR(64), text_sha256 CHAR(64), applied_at TIMESTAMP NULL, "
                    "owner VARCHAR(20) NOT NULL)"
                )
            )
    finally:
        engine.dispose()
    project.write_env(DATABASE_URL=database_url)
    project.write(USERS_FILE, USERS_SOURCE)
    project.write(EMAIL_FILE, EMAIL_SOURCE)

    upgrade = migrate("upgrade")
    assert upgrade.exit_code == 0, upgrade.output
    assert upgrade.stderr.count(f"cannot record migration checksums in {CHECKSUM_TABLE}") == 1
    assert versions_in(database_url) == {EMAIL}
    assert recorded_rows(database_url) == {}


# Sources whose code sum Python 3.11's C tokenizer must give exactly as `tokenize` does.
TOKENIZER_CASES = [
    b"",
    b"# only a comment",
    b"x = 1",
    b"x = 1  # no newline at the end",
    b"def f():\n    x = 1\n# dedented comment\ny = 2",
    b"def f():\n\tx = (1,\n  2)\n\n\n",
    b"x = 1 \\\n + 2\n",
    b"\x0cx = 1\n",
    b"if x:\r\n    pass\r\n",
    b"\xef\xbb\xbfx = 1\n",
    b"# -*- coding: latin-1 -*-\ns = '\xe9'\n",
    b"s = f'{x!r:>{w}}' rb'\\d'\n",
    b"x = '''a\n# not a comment\nb'''\n",
    b"x = $\n",  # tokenize: error tokens
    b"x = 'unterminated\n",
    "caf\u00e9 = 1\nx\U000e0100 = 2\n".encode(),  # non-ASCII identifiers
    b"async def f() -> None:\n    await x; y := 1\n",
    EMAIL_SOURCE.encode(),
    USERS_SOURCE.encode(),
]


def test_the_fast_code_sum_is_the_one_tokenize_gives(monkeypatch):
    import sys

    import pytest

    from migrations_cli.guards import code_sums

    if code_sums._C_TOKENIZER is None:
        pytest.skip(f"no C tokenizer fast path on Python {sys.version_info[:2]}")
    fast = [code_sums._code_checksum(source) for source in TOKENIZER_CASES]
    monkeypatch.setattr(code_sums, "_C_TOKENIZER", None)
    assert fast == [code_sums._code_checksum(source) for source in TOKENIZER_CASES]
