"""The tables migrate keeps in an application's database, and the filter that keeps them
out of the models' business: autogenerate, `check`, `verify` and `doctor` compare only the
application's own tables (and what no plugin excludes). Names only, so that reading them
(as the quick answers do) loads nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

# Each applied revision's sums (running/checksums.py), and the lease lock's row
# (running/locking.py).
CHECKSUM_TABLE = "migrations_cli_checksums"
LOCK_TABLE = "migrations_cli_lock"
TOOL_TABLES = frozenset({LOCK_TABLE, CHECKSUM_TABLE})
# What Alembic and migrate keep for themselves: part of no one's schema.
BOOKKEEPING_TABLES = frozenset({"alembic_version", *TOOL_TABLES})


def plugin_include_object(hook: pluggy.HookRelay) -> Callable[..., bool]:
    """The include_object callable Alembic takes: an object stays unless a plugin says False.
    migrate's own tables never do."""
    from migrations_cli.core.hook_calls import call_hook

    def include_object(
        object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and name in TOOL_TABLES:
            return False
        answers = call_hook(
            hook.include_object,
            object=object,
            name=name,
            type_=type_,
            reflected=reflected,
            compare_to=compare_to,
        )
        return False not in answers

    return include_object
