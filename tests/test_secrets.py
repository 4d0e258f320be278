"""The database password never reaches the user: not stdout, stderr, Alembic's log, a traceback
under --verbose, nor a file `migrate` writes (revisions, --sql -o, .env.example).

Every URL here carries a unique marker password, so a leak in any form is found by a plain
substring search: the password as written in the URL, percent-decoded as the server sees it,
and the stem every marker starts with (a password re-encoded or masked half way still leaks).
Each command runs against an unreachable host, a server that rejects the login, and a server
that accepts it where a migration then fails; with and without --verbose.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import Project, Result, _fresh_server_database, versions_in

from migrations_cli.core.cli import main

STEM = "Zq9"


@dataclass(frozen=True)
class Password:
    """A marker password: `written` in the URL, `plain` once percent-decoded."""

    written: str

    @property
    def plain(self) -> str:
        return unquote(self.written)

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.written, self.plain, STEM)))

    def found_in(self, text: str) -> list[str]:
        return [form for form in self.forms if form.lower() in text.lower()]


PASSWORDS = [Password("Zq9Marker7x"), Password("Zq9%40Mk")]  # the second is Zq9@Mk decoded

UNREACHABLE_URLS = {
    "postgresql": "postgresql+psycopg://app:{password}@127.0.0.1:1/app",
    "mysql": "mysql+pymysql://app:{password}@127.0.0.1:1/app",
    "query": "postgresql+psycopg://app@127.0.0.1:1/app?password={password}",
}

REVISION = '''
"""{message}"""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    {upgrade}


def downgrade():
    {downgrade}
'''

CREATE_USERS = """op.create_table(
        "users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50))
    )"""
FAILURES = {
    # The driver's own error, with the statement in it.
    "bad sql": 'op.execute("INSERT INTO no_such_table_b2 (id) VALUES (1)")',
    # A migration whose error message holds the URL, re-rendered by SQLAlchemy, and the
    # decoded password: the worst a revision can do.
    "raises with its url": """url = op.get_bind().engine.url
    raise RuntimeError(
        f"cannot copy to {url.render_as_string(hide_password=False)} (password {url.password})"
    )""",
}

# Every built-in command, with arguments that take it as far as the database allows, each with
# and without --json, --sql with and without -o. In this order on one project: on a database
# it reaches, upgrade applies a1 and fails in b2, check compares at head, downgrade reverts
# all, and create autogenerates after a stamp.
SWEEP: tuple[tuple[str, ...], ...] = (
    ("upgrade",),
    ("upgrade", "--dry-run"),
    ("current",),
    ("current", "--json"),
    ("status",),
    ("status", "--json"),
    ("heads",),
    ("heads", "--json"),
    ("history",),
    ("history", "--json"),
    ("show", "a1"),
    ("show", "b2", "--json"),
    ("edit", "current"),
    ("branches",),
    ("branches", "--json"),
    ("plugins",),
    ("plugins", "--json"),
    ("stamp", "--purge", "b2"),
    ("check",),
    ("check", "--json"),
    ("doctor",),
    ("doctor", "--json"),
    ("downgrade", "--dry-run", "base"),
    ("downgrade", "base"),
    ("upgrade", "--sql"),
    ("upgrade", "--sql", "-o", "upgrade.sql"),
    ("downgrade", "--sql", "-o", "downgrade.sql", "b2:a1"),
    ("stamp", "b2"),
    ("create", "add users again"),
    ("create", "by hand", "--empty"),
    ("merge", "-m", "join"),
    ("init",),
    ("init", "--json"),
    ("lint",),
    ("lint", "--json"),
    ("checksums",),
    ("checksums", "--json"),
    ("checksums", "--repair"),
    ("verify",),
    ("verify", "--json"),
    ("squash", "b2", "--dry-run"),
    ("baseline",),
    ("drift",),
    ("drift", "--json"),
    ("diff", "sqlite:///a.sqlite", "sqlite:///b.sqlite"),
)
SWEPT_COMMANDS = {
    "upgrade", "downgrade", "create", "merge", "heads", "status", "current", "history", "show",
    "branches", "stamp", "check", "doctor", "plugins", "init", "verify", "lint", "checksums",
    "edit", "squash", "baseline", "drift", "diff",
}  # fmt: skip


def write_revisions(project: Project, failure: str = "bad sql") -> None:
    """a1 creates the models' table; b2 fails on a real database."""
    project.write(
        "alembic/versions/a1_create_users.py",
        REVISION.format(
            revision="a1",
            down=None,
            message="create users",
            upgrade=CREATE_USERS,
            downgrade='op.drop_table("users")',
        ),
    )
    project.write(
        "alembic/versions/b2_fails.py",
        REVISION.format(
            revision="b2", down="a1", message="fails", upgrade=FAILURES[failure], downgrade="pass"
        ),
    )


