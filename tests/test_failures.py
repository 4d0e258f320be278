"""A migration that fails half way: the database is left at a known revision, and the one
error line says which revision failed, at which statement, why, and how to go on.

PostgreSQL and SQLite run each revision in a transaction of its own: the failed revision
leaves nothing behind and the ones before it stay committed. MariaDB commits DDL at once:
the version table names the last revision that completed, and the message says how to
recover from what the failed one already did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from conftest import MIGRATE_SCRIPT, SETTING_NAMES, run_process, table_names, versions_in

from migrations_cli.running.locking import migration_lock

FIRST, SECOND, THIRD = "f1aaaaaaaaaa", "f2bbbbbbbbbb", "f3cccccccccc"

PEOPLE = 'people = sa.table("t1", sa.column("id", sa.Integer), sa.column("name", sa.String))'

CREATE_T1 = """
    op.create_table(
        "t1",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )
    op.bulk_insert(people, [{"id": 1, "name": "alice"}])
"""
CREATE_T2 = """
    op.create_table("t2", sa.Column("id", sa.Integer, primary_key=True))
"""
CREATE_T3 = """
    op.create_table("t3", sa.Column("id", sa.Integer, primary_key=True))
"""
BAD_SQL = (
    CREATE_T2
    + """
    op.execute("SELECT * FROM no_such_table")
"""
)
# A value bound as a parameter: it must never appear in the output.
PARAMETER_VALUE = "alice"
DUPLICATE = (
    CREATE_T2
    + """
    op.bulk_insert(people, [{"id": 2, "name": "alice"}])
"""
)

# Why each database refused, as the message's reason says it.
BAD_SQL_REASONS = {
    "sqlite": "database error: no such table: no_such_table",
    "postgresql": 'database error: relation "no_such_table" does not exist',
    "mysql": "database error: (1146, \"Table '{database}.no_such_table' doesn't exist\")",
}
DUPLICATE_REASONS = {
    "sqlite": "database error: UNIQUE constraint failed: t1.name",
    "postgresql": 'database error: duplicate key value violates unique constraint "t1_name_key"',
    "mysql": "database error: (1062, \"Duplicate entry 'alice' for key 'name'\")",
}
BAD_SQL_STATEMENT = "[SQL: SELECT * FROM no_such_table]"
DUPLICATE_STATEMENTS = {
    "sqlite": "[SQL: INSERT INTO t1 (id, name) VALUES (?, ?)]",
    "postgresql": "[SQL: INSERT INTO t1 (id, name) VALUES (%(id)s::INTEGER, %(name)s::VARCHAR)]",
    "mysql": "[SQL: INSERT INTO t1 (id, name) VALUES (%(id)s, %(name)s)]",
}


def write_revision(project, revision, down, upgrade, message="step"):
    project.write_revision(revision, down, upgrade=upgrade, message=message, preamble=PEOPLE)


def write_history(project, second_upgrade):
    write_revision(project, FIRST, None, CREATE_T1, "first")
    write_revision(project, SECOND, FIRST, second_upgrade, "second")
    write_revision(project, THIRD, SECOND, CREATE_T3, "third")


def dialect_of(database_url: str) -> str:
    return database_url.split(":")[0].split("+")[0]


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    return line


def expected_error(dialect, reason, statement):
    state = f"the database is at {FIRST}; 1 revision(s) applied before the failure are committed"
    if dialect == "mysql":
        after = (
            f"{SECOND} may have left partial changes: MariaDB commits DDL at once, so "
            f"statements of {SECOND} that ran before the error stay applied; undo by hand "
            f"what {SECOND} already did (see its upgrade()), then run `migrate upgrade` "
            f"again; or, if the schema already matches {SECOND}, run `migrate stamp {SECOND}`"
        )
    else:
        after = (
            f"{SECOND} was rolled back and left nothing behind: fix it and run "
            "`migrate upgrade` again"
        )
    return f"error: upgrade stopped in revision {SECOND}: {reason} {statement} ({state}; {after})"


def drop_table(database_url: str, name: str) -> None:
    """What the recovery asks of someone on MariaDB: undo the half-run revision by hand."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE {name}"))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("second_upgrade", "reasons", "statements"),
    [
        (BAD_SQL, BAD_SQL_REASONS, dict.fromkeys(BAD_SQL_REASONS, BAD_SQL_STATEMENT)),
        (DUPLICATE, DUPLICATE_REASONS, DUPLICATE_STATEMENTS),
    ],
    ids=["bad-sql", "duplicate-from-data"],
)
def test_a_revision_failing_half_way_leaves_a_known_revision_and_says_how_to_go_on(
    project, migrate, database_url, second_upgrade, reasons, statements
):
    dialect = dialect_of(database_url)
    project.write_env(DATABASE_URL=database_url)
    write_history(project, second_upgrade)

    result = migrate("upgrade")

    database = database_url.rsplit("/", 1)[1]
    reason = reasons[dialect].format(database=database)
    assert error_line(result) == expected_error(dialect, reason, statements[dialect])
    assert result.stderr.splitlines()[0].split()[:2] == ["applied", FIRST]
    assert "[parameters" not in result.output
    assert versions_in(database_url) == {FIRST}
    if dialect == "mysql":  # DDL committed at once: t2 stays, as the message says
        assert table_names(database_url) == {"t1", "t2"}
        drop_table(database_url, "t2")  # the recovery: undo by hand what it did...
    else:
        assert table_names(database_url) == {"t1"}  # no trace of the failed revision

    write_revision(project, SECOND, FIRST, CREATE_T2, "second")  # ...fix it, run again
    retried = migrate("upgrade")

    assert retried.exit_code == 0, retried.output
    assert retried.stdout == f"Upgraded {FIRST} -> {THIRD} (2 revisions).\n"
    assert versions_in(database_url) == {THIRD}
    assert table_names(database_url) == {"t1", "t2", "t3"}


