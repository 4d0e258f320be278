"""A catalogue of risky PostgreSQL migrations, each beside its safe rewrite.

`tests/test_lint_catalogue.py` checks that `migrate lint` flags every risky revision with
the rule named and nothing in the safe ones; `bench/squawk_catalogue.py` runs squawk on the
same revisions' offline SQL and compares, rule by rule. Each revision sets its lock and
statement timeouts with SQL (as a team would, and visible to squawk too) except the case
about that; downgrades are out of scope here (the downgrade rules have their own tests).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

HEADER = '''"""{name}"""
# migrate-lint: disable=ML007,ML008,ML009
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = None


def upgrade():
'''
TIMEOUTS = """    op.execute("SET LOCAL lock_timeout = '5s'")
    op.execute("SET LOCAL statement_timeout = '60s'")
"""


@dataclass(frozen=True)
class Case:
    """`rule` is what `migrate lint` must flag in `risky`; `safe` must pass clean. Bodies are
    the lines of upgrade(), indented four spaces."""

    name: str
    rule: str
    risky: str
    safe: str
    timeouts: bool = True

    def source(self, variant: str) -> str:
        body = self.risky if variant == "risky" else self.safe
        revision = f"{variant[0]}{zlib.crc32(self.name.encode()):011d}"
        timeouts = TIMEOUTS if self.timeouts or variant == "safe" else ""
        return HEADER.format(name=self.name, revision=revision) + timeouts + body


def _block(*lines: str) -> str:
    return "".join(f"    {line}\n" for line in lines)


AUTOCOMMIT = "with op.get_context().autocommit_block():"

CASES = (
    # --- operations -------------------------------------------------------------------------
    Case(
        "foreign key added without NOT VALID",
        "ML010",
        _block('op.create_foreign_key("fk_orders_user", "orders", "users", ["user_id"], ["id"])'),
        _block(
            'op.create_foreign_key("fk_orders_user", "orders", "users", ["user_id"], ["id"],',
            "                      postgresql_not_valid=True)",
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_user")',
        ),
    ),
    Case(
        "check constraint added without NOT VALID",
        "ML010",
        _block('op.create_check_constraint("ck_orders_total", "orders", "total >= 0")'),
        _block(
            'op.create_check_constraint("ck_orders_total", "orders", "total >= 0",',
            "                           postgresql_not_valid=True)",
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_total")',
        ),
    ),
    Case(
        "SET NOT NULL on an existing column",
        "ML011",
        _block('op.alter_column("users", "email", existing_type=sa.Text(), nullable=False)'),
        _block(
            'op.create_check_constraint("ck_users_email_nn", "users", "email IS NOT NULL",',
            "                           postgresql_not_valid=True)",
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_users_email_nn")',
            'op.alter_column("users", "email", existing_type=sa.Text(), nullable=False)',
            'op.drop_constraint("ck_users_email_nn", "users", type_="check")',
        ),
    ),
    Case(
        "unique constraint on an existing table",
        "ML012",
        _block('op.create_unique_constraint("uq_users_email", "users", ["email"])'),
        _block(
            AUTOCOMMIT,
            '    op.create_index("uq_users_email", "users", ["email"], unique=True,',
            "                    postgresql_concurrently=True, if_not_exists=True)",
            'op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_email '
            'UNIQUE USING INDEX uq_users_email")',
        ),
    ),
    Case(
        "primary key added to an existing table",
        "ML013",
        _block('op.create_primary_key("pk_events", "events", ["id"])'),
        _block(
            AUTOCOMMIT,
            '    op.create_index("pk_events", "events", ["id"], unique=True,',
            "                    postgresql_concurrently=True, if_not_exists=True)",
            'op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY '
            'USING INDEX pk_events")',
        ),
    ),
    Case(
        "column added with a volatile default",
        "ML014",
        _block(
            'op.add_column("users", sa.Column("token", sa.Uuid(),',
            '              server_default=sa.text("gen_random_uuid()")))',
        ),
        _block(
            'op.add_column("users", sa.Column("token", sa.Uuid()))',
            'op.alter_column("users", "token", server_default=sa.text("gen_random_uuid()"))',
        ),
    ),
    Case(
        "drop_index without CONCURRENTLY",
        "ML015",
        _block('op.drop_index("ix_users_name", table_name="users")'),
        _block(
            AUTOCOMMIT,
            '    op.drop_index("ix_users_name", table_name="users",',
            "                  postgresql_concurrently=True, if_exists=True)",
        ),
    ),
    Case(
        "concurrent index build outside autocommit_block()",
        "ML016",
        _block(
            'op.create_index("ix_users_name", "users", ["name"], postgresql_concurrently=True,',
            "                if_not_exists=True)",
        ),
        _block(
            AUTOCOMMIT,
            '    op.create_index("ix_users_name", "users", ["name"],',
            "                    postgresql_concurrently=True, if_not_exists=True)",
        ),
    ),
    Case(
        "index built without CONCURRENTLY",
        "ML006",
        _block('op.create_index("ix_users_name", "users", ["name"])'),
        _block(
            AUTOCOMMIT,
            '    op.create_index("ix_users_name", "users", ["name"],',
            "                    postgresql_concurrently=True, if_not_exists=True)",
        ),
    ),
    Case(
        "CHAR column",
        "ML019",
        _block('op.add_column("users", sa.Column("country", sa.CHAR(2)))'),
        _block('op.add_column("users", sa.Column("country", sa.Text()))'),
    ),
    Case(
        "timestamp without time zone",
        "ML020",
        _block('op.add_column("users", sa.Column("seen_at", sa.DateTime()))'),
        _block('op.add_column("users", sa.Column("seen_at", sa.DateTime(timezone=True)))'),
    ),
    Case(
        "int primary key",
        "ML021",
        _block(
            'op.create_table("teams", sa.Column("id", sa.Integer(), primary_key=True),',
            '                sa.Column("name", sa.Text()))',
        ),
        _block(
            'op.create_table("teams",',
            '                sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),',
            '                sa.Column("name", sa.Text()))',
        ),
    ),
    Case(
        "strong lock without a lock timeout",
        "ML022",
        _block('op.add_column("users", sa.Column("nickname", sa.Text()))'),
        _block('op.add_column("users", sa.Column("nickname", sa.Text()))'),
        timeouts=False,
    ),
    Case(
        "NOT NULL column added without a default",
        "ML003",
        _block('op.add_column("users", sa.Column("plan", sa.Text(), nullable=False))'),
        _block(
            'op.add_column("users", sa.Column("plan", sa.Text(), nullable=False,',
            "              server_default=\"'free'\"))",
        ),
    ),
    Case(
        "column type changed in place",
        "ML004",
        _block('op.alter_column("orders", "total", type_=sa.Numeric(12, 2))'),
        _block('op.add_column("orders", sa.Column("total_exact", sa.Numeric(12, 2)))'),
    ),
    Case(
        "column renamed",
        "ML005",
        _block('op.alter_column("users", "name", new_column_name="full_name")'),
        _block('op.add_column("users", sa.Column("full_name", sa.Text()))'),
    ),
    Case(
        "column dropped while code may still read it",
        "ML002",
        _block('op.drop_column("users", "legacy_flag")'),
        _block(
            "# dropped a release after the code stopped reading it:",
            'op.drop_column("users", "legacy_flag")  # migrate-lint: disable=ML002',
        ),
    ),
    # --- raw SQL ----------------------------------------------------------------------------
    Case(
        "SQL: foreign key without NOT VALID",
        "ML010",
        _block(
            'op.execute("ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) '
            'REFERENCES users (id)")'
        ),
        _block(
            'op.execute("ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) '
            'REFERENCES users (id) NOT VALID")',
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_user")',
        ),
    ),
    Case(
        "SQL: check constraint without NOT VALID",
        "ML010",
        _block('op.execute("ALTER TABLE orders ADD CONSTRAINT ck_total CHECK (total >= 0)")'),
        _block(
            'op.execute("ALTER TABLE orders ADD CONSTRAINT ck_total CHECK (total >= 0) NOT VALID")',
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_total")',
        ),
    ),
    Case(
        "SQL: SET NOT NULL",
        "ML011",
        _block('op.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")'),
        _block(
            'op.execute("ALTER TABLE users ADD CONSTRAINT ck_email_nn CHECK (email IS NOT NULL) '
            'NOT VALID")',
            AUTOCOMMIT,
            '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_email_nn")',
            'op.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")',
            'op.execute("ALTER TABLE users DROP CONSTRAINT ck_email_nn")',
        ),
    ),
    Case(
        "SQL: unique constraint",
        "ML012",
        _block('op.execute("ALTER TABLE users ADD CONSTRAINT uq_email UNIQUE (email)")'),
        _block(
            AUTOCOMMIT,
            '    op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_email '
            'ON users (email)")',
            'op.execute("ALTER TABLE users ADD CONSTRAINT uq_email UNIQUE USING INDEX uq_email")',
        ),
    ),
    Case(
        "SQL: primary key added",
        "ML013",
        _block('op.execute("ALTER TABLE events ADD PRIMARY KEY (id)")'),
        _block(
            AUTOCOMMIT,
            '    op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS pk_events '
            'ON events (id)")',
            'op.execute("ALTER TABLE events ADD CONSTRAINT pk_events PRIMARY KEY '
            'USING INDEX pk_events")',
        ),
    ),
    Case(
        "SQL: column with a volatile default",
        "ML014",
        _block('op.execute("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()")'),
        _block(
            'op.execute("ALTER TABLE users ADD COLUMN token uuid")',
            'op.execute("ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()")',
        ),
    ),
    Case(
        "SQL: DROP INDEX",
        "ML015",
        _block('op.execute("DROP INDEX ix_users_name")'),
        _block(AUTOCOMMIT, '    op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_users_name")'),
    ),
    Case(
        "SQL: CREATE INDEX CONCURRENTLY in the transaction",
        "ML016",
        _block('op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_name ON users (name)")'),
        _block(
            AUTOCOMMIT,
            '    op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_name ON users (name)")',
        ),
    ),
    Case(
        "SQL: CREATE INDEX",
        "ML006",
        _block('op.execute("CREATE INDEX ix_name ON users (name)")'),
        _block(
            AUTOCOMMIT,
            '    op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_name ON users (name)")',
        ),
    ),
    Case(
        "SQL: TRUNCATE CASCADE",
        "ML017",
        _block('op.execute("TRUNCATE sessions CASCADE")'),
        _block('op.execute("TRUNCATE sessions, session_events")'),
    ),
    Case(
        "SQL: DROP DATABASE",
        "ML018",
        _block('op.execute("DROP DATABASE analytics")'),
        _block("# the analytics database is dropped by hand, not by a migration", "pass"),
    ),
    Case(
        "SQL: CHAR column",
        "ML019",
        _block('op.execute("ALTER TABLE users ADD COLUMN country char(2)")'),
        _block('op.execute("ALTER TABLE users ADD COLUMN country text")'),
    ),
    Case(
        "SQL: timestamp without time zone",
        "ML020",
        _block('op.execute("ALTER TABLE users ADD COLUMN seen_at timestamp")'),
        _block('op.execute("ALTER TABLE users ADD COLUMN seen_at timestamptz")'),
    ),
    Case(
        "SQL: serial primary key",
        "ML021",
        _block('op.execute("CREATE TABLE teams (id serial PRIMARY KEY, name text)")'),
        _block(
            'op.execute("CREATE TABLE teams (id bigint GENERATED ALWAYS AS IDENTITY '
            'PRIMARY KEY, name text)")'
        ),
    ),
    Case(
        "SQL: column type changed",
        "ML004",
        _block('op.execute("ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 2)")'),
        _block('op.execute("ALTER TABLE orders ADD COLUMN total_exact numeric(12, 2)")'),
    ),
    Case(
        "SQL: column renamed",
        "ML005",
        _block('op.execute("ALTER TABLE users RENAME COLUMN name TO full_name")'),
        _block('op.execute("ALTER TABLE users ADD COLUMN full_name text")'),
    ),
    Case(
        "SQL: strong lock without a lock timeout",
        "ML022",
        _block('op.execute("ALTER TABLE users ADD COLUMN nickname text")'),
        _block('op.execute("ALTER TABLE users ADD COLUMN nickname text")'),
        timeouts=False,
    ),
)
