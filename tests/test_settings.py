"""Settings: flags over the environment over .env over defaults, paths, errors, secrets."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO_ROOT

from migrations_cli.core.cli import GlobalOptions, main
from migrations_cli.core.errors import SettingsError
from migrations_cli.core.settings import load_settings

# --- precedence -------------------------------------------------------------------------


def test_env_file_value_is_used(project):
    settings = load_settings()

    assert settings.database_url == f"sqlite:///{project.root.resolve().as_posix()}/db.sqlite"
    assert settings.metadata == "models:metadata"


def test_environment_beats_env_file(project, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://env-host/db")

    assert load_settings().database_url == "postgresql://env-host/db"


def test_override_beats_environment_and_env_file(project, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://env-host/db")

    settings = load_settings(overrides={"DATABASE_URL": "postgresql://flag-host/db"})

    assert settings.database_url == "postgresql://flag-host/db"


def test_override_of_none_falls_back_to_environment(project, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://env-host/db")

    settings = load_settings(overrides={"DATABASE_URL": None})

    assert settings.database_url == "postgresql://env-host/db"


def test_environment_beats_env_file_for_migrations_dir(project, monkeypatch):
    project.write_env(MIGRATIONS_DIR="from_file")
    monkeypatch.setenv("MIGRATIONS_DIR", "from_env")

    assert load_settings().migrations_dir == project.root.resolve() / "from_env"


def test_migrations_dir_defaults_to_alembic_next_to_env_file(project, monkeypatch):
    subfolder = project.root / "src" / "app"
    subfolder.mkdir(parents=True)
    monkeypatch.chdir(subfolder)

    settings = load_settings()

    assert settings.migrations_dir == project.root.resolve() / "alembic"
    assert settings.plugins == ()


def test_database_url_flag_wins_through_main(project, migrate):
    assert migrate("create", "init").exit_code == 0
    project.db_path.unlink(missing_ok=True)  # autogenerate compared against db.sqlite

    result = migrate("--database-url", "sqlite:///other.sqlite", "upgrade")

    assert result.exit_code == 0, result.output
    assert (project.root / "other.sqlite").is_file()
    assert not project.db_path.exists()


# --- finding the .env file --------------------------------------------------------------


def test_env_file_found_from_a_subfolder(project, monkeypatch):
    subfolder = project.root / "deep" / "er"
    subfolder.mkdir(parents=True)
    monkeypatch.chdir(subfolder)

    settings = load_settings()

    assert settings.env_file == (project.root / ".env").resolve()
    assert settings.project_dir == project.root.resolve()


def test_env_file_option_names_another_file(project):
    other = project.write("config/staging.env", "DATABASE_URL=postgresql://staging/db\n")

    settings = load_settings(other)

    assert settings.database_url == "postgresql://staging/db"
    assert settings.env_file == other.resolve()
    assert settings.migrations_dir == other.parent.resolve() / "alembic"


def test_missing_env_file_option_is_an_error_naming_it(project):
    with pytest.raises(SettingsError) as raised:
        load_settings("nowhere/missing.env")

    assert "nowhere/missing.env" in str(raised.value)


def test_missing_env_file_through_main_exits_with_error(project, migrate):
    result = migrate("--env-file", "missing.env", "upgrade")

    assert result.exit_code == 1
    assert "missing.env" in result.stderr


# --- relative paths ---------------------------------------------------------------------


def test_relative_migrations_dir_resolves_against_env_folder(project, monkeypatch):
    project.write_env(MIGRATIONS_DIR="db/migrations")
    subfolder = project.root / "sub"
    subfolder.mkdir()
    monkeypatch.chdir(subfolder)

    assert load_settings().migrations_dir == project.root.resolve() / "db" / "migrations"


def test_relative_sqlite_path_resolves_against_env_folder(project, monkeypatch):
    project.write_env(DATABASE_URL="sqlite:///data/app.db")
    subfolder = project.root / "sub"
    subfolder.mkdir()
    monkeypatch.chdir(subfolder)

    expected = f"sqlite:///{(project.root.resolve() / 'data' / 'app.db').as_posix()}"
    assert load_settings().database_url == expected


def test_relative_sqlite_path_with_driver_and_query_keeps_query(project):
    project.write_env(DATABASE_URL="sqlite+pysqlite:///app.db?timeout=5")

    expected = f"sqlite+pysqlite:///{project.root.resolve().as_posix()}/app.db?timeout=5"
    assert load_settings().database_url == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:////abs/path/app.db",
        "sqlite:////abs/path/app.db?timeout=5",
        "postgresql://user@host/relative_looking",
    ],
)
def test_urls_that_are_not_relative_files_are_left_alone(project, url):
    project.write_env(DATABASE_URL=url)

    assert load_settings().database_url == url


# --- .env parse errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_line",
    [
        'DATABASE_URL="unterminated PASSWORD_MARKER_123',
        "not a setting line with spaces PASSWORD_MARKER_123",
    ],
)
def test_unparsable_env_line_names_file_and_line_not_text(project, bad_line):
    env = project.root / ".env"
    env.write_text(f"MIGRATIONS_DIR=alembic\n# a comment\n{bad_line}\n")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert str(env.resolve()) in message
    assert "line 3" in message
    assert "PASSWORD_MARKER_123" not in message


def test_unparsable_env_line_after_multiline_value_counts_lines(project):
    (project.root / ".env").write_text('A="two\nlines"\nB=1\nbad line PASSWORD_MARKER_123\n')

    with pytest.raises(SettingsError, match="line 4") as raised:
        load_settings()

    assert "PASSWORD_MARKER_123" not in str(raised.value)


def test_unparsable_env_line_through_main_hides_text(project, migrate):
    (project.root / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite\nx PASSWORD_MARKER_123\n")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert "line 2" in result.stderr
    assert "PASSWORD_MARKER_123" not in result.output


# A .env is read without python-dotenv when every line is blank, a comment or a plain
# KEY=value; every other file is python-dotenv's to read. Either way, the values are
# python-dotenv's.
PLAIN_ENV_FILES = [
    "",
    "\n\n",
    "DATABASE_URL=postgresql+psycopg://app:s3cr%40t@db:5432/app?sslmode=require\n",
    "A=1\nB=\nA=2\n# comment\n   # indented comment\n\t\nC=#not-a-comment\nD=a=b#c'd\"e\n",
    "NO_NEWLINE_AT_END=é€",
    "KEY=1\n\x0c\nOTHER=2\n",
]
OTHER_ENV_FILES = [
    "KEY=value # an inline comment\n",
    "KEY = value\n",
    "  KEY=value\n",
    "export KEY=value\n",
    "KEY='single'\nOTHER=\"double \\n\"\n",
    "KEY=${HOME}/x\nOTHER=$HOME\n",
    "KEY=back\\slash\n",
    "KEY=value\r\nOTHER=1\r\n",
    "\ufeffKEY=value\n",
    "KEY\n",
    "KEY=tab\tinside\n",
    "KEY=nbsp\u00a0inside\n",
    "KEY=value\x0bvertical\n",
    "KEY=value\u2028separator\n",
    "KEY=value\x85next line\n",
]


@pytest.mark.parametrize("text", PLAIN_ENV_FILES + OTHER_ENV_FILES)
def test_env_file_values_are_python_dotenvs(tmp_path, monkeypatch, text):
    from dotenv import dotenv_values

    from migrations_cli.core import settings

    monkeypatch.setenv("HOME", "/home/someone")
    path = tmp_path / ".env"
    path.write_bytes(text.encode())
    expected = {key: value for key, value in dotenv_values(path).items() if value is not None}

    assert settings.read_env_file(path) == expected
    plain = settings._plain_env_file(path)
    assert plain is None or plain == expected
    # The plain files are read without python-dotenv.
    assert (plain is not None) == (text in PLAIN_ENV_FILES)


# --- MIGRATIONS_PLUGINS and MIGRATIONS_METADATA -----------------------------------------


def test_plugins_are_split_on_commas_ignoring_spaces_and_empty_items(project):
    project.write_env(MIGRATIONS_PLUGINS=" app.plugins.audit , ,local_plugin,, pkg.mod ,")

    assert load_settings().plugins == ("app.plugins.audit", "local_plugin", "pkg.mod")


@pytest.mark.parametrize("name", ["app-plugins", "1module", "app..mod", "app/mod"])
def test_invalid_plugin_module_name_is_an_error_naming_the_key(project, name):
    project.write_env(MIGRATIONS_PLUGINS=f"good_plugin,{name}")

    with pytest.raises(SettingsError, match="MIGRATIONS_PLUGINS") as raised:
        load_settings()

    assert repr(name) in str(raised.value)


def test_metadata_path_is_kept(project):
    project.write_env(MIGRATIONS_METADATA="app.models:Base.metadata")

    assert load_settings().metadata == "app.models:Base.metadata"


@pytest.mark.parametrize("path", ["app.models.metadata", "app.models:", ":metadata"])
def test_malformed_metadata_path_is_an_error_naming_the_key(project, path):
    project.write_env(MIGRATIONS_METADATA=path)

    with pytest.raises(SettingsError, match="MIGRATIONS_METADATA"):
        load_settings()


# --- require_database_url ---------------------------------------------------------------


def test_require_database_url_returns_the_url(project):
    assert load_settings().require_database_url().endswith("/db.sqlite")


def test_require_database_url_without_url_names_key_and_env_file(project):
    project.write_env(MIGRATIONS_METADATA="models:metadata")
    settings = load_settings()

    with pytest.raises(SettingsError, match="DATABASE_URL") as raised:
        settings.require_database_url()

    assert str((project.root / ".env").resolve()) in str(raised.value)


# --- masking and secrets ----------------------------------------------------------------


def _settings_with_url(project, url: str):
    return load_settings(overrides={"DATABASE_URL": url})


def test_masked_url_hides_percent_encoded_password(project):
    settings = _settings_with_url(project, "postgresql+psycopg://user:p%40ss%25w0rd@host:5432/db")

    assert settings.masked_url() == "postgresql+psycopg://user:***@host:5432/db"


def test_secrets_hold_encoded_and_decoded_password(project):
    settings = _settings_with_url(project, "postgresql+psycopg://user:p%40ss%25w0rd@host:5432/db")

    assert settings.secrets() == {"p%40ss%25w0rd", "p@ss%w0rd"}


def test_raw_at_sign_in_the_password_is_an_error_asking_to_encode_it(project):
    settings = _settings_with_url(project, "mysql+pymysql://root:PWM@RK1@host/db")

    with pytest.raises(SettingsError, match="percent-encode '@'") as raised:
        settings.require_database_url()

    assert "PWM" not in str(raised.value) and "RK1" not in str(raised.value)


def test_password_in_the_query_string_is_masked(project):
    settings = _settings_with_url(project, "postgresql+psycopg://u@h/db?sslmode=off&password=Q1w2")

    assert settings.masked_url() == "postgresql+psycopg://u@h/db?sslmode=off&password=***"
    assert settings.secrets() == {"Q1w2"}


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg//u:PWMARK1@h/d", "postgresql:/u:PWMARK1@h/d", "u:PWMARK1@h/d"]
)
def test_password_of_a_malformed_url_is_still_a_secret(project, url):
    assert "PWMARK1" in _settings_with_url(project, url).secrets()


@pytest.mark.parametrize("password", ["se/cret", "pa?ss", "pa#ss"])
def test_raw_url_delimiters_in_the_password_are_still_masked(project, password):
    settings = _settings_with_url(project, f"postgresql+psycopg://user:{password}@127.0.0.1/db")

    assert settings.masked_url() == "postgresql+psycopg://user:***@127.0.0.1/db"
    assert password in settings.secrets()


def test_relative_sqlite_path_in_a_folder_with_url_characters(tmp_path, monkeypatch):
    folder = tmp_path / "team 100% #1?"
    (folder / "alembic" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        (folder / "alembic" / name).write_text((REPO_ROOT / "alembic" / name).read_text())
    (folder / ".env").write_text("DATABASE_URL=sqlite:///app.db\n")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() adds the project folder

    assert main(["create", "first", "--empty"]) == 0
    assert main(["upgrade"]) == 0
    assert (folder / "app.db").is_file()


@pytest.mark.parametrize(
    "url", ["postgresql://user@host/db", "postgresql://host/db", "sqlite:///:memory:"]
)
def test_url_without_password_is_unchanged_and_has_no_secrets(project, url):
    settings = _settings_with_url(project, url)

    assert settings.masked_url() == url
    assert settings.secrets() == frozenset()


def test_no_url_masks_to_empty_and_has_no_secrets(project):
    project.write_env()
    settings = load_settings()

    assert settings.masked_url() == ""
    assert settings.secrets() == frozenset()


# --- GlobalOptions.parse ----------------------------------------------------------------


def test_global_options_env_file_with_separate_value():
    assert GlobalOptions.parse(["--env-file", "x.env", "upgrade"]).env_file == "x.env"


def test_global_options_env_file_with_equals():
    assert GlobalOptions.parse(["--env-file=x.env", "upgrade"]).env_file == "x.env"


def test_global_options_database_url_and_verbose():
    options = GlobalOptions.parse(["-v", "--database-url", "sqlite:///a.db", "upgrade", "head"])

    assert options == GlobalOptions(
        env_file=None,
        database_url="sqlite:///a.db",
        verbose=True,
        command="upgrade",
        words=("-v", "--database-url", "sqlite:///a.db"),
    )


def test_global_options_long_verbose_and_equals_url():
    options = GlobalOptions.parse(["--database-url=postgresql://h/db", "--verbose", "heads"])

    assert options.database_url == "postgresql://h/db"
    assert options.verbose is True


def test_global_options_after_command_name_are_not_read():
    options = GlobalOptions.parse(
        ["upgrade", "--env-file", "x.env", "--database-url=sqlite://", "-v", "--verbose"]
    )

    assert options == GlobalOptions(command="upgrade")


def test_global_options_stop_at_command_name():
    options = GlobalOptions.parse(["--env-file", "a.env", "create", "--env-file", "b.env"])

    assert options.env_file == "a.env"
    assert options.verbose is False
    assert options.command == "create"


def test_global_options_without_arguments_are_defaults():
    assert GlobalOptions.parse([]) == GlobalOptions()


def test_global_env_file_option_is_used_by_main(project, migrate):
    other = project.write("other/.env", "DATABASE_URL=sqlite:///other.sqlite\n")
    (other.parent / "alembic").symlink_to(project.root / "alembic")
    assert migrate("create", "--empty", "init").exit_code == 0

    result = migrate("--env-file", str(other), "upgrade")

    assert result.exit_code == 0, result.output
    assert (other.parent / "other.sqlite").is_file()
    assert not project.db_path.exists()


def test_a_named_env_file_wins_over_the_environment(project, monkeypatch):
    staging = project.write(".env.staging", "DATABASE_URL=sqlite:///staging.db\n")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///shell.db")

    settings = load_settings(staging)

    assert settings.database_url.endswith("/staging.db")


def test_raw_at_sign_does_not_stop_commands_that_need_no_database(project, migrate):
    project.write_env(DATABASE_URL="mysql+pymysql://root:PWM@RK1@host/db")

    assert migrate("heads").exit_code == 0
