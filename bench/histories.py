"""Synthetic Alembic histories: N valid revision files, linear or with branches, merges,
branch labels and depends_on, for the revision-graph benchmark and the revision cache's tests.

    from histories import write_history
    revisions = write_history(versions_dir, 1000, branches=10, merges=6, labels=3, depends_on=20)

The history is a trunk from one base. Each side branch forks off the trunk's tip and grows
alongside it for a while; a merged one is then joined back by a merge revision, an unmerged
one stays an extra head. Branch labels go on the first revision of a side branch (unmerged
ones first); a revision with depends_on names a revision created shortly before it on
another branch where there is one. Everything is derived from `seed`, so the same call
writes the same files. It returns one `GeneratedRevision` per file, oldest first.

From the tests (the repository root on sys.path): `from bench.histories import write_history`.
For a warm measurement of `migrate`, start more than 3 s after writing (and after one cold
run): the revision cache compares the bytes of files changed less than that before it
checked them, rather than trusting their stat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_CREATED = datetime(2025, 1, 1, 9, 0, 0)

_TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {revises}
Create Date: {created}
{details}
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = {revision!r}
down_revision: str | Sequence[str] | None = {down_revision!r}
branch_labels: str | Sequence[str] | None = {branch_labels!r}
depends_on: str | Sequence[str] | None = {depends_on!r}


def upgrade() -> None:
    op.create_table("t_{revision}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("t_{revision}")
'''


@dataclass(frozen=True)
class GeneratedRevision:
    """One revision file written by `write_history`, as Alembic will read it."""

    revision: str
    down_revision: str | tuple[str, ...] | None
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    message: str
    path: Path


def write_history(
    versions_dir: str | Path,
    n: int,
    *,
    branches: int = 0,
    merges: int = 0,
    labels: int = 0,
    depends_on: int = 0,
    seed: int = 0,
) -> list[GeneratedRevision]:
    """Write `n` revision files into `versions_dir` (created if missing); oldest first.

    branches: side branches forked off the trunk, spread evenly along the history.
    merges: how many of them are merged back (a merge revision each, counted in `n`).
    labels: how many of them carry a branch label `branch_<k>` on their first revision.
    depends_on: how many revisions name another revision in depends_on.
    """
    if not 0 <= merges <= branches or not 0 <= labels <= branches:
        raise ValueError("merges and labels must each be between 0 and branches")
    if n < 1 or (branches and (n - 1) // branches < 3) or not 0 <= depends_on <= max(n - 2, 0):
        raise ValueError(f"{n} revisions cannot hold {branches} branches and {depends_on} deps")
    versions = Path(versions_dir)
    versions.mkdir(parents=True, exist_ok=True)
    ids = [hashlib.sha1(f"{seed}:{index}".encode()).hexdigest()[:12] for index in range(n)]
    dependent = {2 + k * (n - 2) // depends_on for k in range(depends_on)} if depends_on else set()
    written = []
    for index, (parents, label, message) in enumerate(_shapes(n, branches, merges, labels)):
        down = _down_revision(ids, parents)
        needs = (_dependency(ids[:index], parents),) if index in dependent else ()
        written.append(_write(versions, index, ids[index], down, label, needs, message))
    return written


_Shape = tuple[tuple[int, ...], tuple[str, ...], str]  # parent indexes, labels, message


def _shapes(n: int, branches: int, merges: int, labels: int) -> list[_Shape]:
    """Every revision's parents, labels and message: the base, one block per side branch
    (its fork, trunk and side alternating, its merge, then trunk), and the trunk to `n`."""
    shapes: list[_Shape] = [((), (), "base")]
    trunk = 0

    def add(parents: tuple[int, ...], label: tuple[str, ...], message: str) -> int:
        shapes.append((parents, label, message))
        return len(shapes) - 1

    block = (n - 1) // branches if branches else 0
    open_first = [*range(merges, branches), *range(merges)]
    labelled = set(open_first[:labels])
    for k in range(branches):
        end = n if k == branches - 1 else 1 + block * (k + 1)
        merged = k < merges
        name = f"branch_{k}"
        side = add((trunk,), (name,) if k in labelled else (), f"fork {name}")
        for step in range(1, 2 * max(1, (end - len(shapes) - merged) // 4)):
            if step % 2:
                trunk = add((trunk,), (), "trunk")
            else:
                side = add((side,), (), f"on {name}")
        if merged:
            trunk = add((trunk, side), (), f"merge {name}")
        while len(shapes) < end:
            trunk = add((trunk,), (), "trunk")
    while len(shapes) < n:
        trunk = add((trunk,), (), "trunk")
    return shapes


def _down_revision(ids: list[str], parents: tuple[int, ...]) -> str | tuple[str, ...] | None:
    if not parents:
        return None
    return ids[parents[0]] if len(parents) == 1 else tuple(ids[parent] for parent in parents)


def _dependency(earlier: list[str], parents: tuple[int, ...]) -> str:
    """The newest earlier revision that is not a parent: on another branch while branches
    grow side by side."""
    return next(
        revision for index, revision in reversed(list(enumerate(earlier))) if index not in parents
    )


def _write(
    versions: Path,
    index: int,
    revision: str,
    down: str | tuple[str, ...] | None,
    labels: tuple[str, ...],
    needs: tuple[str, ...],
    message: str,
) -> GeneratedRevision:
    text = f"Step {index}: {message}"
    # Every seventh docstring has a second paragraph: `doc` is its first line only.
    details = f"\nStep {index} is longer: a second paragraph.\n" if index % 7 == 3 else ""
    revises = down if isinstance(down, str) else ", ".join(down or ())
    path = versions / f"{revision}_step_{index:05d}.py"
    path.write_text(
        _TEMPLATE.format(
            message=text,
            revision=revision,
            revises=revises,
            created=_CREATED + timedelta(minutes=index),
            details=details,
            down_revision=down,
            branch_labels=labels or None,
            depends_on=needs or None,
        )
    )
    return GeneratedRevision(revision, down, labels, needs, text, path)
