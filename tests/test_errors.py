"""Bad input: one clear line on stderr, exit 1 (2 for usage), no traceback, no password."""

from __future__ import annotations

import pytest
from conftest import table_names, versions_in

PASSWORD = "Pw-MARKER-7c1e"  # unique, so any leak is found by a plain substring search


def write_revision(project, revision, down=None, upgrade="pass", message="hand written"):
    project.write_revision(revision, down, upgrade=upgrade, message=message)


def assert_one_line_error(result, *fragments, exit_code=1):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    for fragment in fragments:
        assert fragment in line


def test_unknown_revision(project, migrate):
    write_revision(project, "aaaa11111111")

    result = migrate("upgrade", "zzz")

    assert_one_line_error(result, "No such revision or branch 'zzz'")
    assert project.versions_in_db() == set()


def test_ambiguous_revision_prefix(project, migrate):
    write_revision(project, "abc111111111")
    write_revision(project, "abc222222222", down="abc111111111")

    result = migrate("upgrade", "abc")

    assert_one_line_error(result, "Multiple revisions start with 'abc'")
    assert project.versions_in_db() == set()


def test_missing_database_url(project, migrate):
    project.write_env(MIGRATIONS_METADATA="models:metadata")
    write_revision(project, "aaaa11111111")

    result = migrate("upgrade")

    assert_one_line_error(result, "DATABASE_URL is not set", str(project.root / ".env"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "DATABASE_URL is not a database URL"),
        ("nosuchdb://host/db", "unknown database dialect 'nosuchdb'"),
    ],
)
def test_malformed_database_url(project, migrate, url, message):
    write_revision(project, "aaaa11111111")

    result = migrate("--database-url", url, "upgrade")

    assert_one_line_error(result, message)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app",
        f"mysql+pymysql://app:{PASSWORD}@127.0.0.1:1/app",
    ],
)
@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_unreachable_database_never_shows_the_password(project, migrate, url, verbose):
    write_revision(project, "aaaa11111111")

    result = migrate(*verbose, "--database-url", url, "upgrade")

    assert result.exit_code == 1
    assert PASSWORD not in result.output
    assert "error: cannot connect to" in result.stderr
    assert "app:***@127.0.0.1:1/app" in result.stderr
    assert ("Traceback" in result.stderr) == bool(verbose)


def test_password_is_masked_even_when_a_plugin_prints_it(project, migrate):
    project.write(
        "leaky_plugin.py",
        """
        import typer
        from migrations_cli.core.context import get_context
        from migrations_cli.hookspecs import hookimpl

        def leak(ctx: typer.Context) -> None:
            url = get_context(ctx).settings.database_url
            print(url)
            raise RuntimeError(f"could not use {url}")

        @hookimpl
        def register_commands(app):
            app.command()(leak)
        """,
    )
    project.write_env(
        DATABASE_URL=f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app",
        MIGRATIONS_PLUGINS="leaky_plugin",
    )

    result = migrate("--verbose", "leak")

    assert result.exit_code == 1
    assert PASSWORD not in result.output
    assert "postgresql+psycopg://app:***@127.0.0.1:1/app" in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg//app:{PASSWORD}@127.0.0.1/app",
        f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:notaport/app",
        f"postgresql+psycopg://app@127.0.0.1:1/app?password={PASSWORD}",
        f"mysql+pymysql://app@127.0.0.1:1/app?password={PASSWORD}",
    ],
)
def test_malformed_urls_and_query_passwords_never_show_the_password(project, migrate, url):
    write_revision(project, "aaaa11111111")

    result = migrate("--verbose", "--database-url", url, "upgrade")

    assert result.exit_code == 1
    assert PASSWORD not in result.output
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: ")


@pytest.mark.parametrize("password", ["a", "postgres", "alembic", "table"])
def test_short_or_common_passwords_do_not_mangle_results(project, migrate, password):
    project.write_env(DATABASE_URL=f"postgresql+psycopg://app:{password}@127.0.0.1:1/app")

    created = migrate("create", "add a table", "--empty")
    heads = migrate("heads")

    [written] = project.revision_files()
    assert created.stdout.strip() == f"alembic/versions/{written.name}"
    assert "add_a_table" in written.name
    assert heads.stdout.endswith("(head)  add a table\n")


