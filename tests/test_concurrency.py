"""Several `migrate upgrade` processes at once, as every instance of a deploy runs them."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from conftest import MIGRATE_SCRIPT, SETTING_NAMES, run_process, table_names, versions_in
from test_checksums import recorded_rows

from migrations_cli.core.tool_tables import CHECKSUM_TABLE, LOCK_TABLE
from migrations_cli.running.locking import migration_lock

PROCESSES = 8
REVISIONS = 4

REVISION = """
import time

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("t{number}", sa.Column("id", sa.Integer, primary_key=True))
    time.sleep(0.1)  # widen the window in which an unlocked run would race
{extra}

def downgrade():
    op.drop_table("t{number}")
"""

# CREATE INDEX CONCURRENTLY waits for every transaction holding an older snapshot: a waiter
# blocked inside pg_advisory_lock() would hang it for good.
CONCURRENT_INDEX = """
    with op.get_context().autocommit_block():
        op.create_index("ix_t{number}_id", "t{number}", ["id"], postgresql_concurrently=True)
"""


def write_history(project, dialect: str) -> list[str]:
    revisions = [f"{number:04d}aaaaaaaa" for number in range(1, REVISIONS + 1)]
    for number, revision in enumerate(revisions, start=1):
        extra = CONCURRENT_INDEX.format(number=number) if dialect == "postgresql" else ""
        project.write(
            f"alembic/versions/{revision}_t{number}.py",
            REVISION.format(
                revision=revision,
                down=revisions[number - 2] if number > 1 else None,
                number=number,
                extra=extra,
            ),
        )
    return revisions


def start_upgrades(project, count: int, env: dict[str, str]) -> list[subprocess.Popen[str]]:
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    environment.update(env)
    return [
        subprocess.Popen(
            [str(MIGRATE_SCRIPT), "upgrade"],
            cwd=project.root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("lock", ["advisory", "table"])
def test_eight_processes_upgrade_at_once_and_each_migration_runs_exactly_once(
    project, database_url, lock
):
    dialect = database_url.split(":")[0].split("+")[0]
    revisions = write_history(project, dialect)
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_LOCK=lock)

    processes = start_upgrades(project, PROCESSES, env={})
    outcomes = [(*process.communicate(timeout=120), process.returncode) for process in processes]

    failed = [stderr for _, stderr, code in outcomes if code != 0]
    assert not failed, failed
    applied_lines = [
        line.split()[1]
        for _, stderr, _ in outcomes
        for line in stderr.splitlines()
        if line.strip().startswith("applied")
    ]
    assert sorted(applied_lines) == revisions  # each applied once, by one process
    assert versions_in(database_url) == {revisions[-1]}
    assert {f"t{n}" for n in range(1, REVISIONS + 1)} <= table_names(database_url)


def test_a_waiter_gives_up_after_the_timeout_naming_the_lock(project, database_url):
    from sqlalchemy import create_engine

    write_history(project, "sqlite")
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_LOCK_TIMEOUT="0.5")
    engine = create_engine(database_url)
    try:
        with migration_lock(engine, "advisory", timeout=5):
            # (it ends while the lock is still held: it gave up, it did not wait it out)
            result = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root)
    finally:
        engine.dispose()

    assert result.exit_code == 1
    assert "gave up after 0.5s waiting for the migration lock" in result.stderr
    assert "Traceback" not in result.stderr
    assert table_names(database_url) == set()  # nothing ran without the lock


def test_a_database_already_at_head_returns_without_waiting_for_the_lock(project, database_url):
    from sqlalchemy import create_engine

    revisions = write_history(project, "sqlite")
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_LOCK_TIMEOUT="30")
    assert run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root).exit_code == 0
    engine = create_engine(database_url)
    try:
        with migration_lock(engine, "advisory", timeout=5):  # a deploy's first instance
            # It ends while the lock is held: had it queued for the lock, it would have
            # waited the 30 s out and failed.
            result = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root)
    finally:
        engine.dispose()

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Already at {revisions[-1]}: nothing to upgrade."


def test_at_head_with_checksum_rows_still_to_write_a_run_waits_for_the_lock(project, database_url):
    """A deploy's first instance writes its checksum rows after its last revision commits,
    under the lock: an instance that finds the database at head in that moment waits for
    the lock rather than write them itself (and report them as applied without rows)."""
    from sqlalchemy import create_engine, text

    revisions = write_history(project, "sqlite")
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_LOCK_TIMEOUT="0.5")
    assert run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root).exit_code == 0
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(f"DELETE FROM {CHECKSUM_TABLE} WHERE revision = :revision"),
                {"revision": revisions[-1]},
            )
        with migration_lock(engine, "advisory", timeout=5):  # the first instance, finishing
            waiting = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root)
            recorded_meanwhile = set(recorded_rows(database_url))
        after = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root)
        recorded_after = set(recorded_rows(database_url))
    finally:
        engine.dispose()

    assert waiting.exit_code == 1, waiting.output
    assert "gave up after 0.5s waiting for the migration lock" in waiting.stderr
    assert recorded_meanwhile == set(revisions[:-1])  # nothing written without the lock
    assert after.exit_code == 0, after.output
    assert f"recorded checksums of 1 revision applied without them: {revisions[-1]}" in (
        after.output
    )
    assert recorded_after == set(revisions)


def test_the_table_lock_frees_its_lease_and_stays_out_of_autogenerate(
    project, migrate, database_url
):
    from sqlalchemy import create_engine, text

    project.write_env(
        DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata", MIGRATIONS_LOCK="table"
    )
    assert migrate("create", "Add users").exit_code == 0
    assert migrate("upgrade").exit_code == 0

    result = migrate("create", "Nothing changed")

    assert result.exit_code == 0, result.output
    assert "No differences" in result.stderr  # the lock table is not the models' business
    assert len(project.revision_files()) == 1
    if database_url.startswith("sqlite"):  # SQLite locks with a file for either kind
        assert table_names(database_url) == {"users"}
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT name, owner FROM {LOCK_TABLE}")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("migrations_cli", None)]


def test_an_unknown_lock_kind_is_a_settings_error(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_LOCK="mutex")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert "MIGRATIONS_LOCK='mutex' must be one of advisory, table, none" in result.stderr


def server_engine(database_url):
    from sqlalchemy import create_engine

    if database_url.startswith("sqlite"):
        pytest.skip("SQLite locks with a file for either kind: there is no lease row")
    return create_engine(database_url)


def set_lease(engine, owner: str, expires_in_ms: int) -> None:
    from sqlalchemy import text

    from migrations_cli.running.locking import _database_now_ms

    with engine.connect() as connection:
        now = _database_now_ms(connection)
        connection.execute(
            text(f"UPDATE {LOCK_TABLE} SET owner = :owner, expires_ms = :expires"),
            {"owner": owner, "expires": now + expires_in_ms},
        )
        connection.commit()


def test_a_lease_taken_over_is_noticed_before_the_next_revision_commits(database_url, monkeypatch):
    from migrations_cli.running import locking

    monkeypatch.setattr(locking, "LEASE_SECONDS", 0.3)
    monkeypatch.setattr(locking, "LEASE_MS", 300)
    engine = server_engine(database_url)
    try:
        with migration_lock(engine, "table", timeout=5) as still_held:
            still_held()  # held: no error
            set_lease(engine, "someone-else", 60_000)
            # The next renewal (every 0.1 s here) finds the row is no longer ours; from then
            # on the check raises. Polled: no wall-clock bound to miss on a slow machine.
            with pytest.raises(locking.LockLost, match="its lease could not be renewed"):
                for _ in range(600):
                    still_held()
                    time.sleep(0.05)
    finally:
        engine.dispose()


def test_an_expired_lease_of_a_dead_holder_is_taken_and_a_live_one_waited_for(database_url):
    from migrations_cli.running.locking import LockTimeout

    engine = server_engine(database_url)
    try:
        with migration_lock(engine, "table", timeout=5):
            pass  # creates the table and its row
        set_lease(engine, "killed-process", -1)  # expired a millisecond ago
        with migration_lock(engine, "table", timeout=1):
            pass  # taken at once
        set_lease(engine, "live-process", 60_000)
        with (
            pytest.raises(LockTimeout, match="lease row"),
            migration_lock(engine, "table", timeout=0.5),
        ):
            pass
    finally:
        engine.dispose()
