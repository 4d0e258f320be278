"""The PostgreSQL rules of `migrate lint` (ML010 to ML022, and ML001 to ML006 for raw
SQL): locks, rewrites and types. They read `RevisionSource.actions`, what a revision does
to the schema whether written as operations or as SQL, so they apply to each revision's
offline SQL as well (lint_offline.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from migrations_cli.guards.revision_source import (
    LOCK_TIMEOUT_SETTING,
    Finding,
    RevisionSource,
    Rule,
)

if TYPE_CHECKING:
    from migrations_cli.guards.lint_actions import Action, Column

# --- PostgreSQL: locks, rewrites and types (from operations and SQL alike) -------------------


def _existing(revision: RevisionSource, action: Action) -> bool:
    """Whether `action` works on a table that may hold rows: not one this upgrade creates
    (a new table is empty, and no one else uses it yet)."""
    created = {
        a.table for a in revision.actions if a.kind == "create_table" and a.line <= action.line
    }
    return action.table is None or action.table not in created


def _postgresql_actions(revision: RevisionSource, *kinds: str) -> Iterator[Action]:
    if revision.postgresql:
        yield from (action for action in revision.actions if action.kind in kinds)


def sql_counterparts(revision: RevisionSource) -> Iterator[Finding]:
    """ML001 to ML006 for raw SQL: what the operation rules flag, written as SQL instead."""
    for action in _postgresql_actions(
        revision, "drop_table", "drop_column", "add_column", "alter_type", "rename", "create_index"
    ):
        if not action.from_sql:
            continue
        finding = _counterpart(revision, action)
        if finding is not None:
            yield finding


def _counterpart(revision: RevisionSource, action: Action) -> Finding | None:
    shown, line = action.shown, action.line
    if action.kind == "drop_table":
        return Finding("ML001", "error", line, f"{shown}: its rows are deleted for good")
    if action.kind == "drop_column":
        return Finding(
            "ML002",
            "error",
            line,
            f"{shown}: the column's data is deleted for good and "
            "code still selecting it fails; stop using it in one release, drop it in a later one",
        )
    missing_default = any(c.not_null and c.default is None for c in action.columns)
    if (
        action.kind == "add_column"
        and missing_default
        and _existing(revision, action)
        and not revision.emptied_before(action.table, action.line)
    ):
        return Finding(
            "ML003",
            "error",
            line,
            f"{shown}: NOT NULL without a DEFAULT fails on a "
            "table with rows; add it with a default, or nullable, fill it, then constrain it",
        )
    if action.kind == "alter_type" and _existing(revision, action):
        return Finding(
            "ML004",
            "warning",
            line,
            f"{shown}: changing a type rewrites the table under an "
            "ACCESS EXCLUSIVE lock and values may not convert; add a new column and backfill",
        )
    if action.kind == "rename":
        return Finding(
            "ML005",
            "warning",
            line,
            f"{shown}: code already running still uses the old "
            "name; add the new name beside the old, move the code over, then drop the old",
        )
    if action.kind == "create_index" and not action.concurrently and _existing(revision, action):
        return Finding(
            "ML006",
            "warning",
            line,
            f"{shown}: without CONCURRENTLY it blocks writes to the "
            "table while it builds; use CREATE INDEX CONCURRENTLY outside a transaction",
        )
    return None


def constraint_without_not_valid(revision: RevisionSource) -> Iterator[Finding]:
    """ML010: adding a foreign key or check constraint checks every row under a lock that
    blocks writes (for a foreign key, on both tables)."""
    for action in _postgresql_actions(revision, "add_constraint"):
        checked = action.constraint in ("foreign", "check") and not action.not_valid
        if checked and _existing(revision, action):
            what = "foreign key" if action.constraint == "foreign" else "check constraint"
            yield Finding(
                "ML010",
                "warning",
                action.line,
                f"{action.shown}: the {what} is checked against every row while writes "
                "wait; add it NOT VALID (postgresql_not_valid=True), then VALIDATE "
                "CONSTRAINT in a later transaction",
            )


def set_not_null(revision: RevisionSource) -> Iterator[Finding]:
    """ML011: SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, unless a validated
    CHECK (col IS NOT NULL) already proves it (PostgreSQL 12+): a VALIDATE CONSTRAINT on the
    same table earlier in the revision is taken as that proof."""
    for action in _postgresql_actions(revision, "set_not_null"):
        before = revision.actions[: revision.actions.index(action)]
        validated = any(
            other.kind == "validate_constraint" and other.table == action.table for other in before
        )
        if _existing(revision, action) and not validated:
            yield Finding(
                "ML011",
                "warning",
                action.line,
                f"{action.shown}: SET NOT NULL reads every row under an ACCESS EXCLUSIVE "
                "lock; add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
            )


def unique_constraint(revision: RevisionSource) -> Iterator[Finding]:
    """ML012: a unique constraint builds its index while writes wait."""
    for action in _postgresql_actions(revision, "add_constraint"):
        if action.constraint == "unique" and not action.using_index and _existing(revision, action):
            yield Finding(
                "ML012",
                "warning",
                action.line,
                f"{action.shown}: the unique index is built while writes wait; create it "
                "with create_index(..., unique=True, postgresql_concurrently=True), then "
                "ADD CONSTRAINT ... UNIQUE USING INDEX",
            )


def primary_key_added(revision: RevisionSource) -> Iterator[Finding]:
    """ML013: a primary key added to a table with rows builds its index (and, for a new
    column, rewrites the table) under ACCESS EXCLUSIVE."""
    for action in _postgresql_actions(revision, "add_constraint", "add_column"):
        adds_key = (
            action.constraint == "primary" and not action.using_index
            if action.kind == "add_constraint"
            else any(column.primary_key for column in action.columns)
        )
        if adds_key and _existing(revision, action):
            yield Finding(
                "ML013",
                "warning",
                action.line,
                f"{action.shown}: the primary key's index is built under an ACCESS EXCLUSIVE "
                "lock; build a unique index concurrently, then ADD CONSTRAINT ... PRIMARY KEY "
                "USING INDEX",
            )


def volatile_default(revision: RevisionSource) -> Iterator[Finding]:
    """ML014: a column added with a volatile default rewrites the whole table."""
    for action in _postgresql_actions(revision, "add_column"):
        for column in action.columns:
            function = column.volatile_default
            if function and _existing(revision, action):
                yield Finding(
                    "ML014",
                    "warning",
                    action.line,
                    f"{action.shown}: the default {function}() is volatile, so every row is "
                    "rewritten under an ACCESS EXCLUSIVE lock; add the column without it, set "
                    "the default, then backfill in batches",
                )


def drop_index_without_concurrently(revision: RevisionSource) -> Iterator[Finding]:
    """ML015: a plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the table."""
    dropped = {action.table for action in revision.actions if action.kind == "drop_table"}
    for action in _postgresql_actions(revision, "drop_index"):
        if action.concurrently or not _existing(revision, action):
            continue
        if action.table is not None and action.table in dropped:
            continue
        yield Finding(
            "ML015",
            "warning",
            action.line,
            f"{action.shown}: without CONCURRENTLY it locks the table against reads and "
            "writes; pass postgresql_concurrently=True inside autocommit_block()",
        )


def concurrently_in_transaction(revision: RevisionSource) -> Iterator[Finding]:
    """ML016: PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY inside a transaction, and
    every revision runs in one unless inside ``op.get_context().autocommit_block()``."""
    for action in _postgresql_actions(revision, "create_index", "drop_index"):
        if action.concurrently and action.in_transaction:
            yield Finding(
                "ML016",
                "error",
                action.line,
                f"{action.shown}: CONCURRENTLY fails inside the revision's transaction; run "
                "it inside `with op.get_context().autocommit_block():`",
            )


def truncate_cascade(revision: RevisionSource) -> Iterator[Finding]:
    """ML017: TRUNCATE ... CASCADE empties every table that references it, recursively."""
    for action in _postgresql_actions(revision, "truncate"):
        if action.cascade:
            yield Finding(
                "ML017",
                "error",
                action.line,
                f"{action.shown}: CASCADE also empties every table with a foreign key to it, "
                "and theirs; name each table to empty instead",
            )


def drop_database(revision: RevisionSource) -> Iterator[Finding]:
    """ML018: a migration has no business dropping a database."""
    for action in _postgresql_actions(revision, "drop_database"):
        yield Finding(
            "ML018",
            "error",
            action.line,
            f"{action.shown}: every table and row of the database is gone; do it by hand, "
            "never in a migration",
        )


def _created_columns(revision: RevisionSource) -> Iterator[tuple[Action, Column | None, str]]:
    """Each column a revision creates or retypes, with its type family."""
    for action in _postgresql_actions(revision, "create_table", "add_column", "alter_type"):
        if action.kind == "alter_type":
            if action.new_type:
                yield action, None, action.new_type
            continue
        for column in action.columns:
            if column.family:
                yield action, column, column.family


def _named(action: Action, column: Column | None) -> str:
    return f"{action.shown}, column {column.name!r}" if column and column.name else action.shown


def char_column(revision: RevisionSource) -> Iterator[Finding]:
    """ML019: CHAR(n) pads with spaces and is no faster than text or varchar."""
    for action, column, family in _created_columns(revision):
        if family == "char":
            yield Finding(
                "ML019",
                "warning",
                action.line,
                f"{_named(action, column)}: CHAR pads values with spaces and compares them "
                "surprisingly; use sa.Text or sa.String",
            )


def timestamp_without_time_zone(revision: RevisionSource) -> Iterator[Finding]:
    """ML020: a timestamp without time zone drops the offset it was given."""
    for action, column, family in _created_columns(revision):
        if family == "timestamp":
            yield Finding(
                "ML020",
                "warning",
                action.line,
                f"{_named(action, column)}: timestamp without time zone drops the UTC offset "
                "it is given; use sa.DateTime(timezone=True) (timestamptz)",
            )


def int_primary_key(revision: RevisionSource) -> Iterator[Finding]:
    """ML021: a 32-bit key runs out at 2.1 billion rows, and widening it later rewrites the
    table and every foreign key to it."""
    for action, column, family in _created_columns(revision):
        if column is not None and column.primary_key and family in ("int", "serial"):
            yield Finding(
                "ML021",
                "warning",
                action.line,
                f"{_named(action, column)}: a 32-bit key runs out at 2,147,483,647 and "
                "widening it rewrites the table; use sa.BigInteger with sa.Identity()",
            )


# What takes a lock that stops reads or writes on an existing table until the revision ends.
_STRONG_LOCKS = frozenset(
    {
        "add_column",
        "alter_type",
        "set_not_null",
        "rename",
        "drop_table",
        "drop_column",
        "add_constraint",
        "drop_constraint",
        "truncate",
        "other_ddl",
    }
)


def _strong_lock(revision: RevisionSource, action: Action) -> bool:
    if action.kind in ("create_index", "drop_index"):
        return not action.concurrently and _existing(revision, action)
    return action.kind in _STRONG_LOCKS and _existing(revision, action)


def missing_lock_timeout(revision: RevisionSource) -> Iterator[Finding]:
    """ML022: a strong lock waits behind any long transaction on the table, and every query
    on the table queues behind it: the outage a lock timeout turns into a failed deploy."""
    if not revision.postgresql or revision.lock_timeout:
        return
    # In order of execution (a helper's SQL in --sql mode may stand on an earlier line).
    for first in revision.actions:
        if first.kind == "set_lock_timeout":
            return
        if _strong_lock(revision, first):
            break
    else:
        return
    yield Finding(
        "ML022",
        "warning",
        first.line,
        f"{first.shown} takes a lock that queues every query on the table while it waits, "
        f"and no lock timeout is set; set {LOCK_TIMEOUT_SETTING}, or `lock_timeout = "
        '"5s"` in the revision, or op.execute("SET LOCAL lock_timeout = \'5s\'") first',
    )


# The rules that read `RevisionSource.actions`, and so apply to offline SQL as well.
ACTION_RULES: tuple[Rule, ...] = (
    sql_counterparts,
    constraint_without_not_valid,
    set_not_null,
    unique_constraint,
    primary_key_added,
    volatile_default,
    drop_index_without_concurrently,
    concurrently_in_transaction,
    truncate_cascade,
    drop_database,
    char_column,
    timestamp_without_time_zone,
    int_primary_key,
    missing_lock_timeout,
)