def test_a_password_that_is_a_common_word_is_still_masked_in_messages(project, migrate):
    write_revision(project, "aaaa11111111")
    project.write_env(DATABASE_URL="postgresql+psycopg://app:table@127.0.0.1:1/app")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert "app:***@127.0.0.1:1/app" in result.stderr
    assert "table" not in result.stderr


def test_unknown_option_to_downgrade_is_a_usage_error(project, migrate):
    write_revision(project, "aaaa11111111")
    migrate("upgrade")

    result = migrate("downgrade", "--bogus")

    assert result.exit_code == 2
    assert "no such option: --bogus" in result.stderr
    assert project.versions_in_db() == {"aaaa11111111"}


def test_bytes_written_to_the_binary_stream_are_masked_too(project, migrate_console):
    project.write(
        "bytes_plugin.py",
        f"""
        import sys
        import typer
        from migrations_cli.hookspecs import hookimpl

        def dump() -> None:
            sys.stdout.buffer.write(b"raw {PASSWORD}\\n")
            sys.stdout.flush()
            typer.echo(b"echoed {PASSWORD}")

        @hookimpl
        def register_commands(app):
            app.command()(dump)
        """,
    )
    project.write_env(
        DATABASE_URL=f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app",
        MIGRATIONS_PLUGINS="bytes_plugin",
    )

    result = migrate_console("dump")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["raw ***", "echoed ***"]


