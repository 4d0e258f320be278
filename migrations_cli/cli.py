"""The `migrate` command: the options read before anything else, settings, masking, then a
quick answer from the graph snapshot or the Typer app (`migrations_cli.app`).

Nothing here imports Typer, Alembic or SQLAlchemy: a question the snapshot answers never
pays for them."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from migrations_cli import errors, output
from migrations_cli.errors import MigrationsError, describe
from migrations_cli.quick_answers import quick_answer
from migrations_cli.settings import DISABLE_FLAG, DISABLE_FLAG_PREFIX, load_settings
from migrations_cli.url_secrets import url_passwords

PROG_NAME = "migrate"
USAGE_ERROR = 2  # as Click exits on bad command-line usage
ENV_FILE_OPTION = "--env-file"
DATABASE_URL_OPTION = "--database-url"
VERBOSE_OPTIONS = ("--verbose", "-v")
PLUGIN_OPTION = DISABLE_FLAG  # -p no:NAME, as pytest's
# Alembic's own global options, with its names: -x KEY=VALUE for env.py (repeatable), and
# -n/--name, the alembic.ini section of one database in a multi-database setup.
X_OPTION = "-x"
NAME_OPTIONS = ("--name", "-n")
# Short options taking a value, which Click reads as "-p VALUE" or "-pVALUE".
_SHORT_VALUED = (PLUGIN_OPTION, X_OPTION, NAME_OPTIONS[1])


@dataclass(frozen=True)
class GlobalOptions:
    """The options main() must know before Click parses anything: they decide which .env is
    read and so which plugins, and so which commands, exist; -n decides which ini section
    configures the project, and -x is handed to env.py."""

    env_file: str | None = None
    database_url: str | None = None
    verbose: bool = False
    # The values of -p, as given ("no:downgrade"); a missing value is Click's to report.
    plugin_options: tuple[str, ...] = ()
    # The values of -x, in order, as Alembic keeps them for context.get_x_argument().
    x_arguments: tuple[str, ...] = ()
    # -n/--name: the ini section (None: Alembic's "alembic").
    name: str | None = None
    # The first word after them: the command's name, unless Click finds it is not one.
    command: str | None = None
    # The words before the command, as given: what a fan-out over targets repeats in the
    # run of each target (migrations_cli.fan_out). The options above are what they mean.
    words: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, args: Sequence[str]) -> GlobalOptions:
        """Read the options placed before the command name, as Click will."""
        values: dict[str, str | None] = {}
        verbose = False
        repeated: dict[str, list[str]] = {PLUGIN_OPTION: [], X_OPTION: []}
        position = 0
        while position < len(args) and args[position].startswith("-"):
            name, has_value, given = args[position].partition("=")
            short = args[position][:2]
            if short in _SHORT_VALUED and not args[position].startswith("--"):
                # A short option as Click reads it: "-p VALUE" or "-pVALUE" (not "-p=VALUE").
                attached = args[position][2:]
                if not attached:
                    position += 1
                if attached or position < len(args):  # else Click reports the missing value
                    value_given = attached or args[position]
                    if short in repeated:
                        repeated[short].append(value_given)
                    else:
                        values["name"] = value_given
            elif name in (ENV_FILE_OPTION, DATABASE_URL_OPTION, NAME_OPTIONS[0]):
                value: str | None = given
                if not has_value:  # the value is the next word; Click reports it missing
                    position += 1
                    value = args[position] if position < len(args) else None
                values[name.lstrip("-").replace("-", "_")] = value
            elif name in VERBOSE_OPTIONS:
                verbose = True
            position += 1
        return cls(
            **values,
            verbose=verbose,
            plugin_options=tuple(repeated[PLUGIN_OPTION]),
            x_arguments=tuple(repeated[X_OPTION]),
            command=args[position] if position < len(args) else None,
            words=tuple(args[:position]),
        )

    @property
    def disabled_plugins(self) -> tuple[str, ...]:
        """The NAMEs of the valid ``-p no:NAME`` options."""
        return tuple(
            value[len(DISABLE_FLAG_PREFIX) :].strip()
            for value in self.plugin_options
            if _is_disable_option(value)
        )

    def usage_error(self) -> str | None:
        """What is wrong with -p, checked before any plugin loads."""
        for value in self.plugin_options:
            if not _is_disable_option(value):
                return (
                    f"{PLUGIN_OPTION} takes {DISABLE_FLAG_PREFIX}NAME, to disable the plugin "
                    f"NAME (got {value!r})"
                )
        return None


def _is_disable_option(value: str) -> bool:
    return value.startswith(DISABLE_FLAG_PREFIX) and bool(value[len(DISABLE_FLAG_PREFIX) :].strip())


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
            return error_exit(error, options.verbose)
        if answered is not None:
            return answered
        from migrations_cli.app import run_app
        from migrations_cli.settings import env_file_in_environment

        with env_file_in_environment(settings), _running(options.verbose):
            return run_app(args, settings, options)


def error_exit(error: Exception, verbose: bool) -> int:
    """A command's error as one line (and its traceback with --verbose); its exit code."""
    if verbose:
        import traceback

        traceback.print_exception(error)
    output.error(describe(error))
    return error.exit_code if isinstance(error, MigrationsError) else 1


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
