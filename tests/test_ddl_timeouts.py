"""Lock and statement timeouts on each revision, a revision's own, and the retry of a
revision that timed out waiting for a lock held by another connection."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import REPO_ROOT, readme_section, run_process, versions_in

from migrations_cli.durations import parse_duration
from migrations_cli.errors import SettingsError
from migrations_cli.settings import load_settings

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
    project, migrate, database_url
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


WAITING = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE 'ALTER TABLE accounts%'",
    "mysql": "SELECT count(*) FROM information_schema.PROCESSLIST "
    "WHERE STATE LIKE 'Waiting for table metadata lock%'",
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
    project, migrate, server_url
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
    project, migrate, server_url
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
    project, migrate, postgresql_url
):
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
        assert sorted(ran) == [SECOND, third]  # each once: SECOND committed before the retry
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
