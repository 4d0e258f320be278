"""A generated history for the squash, baseline and drift tests: `write_history(versions, n)`
writes n revisions with tables, foreign keys, indexes, unique constraints, server defaults,
comments, an enum type (native on PostgreSQL and MariaDB) and a data migration, each with a
downgrade that undoes it."""

from __future__ import annotations

import textwrap
from pathlib import Path

# Revisions that would add a unique constraint do something else instead.
SEED = 8
TICKETS = 16


def revision_id(index: int) -> str:
    return f"{index:04d}aaaabbbb"


def _steps(index: int) -> tuple[str, str, str]:
    """(message, upgrade body, downgrade body) of revision `index`."""
    if index == 0:
        return (
            "Create parent",
            """
            op.create_table(
                "parent",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("name", sa.String(50), nullable=False, server_default="unnamed"),
                sa.Column("created", sa.DateTime(), server_default=sa.func.now()),
            )
            """,
            'op.drop_table("parent")',
        )
    if index == SEED:
        return (
            "Seed parents",
            """
            parent = sa.table("parent", sa.column("id", sa.Integer), sa.column("name", sa.String))
            op.bulk_insert(parent, [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}])
            op.execute("UPDATE parent SET name = 'renamed' WHERE id = 2")
            """,
            'op.execute("DELETE FROM parent WHERE id IN (1, 2)")',
        )
    if index == TICKETS:
        return (
            "Create tickets",
            """
            op.create_table(
                "tickets",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("state", sa.Enum("open", "closed", name="ticket_state"), nullable=False),
                sa.Column(
                    "parent_id", sa.Integer(), sa.ForeignKey("parent.id", ondelete="CASCADE")
                ),
                comment="support tickets",
            )
            """,
            """
            op.drop_table("tickets")
            sa.Enum(name="ticket_state").drop(op.get_bind(), checkfirst=True)
            """,
        )
    step = (index - 1) % 4  # a table every fourth revision, then three changes to it
    table = f"t{index - step}"
    if step == 0:
        return (
            f"Create {table}",
            f"""
            op.create_table(
                "{table}",
                sa.Column("id", sa.Integer(), primary_key=True),
                sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=False),
                sa.Column("label", sa.String(40), nullable=False, server_default="new"),
                sa.Column("amount", sa.Numeric(10, 2), server_default="0"),
            )
            """,
            f'op.drop_table("{table}")',
        )
    if step == 1:
        return (
            f"Index {table}.label",
            f'op.create_index("ix_{table}_label", "{table}", ["label"])',
            f'op.drop_index("ix_{table}_label", table_name="{table}")',
        )
    if step == 2:
        return (
            f"Add {table}.note",
            f'op.add_column("{table}", sa.Column("note", sa.String(100), comment="free text"))',
            f"""
            with op.batch_alter_table("{table}") as batch:
                batch.drop_column("note")
            """,
        )
    return (
        f"Unique {table}.note",
        f"""
        with op.batch_alter_table("{table}") as batch:
            batch.create_unique_constraint("uq_{table}_note", ["note"])
        """,
        f"""
        with op.batch_alter_table("{table}") as batch:
            batch.drop_constraint("uq_{table}_note", type_="unique")
        """,
    )


def write_history(versions: Path, count: int, start: int = 0) -> list[str]:
    """Revisions start..count-1 (the first one's parent is start-1), oldest first."""
    written = []
    for index in range(start, count):
        message, upgrade, downgrade = _steps(index)
        down = revision_id(index - 1) if index else None
        write_revision(versions, revision_id(index), down, message, upgrade, downgrade)
        written.append(revision_id(index))
    return written


def write_revision(
    versions: Path, revision: str, down: str | None, message: str, upgrade: str, downgrade: str
) -> None:
    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip(), "    ")

    (versions / f"{revision}_{message.lower().replace(' ', '_').replace('.', '_')}.py").write_text(
        f'"""{message}"""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade():\n{body(upgrade)}\n\n\n"
        f"def downgrade():\n{body(downgrade)}\n"
    )
