"""`migrate lint` reads what a revision does around an operation, as real projects write
them: a table emptied before a NOT NULL column is added (Optuna's v2.4.0.a), a column that is
already NOT NULL, a type with per-database variants, and branches for another database
(MLflow's `if op.get_bind().engine.name == "mysql":`)."""

from __future__ import annotations

import pytest
from conftest import Project
from test_lint import POSTGRES_ENV
from test_lint_postgresql import rules_of

MYSQL_ENV = {"DATABASE_URL": "mysql+pymysql://app@db.invalid/app"}  # lint never connects

REVISION = """
import sqlalchemy as sa
from alembic import op
from sqlalchemy import orm
from sqlalchemy.orm import declarative_base
from sqlalchemy.dialects.mysql import MEDIUMTEXT

Base = declarative_base()


class Trial(Base):
    __tablename__ = "trial_values"
    id = sa.Column(sa.Integer, primary_key=True)


trial_values = sa.table("trial_values")

revision = "ctx000000001"
down_revision = None
lock_timeout = "5s"


def upgrade():
{body}


def downgrade():
    op.drop_column("trial_values", "objective")
"""

ADD_NOT_NULL = (
    '    op.add_column("trial_values", sa.Column("objective", sa.Integer(), nullable=False))'
)


def lint(project: Project, migrate, body: str, env: dict[str, str] = POSTGRES_ENV) -> list[str]:
    project.write_env(**env)
    project.write("alembic/versions/ctx.py", REVISION.format(body=body))
    return rules_of(migrate("lint", "--json"))


@pytest.mark.parametrize(
    "emptying",
    [
        "    session = orm.Session(bind=op.get_bind())\n    session.query(Trial).delete()",
        '    op.execute("DELETE FROM trial_values")',
        '    op.execute("TRUNCATE trial_values")',
        "    op.execute(trial_values.delete())",
        "    op.execute(sa.delete(Trial.__table__))",
    ],
)
def test_a_not_null_column_added_after_the_table_is_emptied_passes(
    project: Project, migrate, emptying: str
):
    assert "ML003" not in lint(project, migrate, f"{emptying}\n{ADD_NOT_NULL}")


@pytest.mark.parametrize(
    "body",
    [
        # emptied only in part:
        "    session = orm.Session(bind=op.get_bind())\n"
        "    session.query(Trial).filter(Trial.id > 5).delete()\n" + ADD_NOT_NULL,
        '    op.execute("DELETE FROM trial_values WHERE id > 5")\n' + ADD_NOT_NULL,
        "    op.execute(trial_values.delete().where(sa.column('id') > 5))\n" + ADD_NOT_NULL,
        # another table emptied:
        '    op.execute("DELETE FROM studies")\n' + ADD_NOT_NULL,
        # emptied only after the column is added:
        ADD_NOT_NULL + '\n    op.execute("DELETE FROM trial_values")',
    ],
)
def test_a_not_null_column_on_a_table_that_may_hold_rows_is_still_an_error(
    project: Project, migrate, body: str
):
    assert "ML003" in lint(project, migrate, body)


def test_set_not_null_on_a_column_already_not_null_is_not_flagged(project: Project, migrate):
    widen = (
        '    op.alter_column("trial_values", "name", existing_type=sa.String(250), '
        "type_=sa.String(500), existing_nullable={existing}, nullable=False)"
    )

    assert "ML011" not in lint(project, migrate, widen.format(existing="False"))
    assert "ML011" in lint(project, migrate, widen.format(existing="True"))


def test_a_type_with_variants_is_judged_by_its_postgresql_type(project: Project, migrate):
    change = (
        '    op.alter_column("trial_values", "value", existing_type=sa.String(5000), '
        'type_=sa.{new}.with_variant(MEDIUMTEXT, "mysql"))'
    )

    assert "ML004" not in lint(project, migrate, change.format(new="Text()"))  # a widening
    assert "ML004" in lint(project, migrate, change.format(new="String(20)"))


@pytest.mark.parametrize("test", ['== "mysql"', 'in ("mysql", "mariadb")', '!= "postgresql"'])
def test_a_branch_for_another_database_is_linted_only_for_that_database(
    project: Project, migrate, test: str
):
    body = (
        f"    if op.get_bind().engine.name {test}:\n"
        '        op.alter_column("trial_values", "value", existing_type=sa.Text(), '
        "type_=sa.Integer())"
    )

    assert "ML004" not in lint(project, migrate, body, POSTGRES_ENV)
    assert "ML004" in lint(project, migrate, body, MYSQL_ENV)


def test_a_column_given_where_alembic_takes_its_name_is_the_error_alembic_raises(
    project: Project, migrate
):
    """JupyterHub 6.1.1's downgrades write ``op.drop_column('spawners',
    sa.Column('user_options'))``: lint names that call, not a missing inverse, and Alembic
    indeed fails there."""
    project.write_revision(
        "col000000001",
        upgrade='op.create_table("teams", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.add_column("teams", sa.Column("motto", sa.Text()))',
        downgrade='op.drop_column("teams", sa.Column("motto"))\nop.drop_table("teams")',
    )
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    findings = rules_of(migrate("lint", "--json"))
    upgraded = migrate("upgrade")
    downgraded = migrate("downgrade", "base")

    assert "ML023" in findings and "ML008" not in findings
    assert upgraded.exit_code == 0
    assert downgraded.exit_code == 1
    assert "TypeError" in downgraded.stderr