def test_the_statement_is_shown_without_its_bound_values(project, migrate):
    write_history(project, DUPLICATE)

    result = migrate("upgrade")

    line = error_line(result)
    sql = line[line.index("[SQL: ") : line.index("]")]
    assert sql == "[SQL: INSERT INTO t1 (id, name) VALUES (?, ?)"
    assert PARAMETER_VALUE not in line  # SQLite's reason names the column, not the value


def test_a_long_statement_is_shortened_to_one_line(project, migrate):
    long_select = "SELECT\\n    " + ",\\n    ".join(f"col_{n}" for n in range(40))
    write_history(project, CREATE_T2 + f'    op.execute("{long_select}\\nFROM no_such_table")')

    result = migrate("upgrade")

    line = error_line(result)
    sql = line[line.index("[SQL: ") + len("[SQL: ") : line.index("]")]
    assert sql.startswith("SELECT col_0, col_1, col_2,")
    assert sql.endswith("...")
    assert len(sql) <= 120


def test_a_failing_downgrade_says_where_it_stopped_and_where_to_stamp(
    project, migrate, database_url
):
    dialect = dialect_of(database_url)
    project.write_env(DATABASE_URL=database_url)
    write_history(project, CREATE_T2)
    assert migrate("upgrade").exit_code == 0
    path = project.versions / f"{THIRD}_third.py"
    path.write_text(
        path.read_text().replace(
            "def downgrade():\n    pass",
            "def downgrade():\n    op.drop_table('t3')\n    op.execute('SELECT * FROM nope')",
        )
    )

    result = migrate("downgrade", "--yes", FIRST)

    line = error_line(result)
    assert line.startswith(f"error: downgrade stopped in revision {THIRD}: ")
    state = f"(the database is at {THIRD}; 0 revision(s) reverted before the failure are committed"
    assert f"[SQL: SELECT * FROM nope] {state}; " in line
    assert versions_in(database_url) == {THIRD}
    if dialect == "mysql":
        assert line.endswith(
            f"{THIRD} may have left partial changes: MariaDB commits DDL at once, so "
            f"statements of {THIRD} that ran before the error stay applied; redo by hand what "
            f"{THIRD} already undid (see its downgrade()), then run `migrate downgrade {FIRST}` "
            f"again; or, if the schema already matches {SECOND}, run `migrate stamp {SECOND}`)"
        )
        assert table_names(database_url) == {"t1", "t2"}  # t3 dropped: the DDL committed
    else:
        assert line.endswith(
            f"{THIRD} was rolled back and left nothing behind: fix it and run "
            f"`migrate downgrade {FIRST}` again)"
        )
        assert table_names(database_url) == {"t1", "t2", "t3"}