def test_non_ascii_output_on_an_ascii_terminal(project, migrate_console):
    project.write_env(DATABASE_URL=f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app")
    write_revision(project, "aaaa11111111", message="Café menu")

    result = migrate_console("heads", env={"PYTHONIOENCODING": "ascii"})

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("aaaa11111111 (head)  Caf")


def test_metadata_that_does_not_import(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="app_models:Base")

    result = migrate("create", "Add users")

    assert_one_line_error(
        result, "MIGRATIONS_METADATA='app_models:Base'", "No module named 'app_models'"
    )
    assert project.revision_files() == []


def test_metadata_attribute_that_is_not_metadata(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:Table")

    result = migrate("create", "Add users")

    assert_one_line_error(result, "not a SQLAlchemy MetaData")


def test_env_file_with_a_syntax_error(project, migrate):
    (project.root / ".env").write_text(
        f'DATABASE_URL=sqlite:///db.sqlite\nSECRET="{PASSWORD}\nOTHER=1 2\n'
    )

    result = migrate("heads")

    assert_one_line_error(result, str(project.root / ".env"), "line 2")
    assert PASSWORD not in result.output


def test_empty_message_is_a_usage_error(project, migrate):
    result = migrate("create", "   ")

    assert result.exit_code == 2
    assert "the message must not be empty" in result.stderr
    assert project.revision_files() == []


def test_downgrade_below_base(project, migrate):
    write_revision(project, "aaaa11111111")
    migrate("upgrade")

    result = migrate("downgrade", "-2")

    assert_one_line_error(result, "cannot downgrade -2", "below base")
    assert project.versions_in_db() == {"aaaa11111111"}


def test_missing_migrations_folder(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_DIR="migrations")

    result = migrate("heads")

    assert_one_line_error(result, "migrations folder", "migrations does not exist")


def test_failing_migration_names_the_state_left_behind(project, migrate):
    write_revision(project, "aaaa11111111", upgrade="op.execute('CREATE TABLE good (id INT)')")
    write_revision(
        project, "bbbb22222222", down="aaaa11111111", upgrade="op.execute('SELECT * FROM nope')"
    )

    result = migrate("upgrade")

    assert_one_line_error(
        result,
        "upgrade stopped in revision bbbb22222222",
        "no such table: nope",
        "the database is at aaaa11111111",
    )
    assert project.versions_in_db() == {"aaaa11111111"}
    assert project.tables() == {"good"}


def test_a_failed_migration_is_rolled_back_where_ddl_is_transactional(
    project, migrate, database_url
):
    project.write_env(DATABASE_URL=database_url)
    write_revision(project, "aaaa11111111", upgrade="op.execute('CREATE TABLE good (id INT)')")
    write_revision(
        project,
        "bbbb22222222",
        down="aaaa11111111",
        upgrade="op.execute('CREATE TABLE half (id INT)'); op.execute('SELECT * FROM nope')",
    )

    result = migrate("upgrade")

    assert_one_line_error(result, "upgrade stopped in revision bbbb22222222")
    assert versions_in(database_url) == {"aaaa11111111"}
    if database_url.startswith("mysql"):  # DDL commits at once: say so, and how to recover
        assert table_names(database_url) == {"good", "half"}
        assert "statements of bbbb22222222 that ran before the error stay applied" in (
            result.stderr
        )
        return
    assert table_names(database_url) == {"good"}  # "half" went with its migration
    assert "stay applied" not in result.stderr
    project.write_revision(
        "bbbb22222222",
        "aaaa11111111",
        upgrade="op.execute('CREATE TABLE half (id INT)')",
        message="fixed",
        file_name="bbbb22222222_hand_written.py",
    )
    assert migrate("upgrade").exit_code == 0  # the retry is not blocked by a leftover
    assert table_names(database_url) == {"good", "half"}


def test_verbose_shows_the_traceback(project, migrate):
    result = migrate("--verbose", "upgrade", "zzz")

    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: ")


def test_unknown_command_is_a_usage_error(project, migrate):
    result = migrate("upgrayedd")

    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_a_mistyped_command_gets_the_names_it_may_mean(project, migrate):
    """Typer is given only the command run; a name that is none keeps every command, so
    that Click can suggest the near ones."""
    result = migrate("histroy")

    assert result.exit_code == 2
    assert "No such command 'histroy'" in result.stderr
    assert "Did you mean 'history'?" in result.stderr


def test_a_command_runs_beside_a_plugin_sub_app(project, migrate):
    project.write(
        "team_plugin.py",
        "import typer\n"
        "from migrations_cli.hookspecs import hookimpl\n"
        "tools = typer.Typer(name='tools')\n"
        "@tools.command()\n"
        "def ping() -> None:\n"
        "    print('pong')\n"
        "@hookimpl\n"
        "def register_commands(app):\n"
        "    app.add_typer(tools)\n",
    )
    project.write_env(MIGRATIONS_PLUGINS="team_plugin")

    assert migrate("tools", "ping").stdout == "pong\n"
    heads = migrate("heads")
    assert heads.exit_code == 0, heads.output
    assert "tools" in migrate("--help").stdout


@pytest.mark.parametrize("option", ["--database-url", "--env-file"])
def test_an_empty_global_option_is_a_usage_error_not_a_fallback(project, migrate, option):
    write_revision(project, "aaaa11111111")

    result = migrate(option, "", "upgrade")

    assert result.exit_code == 2
    assert f"{option} needs a value" in result.stderr
    assert project.versions_in_db() == set()


def test_a_plugin_exit_message_is_printed(project, migrate):
    project.write(
        "exiting_plugin.py",
        """
        import sys
        from migrations_cli.hookspecs import hookimpl

        def deploy() -> None:
            sys.exit("STAGING_TOKEN is not set")

        @hookimpl
        def register_commands(app):
            app.command()(deploy)
        """,
    )
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="exiting_plugin")

    result = migrate("deploy")

    assert result.exit_code == 1
    assert "STAGING_TOKEN is not set" in result.stderr


def test_a_revision_whose_commit_fails_is_not_counted_as_applied(project, migrate, postgresql_url):
    # A DEFERRABLE constraint is checked at COMMIT, after Alembic reported the step done.
    database_url = postgresql_url
    project.write_env(DATABASE_URL=database_url)
    write_revision(
        project,
        "aaaa11111111",
        upgrade="op.execute('CREATE TABLE parent (id INT PRIMARY KEY)'); "
        "op.execute('CREATE TABLE child (parent_id INT REFERENCES parent (id) "
        "DEFERRABLE INITIALLY DEFERRED)')",
    )
    write_revision(
        project,
        "bbbb22222222",
        down="aaaa11111111",
        upgrade="op.execute('INSERT INTO child VALUES (42)')",
    )

    result = migrate("upgrade")

    assert_one_line_error(
        result, "the database is at aaaa11111111; 1 revision(s) applied before the failure"
    )
    assert versions_in(database_url) == {"aaaa11111111"}
