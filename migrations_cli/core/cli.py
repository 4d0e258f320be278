"""The `migrate` command: the options read before anything else, settings, masking, then a
quick answer from the graph snapshot or the Typer app (`migrations_cli.core.app`).

Nothing here imports Typer, Alembic or SQLAlchemy: a question the snapshot answers never
pays for them."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from migrations_cli.core import errors, output
from migrations_cli.core.errors import MigrationsError
from migrations_cli.core.global_options import (
    DATABASE_URL_OPTION,
    ENV_FILE_OPTION,
    NAME_OPTIONS,
    USAGE_ERROR,
    GlobalOptions,
)
from migrations_cli.core.settings import load_settings
from migrations_cli.core.url_secrets import url_passwords
from migrations_cli.graph.quick_answers import quick_answer


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = GlobalOptions.parse(args)
    for option, value in (
        (ENV_FILE_OPTION, options.env_file),
        (DATABASE_URL_OPTION, options.database_url),
        (NAME_OPTIONS[0], options.name),
    ):
        if value == "":
            output.error(f"{option} needs a value (it was empty)")
            return USAGE_ERROR
    problem = options.usage_error()
    if problem is not None:
        output.error(problem)
        return USAGE_ERROR
    try:
        settings = load_settings(
            options.env_file,
            overrides={"DATABASE_URL": options.database_url},
            ini_section=options.name,
            x_arguments=options.x_arguments,
        )
    except MigrationsError as error:
        output.error(str(error))
        return error.exit_code
    # A URL given anywhere on the command line (even where Click will reject it, and echo it
    # in its usage error) is a secret too.
    secrets = settings.secrets() | {
        password for arg in args if "://" in arg for password in url_passwords(arg)
    }
    with output.redacted_output(secrets), errors.history_errors_raise(settings.migrations_dir):
        try:
            answered = quick_answer(args, settings, building=_running(options.verbose))
        except Exception as error:  # the quick path's error boundary, as run_app's
            return errors.error_exit(error, options.verbose)
        if answered is not None:
            return answered
        from migrations_cli.core.app import run_app
        from migrations_cli.core.settings import env_file_in_environment

        with env_file_in_environment(settings), _running(options.verbose):
            return run_app(args, settings, options)


@contextmanager
def _running(verbose: bool) -> Iterator[None]:
    """How a command's work runs: Alembic's log on stderr, fewer garbage collections."""
    with _alembic_logging(verbose), _fewer_garbage_collections():
        yield


# The collector's thresholds while a command runs: a collection after 50,000 new container
# objects rather than Python's 700 (mypy raises them for the same reason).
COLLECTOR_THRESHOLDS = (50_000, 20, 20)


@contextmanager
def _fewer_garbage_collections() -> Iterator[None]:
    """A command imports Alembic and SQLAlchemy and loads every revision, allocating
    millions of objects, almost none of them garbage: with Python's thresholds the cyclic
    collector ran some 360 times in an upgrade of 1,000 revisions, 10% of its CPU time. The
    price is a few MB more at peak (5 MB in that upgrade). The thresholds are put back
    afterwards (main() may run in-process)."""
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@contextmanager
def _alembic_logging(verbose: bool) -> Iterator[None]:
    """Alembic logs each step at INFO: show that with --verbose, otherwise warnings only,
    on this run's stderr; the logger is left as it was found (main() may run in-process)."""
    import logging

    logger = logging.getLogger("alembic")
    handlers, level, propagate = logger.handlers[:], logger.level, logger.propagate
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s [%(name)s] %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
