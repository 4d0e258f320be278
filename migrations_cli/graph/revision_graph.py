"""The migration history read from the revision files: the walk in the order every command
prints it, and one way to describe a revision (markers, date, one line, JSON), so `history`,
`show`, `heads`, `current`, `status` and `branches` all show a revision alike.

The descriptions take a `RevisionRecord`: what Alembic's `Script` says of a revision, in
plain values, as the graph snapshot (migrations_cli.graph.graph_snapshot) also keeps them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from migrations_cli.core.output import table

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from alembic.script import Script, ScriptDirectory

NO_REVISIONS = "No revisions yet: create the first with `migrate create MESSAGE`."
# Alembic's template writes this line into each revision's docstring; there is no attribute.
_CREATE_DATE = re.compile(r"^Create Date:\s*(\S.*?)\s*$", re.MULTILINE)


class RevisionRecord(NamedTuple):
    """A revision's values as Alembic's `Script` gave them, in plain types that are saved
    as a JSON list and read back without Alembic."""

    revision: str
    doc: str
    longdoc: str
    down_revision: str | Sequence[str] | None
    dependencies: str | Sequence[str] | None
    nextrev: Collection[str]
    branch_labels: Collection[str]
    is_head: bool
    is_effective_head: bool
    is_branch_point: bool
    is_merge_point: bool
    path: str

    @classmethod
    def of(cls, script: Script) -> RevisionRecord:
        return cls(
            revision=script.revision,
            doc=script.doc,
            longdoc=script.longdoc,
            down_revision=_as_stored(script.down_revision),
            dependencies=_as_stored(script.dependencies),
            nextrev=sorted(script.nextrev),
            branch_labels=sorted(script.branch_labels),
            is_head=script.is_head,
            is_effective_head=is_effective_head(script),
            is_branch_point=script.is_branch_point,
            is_merge_point=script.is_merge_point,
            path=script.path,
        )


def _as_stored(revisions: str | Sequence[str] | None) -> str | list[str] | None:
    return revisions if revisions is None or isinstance(revisions, str) else list(revisions)


def walk(
    script: ScriptDirectory, lower: str | tuple[str, ...], upper: str | tuple[str, ...]
) -> list[Script]:
    """Revisions from `lower` to `upper` (both included), oldest first."""
    # walk_revisions is annotated with str ends; Alembic's own `history` passes tuples of
    # current revisions too, and its revision map takes both.
    newest_first = list(script.walk_revisions(base=lower, head=upper))  # type: ignore[arg-type]
    return newest_first[::-1]


def all_revisions(script: ScriptDirectory) -> list[Script]:
    """Every revision, oldest first: the order `status` and `history` print."""
    return walk(script, "base", "heads")


def undefined_revisions(script: ScriptDirectory, revisions: Iterable[str]) -> list[str]:
    """The revisions (read from a version table) that no migration file defines: a file
    deleted, or not pulled yet."""
    return [revision for revision in revisions if not _is_defined(script, revision)]


def _is_defined(script: ScriptDirectory, revision: str) -> bool:
    from alembic.script.revision import ResolutionError
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False


def labelled(script: RevisionRecord, *, branches: bool = True) -> str:
    """The id with its branch labels and tree markers: `ab12 (feature) (head)`."""
    text = script.revision
    if branches and script.branch_labels:
        text += f" ({', '.join(sorted(script.branch_labels))})"
    return text + "".join(f" ({marker})" for marker in _markers(script))


def is_effective_head(script: Script) -> bool:
    """A head that only other revisions' depends_on name: `alembic heads` lists it marked
    "(effective head)" (Alembic's own test, `_is_real_head`, has no public name)."""
    return script.is_head and not getattr(script, "_is_real_head", True)


def _markers(script: RevisionRecord) -> list[str]:
    effective = script.is_effective_head
    return [
        name
        for name, present in (
            ("head", script.is_head and not effective),
            ("effective head", effective),
            ("branchpoint", script.is_branch_point),
            ("mergepoint", script.is_merge_point),
        )
        if present
    ]


def one_line(script: RevisionRecord) -> str:
    """`id (labels) (head)  message`, as `migrate heads` prints a head."""
    labels = f" ({', '.join(sorted(script.branch_labels))})" if script.branch_labels else ""
    head = (
        " (effective head)" if script.is_effective_head else (" (head)" if script.is_head else "")
    )
    return f"{script.revision}{labels}{head}  {script.doc}".rstrip()


def parents(script: RevisionRecord) -> list[str]:
    """The revisions below this one: none for the first, several for a merge."""
    return _as_list(script.down_revision)


def dependencies(script: RevisionRecord) -> list[str]:
    """The revisions named in `depends_on`."""
    return _as_list(script.dependencies)


def _as_list(revisions: str | Sequence[str] | None) -> list[str]:
    """Alembic keeps one revision as a plain string and several as a tuple."""
    if revisions is None:
        return []
    return [revisions] if isinstance(revisions, str) else list(revisions)


def created(script: RevisionRecord) -> datetime | None:
    """The `Create Date:` Alembic's template writes in the docstring, if it is there."""
    match = _CREATE_DATE.search(script.longdoc)
    if not match:
        return None
    from datetime import datetime  # (not imported by a quick answer, which needs no date)

    try:
        return datetime.fromisoformat(match[1])
    except ValueError:
        return None


def history_table(
    found: Sequence[RevisionRecord], verbose: bool, current: tuple[str, ...] = ()
) -> list[str]:
    """The revisions `found` as `history` prints them: a table, its header first, the
    database's revisions (`current`) marked `(current)`."""

    def shown(revision: RevisionRecord, branches: bool = True) -> str:
        marked = labelled(revision, branches=branches)
        return f"{marked} (current)" if revision.revision in current else marked

    if not verbose:
        return table(
            ("revision", "message"), ((shown(revision), revision.doc) for revision in found)
        )
    return table(
        ("revision", "parent", "branch", "created", "message", "path"),
        (
            (
                shown(revision, branches=False),
                ", ".join(parents(revision)) or "base",
                ", ".join(sorted(revision.branch_labels)),
                _short_date(created(revision)),
                revision.doc,
                shown_path(revision.path),
            )
            for revision in found
        ),
    )


def _short_date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def shown_path(path: str) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path)
    return Path(path).as_posix() if relative.startswith("..") else Path(relative).as_posix()


def revision_document(script: RevisionRecord) -> dict[str, Any]:
    """One revision for --json: everything `show` prints, in plain types."""
    moment = created(script)
    return {
        "revision": script.revision,
        "message": script.doc,
        "parents": parents(script),
        "depends_on": dependencies(script),
        "children": sorted(script.nextrev),
        "branch_labels": sorted(script.branch_labels),
        "is_head": script.is_head,
        "is_branch_point": script.is_branch_point,
        "is_merge_point": script.is_merge_point,
        "created": moment.isoformat() if moment else None,
        "path": shown_path(script.path),
    }


def head_document(revision: RevisionRecord) -> dict[str, Any]:
    """A head for `heads --json`."""
    return {
        "revision": revision.revision,
        "message": revision.doc,
        "branch_labels": sorted(revision.branch_labels),
        "effective_head": revision.is_effective_head,
    }


def listed_document(script: RevisionRecord) -> dict[str, Any]:
    """A revision in a list for --json (a branch, the database's revision): id, message,
    and whether it is a head."""
    return {"revision": script.revision, "message": script.doc, "is_head": script.is_head}