def test_autocommit_block_is_not_promised_to_roll_back(project, migrate, postgresql_url):
    project.write_env(DATABASE_URL=postgresql_url)
    write_history(
        project,
        CREATE_T2
        + """
    with op.get_context().autocommit_block():
        op.create_index("ix_t2_id", "t2", ["id"], postgresql_concurrently=True)
    op.execute("SELECT * FROM no_such_table")
""",
    )

    result = migrate("upgrade")

    line = error_line(result)
    assert (
        f"{SECOND} may have left partial changes: it ran statements in autocommit_block(), "
        f"which commits, so statements of {SECOND} that ran before the error stay applied"
    ) in line
    assert versions_in(postgresql_url) == {FIRST}
    assert table_names(postgresql_url) == {"t1", "t2"}  # committed by the block


# --- a process killed half way ------------------------------------------------------------

SLEEPING_SECOND = (
    CREATE_T2
    + """
    op.execute("SELECT pg_sleep(30)")
"""
)


def poll(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def scalar(database_url: str, sql: str):
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def recorded(database_url: str) -> set[str]:
    try:
        return versions_in(database_url)
    except Exception:  # the version table is not there yet
        return set()


def test_sigkill_in_the_middle_leaves_the_last_completed_revision_and_a_rerun_finishes(
    project, postgresql_url
):
    project.write_env(DATABASE_URL=postgresql_url, MIGRATIONS_LOCK_TIMEOUT="10")
    write_history(project, SLEEPING_SECOND)
    database = postgresql_url.rsplit("/", 1)[1]
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    process = subprocess.Popen(
        [str(MIGRATE_SCRIPT), "upgrade"],
        cwd=project.root,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: recorded(postgresql_url) == {FIRST}, 20, f"{FIRST} to be recorded")
        poll(
            lambda: scalar(
                postgresql_url,
                "SELECT count(*) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND query = 'SELECT pg_sleep(30)'",
            ),
            20,
            f"{SECOND} to be running",
        )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    assert process.returncode == -signal.SIGKILL
    assert versions_in(postgresql_url) == {FIRST}
    assert table_names(postgresql_url) == {"t1"}

    # The server cancels the dead client's pg_sleep(30), and its hold on t2, long before the
    # 30 s are up (the check runs every second; the rest is margin for a loaded machine).
    poll(
        lambda: (
            not scalar(
                postgresql_url,
                "SELECT count(*) FROM pg_stat_activity "
                f"WHERE datname = '{database}' AND query = 'SELECT pg_sleep(30)'",
            )
        ),
        20,
        "the killed process's statement to be cancelled",
    )

    write_revision(project, SECOND, FIRST, CREATE_T2, "second")
    result = run_process([str(MIGRATE_SCRIPT), "upgrade"], cwd=project.root, timeout=60)

    # The dead process's advisory lock is free too: waiting for it would end in exit 1.
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Upgraded {FIRST} -> {THIRD} (2 revisions).\n"
    assert versions_in(postgresql_url) == {THIRD}
    assert table_names(postgresql_url) == {"t1", "t2", "t3"}


# --- a project's own env.py ---------------------------------------------------------------

OWN_ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_a_projects_own_env_py_runs_under_the_migration_lock(project, migrate, database_url):
    from sqlalchemy import create_engine

    project.write("alembic/env.py", OWN_ENV_PY)
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_LOCK_TIMEOUT="0.5")
    write_history(project, CREATE_T2)
    engine = create_engine(database_url)
    try:
        with migration_lock(engine, "advisory", timeout=5):  # another deploying process
            waited = migrate("upgrade")
    finally:
        engine.dispose()

    assert "gave up after 0.5s waiting for the migration lock" in error_line(waited)
    assert table_names(database_url) == set()  # nothing ran without the lock
    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout == f"Upgraded base -> {THIRD} (3 revisions).\n"
    assert table_names(database_url) == {"t1", "t2", "t3"}


def test_a_projects_own_env_py_failure_names_the_revision_and_the_statement(
    project, migrate, database_url
):
    project.write("alembic/env.py", OWN_ENV_PY)
    project.write_env(DATABASE_URL=database_url)
    write_history(project, BAD_SQL)

    result = migrate("upgrade")

    line = error_line(result)
    assert line.startswith(f"error: upgrade stopped in revision {SECOND}: database error: ")
    assert f"{BAD_SQL_STATEMENT} (the database is at " in line
    # That env.py runs the whole upgrade in one transaction: where it stopped is read back
    # from the version table, whatever the database kept.
    [version] = recorded(database_url) or {"base"}
    assert line.endswith(f"(the database is at {version}; it was at base)")
