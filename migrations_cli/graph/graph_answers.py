"""What `heads`, `history`, `current` and `status` print, from the revision graph: written
once, so that a quick answer (migrations_cli.graph.quick_answers) and the command's own run
print exactly the same text and documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from migrations_cli.core import output
from migrations_cli.graph.database_state import APPLIED, PENDING, UNKNOWN, unknown_revision_advice
from migrations_cli.graph.revision_graph import (
    NO_REVISIONS,
    RevisionRecord,
    history_table,
    listed_document,
    one_line,
    revision_document,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from migrations_cli.graph.database_state import DatabaseState
    from migrations_cli.graph.graph_snapshot import GraphSnapshot

AT_BASE = "base (no revision applied)"
_STATE_COLOURS = {APPLIED: "green", PENDING: "yellow", UNKNOWN: "red"}


def print_heads(graph: GraphSnapshot, json_output: bool) -> None:
    """Every head, as `alembic heads` lists them (effective heads included, and marked);
    upgrading to `head` is ambiguous only when several remain once depends_on is resolved."""
    print_saved_heads(graph.heads_answer, json_output)


def print_saved_heads(answers: Mapping[str, Any], json_output: bool) -> None:
    """`heads` from its answer in plain values (GraphSnapshot.heads_answer, saved with the
    snapshot): the command's own run and a quick answer print it through this function."""
    if json_output:
        output.json_result(answers["heads_document"])
    elif not answers["heads"]:
        output.info(NO_REVISIONS)
        return
    else:
        for line in answers["heads"]:
            output.result(line)
    resolved_heads = answers["resolved_heads"]
    if resolved_heads > 1:
        output.warn(
            f"{resolved_heads} heads: upgrade to `head` is ambiguous until they are "
            "merged with `migrate merge`"
        )


def print_history(
    found: Sequence[RevisionRecord],
    rev_range: str | None,
    verbose: bool,
    json_output: bool,
    current: tuple[str, ...] | None = None,
) -> None:
    """The revisions `found` (oldest first) as a table, or as a document; with `current`
    (history --indicate-current) the database's revisions are marked `(current)`, and each
    document says `is_current`."""
    if json_output:
        documents = [revision_document(revision) for revision in found]
        if current is not None:
            for document in documents:
                document["is_current"] = document["revision"] in current
        output.json_result({"revisions": documents})
        return
    if not found:
        output.info(NO_REVISIONS if rev_range is None else f"No revisions in {rev_range}.")
        return
    print_saved_history("\n".join(history_table(found, verbose, current or ())))


def print_saved_history(table: str) -> None:
    """The history table as one text (the snapshot saves `history`'s), written at once
    rather than flushed line by line; empty: no revisions."""
    if not table:
        output.info(NO_REVISIONS)
        return
    output.result(table)


def print_current(
    current: tuple[str, ...], graph: GraphSnapshot, json_output: bool
) -> tuple[str, ...]:
    """The database's revisions (`current`, from its version table) with their messages;
    returns those no migration file defines, after warning about them."""
    unknown = tuple(revision for revision in current if revision not in graph.by_id)
    if json_output:
        output.json_result(
            {
                "current": [
                    listed_document(graph.by_id[revision])
                    if revision in graph.by_id
                    else {"revision": revision, "message": None, "is_head": False}
                    for revision in current
                ],
                "unknown": list(unknown),
            }
        )
    elif not current:
        output.result(AT_BASE)
    else:
        for revision in current:
            record = graph.by_id.get(revision)
            output.result(one_line(record) if record else f"{revision} (no migration file)")
    if unknown:
        output.warn(unknown_revision_advice(unknown))
    return unknown


def print_status(state: DatabaseState, graph: GraphSnapshot, json_output: bool) -> int:
    """Where the database stands, revision by revision; returns how many are pending."""
    heads = tuple(sorted(graph.heads))
    revisions = graph.revisions
    states = {record.revision: state.state_of(record.revision) for record in revisions}
    pending = sum(revision_state == PENDING for revision_state in states.values())
    if json_output:
        output.json_result(_status_document(state, heads, revisions, states, pending))
    else:
        _print_status_report(state, heads, revisions, states, pending)
    if state.unknown:
        output.warn(unknown_revision_advice(state.unknown))
    return pending


def _status_document(
    state: DatabaseState,
    heads: tuple[str, ...],
    revisions: Sequence[RevisionRecord],
    states: Mapping[str, str],
    pending: int,
) -> dict[str, Any]:
    return {
        "current": list(state.current),
        "heads": list(heads),
        "unknown": list(state.unknown),
        "pending": pending,
        "revisions": [
            {
                "revision": revision.revision,
                "message": revision.doc,
                "state": states[revision.revision],
                "is_head": revision.is_head,
            }
            for revision in revisions
        ],
    }


def _print_status_report(
    state: DatabaseState,
    heads: tuple[str, ...],
    revisions: Sequence[RevisionRecord],
    states: Mapping[str, str],
    pending: int,
) -> None:
    current = [
        f"{revision} (no migration file)" if revision in state.unknown else revision
        for revision in state.current
    ]
    output.result(f"Current: {', '.join(current) or AT_BASE}")
    label = "Heads:" if len(heads) > 1 else "Head:"
    output.result(f"{label:<9}{', '.join(heads) or 'none'}")
    if not revisions:
        output.info(NO_REVISIONS)
        return
    output.result("")
    rows = [(states[r.revision], r.revision, r.doc) for r in revisions]
    header, *lines = output.table(("state", "revision", "message"), rows)
    output.result(header)
    for (revision_state, _, _), line in zip(rows, lines, strict=True):
        # Coloured after aligning: escape codes would count as width.
        coloured = output.styled(revision_state, _STATE_COLOURS[revision_state])
        output.result(coloured + line[len(revision_state) :])
    if state.unknown:
        return
    output.result("")
    output.result(_status_summary(pending, len(heads)))


def _status_summary(pending: int, heads: int) -> str:
    if not pending:
        return "Up to date: every revision is applied."
    counted = f"{pending} revision{'s' if pending != 1 else ''} pending"
    if heads > 1:  # `upgrade` (to head) is refused until the heads are merged
        return f"{counted}: `migrate upgrade heads` applies every branch, or `migrate merge` first."
    return f"{counted}: `migrate upgrade` applies {'them' if pending != 1 else 'it'}."
