"""Lock and statement timeouts on each revision, a revision's own, and the retry of a
revision that timed out waiting for a lock held by another connection: under
migrations-cli's env.py and under a project's own (as `alembic init` writes it), and in the
SQL that `upgrade --sql` writes."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from conftest import REPO_ROOT, readme_section, run_process, versions_in
from test_init import _restore_logging, alembic_init_files  # noqa: F401 (fixtures)
from test_offline_sql import OFFLINE_URLS

from migrations_cli.core.durations import parse_duration
from migrations_cli.core.errors import SettingsError
from migrations_cli.core.settings import load_settings

FIRST, SECOND = "a1aaaaaaaaaa", "b2bbbbbbbbbb"
REVISION = '''"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = {down!r}
{extra}

def upgrade():
{upgrade}


def downgrade():
    pass
'''
CREATE_ACCOUNTS = """
    op.create_table("accounts", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table("seen", sa.Column("name", sa.String(40)), sa.Column("value", sa.String(40)))
"""
ADD_COLUMN = """
    op.add_column("accounts", sa.Column("email", sa.String(80)))
"""
# What the database's session says while the revision runs, kept in the table `seen`.
LOOK = {
    "postgresql": [
        ("lock", "SELECT current_setting('lock_timeout')"),
        ("statement", "SELECT current_setting('statement_timeout')"),
    ],
    "mysql": [
        ("lock", "SELECT CAST(@@SESSION.lock_wait_timeout AS CHAR)"),
        ("statement", "SELECT CAST(@@SESSION.max_statement_time AS CHAR)"),
    ],
    "sqlite": [("lock", "PRAGMA busy_timeout")],
}


def dialect_of(database_url: str) -> str:
    return database_url.split(":")[0].split("+")[0]


def write_revision(project, revision, down, upgrade, extra="", message="step"):
    project.write(
        f"alembic/versions/{revision}_{message}.py",
        REVISION.format(
            revision=revision, down=down, upgrade=upgrade.rstrip(), extra=extra, message=message
        ),
    )


def look_upgrade(dialect: str) -> str:
    lines = [
        f"    value = op.get_bind().exec_driver_sql({sql!r}).scalar()\n"
        f"    op.get_bind().exec_driver_sql("
        f"\"INSERT INTO seen VALUES ('{name}', '\" + str(value) + \"')\")"
        for name, sql in LOOK[dialect]
    ]
    return "\n".join(lines)


def seen(database_url: str) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT name, value FROM seen")).all())
    finally:
        engine.dispose()


ENV_PYS = ["migrations-cli's env.py", "own env.py"]


@pytest.fixture(params=ENV_PYS)
def env_py(request, project, own_env_py):
    """The project's alembic/env.py: migrations-cli's, or its own."""
    if request.param == "own env.py":
        own_env_py()
    return request.param


@pytest.fixture
def own_env_py(project, alembic_init_files, _restore_logging):  # noqa: F811
    """Puts in the env.py `alembic init` writes: every revision in one transaction, and
    no `migrations_cli.environment`."""

    def use() -> None:
        shutil.copy(alembic_init_files / "migrations" / "env.py", project.root / "alembic")

    return use


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5),
        ("2m", 120),
        ("1h", 3600),
        ("300", 300),
        ("0.5", 0.5),
        ("1.5s", 1.5),
    ],
)
def test_durations_are_written_with_a_unit_or_as_seconds(text, seconds):
    assert parse_duration("KEY", text) == seconds


@pytest.mark.parametrize("text", ["fast", "5 sec", "-1s", "0", "0ms", "inf", "5s5"])
def test_a_bad_duration_is_a_one_line_error_naming_the_key(text):
    with pytest.raises(SettingsError) as raised:
        parse_duration("MIGRATIONS_DDL_LOCK_TIMEOUT", text)
    assert str(raised.value) == (
        f"MIGRATIONS_DDL_LOCK_TIMEOUT={text!r} must be a duration such as 500ms, 5s, 2m or a "
        "number of seconds, above 0"
    )


def test_every_duration_setting_takes_the_same_spelling(project):
    project.write_env(
        MIGRATIONS_LOCK_TIMEOUT="2m",
        MIGRATIONS_DDL_LOCK_TIMEOUT="500ms",
        MIGRATIONS_STATEMENT_TIMEOUT="30",
        MIGRATIONS_DDL_RETRIES="3",
        MIGRATIONS_DDL_RETRY_MAX_WAIT="10s",
    )

    settings = load_settings()

    assert (settings.lock_timeout, settings.ddl_lock_timeout, settings.statement_timeout) == (
        120,
        0.5,
        30,
    )
    assert (settings.ddl_retries, settings.ddl_retry_max_wait) == (3, 10)


def test_unset_timeouts_are_the_databases_own_and_nothing_is_retried(project):
    settings = load_settings()

    assert (settings.ddl_lock_timeout, settings.statement_timeout, settings.ddl_retries) == (
        None,
        None,
        0,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("MIGRATIONS_LOCK_TIMEOUT", "5 minutes", "must be a duration such as 500ms"),
        ("MIGRATIONS_DDL_RETRIES", "-1", "must be a whole number, 0 or more"),
        ("MIGRATIONS_DDL_RETRIES", "two", "must be a whole number, 0 or more"),
    ],
)
def test_a_bad_setting_stops_the_upgrade_with_one_line_naming_it(
    project, migrate, key, value, message
):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", **{key: value})

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert result.stderr == f"error: {key}={value!r} {message}" + result.stderr.split(message)[1]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


# --- timeouts on each revision --------------------------------------------------------------

# Lock and statement timeouts as each database shows them: as set (1500ms, 1m), then in a
# revision of its own (250ms, None: the database's own, no limit on either server).
EXPECTED = {
    "postgresql": {"set": ("1500ms", "1min"), "revision": ("250ms", "0")},
    "mysql": {"set": ("2", "60.000000"), "revision": ("1", "0.000000")},
    "sqlite": {"set": ("1500",), "revision": ("250",)},
}


def test_the_settings_and_a_revisions_own_timeouts_apply_while_it_runs(
    project, env_py, migrate, database_url
):
    dialect = dialect_of(database_url)
    project.write_env(
        DATABASE_URL=database_url,
        MIGRATIONS_DDL_LOCK_TIMEOUT="1500ms",
        MIGRATIONS_STATEMENT_TIMEOUT="1m",
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS + look_upgrade(dialect))
    write_revision(
        project,
        SECOND,
        FIRST,
        "    op.execute('DELETE FROM seen')\n" + look_upgrade(dialect),
        extra='lock_timeout = "250ms"\nstatement_timeout = None',
    )

    first = migrate("upgrade", FIRST)
    looked_first = seen(database_url)
    second = migrate("upgrade")

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    names = [name for name, _ in LOOK[dialect]]
    assert tuple(looked_first[name] for name in names) == EXPECTED[dialect]["set"]
    assert tuple(seen(database_url)[name] for name in names) == EXPECTED[dialect]["revision"]


def test_without_settings_a_revision_runs_with_the_databases_own_limits(
    project, migrate, database_url
):
    from sqlalchemy import create_engine, text

    dialect = dialect_of(database_url)
    project.write_env(DATABASE_URL=database_url)
    write_revision(project, FIRST, None, CREATE_ACCOUNTS + look_upgrade(dialect))
    engine = create_engine(database_url)
    with engine.connect() as connection:  # a new session's values, for the same user
        own = [str(connection.execute(text(sql)).scalar()) for _, sql in LOOK[dialect]]
    engine.dispose()

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert [seen(database_url)[name] for name, _ in LOOK[dialect]] == own


def test_plain_alembic_with_this_env_py_applies_the_same_timeouts(project):
    from test_console import ALEMBIC_SCRIPT, PYPROJECT_WITH_ALEMBIC

    project.write("pyproject.toml", PYPROJECT_WITH_ALEMBIC)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DDL_LOCK_TIMEOUT="1500ms")
    write_revision(project, FIRST, None, CREATE_ACCOUNTS + look_upgrade("sqlite"))
    write_revision(
        project,
        SECOND,
        FIRST,
        "    op.execute('DELETE FROM seen')\n" + look_upgrade("sqlite"),
        extra="lock_timeout = 0.25",
    )
    url = f"sqlite:///{project.root / 'db.sqlite'}"

    first = run_process([ALEMBIC_SCRIPT, "upgrade", FIRST], cwd=project.root)
    looked_first = seen(url)
    second = run_process([ALEMBIC_SCRIPT, "upgrade", "head"], cwd=project.root)

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert (looked_first["lock"], seen(url)["lock"]) == ("1500", "250")


def test_a_revisions_timeout_that_is_not_a_duration_names_the_revision(project, migrate):
    write_revision(project, FIRST, None, CREATE_ACCOUNTS, extra='lock_timeout = "soon"')

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert f"revision {FIRST}: lock_timeout='soon' must be a duration" in result.stderr
    assert project.versions_in_db() == set()


def test_a_statement_timeout_fails_the_revision_and_is_never_retried(
    project, migrate, postgresql_url
):
    project.write_env(
        DATABASE_URL=postgresql_url,
        MIGRATIONS_STATEMENT_TIMEOUT="100ms",
        MIGRATIONS_DDL_RETRIES="3",
        MIGRATIONS_DDL_RETRY_MAX_WAIT="10ms",
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS)
    write_revision(project, SECOND, FIRST, "    op.execute('SELECT pg_sleep(2)')")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert "canceling statement due to statement timeout" in result.stderr
    assert "retry" not in result.stderr
    assert versions_in(postgresql_url) == {FIRST}


# --- retrying what timed out waiting for a lock --------------------------------------------


@pytest.fixture(params=["postgresql", "mysql"])
def server_url(request):
    from conftest import _fresh_server_database

    yield from _fresh_server_database(request.param)


# Sessions of this test's own database waiting for the held lock (another run's tests, on
# databases of their own, may be waiting at the same moment).
WAITING = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE 'ALTER TABLE accounts%' AND datname = current_database()",
    "mysql": "SELECT count(*) FROM information_schema.PROCESSLIST "
    "WHERE STATE LIKE 'Waiting for table metadata lock%' AND DB = DATABASE()",
}


@contextmanager
def lock_held(
    database_url: str,
    released_at_wait: int | None = None,
    application: str = "holder",
    query: str = "SELECT * FROM accounts",
) -> Iterator[None]:
    """Another connection reads `accounts` in a transaction it keeps open, a shared lock
    that ALTER TABLE waits for on both databases: for the whole block, or until the
    `released_at_wait`-th time a statement waits for it (2: once the first attempt has
    timed out and its error was written), whatever the machine's speed."""
    from sqlalchemy import create_engine, text

    engine = create_engine(
        database_url,
        connect_args={"application_name": application} if "postgresql" in database_url else {},
    )
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as connection, engine.connect() as monitor:
            connection.execute(text(query))
            locked.set()
            waits, waiting = 0, False
            while not done.wait(0.02):
                now_waiting = bool(
                    monitor.execute(text(WAITING[dialect_of(database_url)])).scalar()
                )
                monitor.rollback()
                waits += now_waiting and not waiting
                waiting = now_waiting
                if waits == released_at_wait:
                    break
            connection.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        done.set()
        holder.join()
        engine.dispose()


def retrying_project(project, migrate, database_url: str, retries: str) -> None:
    project.write_env(
        DATABASE_URL=database_url,
        MIGRATIONS_DDL_LOCK_TIMEOUT="200ms",  # (1s on MariaDB: it counts whole seconds)
        MIGRATIONS_DDL_RETRIES=retries,
        MIGRATIONS_DDL_RETRY_MAX_WAIT="50ms",
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS)
    assert migrate("upgrade").exit_code == 0
    write_revision(project, SECOND, FIRST, ADD_COLUMN, message="email")


def test_a_revision_that_timed_out_waiting_for_a_lock_is_retried_until_it_passes(
    project, env_py, migrate, server_url
):
    retrying_project(project, migrate, server_url, retries="10")

    with lock_held(server_url, released_at_wait=2):
        result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    retries = [line for line in result.stderr.splitlines() if line.split()[:1] == ["retry"]]
    assert retries, result.stderr
    assert all(
        f"retry    {SECOND}  timed out waiting for a lock on table accounts" in line
        for line in retries
    ), retries
    assert f"applied  {SECOND}" in result.stderr
    assert versions_in(server_url) == {SECOND}


def test_a_lock_held_longer_than_the_retries_fails_naming_table_holder_and_rerun(
    project, env_py, migrate, server_url
):
    retrying_project(project, migrate, server_url, retries="1")

    with lock_held(server_url):
        result = migrate("upgrade")

    assert result.exit_code == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(
        f"error: upgrade stopped in revision {SECOND}: timed out waiting for a lock on table "
        "accounts, held by "
    ), error
    if dialect_of(server_url) == "postgresql":  # (the holder's last query)
        holder = re.search(
            r"held by pid (\d+) \(holder, user \w+, idle in transaction for [\d.]+s: "
            r"SELECT \* FROM accounts\)",
            error,
        )
        end = f"SELECT pg_terminate_backend({holder[1]})" if holder else None
    else:  # (MariaDB's processlist shows no query of a sleeping connection)
        holder = re.search(
            r"held by connection (\d+) \(user \w+, Sleep for [\d.]+s, a "
            r"transaction open\)",
            error,
        )
        end = f"KILL {holder[1]}" if holder else None
    assert holder, error
    assert ", 2 attempts [SQL: ALTER TABLE accounts ADD" in error
    assert error.endswith(
        f"{SECOND} was rolled back and left nothing behind: wait for the transaction holding "
        f"the lock to end (or end it: {end}) and run `migrate upgrade` again)"
    ), error
    assert len([line for line in result.stderr.splitlines() if "  retry " in line]) == 1
    assert versions_in(server_url) == {FIRST}


def test_mariadb_does_not_retry_a_revision_whose_ddl_committed_before_the_timeout(project, migrate):
    from conftest import _fresh_server_database

    for database_url in _fresh_server_database("mysql"):
        retrying_project(project, migrate, database_url, retries="3")
        write_revision(
            project,
            SECOND,
            FIRST,
            "    op.create_table('audit', sa.Column('id', sa.Integer(), primary_key=True))"
            + ADD_COLUMN,
            message="email",
        )

        with lock_held(database_url):
            result = migrate("upgrade")

        assert result.exit_code == 1
        assert "  retry " not in result.stderr
        assert "(not retried: MariaDB had already committed its DDL)" in result.stderr
        assert f"{SECOND} may have left partial changes: MariaDB commits DDL at once" in (
            result.stderr
        )


# --- in the SQL of upgrade --sql -----------------------------------------------------------

# What a revision's session says, kept in `seen` by SQL alone (a script reads nothing back).
SCRIPT_LOOK = {
    "postgresql": [
        ("lock", "current_setting('lock_timeout')"),
        ("statement", "current_setting('statement_timeout')"),
    ],
    "mysql": [("lock", "CAST(@@SESSION.lock_wait_timeout AS CHAR)")],
    "mariadb": [
        ("lock", "CAST(@@SESSION.lock_wait_timeout AS CHAR)"),
        ("statement", "CAST(@@SESSION.max_statement_time AS CHAR)"),
    ],
    "sqlite": [("lock", "(SELECT * FROM pragma_busy_timeout)")],
}
# The statements of `upgrade --sql` with MIGRATIONS_DDL_LOCK_TIMEOUT=1500ms and
# MIGRATIONS_STATEMENT_TIMEOUT=1m, FIRST plain, SECOND with lock_timeout = "250ms" and
# statement_timeout = None (its transaction's default: no SET LOCAL for it).
SCRIPT_STATEMENTS = {
    "postgresql": [
        "BEGIN;",
        f"-- Running upgrade  -> {FIRST}",
        "SET LOCAL lock_timeout = '1500ms';",
        "SET LOCAL statement_timeout = '60000ms';",
        "COMMIT;",
        "BEGIN;",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        "SET LOCAL lock_timeout = '250ms';",
        "COMMIT;",
    ],
    "mysql": [
        f"-- Running upgrade  -> {FIRST}",
        "-- statement_timeout is not written for a mysql:// URL (MySQL and MariaDB name it "
        "differently): a mariadb:// URL gets MariaDB's max_statement_time",
        "SET @migrations_cli_lock_wait_timeout = @@SESSION.lock_wait_timeout;",
        "SET SESSION lock_wait_timeout = 2;",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        "SET SESSION lock_wait_timeout = 1;",
        "SET SESSION lock_wait_timeout = @migrations_cli_lock_wait_timeout;",
    ],
    "mariadb": [
        f"-- Running upgrade  -> {FIRST}",
        "SET @migrations_cli_lock_wait_timeout = @@SESSION.lock_wait_timeout;",
        "SET SESSION lock_wait_timeout = 2;",
        "SET @migrations_cli_max_statement_time = @@SESSION.max_statement_time;",
        "SET SESSION max_statement_time = 60.0;",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        "SET SESSION lock_wait_timeout = 1;",
        "SET SESSION max_statement_time = @migrations_cli_max_statement_time;",
        "SET SESSION lock_wait_timeout = @migrations_cli_lock_wait_timeout;",
    ],
    "sqlite": [
        f"-- Running upgrade  -> {FIRST}",
        "PRAGMA busy_timeout = 1500;",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        "PRAGMA busy_timeout = 250;",
        "PRAGMA busy_timeout = 0;",
    ],
}
# What each revision saw when the script ran.
SCRIPT_SEEN = {
    "postgresql": {"lock": ("1500ms", "250ms"), "statement": ("1min", "0")},
    "mysql": {"lock": ("2", "1")},
    "mariadb": {"lock": ("2", "1"), "statement": ("60.000000", "0.000000")},
    "sqlite": {"lock": ("1500", "250")},
}
# The session's own value, read at the script's end: put back.
SESSION_VALUE = {
    "mysql": "SELECT CAST(@@SESSION.lock_wait_timeout AS CHAR)",
    "mariadb": "SELECT CAST(@@SESSION.max_statement_time AS CHAR)",
    "sqlite": "PRAGMA busy_timeout",
}
# How each client reports a statement that gave up waiting for a lock.
LOCK_TIMEOUT_ERROR = {
    "postgresql": "canceling statement due to lock timeout",
    "mysql": "Lock wait timeout exceeded",
}


@pytest.fixture(params=["postgresql", "mysql", "mariadb", "sqlite"])
def script_database(request, tmp_path):
    """(dialect, URL) of an empty database; MariaDB's server twice, through a mysql:// URL
    and a mariadb:// one: offline, the URL alone says which server it is."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'script.sqlite'}"
        return
    from conftest import _fresh_server_database

    for url in _fresh_server_database("postgresql" if request.param == "postgresql" else "mysql"):
        if request.param == "mariadb":
            url = url.replace("mysql+", "mariadb+", 1)
        yield request.param, url


def script_look(dialect: str, revision: str) -> str:
    return "\n".join(
        f"    op.execute(\"INSERT INTO seen SELECT '{revision}/{name}', {sql}\")"
        for name, sql in SCRIPT_LOOK[dialect]
    )


def statements_of(script: str) -> list[str]:
    """The script's lines that begin, end or set something, and Alembic's comments."""
    starts = ("BEGIN", "COMMIT", "SET ", "PRAGMA ", "-- ")
    return [line.rstrip() for line in script.splitlines() if line.startswith(starts)]


def run_script(dialect: str, database_url: str, script: str, then: str = "") -> tuple[int, str]:
    """The script run as a DBA runs it, in one session: psql, the mariadb client, or
    Python's sqlite3; `then` a query run after it in that session, its answer returned."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if dialect == "sqlite":
        with closing(sqlite3.connect(url.database or "")) as connection:
            connection.executescript(script)
            return 0, str(connection.execute(then).fetchone()[0]) if then else ""
    if dialect == "postgresql":
        client = shutil.which("psql")
        libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        command = [client or "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", libpq_url]
    else:
        client = shutil.which("mariadb") or shutil.which("mysql")
        command = [client or "mysql", "--batch", "--skip-column-names"]
        command += ["-h", url.host or "127.0.0.1", "-P", str(url.port or 3306)]
        command += ["-u", url.username or "root", *([f"-p{url.password}"] if url.password else [])]
        command.append(url.database or "")
    if client is None:
        pytest.skip(f"no {command[0]} client to run the script with")
    finished = subprocess.run(
        command,
        input=f"{script}\n{then};\n" if then else script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    answer = finished.stdout.strip().splitlines()[-1:] if then else []
    return finished.returncode, (answer[0] if answer else finished.stderr)


def session_default(database_url: str, query: str) -> str:
    """What a new session of the same user has."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql(query).scalar())
    finally:
        engine.dispose()


def test_upgrade_sql_sets_each_revisions_timeouts_and_the_script_runs_with_them(
    project, migrate, script_database
):
    dialect, url = script_database
    project.write_env(
        DATABASE_URL=url, MIGRATIONS_DDL_LOCK_TIMEOUT="1500ms", MIGRATIONS_STATEMENT_TIMEOUT="1m"
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS + script_look(dialect, FIRST))
    write_revision(
        project,
        SECOND,
        FIRST,
        script_look(dialect, SECOND),
        extra='lock_timeout = "250ms"\nstatement_timeout = None',
    )

    result = migrate("upgrade", "--sql")

    assert result.exit_code == 0, result.output
    assert statements_of(result.stdout) == SCRIPT_STATEMENTS[dialect]
    then = SESSION_VALUE.get(dialect, "")
    code, answer = run_script(dialect, url, result.stdout, then)
    assert code == 0, answer
    assert versions_in(url) == {SECOND}
    assert seen(url) == {
        f"{revision}/{name}": value
        for name, values in SCRIPT_SEEN[dialect].items()
        for revision, value in zip((FIRST, SECOND), values, strict=True)
    }
    if dialect == "sqlite":
        assert answer == "0"  # (SQLite's own default: a script cannot read what it was)
    elif then:
        assert answer == session_default(url, then)


def test_the_script_gives_up_waiting_for_a_lock_instead_of_queueing_behind_it(
    project, migrate, server_url
):
    dialect = dialect_of(server_url)
    retrying_project(project, migrate, server_url, retries="0")
    script = migrate("upgrade", "--sql", f"{FIRST}:head")
    assert script.exit_code == 0, script.output

    with lock_held(server_url):
        code, error = run_script(dialect, server_url, script.stdout)

    assert code != 0
    assert LOCK_TIMEOUT_ERROR[dialect] in error, error
    assert versions_in(server_url) == {FIRST}


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_without_settings_the_script_sets_only_what_a_revision_asks_for(project, migrate, dialect):
    project.write_env(DATABASE_URL=OFFLINE_URLS[dialect])
    write_revision(project, FIRST, None, CREATE_ACCOUNTS)
    write_revision(project, SECOND, FIRST, ADD_COLUMN, extra='lock_timeout = "2s"')
    own = {
        "postgresql": ["SET LOCAL lock_timeout = '2000ms';"],
        "mysql": [
            "SET @migrations_cli_lock_wait_timeout = @@SESSION.lock_wait_timeout;",
            "SET SESSION lock_wait_timeout = 2;",
        ],
        "sqlite": ["PRAGMA busy_timeout = 2000;"],
    }[dialect]
    back = {
        "postgresql": [],
        "mysql": ["SET SESSION lock_wait_timeout = @migrations_cli_lock_wait_timeout;"],
        "sqlite": ["PRAGMA busy_timeout = 0;"],
    }[dialect]

    upgrade = migrate("upgrade", "--sql")
    downgrade = migrate("downgrade", "--sql", "head:base")

    assert upgrade.exit_code == 0 and downgrade.exit_code == 0, upgrade.output + downgrade.output
    settings = ("SET ", "PRAGMA ", "-- Running")
    assert [line for line in statements_of(upgrade.stdout) if line.startswith(settings)] == [
        f"-- Running upgrade  -> {FIRST}",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        *own,
        *back,
    ]
    assert [line for line in statements_of(downgrade.stdout) if line.startswith(settings)] == [
        f"-- Running downgrade {SECOND} -> {FIRST}",
        *own,
        f"-- Running downgrade {FIRST} ->",
        *back,
    ]


def test_a_projects_own_env_py_writes_them_in_its_one_transaction_too(
    project, own_env_py, migrate, postgresql_url
):
    own_env_py()
    project.write_env(
        DATABASE_URL=postgresql_url,
        MIGRATIONS_DDL_LOCK_TIMEOUT="1500ms",
        MIGRATIONS_STATEMENT_TIMEOUT="1m",
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS + script_look("postgresql", FIRST))
    write_revision(
        project,
        SECOND,
        FIRST,
        script_look("postgresql", SECOND),
        extra='lock_timeout = "250ms"\nstatement_timeout = None',
    )

    result = migrate("upgrade", "--sql")

    assert result.exit_code == 0, result.output
    assert statements_of(result.stdout) == [
        "BEGIN;",
        f"-- Running upgrade  -> {FIRST}",
        "SET LOCAL lock_timeout = '1500ms';",
        "SET LOCAL statement_timeout = '60000ms';",
        f"-- Running upgrade {FIRST} -> {SECOND}",
        "SET LOCAL lock_timeout = '250ms';",
        "SET LOCAL statement_timeout TO DEFAULT;",  # (the one before it would last otherwise)
        "COMMIT;",
    ]
    code, error = run_script("postgresql", postgresql_url, result.stdout)
    assert code == 0, error
    assert seen(postgresql_url)[f"{SECOND}/statement"] == "0"


@pytest.mark.parametrize("env_py", ENV_PYS, indirect=True)
def test_mariadb_does_not_retry_a_revision_whose_writes_its_timed_out_ddl_committed(
    project, env_py, migrate
):
    """MariaDB commits what the transaction wrote before a DDL statement begins, even one
    that then times out waiting for its lock: running the revision again would write twice."""
    from conftest import _fresh_server_database
    from sqlalchemy import create_engine, text

    for database_url in _fresh_server_database("mysql"):
        retrying_project(project, migrate, database_url, retries="3")
        write_revision(
            project,
            SECOND,
            FIRST,
            "    op.execute(\"INSERT INTO seen VALUES ('ran', 'once')\")" + ADD_COLUMN,
            message="email",
        )

        with lock_held(database_url):
            result = migrate("upgrade")

        assert result.exit_code == 1
        assert "  retry " not in result.stderr
        assert (
            "(not retried: MariaDB committed its earlier statements as its DDL began)"
            in result.stderr
        )
        engine = create_engine(database_url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM seen")).scalar() == 1
        engine.dispose()


def test_mariadb_retries_an_own_env_py_run_from_the_revision_that_timed_out(
    project, own_env_py, migrate
):
    """Whatever env.py says, Alembic gives each revision a transaction of its own on
    MariaDB (its DDL is not transactional): SECOND committed, THIRD had run nothing when
    its ALTER timed out, and the command runs again from SECOND, toward head."""
    from conftest import _fresh_server_database

    own_env_py()
    third = "c3cccccccccc"
    for database_url in _fresh_server_database("mysql"):
        retrying_project(project, migrate, database_url, retries="10")
        create_audit = (
            "    op.create_table('audit', sa.Column('id', sa.Integer(), primary_key=True))"
        )
        write_revision(project, SECOND, FIRST, create_audit, message="email")  # (replaced)
        write_revision(project, third, SECOND, ADD_COLUMN, message="add_email")

        with lock_held(database_url, released_at_wait=2):
            result = migrate("upgrade")

        assert result.exit_code == 0, result.output
        assert f"retry    {third}  timed out waiting for a lock on table accounts" in result.stderr
        assert versions_in(database_url) == {third}
        assert result.stdout == f"Upgraded {FIRST} -> {third} (2 revisions).\n"


def test_postgresql_does_not_retry_a_revision_that_committed_in_autocommit_block(
    project, env_py, migrate, postgresql_url
):
    """autocommit_block() commits the transaction so far (under a project's own env.py, the
    one every revision runs in), and what it ran: a rollback no longer goes back to where
    the run began."""
    retrying_project(project, migrate, postgresql_url, retries="3")
    concurrently = (
        "    with op.get_context().autocommit_block():\n"
        "        op.execute('CREATE INDEX seen_name ON seen (name)')\n"
        # (the transaction after the block is a new one: SET LOCAL again, as documented)
        "    op.execute(\"SET LOCAL lock_timeout = '200ms'\")"
    )
    write_revision(project, SECOND, FIRST, concurrently + ADD_COLUMN, message="email")

    with lock_held(postgresql_url):
        result = migrate("upgrade")

    assert result.exit_code == 1
    assert "  retry " not in result.stderr
    assert "(not retried: it had committed in autocommit_block())" in result.stderr
    assert f"{SECOND} may have left partial changes: it ran statements in autocommit_block()" in (
        result.stderr
    )
    assert versions_in(postgresql_url) == {FIRST}


def test_in_one_transaction_a_revision_without_a_limit_gets_the_default_back(
    project, own_env_py, migrate, postgresql_url
):
    own_env_py()
    project.write_env(
        DATABASE_URL=postgresql_url,
        MIGRATIONS_DDL_LOCK_TIMEOUT="1500ms",
        MIGRATIONS_STATEMENT_TIMEOUT="1m",
    )
    write_revision(project, FIRST, None, CREATE_ACCOUNTS)
    write_revision(
        project,
        SECOND,
        FIRST,
        look_upgrade("postgresql"),
        extra='lock_timeout = "250ms"\nstatement_timeout = None',
    )

    result = migrate("upgrade")  # (both revisions, in the one transaction that env.py opens)

    assert result.exit_code == 0, result.output
    assert seen(postgresql_url) == {"lock": "250ms", "statement": "0"}


# --- the documentation's examples ----------------------------------------------------------

DOCS = REPO_ROOT / "docs" / "commands.md"
README_SECTION = readme_section("### Lock timeouts, and a retry")


def blocks(page, language: str) -> list[str]:
    """The fenced blocks of `language` in a page (a path) or a piece of one (text)."""
    text = page if isinstance(page, str) else page.read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def shape(line: str) -> str:
    """A terminal line with what changes from run to run (numbers, user names) masked."""
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(r"user \w+", "user U", line))


@pytest.mark.parametrize("page", [DOCS, README_SECTION], ids=["commands.md", "readme"])
def test_the_documented_settings_are_read_as_documented(project, page):
    [settings] = blocks(page, "dotenv")
    project.env_file.write_text(settings)

    loaded = load_settings()

    assert loaded.ddl_lock_timeout == 2 and loaded.ddl_retries == 5
    assert loaded.ddl_retry_max_wait == 10


def test_the_documented_retry_is_what_a_terminal_shows(project, migrate, postgresql_url):
    [settings] = blocks(README_SECTION, "dotenv")
    [revision] = [block for block in blocks(DOCS, "python") if "lock_timeout = " in block]
    [first, *_] = blocks(README_SECTION, "console")
    project.env_file.write_text(f"DATABASE_URL={postgresql_url}\n{settings}")
    project.write(
        "alembic/versions/1f2e3d4c5b6a_create_accounts.py",
        REVISION.format(
            revision="1f2e3d4c5b6a", down=None, upgrade=CREATE_ACCOUNTS, extra="", message="c"
        ),
    )
    assert migrate("upgrade").exit_code == 0
    project.write("alembic/versions/7a8b9c0d1e2f_add_email.py", revision)

    with lock_held(
        postgresql_url,
        released_at_wait=2,
        application="nightly-report",
        query="SELECT count(*) FROM accounts",
    ):
        result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    shown = {shape(line) for line in [*result.stderr.splitlines(), *result.stdout.splitlines()]}
    documented = {shape(line) for line in first.splitlines()[1:]}
    assert documented <= shown, (documented - shown, shown)
    assert first in DOCS.read_text() and first in README_SECTION


def test_a_retry_resumes_at_the_revision_that_timed_out_never_running_one_that_committed(
    project, env_py, migrate, postgresql_url
):
    """Under a project's own env.py, which runs every revision in one transaction, the
    rollback takes SECOND with it and the command runs again toward THIRD: the same."""
    from test_checksums import recorded_rows

    retrying_project(project, migrate, postgresql_url, retries="10")
    count_runs = "    op.execute(\"INSERT INTO seen VALUES ('ran', '{revision}')\")\n"
    third, fourth = "c3cccccccccc", "d4dddddddddd"
    write_revision(project, SECOND, FIRST, count_runs.format(revision=SECOND), message="email")
    write_revision(project, third, SECOND, count_runs.format(revision=third) + ADD_COLUMN)
    write_revision(project, fourth, third, count_runs.format(revision=fourth))

    with lock_held(postgresql_url, released_at_wait=2):
        result = migrate("upgrade", "+2")  # (counted from FIRST, where the run began)

    assert result.exit_code == 0, result.output
    assert f"retry    {third}" in result.stderr
    assert versions_in(postgresql_url) == {third}
    from sqlalchemy import create_engine, text

    engine = create_engine(postgresql_url)
    with engine.connect() as connection:
        ran = connection.execute(text("SELECT value FROM seen WHERE name = 'ran'")).scalars()
        assert sorted(ran) == [SECOND, third]  # each once: committed, or rolled back
    engine.dispose()
    assert set(recorded_rows(postgresql_url)) == {FIRST, SECOND, third}


def test_the_documented_failure_after_the_last_attempt_is_what_a_terminal_shows(
    project, migrate, postgresql_url
):
    [revision] = [block for block in blocks(DOCS, "python") if "lock_timeout = " in block]
    [failed] = [
        block for block in blocks(DOCS, "console") if "timed out" in block and "error:" in block
    ]
    project.write_env(
        DATABASE_URL=postgresql_url,
        MIGRATIONS_DDL_RETRIES="2",
        MIGRATIONS_DDL_RETRY_MAX_WAIT="50ms",
    )
    project.write(
        "alembic/versions/1f2e3d4c5b6a_create_accounts.py",
        REVISION.format(
            revision="1f2e3d4c5b6a", down=None, upgrade=CREATE_ACCOUNTS, extra="", message="c"
        ),
    )
    assert migrate("upgrade").exit_code == 0
    faster = revision.replace('lock_timeout = "1s"', 'lock_timeout = "200ms"')
    project.write("alembic/versions/7a8b9c0d1e2f_add_email.py", faster)

    with lock_held(
        postgresql_url, application="nightly-report", query="SELECT count(*) FROM accounts"
    ):
        result = migrate("upgrade")

    assert result.exit_code == 1
    assert [shape(line) for line in result.stderr.splitlines()] == [
        shape(line) for line in failed.splitlines()[1:]
    ]


def test_the_documented_script_excerpt_is_what_upgrade_sql_writes(project, migrate):
    [excerpt] = [block for block in blocks(DOCS, "sql") if "SET LOCAL lock_timeout" in block]
    project.write_env(DATABASE_URL=OFFLINE_URLS["postgresql"], MIGRATIONS_DDL_LOCK_TIMEOUT="2s")
    write_revision(project, "dcd397241ba3", None, CREATE_ACCOUNTS)
    write_revision(
        project,
        "2ce5f4470956",
        "dcd397241ba3",
        "    op.add_column('users', sa.Column('email', sa.String(255)))",
        extra='lock_timeout = "250ms"',
    )

    result = migrate("upgrade", "--sql", "dcd397241ba3:head")

    assert result.exit_code == 0, result.output
    assert excerpt in result.stdout, result.stdout
