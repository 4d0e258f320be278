"""Errors a user can act on: each becomes one line on stderr and an exit code, not a traceback."""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import FrameType

# What Alembic warns (then fails on with a bare KeyError) when a revision's down_revision or
# depends_on names a revision no file defines: "Revision zzzz referenced from zzzz -> aaaa
# (head), message is not present".
_MISSING_REVISION = re.compile(
    r"Revision (?P<missing>\S+) referenced from .*?-> (?P<referrer>\w+)\b.* is not present", re.S
)


class MigrationsError(Exception):
    """A failure with a message meant for the person at the terminal."""

    exit_code = 1


class SettingsError(MigrationsError):
    """The settings (.env, environment or flags) are missing or malformed."""


class PluginError(MigrationsError):
    """A plugin could not be loaded, clashed with another, or raised inside a hook."""


class DatabaseError(MigrationsError):
    """The database could not be reached or rejected what a migration asked of it."""


# "Revision bbbb is present more than once": two files define it (a file copied).
_DUPLICATE_REVISION = re.compile(r"Revision (?P<revision>\S+) is present more than once")
# The folder of the revision files, for naming the files an error about them is about.
_MIGRATIONS_DIR: ContextVar[Path | None] = ContextVar("migrations_dir", default=None)


@contextmanager
def history_errors_raise(migrations_dir: Path | None) -> Iterator[None]:
    """Alembic's warnings about a broken history raised as errors, at once: a revision that
    names a missing one (what follows is a KeyError that names nothing), and a revision id
    two files define (what follows is two identical heads and advice to merge them). The
    errors name the files in `migrations_dir` (see `describe`)."""
    token = _MIGRATIONS_DIR.set(migrations_dir)
    try:
        with warnings.catch_warnings():
            for message in (r"Revision \S+ referenced from", r"Revision \S+ is present more"):
                warnings.filterwarnings("error", message=message, category=UserWarning)
            yield
    finally:
        _MIGRATIONS_DIR.reset(token)


def _files_defining(revision: str) -> list[str]:
    """The revision files (relative to the migrations folder) whose `revision =` line names
    `revision`."""
    folder = _MIGRATIONS_DIR.get()
    if folder is None:
        return []
    line = re.compile(rf"^revision\s*(?::[^=]*)?=\s*['\"]{re.escape(revision)}['\"]", re.M)
    found = []
    for path in sorted(folder.rglob("*.py")):
        try:
            if line.search(path.read_text(encoding="utf-8")):
                found.append(str(path.relative_to(folder)))
        except (OSError, UnicodeDecodeError):
            continue
    return found


def describe(error: BaseException) -> str:
    """One line that says what went wrong, for errors raised by us, Alembic or SQLAlchemy.

    Alembic and SQLAlchemy are only consulted when already imported: an error cannot come
    from a library that was never loaded, and importing it here would slow every failure.
    Their words, and any other exception's, are text from outside migrate: masked as such
    (see output.Redactor) before a message of ours quotes them.
    """
    if isinstance(error, MigrationsError):
        return str(error)
    from migrations_cli.core.output import mask_outside

    described = _describe_outside(error)
    imported = revision_file_raising(error)
    if imported is not None:
        described = described.removeprefix(UNEXPECTED)
        described = f"{imported}: {described} (raised while the revision file was imported)"
    return mask_outside(described)


UNEXPECTED = "unexpected "


def _describe_outside(error: BaseException) -> str:
    missing = _MISSING_REVISION.search(str(error)) if isinstance(error, UserWarning) else None
    if missing:
        return (
            f"revision {missing['referrer']} names {missing['missing']} as its down_revision "
            f"(or depends_on), and no revision file defines {missing['missing']}: correct "
            f"that line in {missing['referrer']}'s file, or restore the missing file"
        )
    duplicate = _DUPLICATE_REVISION.search(str(error)) if isinstance(error, UserWarning) else None
    if duplicate:
        files = _files_defining(duplicate["revision"])
        named = f" ({', '.join(files)})" if files else ""
        return (
            f"several revision files define revision {duplicate['revision']}{named}: a file "
            "copied? Delete the copy, or give it a revision id of its own (and point its "
            "down_revision where it belongs); `migrate merge` cannot help with this"
        )
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


def error_exit(error: Exception, verbose: bool) -> int:
    """A command's error as one line (and its traceback with --verbose); its exit code."""
    from migrations_cli.core import output

    if verbose:
        import traceback

        traceback.print_exception(error)
    output.error(describe(error))
    return error.exit_code if isinstance(error, MigrationsError) else 1
