"""The repository's own example application: its migrations and its models agree."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from conftest import REPO_ROOT, run_process

MIGRATE_SCRIPT = str(Path(sys.executable).with_name("migrate"))
TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"


def migrate_repository(database, *args):
    """`migrate` on this repository's alembic/ and app/, with settings from .env.example and
    a throwaway database, so the developer's own database is never touched."""
    return run_process(
        [
            MIGRATE_SCRIPT,
            "--env-file",
            ".env.example",
            "--database-url",
            f"sqlite:///{database}",
            *args,
        ],
        cwd=REPO_ROOT,
    )


def test_example_app_migrates_up_and_down(tmp_path):
    database = tmp_path / "app.db"

    upgraded = migrate_repository(database, "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute(TABLES)}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(users)")}
    assert {"users", "posts", "alembic_version"} <= tables
    assert "email" in columns

    downgraded = migrate_repository(database, "downgrade", "base")
    assert downgraded.exit_code == 0, downgraded.output
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute(TABLES)}
    assert tables == {"alembic_version"}


def test_example_models_match_the_migrations_at_head(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from app.models import Base

    database = tmp_path / "app.db"
    assert migrate_repository(database, "upgrade").exit_code == 0

    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
