"""What one target's run tells the fan-out running it (`migrations_cli.fanout.fan_out`): each
revision as it is applied (for the live progress) and where the database went (for the final
table). Outside a fan-out nobody listens and these calls do nothing.

Kept free of imports: `migration_run` calls it for every revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]
_listener: Listener | None = None


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send the reports of the run inside the block to `listener(event, fields)`."""
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous


def revision_applied(revision: str) -> None:
    """A revision has run (its transaction is about to commit)."""
    if _listener is not None:
        _listener("revision", {"revision": revision})


def where_it_stands(
    current: tuple[str, ...],
    previous: tuple[str, ...] | None = None,
    revisions: tuple[str, ...] | list[str] = (),
) -> None:
    """The database's revisions after the command (and before it, for one that moves them),
    and the revisions applied or reverted on the way."""
    if _listener is not None:
        _listener(
            "stands",
            {
                "current": list(current),
                "previous": None if previous is None else list(previous),
                "revisions": list(revisions),
            },
        )
