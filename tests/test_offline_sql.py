"""`upgrade --sql` and `downgrade --sql FROM:TO`: the SQL for a DBA to review, written without
connecting to the database, with nothing but SQL on stdout or in the -o file."""

from __future__ import annotations

import pytest

# Unreachable servers (port 1): any attempt to connect would fail the command. The password
# is a marker that must appear nowhere in what the command prints or writes.
MARKER = "Zq9marker"
OFFLINE_URLS = {
    "sqlite": "sqlite:///missing_folder/never.sqlite",
    "postgresql": f"postgresql+psycopg://app:{MARKER}@127.0.0.1:1/app",
    "mysql": f"mysql+pymysql://app:{MARKER}@127.0.0.1:1/app",
}
# How each dialect spells the integer primary key: the SQL is the named dialect's.
ID_COLUMN = {
    "sqlite": "id INTEGER NOT NULL,",
    "postgresql": "id SERIAL NOT NULL,",
    "mysql": "id INTEGER NOT NULL AUTO_INCREMENT,",
}

# The example application's schema: two tables, a foreign key, an index, then a column.
INITIAL_SCHEMA = '''
"""initial schema"""
import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_posts_author_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
    )
    op.create_index(op.f("ix_posts_author_id"), "posts", ["author_id"], unique=False)


def downgrade():
    op.drop_table("posts")
    op.drop_table("users")
'''

ADD_EMAIL = '''
"""Add email field to users"""
import sqlalchemy as sa
from alembic import op

revision = "bbbb00000002"
down_revision = "aaaa00000001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("email", sa.String(length=255), nullable=True))


def downgrade():
    op.drop_column("users", "email")
'''

# As autogenerate writes it for SQLite: a batch operation, which offline needs the table.
ADD_EMAIL_IN_BATCH = '''
"""Add email field to users"""
import sqlalchemy as sa
from alembic import op

revision = "bbbb00000002"
down_revision = "aaaa00000001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_users_email"), ["email"])


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_email"), type_="unique")
        batch_op.drop_column("email")
'''


@pytest.fixture(params=sorted(OFFLINE_URLS))
def dialect(request: pytest.FixtureRequest, project) -> str:
    """The project, its two revisions, and a DATABASE_URL of each dialect that cannot be
    reached (no server is needed offline)."""
    write_revisions(project)
    project.write_env(
        DATABASE_URL=OFFLINE_URLS[request.param], MIGRATIONS_METADATA="models:metadata"
    )
    return request.param


def write_revisions(project, second: str = ADD_EMAIL) -> None:
    project.write("alembic/versions/aaaa00000001_initial_schema.py", INITIAL_SCHEMA)
    project.write("alembic/versions/bbbb00000002_add_email.py", second)


def use_postgresql(project) -> None:
    write_revisions(project)
    project.write_env(DATABASE_URL=OFFLINE_URLS["postgresql"])


def assert_no_marker(*texts: str) -> None:
    for text in texts:
        assert MARKER not in text


def test_upgrade_sql_prints_the_whole_schema_without_connecting(project, migrate, dialect):
    result = migrate("upgrade", "--sql")

    assert result.exit_code == 0, result.output
    sql = result.stdout
    assert sql.lstrip().startswith(("BEGIN;", "CREATE TABLE alembic_version"))
    assert "CREATE TABLE alembic_version (" in sql
    assert "CREATE TABLE users (" in sql
    assert ID_COLUMN[dialect] in sql
    assert "CONSTRAINT fk_posts_author_id_users FOREIGN KEY(author_id) REFERENCES users (id)" in sql
    assert "CREATE INDEX ix_posts_author_id ON posts (author_id);" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('aaaa00000001')" in sql
    assert "ALTER TABLE users ADD COLUMN email VARCHAR(255);" in sql
    assert (
        "UPDATE alembic_version SET version_num='bbbb00000002' "
        "WHERE alembic_version.version_num = 'aaaa00000001';"
    ) in sql
    assert sql.index("CREATE TABLE users") < sql.index("ADD COLUMN email")
    assert "SQL for 2 revisions (upgrade base -> head); nothing was run" in result.stderr
    assert "Already at" not in result.output
    assert_no_marker(result.stdout, result.stderr)
    assert not (project.root / "missing_folder").exists()


def test_upgrade_sql_with_a_range_starts_at_its_first_revision(project, migrate):
    use_postgresql(project)

    result = migrate("upgrade", "--sql", "aaaa00000001:head")

    assert result.exit_code == 0, result.output
    assert "CREATE TABLE" not in result.stdout
    assert "-- Running upgrade aaaa00000001 -> bbbb00000002" in result.stdout
    assert "ALTER TABLE users ADD COLUMN email VARCHAR(255);" in result.stdout
    assert "SQL for 1 revision (upgrade aaaa00000001 -> head)" in result.stderr


