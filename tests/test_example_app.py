"""The repository's own example application migrates for real, and its models agree with its
migrations, on every database the suite has."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import REPO_ROOT, run_process, table_names
from sqlalchemy import create_engine

MIGRATE_SCRIPT = str(Path(sys.executable).with_name("migrate"))


def migrate_repository(database_url, *args):
    """`migrate` on this repository's alembic/ and app/, with settings from .env.example and
    a throwaway database, so the developer's own database is never touched."""
    return run_process(
        [MIGRATE_SCRIPT, "--env-file", ".env.example", "--database-url", database_url, *args],
        cwd=REPO_ROOT,
    )


def test_example_app_migrates_up_down_and_up_again(database_url):
    upgraded = migrate_repository(database_url, "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert table_names(database_url) == {"users", "posts"}

    downgraded = migrate_repository(database_url, "downgrade", "base")
    assert downgraded.exit_code == 0, downgraded.output
    assert table_names(database_url) == set()

    again = migrate_repository(database_url, "upgrade")
    assert again.exit_code == 0, again.output
    assert table_names(database_url) == {"users", "posts"}


def test_example_models_match_the_migrations_at_head(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.models import Base
    from migrations_cli.core.tool_tables import TOOL_TABLES

    assert migrate_repository(database_url, "upgrade").exit_code == 0

    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # migrations-cli's own tables (lock, checksums) are not the models' business
                "include_object": lambda obj, name, type_, *rest: name not in TOOL_TABLES,
            },
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
