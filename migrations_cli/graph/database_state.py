"""Where the database stands against the migration files: which revisions are applied,
pending, or undecidable because the version table names a revision no file defines.

A revision is applied when it is one of the database's revisions or an ancestor of one
(Alembic's own walk, so branches and merges count right). A database revision that no
migration file defines leaves the rest undecidable: those revisions are `unknown`, never
guessed to be pending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from migrations_cli.core.errors import MigrationsError
from migrations_cli.graph.revision_graph import walk

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.core.settings import Settings
    from migrations_cli.graph.graph_snapshot import GraphSnapshot

APPLIED, PENDING, UNKNOWN = "applied", "pending", "unknown"
# The revision argument that names the database's revision(s), for `history -r` and `show`.
CURRENT = "current"


class DatabaseState(NamedTuple):
    """The version table read against the migration files."""

    current: tuple[str, ...]
    unknown: tuple[str, ...]
    applied: frozenset[str]

    def state_of(self, revision: str) -> str:
        if revision in self.applied:
            return APPLIED
        return UNKNOWN if self.unknown else PENDING


def read_heads(settings: Settings) -> tuple[str, ...]:
    """The version table's revisions, on a connection of their own (closed at once)."""
    from migrations_cli.core.database import database_heads, opened_connection
    from migrations_cli.fanout import target_report

    with opened_connection(settings) as connection:
        heads = database_heads(connection)
    target_report.where_it_stands(heads)  # (for the table of a fan-out over targets)
    return heads


def read_database_state(context: MigrationsContext) -> DatabaseState:
    """The database's version table against the migration files."""
    return database_state(context.script, read_heads(context.database))


def database_state(script: ScriptDirectory, current: tuple[str, ...]) -> DatabaseState:
    """`current` (a version table's revisions) against the migration files."""
    if not current:  # a database never migrated: nothing to walk
        return DatabaseState(current=(), unknown=(), applied=frozenset())
    defined = {revision.revision for revision in script.walk_revisions()}
    known = tuple(revision for revision in current if revision in defined)
    return DatabaseState(
        current=current,
        unknown=tuple(revision for revision in current if revision not in defined),
        applied=applied_revisions(script, known),
    )


def state_in_graph(graph: GraphSnapshot, current: tuple[str, ...]) -> DatabaseState | None:
    """`current` against a graph snapshot, when the snapshot knows which revisions a
    database there has applied (else None: that is Alembic's walk, `graph_state`)."""
    known = tuple(revision for revision in current if revision in graph.by_id)
    pending = graph.pending_for(known) if known else ()
    if pending is None:
        return None
    return DatabaseState(
        current=current,
        unknown=tuple(revision for revision in current if revision not in graph.by_id),
        applied=frozenset(graph.by_id).difference(pending) if known else frozenset(),
    )


def graph_state(context: MigrationsContext) -> tuple[DatabaseState, GraphSnapshot]:
    """The database's version table against the revision graph, and that graph: Alembic's
    walk decides what is applied the first time a database state is seen, and the snapshot
    keeps the answer for the next time."""
    current = read_heads(context.database)
    state = state_in_graph(context.graph, current)
    if state is not None:
        return state, context.graph
    # The walk below must be over the very map the graph came from.
    graph = context.taken_graph.keeping_states_of(context.graph)
    known = tuple(revision for revision in current if revision in graph.by_id)
    applied = applied_revisions(context.script, known)
    graph = context.remember(
        graph.with_pending(
            known, tuple(r.revision for r in graph.revisions if r.revision not in applied)
        )
    )
    state = state_in_graph(graph, current)
    assert state is not None  # just remembered
    return state, graph


def applied_revisions(script: ScriptDirectory, current: tuple[str, ...]) -> frozenset[str]:
    """The revisions a database at `current` has had: those and every ancestor of them."""
    if not current:
        return frozenset()
    return frozenset(revision.revision for revision in walk(script, "base", current))


def unknown_revision_advice(unknown: tuple[str, ...]) -> str:
    """What to do about version-table rows without a migration file."""
    ids = ", ".join(unknown)
    return (
        f"the database is at {ids}, which no migration file defines (deleted, or from code "
        "not checked out here): restore the file, or record the revision the schema really "
        "matches with `migrate stamp --purge REVISION`"
    )


def known_current(context: MigrationsContext) -> tuple[str, ...]:
    """The database's revisions, for a command that reads the history from them: refused
    when a file is missing, since nothing can be placed relative to an unknown revision."""
    state = read_database_state(context)
    if state.unknown:
        raise MigrationsError(unknown_revision_advice(state.unknown))
    return state.current


def named_revisions(context: MigrationsContext, revision: str) -> tuple[Script, ...]:
    """The revisions `revision` names, for `show` and `edit`: an id or unique prefix, a
    branch label, head, heads, or current (the database's revisions)."""
    target: str | tuple[str, ...] = revision
    if revision == CURRENT:
        target = known_current(context)
        if not target:
            raise MigrationsError("the database is at base: no revision is applied")
    found = context.script.get_revisions(target)
    if not found:
        raise MigrationsError(f"{revision} is not a revision (base comes before the first one)")
    return tuple(script for script in found if script is not None)