def use_database(project: Project, url: str) -> None:
    project.write_env(DATABASE_URL=url, MIGRATIONS_METADATA="models:metadata")


def leaks_in(result: Result, password: Password, args: tuple[str, ...], verbose: bool) -> list[str]:
    """What is wrong with one run: a password form in its output, a traceback without
    --verbose, or an exit code saying the arguments themselves were wrong."""
    shown = f"migrate {' '.join(args)} (exit {result.exit_code})"
    problems = []
    if found := password.found_in(result.output):
        problems.append(f"{shown} printed {found}:\n{result.output}")
    if not verbose and "Traceback" in result.output:
        problems.append(f"{shown} printed a traceback without --verbose:\n{result.output}")
    if result.exit_code not in (0, 1):
        problems.append(f"{shown} was a usage error:\n{result.output}")
    return problems


def leaks_in_files(root: Path, password: Password) -> list[str]:
    """Every file under the project but the .env files the test wrote the URL into."""
    return [
        f"{path.relative_to(root)} holds {found}"
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.endswith(".env")
        if (found := password.found_in(path.read_bytes().decode("utf-8", "replace")))
    ]


@pytest.fixture
def run(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """`migrate ARGS...` in this process, as conftest's `migrate` but without forgetting the
    project's modules after each run: these tests never edit them, and forgetting costs more
    than a run (conftest still forgets them after the test). `edit` opens `true`."""
    monkeypatch.setenv("EDITOR", "true")

    def run(*args: str) -> Result:
        capsys.readouterr()
        exit_code = main(list(args))
        captured = capsys.readouterr()
        return Result(exit_code, captured.out, captured.err)

    return run


def sweep(
    run: Callable[..., Result], project: Project, password: Password, verbose: bool
) -> dict[tuple[str, ...], Result]:
    """Run every command of SWEEP; fail naming each leak; return the results by command."""
    results: dict[tuple[str, ...], Result] = {}
    problems: list[str] = []
    for command in SWEEP:
        args = ("--verbose", *command) if verbose else command
        results[command] = run(*args)
        problems += leaks_in(results[command], password, args, verbose)
    problems += leaks_in_files(project.root, password)
    assert problems == []
    return results


def test_the_sweep_covers_every_built_in_command():
    from migrations_cli.core.plugin_manager import DEFAULT_PLUGINS

    built_in = {module.rsplit(".", 1)[1] for module in DEFAULT_PLUGINS}
    assert {command[0] for command in SWEEP} == built_in == SWEPT_COMMANDS


# --- an unreachable host ---------------------------------------------------------------------


# Each URL form with one of the passwords (both would double the time for little); the query
# form with the encoded one, which SQLAlchemy decodes before the driver gets it.
PASSWORD_OF_FORM = {"postgresql": PASSWORDS[1], "mysql": PASSWORDS[0], "query": PASSWORDS[1]}


@pytest.mark.parametrize(
    ("form", "verbose"),
    # Without --verbose the query form takes the same path as the others.
    [
        ("postgresql", False),
        ("postgresql", True),
        ("mysql", False),
        ("mysql", True),
        ("query", True),
    ],
    ids=["postgresql-quiet", "postgresql-verbose", "mysql-quiet", "mysql-verbose", "query-verbose"],
)
def test_no_command_shows_the_password_of_an_unreachable_database(project, run, form, verbose):
    password = PASSWORD_OF_FORM[form]
    write_revisions(project)
    use_database(project, UNREACHABLE_URLS[form].format(password=password.written))

    results = sweep(run, project, password, verbose)

    upgrade = results[("upgrade",)]
    assert upgrade.exit_code == 1
    assert "error: cannot connect to " in upgrade.stderr
    assert "@127.0.0.1:1/app" in upgrade.stderr
    assert ("Traceback" in upgrade.stderr) == verbose
    assert "-- Running upgrade a1 -> b2" in results[("upgrade", "--sql")].stdout
    assert "-- Running upgrade a1 -> b2" in (project.root / "upgrade.sql").read_text()


# --- a server that refuses the login ---------------------------------------------------------


@contextmanager
def server_database(kind: str) -> Iterator[str]:
    """A fresh, empty database on the server (skipped or failed as conftest decides)."""
    fresh = _fresh_server_database(kind)
    url = next(fresh)
    try:
        yield url
    finally:
        fresh.close()  # drops the database


@contextmanager
def mysql_user(url: str, password: str) -> Iterator[str]:
    """A MariaDB user identified by `password`, allowed everything on `url`'s database only."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(
                text(f"CREATE USER '{name}'@'%' IDENTIFIED BY :password"), {"password": password}
            )
            database = make_url(url).database
            connection.execute(text(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{name}'@'%'"))
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP USER IF EXISTS '{name}'@'%'"))
        admin.dispose()


def login_url(url: str, user: str, password: Password) -> str:
    from sqlalchemy.engine import make_url

    with_login = make_url(url).set(username=user, password=password.plain)
    rendered = with_login.render_as_string(hide_password=False)
    assert f"{user}:{password.written}@" in rendered  # the URL spells it as the test means
    return rendered


@contextmanager
def rejected_login(kind: str, password: Password) -> Iterator[str]:
    """A URL the server answers but refuses. MariaDB: a user with another password.
    PostgreSQL trusts 127.0.0.1 (any password is accepted), so: a role that does not exist."""
    with server_database(kind) as url:
        if kind == "postgresql":
            yield login_url(url, f"mk_nobody_{uuid.uuid4().hex[:8]}", password)
            return
        with mysql_user(url, "Right-Pass-0") as user:
            yield login_url(url, user, password)


@contextmanager
def accepted_login(kind: str, password: Password) -> Iterator[str]:
    """A URL logging into a fresh database with the marker password. PostgreSQL trusts
    127.0.0.1, so the password is sent but not checked; MariaDB checks it."""
    with server_database(kind) as url:
        if kind == "postgresql":
            from sqlalchemy.engine import make_url

            yield login_url(url, make_url(url).username or "postgres", password)
            return
        with mysql_user(url, password.plain) as user:
            yield login_url(url, user, password)


REFUSALS = {"postgresql": "does not exist", "mysql": "Access denied"}


# One password per server, the other on the other server.
PASSWORD_OF_SERVER = {"postgresql": PASSWORDS[0], "mysql": PASSWORDS[1]}


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_no_command_shows_the_password_the_server_refused(project, run, kind):
    """With --verbose only: without it, a refused login takes the unreachable host's path."""
    password = PASSWORD_OF_SERVER[kind]
    write_revisions(project)
    with rejected_login(kind, password) as url:
        use_database(project, url)

        results = sweep(run, project, password, verbose=True)

    upgrade = results[("upgrade",)]
    assert upgrade.exit_code == 1
    assert "error: cannot connect to " in upgrade.stderr
    assert REFUSALS[kind] in upgrade.stderr
    assert f":***@{url.split('@', 1)[1]}" in upgrade.stderr


# --- a server that accepts it, and a migration that fails ------------------------------------


@pytest.mark.parametrize(
    ("kind", "verbose"),
    # Tracebacks without --verbose do not depend on the server: one quiet run is enough.
    [("postgresql", False), ("postgresql", True), ("mysql", True)],
    ids=["postgresql-quiet", "postgresql-verbose", "mysql-verbose"],
)
def test_no_command_shows_the_password_of_a_database_it_reaches(project, run, kind, verbose):
    password = PASSWORD_OF_SERVER[kind]
    write_revisions(project)
    with accepted_login(kind, password) as url:
        use_database(project, url)

        results = sweep(run, project, password, verbose)

    upgrade = results[("upgrade",)]
    assert upgrade.exit_code == 1
    assert "error: upgrade stopped in revision b2: database error: " in upgrade.stderr
    assert ("INFO [alembic.runtime.migration]" in upgrade.stderr) == verbose
    assert results[("check",)].stdout.startswith("No differences")
    doctor = results[("doctor",)].stdout
    assert f"reachable: {url.split(':', 1)[0]}" in doctor
    assert ":***@" in doctor
    [created] = project.versions.glob("*_add_users_again.py")  # autogenerated, connected
    assert "op.create_table('users'" in created.read_text()


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_failed_migration_under_verbose_shows_its_traceback_but_not_the_password(
    project, run, kind, failure
):
    password = PASSWORD_OF_SERVER[kind]
    write_revisions(project, failure)
    with accepted_login(kind, password) as url:
        use_database(project, url)

        verbose = run("--verbose", "upgrade")
        quiet = run("upgrade")

        assert verbose.exit_code == quiet.exit_code == 1
        assert "Traceback (most recent call last)" in verbose.stderr
        assert "INFO [alembic.runtime.migration] Running upgrade a1 -> b2" in verbose.stderr
        assert "Traceback" not in quiet.output
        for result in (verbose, quiet):
            [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert error.startswith("error: upgrade stopped in revision b2: ")
            assert password.found_in(result.output) == []
        if failure == "raises with its url":
            assert ":***@" in quiet.stderr
            assert "(password ***)" in quiet.stderr
        assert versions_in(url) == {"a1"}


# --- where the URL comes from ----------------------------------------------------------------

SOURCES = (".env", "environment", "--database-url", "--env-file")
COMMANDS_BY_SOURCE = (("upgrade",), ("doctor", "--json"), ("upgrade", "--sql", "-o", "out.sql"))


def give_url(
    project: Project, monkeypatch: pytest.MonkeyPatch, source: str, url: str
) -> tuple[str, ...]:
    """Put `url` where `source` says; return the global options that go with it."""
    project.write_env(MIGRATIONS_METADATA="models:metadata")
    if source == ".env":
        use_database(project, url)
    elif source == "environment":
        monkeypatch.setenv("DATABASE_URL", url)
    elif source == "--env-file":
        (project.root / "secret.env").write_text(f"DATABASE_URL={url}\n")
        return ("--env-file", "secret.env")
    else:
        return ("--database-url", url)
    return ()


@pytest.mark.parametrize("source", SOURCES)
def test_the_password_is_hidden_wherever_the_url_comes_from(project, run, monkeypatch, source):
    password = PASSWORDS[SOURCES.index(source) % 2]
    write_revisions(project)
    url = UNREACHABLE_URLS["postgresql"].format(password=password.written)
    options = give_url(project, monkeypatch, source, url)

    problems = []
    for command in COMMANDS_BY_SOURCE:
        for verbose in ((), ("--verbose",)):
            args = (*verbose, *options, *command)
            result = run(*args)
            problems += leaks_in(result, password, args, bool(verbose))
            if command == ("upgrade",):
                assert "error: cannot connect to postgresql+psycopg://app:***@127.0.0.1:1/app" in (
                    result.stderr
                )
    problems += leaks_in_files(project.root, password)

    assert problems == []
    assert "CREATE TABLE users" in (project.root / "out.sql").read_text()


# --- --sql files ------------------------------------------------------------------------------


@pytest.mark.parametrize("password", PASSWORDS, ids=lambda password: password.written)
def test_a_password_a_migration_writes_into_the_sql_file_is_masked(project, run, password):
    project.write(
        "alembic/versions/p1_grant.py",
        REVISION.format(
            revision="p1",
            down=None,
            message="reporting user",
            upgrade="""from sqlalchemy.engine import make_url
    url = make_url(op.get_context().config.get_main_option("sqlalchemy.url"))
    op.execute(f"CREATE USER reporting WITH PASSWORD '{url.password}'")""",
            downgrade="pass",
        ),
    )
    use_database(project, UNREACHABLE_URLS["postgresql"].format(password=password.written))

    result = run("--verbose", "upgrade", "--sql", "-o", "grant.sql")

    written = (project.root / "grant.sql").read_text()
    assert result.exit_code == 0, result.output
    assert "CREATE USER reporting WITH PASSWORD '***';" in written
    assert "warning: the SQL contains the database password, replaced by ***" in result.stderr
    assert password.found_in(written + result.output) == []


# --- URLs the masking must read right ---------------------------------------------------------


@pytest.mark.parametrize("json_output", [(), ("--json",)], ids=["text", "json"])
@pytest.mark.parametrize(
    "password",
    ['Zq9"Mk', "Zq9\\Mk", "Zq9\u00fcMk"],
    ids=["quote", "backslash", "non-ascii"],
)
def test_a_password_json_would_escape_is_masked_in_json_documents(
    project, run, password, json_output
):
    """doctor echoes a URL too malformed to parse; JSON then writes `"` as `\\"`, which the
    masking of the stream alone would no longer recognise."""
    url = f"postgresql+psycopg//app:{password}@127.0.0.1:1/app"

    result = run("--database-url", url, "doctor", *json_output)

    assert result.exit_code == 1
    assert "DATABASE_URL=postgresql+psycopg//app:***@127.0.0.1:1/app" in result.stdout
    assert STEM not in result.output


def test_a_raw_at_sign_in_the_password_hides_all_of_it(project, run):
    """Such a URL is refused for use, but doctor still shows it: the part after the @ is
    password too, not the host."""
    url = "postgresql+psycopg://app:Zq9@Mk@127.0.0.1:1/app"

    doctor = run("--database-url", url, "doctor")
    upgrade = run("--database-url", url, "upgrade")

    assert "DATABASE_URL=postgresql+psycopg://app:***@127.0.0.1:1/app" in doctor.stdout
    assert "error: DATABASE_URL: percent-encode '@'" in upgrade.stderr
    for result in (doctor, upgrade):
        assert "@Mk" not in result.output
        assert STEM not in result.output


# --- plugins, and a misplaced option ------------------------------------------------------------


def test_migrate_plugins_never_shows_the_password_of_a_failed_plugin(project, migrate):
    """The failure is listed on stdout as well as warned about on stderr: both masked."""
    project.write(
        "import_time_plugin.py",
        """
        from migrations_cli.core.settings import load_settings

        raise RuntimeError(f"cannot reach {load_settings().database_url}")
        """,
    )
    url = UNREACHABLE_URLS["postgresql"].format(password=PASSWORDS[0].written)
    project.write_env(DATABASE_URL=url, MIGRATIONS_PLUGINS="import_time_plugin")

    result = migrate("plugins")

    assert "  import_time_plugin: RuntimeError: cannot reach postgresql+psycopg://app:***@" in (
        result.stdout
    )
    assert "warning: plugin 'import_time_plugin' was not loaded" in result.stderr
    assert PASSWORDS[0].found_in(result.output) == []


def test_a_database_url_option_after_the_command_is_not_echoed(project, run):
    url = UNREACHABLE_URLS["postgresql"].format(password=PASSWORDS[0].written)

    result = run("downgrade", "--database-url", url)

    assert result.exit_code == 2
    assert PASSWORDS[0].found_in(result.output) == []


# --- the console script: its own streams, logging and traceback -------------------------------


def test_console_script_hides_the_password_of_an_unreachable_database(project, migrate_console):
    password = PASSWORDS[1]
    write_revisions(project)
    url = UNREACHABLE_URLS["mysql"].format(password=password.written)

    doctor = migrate_console("--verbose", "doctor", "--json", env={"DATABASE_URL": url})
    upgrade = migrate_console("--verbose", "--database-url", url, "upgrade")

    assert doctor.exit_code == upgrade.exit_code == 1
    assert "mysql+pymysql://app:***@127.0.0.1:1/app" in doctor.stdout
    assert "Traceback (most recent call last)" in upgrade.stderr
    assert "error: cannot connect to mysql+pymysql://app:***@127.0.0.1:1/app" in upgrade.stderr
    for result in (doctor, upgrade):
        assert password.found_in(result.output) == [], result.output


def test_console_script_hides_the_password_of_a_failed_migration(project, migrate_console):
    """On MariaDB, which checks the password (PostgreSQL's is covered in-process above)."""
    password = PASSWORDS[1]
    write_revisions(project, "raises with its url")
    with accepted_login("mysql", password) as url:
        use_database(project, url)

        result = migrate_console("--verbose", "upgrade")

        assert result.exit_code == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert "INFO [alembic.runtime.migration] Running upgrade a1 -> b2" in result.stderr
        assert "error: upgrade stopped in revision b2: unexpected RuntimeError: " in result.stderr
        assert password.found_in(result.output) == [], result.output
        assert versions_in(url) == {"a1"}


def test_console_script_hides_the_password_the_server_refused(project, migrate_console):
    password = PASSWORDS[0]
    write_revisions(project)
    with rejected_login("mysql", password) as url:
        use_database(project, url)

        result = migrate_console("--verbose", "current")

    assert result.exit_code == 1
    assert "Access denied for user" in result.stderr
    assert password.found_in(result.output) == [], result.output
