"""Adopting an existing Alembic project: its own env.py (as `alembic init` writes it) gets
what migrations-cli's gives (a line per revision, checksums, warnings, hooks), one rule for
the database URL and for the models, and `.env` keys in the process environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_checksums import drop_checksum_table, recorded_rows
from test_commands import revision_of
from test_init import (  # noqa: F401 (fixtures)
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
def two_revisions(alembic_project, migrate, database_url):  # noqa: F811
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
    database_url,  # noqa: F811
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
    migrate,  # noqa: F811
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
