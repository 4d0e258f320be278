"""Errors a user can act on: each becomes one line on stderr and an exit code, not a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from types import FrameType


class MigrationsError(Exception):
    """A failure with a message meant for the person at the terminal."""

    exit_code = 1


class SettingsError(MigrationsError):
    """The settings (.env, environment or flags) are missing or malformed."""


class PluginError(MigrationsError):
    """A plugin could not be loaded, clashed with another, or raised inside a hook."""


class DatabaseError(MigrationsError):
    """The database could not be reached or rejected what a migration asked of it."""


UNEXPECTED = "unexpected "


def describe(error: BaseException) -> str:
    """One line that says what went wrong, for errors raised by us, Alembic or SQLAlchemy.

    Alembic and SQLAlchemy are only consulted when already imported: an error cannot come
    from a library that was never loaded, and importing it here would slow every failure.
    """
    if isinstance(error, MigrationsError):
        return str(error)
    described = _described(error)
    imported = revision_file_raising(error)
    if imported is not None:
        described = described.removeprefix(UNEXPECTED)
        return f"{imported}: {described} (raised while the revision file was imported)"
    return described


def _described(error: BaseException) -> str:
    alembic_util = sys.modules.get("alembic.util")
    if alembic_util is not None and isinstance(error, alembic_util.CommandError):
        # Alembic replaces "Multiple revisions start with 'ab'" by a generic "Can't locate
        # revision"; the specific message survives as the cause.
        revision = sys.modules.get("alembic.script.revision")
        if revision is not None and isinstance(error.__cause__, revision.ResolutionError):
            return first_line(str(error.__cause__))
        return first_line(str(error))
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(error, sqlalchemy_exc.DBAPIError):
        original = error.orig if error.orig is not None else error
        return f"database error: {first_line(str(original))}"
    if sqlalchemy_exc is not None and isinstance(error, sqlalchemy_exc.SQLAlchemyError):
        return first_line(str(error))
    return f"{UNEXPECTED}{type(error).__name__}: {first_line(str(error))}"


def traceback_frames(error: BaseException) -> Iterator[FrameType]:
    """The frames of `error`'s traceback, outermost first."""
    entry = error.__traceback__
    while entry is not None:
        yield entry.tb_frame
        entry = entry.tb_next


# Alembic's methods that import a revision file (env.py is imported by run_env instead).
_REVISION_LOADERS = frozenset({"_from_path", "_from_filename"})


def revision_file_raising(error: BaseException) -> str | None:
    """`path:line` of the revision file whose top level raised `error` while Alembic
    imported it (the first module Alembic's `Script._from_path` imported on the way), the
    path relative to the working directory when below it; None when no import of a revision
    file raised it."""
    found, loading = None, False
    entry = error.__traceback__
    while entry is not None:
        code = entry.tb_frame.f_code
        if code.co_name in _REVISION_LOADERS and "alembic" in code.co_filename:
            loading = True
        elif loading and code.co_name == "<module>":
            found, loading = (code.co_filename, entry.tb_lineno), False
        entry = entry.tb_next
    if found is None:
        return None
    path, line = found
    relative = os.path.relpath(path)
    return f"{path if relative.startswith('..') else relative}:{line}"


def first_line(text: str) -> str:
    """The first non-empty line: driver messages often carry SQL and hints on later lines."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()
