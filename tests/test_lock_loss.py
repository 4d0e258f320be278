"""The lock's connection dies mid-run (a server restart, an idle-connection killer,
`pg_terminate_backend`, MariaDB's `KILL`): the holder stops before its next revision commits,
naming the lock; the waiters never run a revision the holder is still running; every
process says what is true; a ledger table shows every revision applied exactly once."""

from __future__ import annotations

import time

import pytest
from conftest import MIGRATE_SCRIPT, run_process, versions_in
from test_concurrency import start_upgrades

from migrations_cli.running.locking import LOCK_NAME, _PostgreSQLAdvisoryLock

LEDGER = "ledger"
REVISIONS = [f"{number:04d}bbbbbbbb" for number in range(1, 4)]
SLEEP_SECONDS = 0.4  # each revision's: the kill lands while the holder is inside one

# The table is created IF NOT EXISTS: on MariaDB, whose DDL commits at once, a revision cut
# short leaves its table behind (its error says so), and the next run creates it again.
REVISION = """
import os
import time

from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{body}
    op.execute("CREATE TABLE IF NOT EXISTS x{number} (id INT)")
    op.execute("INSERT INTO {ledger} (revision) VALUES ('{revision}')")

def downgrade():
    pass
"""
SLEEP = f"    time.sleep({SLEEP_SECONDS})\n"


def server_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's lock is a file lock: no connection to lose")
    return database_url


def write_history(project, database_url: str, bodies: dict[int, str] | None = None) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE {LEDGER} (revision VARCHAR(32))"))
    finally:
        engine.dispose()
    for number, revision in enumerate(REVISIONS, start=1):
        project.write(
            f"alembic/versions/{revision}_x{number}.py",
            REVISION.format(
                revision=revision,
                down=REVISIONS[number - 2] if number > 1 else None,
                number=number,
                ledger=LEDGER,
                body=(bodies or {}).get(number, SLEEP),
            ),
        )


def ledger(database_url: str) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT revision FROM {LEDGER} ORDER BY revision"))
            return [revision for (revision,) in rows]
    finally:
        engine.dispose()


def kill_the_locks_connection(database_url: str) -> int:
    """Kill the server session that holds the migration lock, once one does; its id."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    key = _PostgreSQLAdvisoryLock.KEY
    try:
        with engine.connect() as connection:
            for _ in range(500):
                if database_url.startswith("postgresql"):
                    holder = connection.execute(
                        text(
                            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                            " AND classid::bigint = :high AND objid::bigint = :low AND database"
                            " = (SELECT oid FROM pg_database WHERE datname = current_database())"
                        ),
                        {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
                    ).scalar()
                else:
                    holder = connection.execute(
                        text("SELECT IS_USED_LOCK(CONCAT(:name, '.', DATABASE()))"),
                        {"name": LOCK_NAME},
                    ).scalar()
                if holder is not None:
                    break
                time.sleep(0.01)
            assert holder is not None, "no process took the migration lock"
            if database_url.startswith("postgresql"):
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
            else:
                connection.execute(text(f"KILL {int(holder)}"))
            return int(holder)
    finally:
        engine.dispose()


def wait_for_version(database_url: str, revision: str) -> None:
    from sqlalchemy import exc

    for _ in range(1000):
        try:
            if versions_in(database_url) == {revision}:
                return
        except exc.DBAPIError:  # no version table yet
            pass
        time.sleep(0.01)
    raise AssertionError(f"the database never reached {revision}")


@pytest.mark.parametrize("committed", [0, 1], ids=["in-the-first-revision", "mid-run"])
def test_killing_the_lock_connection_stops_the_holder_and_each_revision_runs_once(
    project, database_url, committed
):
    url = server_url(database_url)
    write_history(project, url)
    project.write_env(DATABASE_URL=url, MIGRATIONS_LOCK="advisory")

    processes = start_upgrades(project, 3, env={})
    if committed:
        wait_for_version(url, REVISIONS[committed - 1])  # the holder is inside the next one
    kill_the_locks_connection(url)
    outcomes = [(*process.communicate(timeout=60), process.returncode) for process in processes]

    failed = [stderr for _, stderr, code in outcomes if code != 0]
    assert len(failed) == 1, outcomes  # the holder, and only it
    (holder,) = failed
    lock = "PostgreSQL advisory lock" if url.startswith("postgresql") else "GET_LOCK"
    assert f"lost the migration lock ({lock}" in holder
    if committed:  # the holder was inside the next revision
        stopped_in = REVISIONS[committed]
        assert f"upgrade stopped in revision {stopped_in}: lost the migration lock" in holder
        assert f"{committed} revision(s) applied before the failure are committed" in holder
        if url.startswith("postgresql"):  # the check before the commit found the lock gone
            assert f"{stopped_in} was rolled back and left nothing behind" in holder
        else:  # the killed connection was the migration's own: its DDL had committed
            assert f"{stopped_in} may have left partial changes: MariaDB commits" in holder
    for _, stderr, _ in outcomes:
        assert "fix it" not in stderr
        assert "Traceback" not in stderr
    applied = sorted(
        line.split()[1]
        for _, stderr, _ in outcomes
        for line in stderr.splitlines()
        if line.strip().startswith("applied")
    )
    assert applied == REVISIONS  # each by one process, the holder's last one not among them
    assert ledger(url) == REVISIONS  # every revision's work committed exactly once

    again = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root)
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"Already at {REVISIONS[-1]}: nothing to upgrade."
    assert ledger(url) == REVISIONS


# Revision 2 of the first process runs a second `migrate upgrade` to the end inside it:
# another process that applies 2 and 3 while the first still has 2 under way.
OVERTAKE = """
    if os.environ.pop("OVERTAKE", None):
        import subprocess, sys

        subprocess.run([sys.argv[0], "upgrade"], check=True)
"""


def test_a_run_overtaken_by_another_process_says_what_that_process_applied(project, database_url):
    url = server_url(database_url)
    write_history(project, url, bodies={1: "    pass\n", 2: OVERTAKE, 3: "    pass\n"})
    project.write_env(DATABASE_URL=url, MIGRATIONS_LOCK="none")

    result = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root, env={"OVERTAKE": "1"})

    assert result.exit_code == 1, result.output
    assert (
        f"upgrade stopped: another process applied {REVISIONS[1]}, {REVISIONS[2]} meanwhile, "
        "so the revision this run had under way did not commit (the database is now at "
        f"{REVISIONS[2]}; the 1 revision(s) this run applied before it are committed)"
    ) in result.stderr
    assert "fix it" not in result.stderr
    assert ledger(url) == REVISIONS
