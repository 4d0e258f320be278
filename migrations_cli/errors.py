"""Errors a user can act on: each becomes one line on stderr and an exit code, not a traceback."""

from __future__ import annotations

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


def describe(error: BaseException) -> str:
    """One line that says what went wrong, for errors raised by us, Alembic or SQLAlchemy.

    Alembic and SQLAlchemy are only consulted when already imported: an error cannot come
    from a library that was never loaded, and importing it here would slow every failure.
    Their words, and any other exception's, are text from outside migrate: masked as such
    (see output.Redactor) before a message of ours quotes them.
    """
    if isinstance(error, MigrationsError):
        return str(error)
    from migrations_cli.output import mask_outside

    return mask_outside(_describe_outside(error))


def _describe_outside(error: BaseException) -> str:
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
    return f"unexpected {type(error).__name__}: {first_line(str(error))}"


def traceback_frames(error: BaseException) -> Iterator[FrameType]:
    """The frames of `error`'s traceback, outermost first."""
    entry = error.__traceback__
    while entry is not None:
        yield entry.tb_frame
        entry = entry.tb_next


def first_line(text: str) -> str:
    """The first non-empty line: driver messages often carry SQL and hints on later lines."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()