def test_upgrade_sql_of_an_empty_range_prints_nothing_and_says_so(project, migrate):
    use_postgresql(project)

    result = migrate("upgrade", "--sql", "head:head")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "No revisions to run (upgrade head -> head): the SQL is empty." in result.stderr


def test_downgrade_sql_range_drops_in_reverse_order(project, migrate):
    use_postgresql(project)

    result = migrate("downgrade", "--sql", "head:base")

    assert result.exit_code == 0, result.output
    sql = result.stdout
    assert sql.lstrip().startswith("BEGIN;")
    assert "ALTER TABLE users DROP COLUMN email;" in sql
    assert (
        "UPDATE alembic_version SET version_num='aaaa00000001' "
        "WHERE alembic_version.version_num = 'bbbb00000002';"
    ) in sql
    assert "DROP TABLE posts;" in sql
    assert "DROP TABLE users;" in sql
    assert "DELETE FROM alembic_version WHERE alembic_version.version_num = 'aaaa00000001';" in sql
    assert (
        sql.index("DROP COLUMN email")
        < sql.index("DROP TABLE posts")
        < sql.index("DROP TABLE users")
    )
    assert "SQL for 2 revisions (downgrade head -> base)" in result.stderr
    assert_no_marker(result.stdout, result.stderr)


@pytest.mark.parametrize("arguments", [[], ["-1"], ["base"], ["head:"]])
def test_downgrade_sql_without_a_range_is_a_usage_error_naming_the_form(
    project, migrate, arguments
):
    use_postgresql(project)

    result = migrate("downgrade", "--sql", *arguments)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "FROM:TO" in result.stderr
    assert "Traceback" not in result.stderr


def test_sql_to_a_file_through_the_console_script(project, migrate_console):
    use_postgresql(project)

    result = migrate_console("downgrade", "--sql", "bbbb00000002:aaaa00000001", "-o", "down.sql")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    written = (project.root / "down.sql").read_text()
    assert written.lstrip().startswith("BEGIN;")
    assert written.rstrip().endswith("COMMIT;")
    assert "ALTER TABLE users DROP COLUMN email;" in written
    assert "DROP TABLE" not in written
    assert "written to down.sql" in result.stderr
    assert_no_marker(result.stdout, result.stderr, written)


def test_an_unknown_revision_in_the_range_writes_no_file(project, migrate):
    use_postgresql(project)

    result = migrate("upgrade", "--sql", "cccc:head", "--output", "up.sql")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'cccc'" in result.stderr
    assert not (project.root / "up.sql").exists()


def test_output_without_sql_is_refused_before_anything_runs(project, migrate):
    write_revisions(project)

    result = migrate("upgrade", "-o", "up.sql")

    assert result.exit_code == 2
    assert "--sql" in result.stderr
    assert not project.db_path.exists()
    assert not (project.root / "up.sql").exists()


def test_a_range_without_sql_is_a_usage_error(project, migrate):
    write_revisions(project)

    result = migrate("upgrade", "aaaa00000001:head")

    assert result.exit_code == 2
    assert "a range FROM:TO needs --sql" in result.stderr
    assert not project.db_path.exists()


def test_sql_mode_does_not_import_the_models(project, migrate):
    use_postgresql(project)
    project.write_env(
        DATABASE_URL=OFFLINE_URLS["postgresql"], MIGRATIONS_METADATA="models:metadata"
    )
    project.write("models.py", 'raise RuntimeError("APP_SECRET_KEY is not set")\n')

    result = migrate("upgrade", "--sql")

    assert result.exit_code == 0, result.output
    assert "CREATE TABLE users (" in result.stdout


def test_sqlite_batch_operations_need_the_live_table_and_fail_with_one_line(project, migrate):
    write_revisions(project, second=ADD_EMAIL_IN_BATCH)
    project.write_env(DATABASE_URL=OFFLINE_URLS["sqlite"])

    result = migrate("upgrade", "--sql", "-o", "up.sql")

    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: This operation cannot proceed in --sql mode")
    assert not (project.root / "up.sql").exists()


def test_a_password_in_a_migration_is_masked_in_the_file_with_a_warning(project, migrate):
    use_postgresql(project)
    project.write(
        "alembic/versions/cccc00000003_grant.py",
        f"""
        from alembic import op

        revision = "cccc00000003"
        down_revision = "bbbb00000002"
        branch_labels = None
        depends_on = None


        def upgrade():
            op.execute("ALTER ROLE app PASSWORD '{MARKER}'")


        def downgrade():
            pass
        """,
    )

    result = migrate("upgrade", "--sql", "bbbb00000002:head", "-o", "up.sql")

    written = (project.root / "up.sql").read_text()
    assert result.exit_code == 0, result.output
    assert "ALTER ROLE app PASSWORD '***'" in written
    assert "warning: the SQL contains the database password, replaced by ***" in result.stderr
    assert_no_marker(result.stdout, result.stderr, written)
