"""Whose env.py a project runs: the one `migrate init` writes, which hands over to
migrations_cli.environment, or the project's own, which migrate runs unchanged and adjusts
only through `context.configure()` (running/configure_options.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

ENVIRONMENT_MODULE = "migrations_cli.environment"


def is_projects_own_env_py(script: ScriptDirectory) -> bool:
    """Whether env.py is the project's own rather than migrations-cli's (which names it)."""
    try:
        source = Path(script.env_py_location).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False  # Alembic will say what is wrong with it
    return ENVIRONMENT_MODULE not in source
