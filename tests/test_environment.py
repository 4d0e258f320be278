"""The environment module behind env.py, driven through Alembic's own API as other tools do."""

from __future__ import annotations

import sqlite3

from alembic import command
from sqlalchemy import create_engine

from migrations_cli.core.config import build_alembic_config
from migrations_cli.core.settings import load_settings


def test_a_shared_connection_is_used_and_its_migrations_are_committed(project, migrate):
    migrate("create", "Add users table")
    elsewhere = project.root / "shared.sqlite"
    config = build_alembic_config(load_settings())
    engine = create_engine(f"sqlite:///{elsewhere}")

    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()

    # Read back through another connection: the work was committed, not left in a
    # transaction that closing the connection rolled back.
    with sqlite3.connect(elsewhere) as check:
        tables = {name for (name,) in check.execute("SELECT name FROM sqlite_master")}
    assert "users" in tables
    assert project.tables() == set()  # the DATABASE_URL database was not touched


def test_a_config_built_without_plugins_still_runs_env_py(project, migrate):
    migrate("create", "Add users table")

    command.upgrade(build_alembic_config(load_settings()), "head")

    assert project.tables() == {"users"}


def test_offline_mode_writes_sql_without_touching_the_database(project, migrate, capsys):
    migrate("create", "Add users table")
    project.db_path.unlink()  # autogenerate connected; offline mode must not

    command.upgrade(build_alembic_config(load_settings()), "head", sql=True)

    sql = capsys.readouterr().out
    assert "CREATE TABLE users" in sql
    assert "INSERT INTO alembic_version" in sql
    assert not project.db_path.exists()


def test_a_url_set_on_the_config_wins_over_database_url(project, migrate):
    migrate("create", "Add users table")
    elsewhere = project.root / "fixture.sqlite"
    config = build_alembic_config(load_settings())
    config.set_main_option("sqlalchemy.url", f"sqlite:///{elsewhere}")

    command.upgrade(config, "head")

    with sqlite3.connect(elsewhere) as check:
        assert ("users",) in check.execute("SELECT name FROM sqlite_master").fetchall()
    assert project.tables() == set()


def test_upgrade_does_not_need_the_models_to_import(project, migrate):
    migrate("create", "Add users table")
    project.write("models.py", "raise RuntimeError('SECRET_KEY is not set')\n")

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert project.tables() == {"users"}
