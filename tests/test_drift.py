"""`migrate drift`, `migrate diff` and `migrate baseline`: a database compared with its
history (replayed on a scratch database of its kind) or with another database."""

from __future__ import annotations

import pytest
from conftest import _fresh_server_database, versions_in
from sqlalchemy import create_engine, inspect, text
from squash_history import revision_id, write_history

HEAD = revision_id(11)


@pytest.fixture
def scratch_args(database_url, tmp_path):
    """--scratch-url naming an empty database of the same kind as database_url."""
    if database_url.startswith("sqlite"):
        yield ["--scratch-url", f"sqlite:///{tmp_path / 'scratch.sqlite'}"]
        return
    kind = "postgresql" if database_url.startswith("postgresql") else "mysql"
    yield from (["--scratch-url", url] for url in _fresh_server_database(kind))


def execute(url, *statements):
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def migrated(project, migrate, database_url):
    """database_url at the head of a 12-revision history."""
    project.write_env(DATABASE_URL=database_url)
    write_history(project.versions, 12)
    assert migrate("upgrade").exit_code == 0
    return database_url


def test_drift_names_each_change_made_by_hand(migrate, migrated, scratch_args):
    untouched = migrate("drift", *scratch_args)
    assert untouched.exit_code == 0, untouched.output
    assert (
        untouched.stdout.startswith("no drift: ") and f"its history at {HEAD}" in untouched.stdout
    )

    execute(
        migrated,
        "ALTER TABLE t1 ADD COLUMN extra INTEGER",
        "DROP INDEX ix_t5_label" + (" ON t5" if migrated.startswith("mysql") else ""),
    )
    drifted = migrate("drift", *scratch_args)

    assert drifted.exit_code == 1, drifted.output
    assert f"differs from its history at {HEAD} (2 differences):" in drifted.stdout
    assert "  column only in the database: t1.extra\n" in drifted.stdout
    assert f"  index only in the history at {HEAD}: ix_t5_label on t5 (label)" in drifted.stdout


def test_drift_refuses_a_scratch_database_of_another_kind(migrate, migrated, tmp_path):
    if migrated.startswith("sqlite"):
        pytest.skip("SQLite is the default scratch database's kind")
    result = migrate("drift")
    assert result.exit_code != 0
    assert "not on sqlite: give --scratch-url (or MIGRATIONS_VERIFY_URL) an empty" in result.stderr


def test_diff_compares_two_databases_without_showing_a_password(migrate, postgresql_url):
    created = _fresh_server_database("postgresql")
    other = next(created)
    try:
        compare_with_a_password(migrate, postgresql_url, other)
    finally:
        next(created, None)  # dropped


def compare_with_a_password(migrate, postgresql_url, other):
    with_password = other.replace("postgres@", "postgres:s3cret-pw@")
    for url in (postgresql_url, other):
        execute(url, "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)")
    assert migrate("diff", postgresql_url, with_password).stdout.endswith("no differences\n")

    execute(other, "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(80)")
    result = migrate("diff", postgresql_url, with_password)

    assert result.exit_code == 1
    assert "  column type differs: users.name VARCHAR(80) in B, VARCHAR(50) in A" in result.stdout
    assert "B = postgresql+psycopg://postgres:***@" in result.stdout
    assert "s3cret" not in result.output


def test_baseline_stamps_a_database_that_matches_and_leaves_one_that_does_not(
    migrate, migrated, scratch_args
):
    execute(migrated, "DROP TABLE alembic_version", "DROP TABLE migrations_cli_checksums")

    adopted = migrate("baseline", *scratch_args)

    assert adopted.exit_code == 0, adopted.output
    assert adopted.stdout.startswith(f"Stamped {HEAD}: ")
    assert versions_in(migrated) == {HEAD}

    execute(migrated, "DROP TABLE alembic_version", "ALTER TABLE t9 ADD COLUMN extra INTEGER")
    refused = migrate("baseline", revision_id(10), *scratch_args)

    assert refused.exit_code != 0
    assert f"differs from the history at {revision_id(10)} (2 differences):" in refused.stdout
    assert "  column only in the database: t9.extra\n" in refused.stdout
    assert "baseline: nothing stamped" in refused.stderr
    engine = create_engine(migrated)
    try:
        assert "alembic_version" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
