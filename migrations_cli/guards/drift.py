"""Drift: a live database compared with the schema its own history builds at the revision
its version table names, replayed on a scratch database.

`drift_of` is the whole of one database's check, a plain function of settings: `migrate
drift` calls it once, and a fan-out over many databases calls it per database (each with a
scratch database of its own, or one configured scratch database in turn: it is emptied
afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migrations_cli.core.errors import MigrationsError

if TYPE_CHECKING:
    import pluggy

    from migrations_cli.core.settings import Settings
    from migrations_cli.guards.schema_compare import SchemaDifference


@dataclass(frozen=True)
class Drift:
    """One database against its history."""

    database: str  # the URL, its password masked
    current: tuple[str, ...]
    differences: list[SchemaDifference] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def as_json(self) -> dict[str, object]:
        return {
            "database": self.database,
            "current": list(self.current),
            "drifted": self.drifted,
            "differences": [
                {"kind": found.kind, "description": found.description} for found in self.differences
            ],
        }


def drift_of(database: Settings, scratch: Settings, hook: pluggy.HookRelay | None) -> Drift:
    """Replay the history up to `database`'s revision on the (empty) `scratch` database and
    compare the two schemas; the scratch database is emptied again afterwards."""
    from alembic.script import ScriptDirectory

    from migrations_cli.graph.database_state import (
        database_state,
        read_heads,
        unknown_revision_advice,
    )
    from migrations_cli.graph.squashing import below_baseline_error
    from migrations_cli.guards.scratch import require_same_kind, scratch_config
    from migrations_cli.running.migration_run import describe_revisions

    require_same_kind(database, scratch, "drift")
    heads = read_heads(database)
    if not heads:
        raise MigrationsError(
            f"{database.masked_url()} has no version table, so no revision to compare with: "
            "`migrate baseline` adopts a database built without migrations"
        )
    config = scratch_config(scratch, hook)
    script = ScriptDirectory.from_config(config)
    unknown = database_state(script, heads).unknown
    if unknown:
        raise below_baseline_error(script, unknown) or MigrationsError(
            unknown_revision_advice(unknown)
        )
    differences = differences_from_history(
        database, scratch, hook, heads, describe_revisions(heads)
    )
    return Drift(database.masked_url(), heads, differences)


def differences_from_history(
    database: Settings,
    scratch: Settings,
    hook: pluggy.HookRelay | None,
    revisions: tuple[str, ...],
    shown: str,
) -> list[SchemaDifference]:
    """`database`'s schema against the one the history builds at `revisions`, replayed on
    the (empty) `scratch` database, which is emptied again: what drift and baseline ask."""
    from migrations_cli.core.database import opened_connection
    from migrations_cli.guards.schema_compare import schema_differences
    from migrations_cli.guards.scratch import history_schema

    expected = history_schema(scratch, hook, revisions)
    with opened_connection(database) as connection:
        return schema_differences(
            expected,
            connection,
            expected_name=f"the history at {shown}",
            found_name="the database",
            hook=hook,
        )
