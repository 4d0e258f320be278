"""migrations-cli: run Alembic migrations from one configuration, with commands as plugins.

Plugin authors write ``from migrations_cli import hookimpl`` (as with pytest and llm); it is
``migrations_cli.hookspecs.hookimpl``, imported on first use so that ``import
migrations_cli`` (which every `migrate` run does, the quick answers included) does not
import pluggy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrations_cli.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from migrations_cli.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
