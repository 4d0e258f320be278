"""The `migrate` command: settings, plugins, the Typer app, and the one error boundary."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from migrations_cli import output
from migrations_cli.context import MigrationsContext
from migrations_cli.errors import MigrationsError, describe
from migrations_cli.plugin_manager import (
    DISABLE_FLAG,
    DISABLE_FLAG_PREFIX,
    MigrationsPluginManager,
    build_plugin_manager,
    register_all_commands,
)
from migrations_cli.settings import Settings, load_settings, make_project_importable
from migrations_cli.url_secrets import url_passwords

PROG_NAME = "migrate"
USAGE_ERROR = 2  # as Click exits on bad command-line usage
ENV_FILE_OPTION = "--env-file"
DATABASE_URL_OPTION = "--database-url"
VERBOSE_OPTIONS = ("--verbose", "-v")
PLUGIN_OPTION = DISABLE_FLAG  # -p no:NAME, as pytest's


@dataclass(frozen=True)
class GlobalOptions:
    """The options main() must know before Click parses anything: they decide which .env is
    read and so which plugins, and so which commands, exist."""

    env_file: str | None = None
    database_url: str | None = None
    verbose: bool = False
    # The values of -p, as given ("no:downgrade"); a missing value is Click's to report.
    plugin_options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: Sequence[str]) -> GlobalOptions:
        """Read the options placed before the command name, as Click will."""
        values: dict[str, str | None] = {}
        verbose = False
        plugin_options: list[str] = []
        position = 0
        while position < len(args) and args[position].startswith("-"):
            name, has_value, given = args[position].partition("=")
            if args[position].startswith(PLUGIN_OPTION) and not args[position].startswith("--"):
                # A short option as Click reads it: "-p VALUE" or "-pVALUE" (not "-p=VALUE").
                attached = args[position][len(PLUGIN_OPTION) :]
                if not attached:
                    position += 1
                if attached or position < len(args):  # else Click reports the missing value
                    plugin_options.append(attached or args[position])
            elif name in (ENV_FILE_OPTION, DATABASE_URL_OPTION):
                value: str | None = given
                if not has_value:  # the value is the next word; Click reports it missing
                    position += 1
                    value = args[position] if position < len(args) else None
                values[name.lstrip("-").replace("-", "_")] = value
            elif name in VERBOSE_OPTIONS:
                verbose = True
            position += 1
        return cls(**values, verbose=verbose, plugin_options=tuple(plugin_options))

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


def global_options(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            ENV_FILE_OPTION,
            help="The .env file to read. Default: the nearest .env from here upward.",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            DATABASE_URL_OPTION,
            help="Use this database instead of DATABASE_URL (a relative SQLite path is "
            "relative to the .env folder).",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(*VERBOSE_OPTIONS, help="Show Alembic's log and the traceback of errors."),
    ] = False,
    plugin_options: Annotated[
        list[str] | None,
        typer.Option(
            PLUGIN_OPTION,
            metavar=f"{DISABLE_FLAG_PREFIX}NAME",
            help="Disable the plugin NAME: it is not imported (a built-in by its command "
            "name, e.g. no:downgrade). Repeatable; `migrate plugins` lists the names.",
        ),
    ] = None,
) -> None:
    """Run Alembic migrations with settings from .env.

    Every command is a plugin: add your own through the `migrations_cli` entry point,
    MIGRATIONS_PLUGINS or a MIGRATIONS_PLUGINS_DIR folder; turn one off with -p no:NAME.
    """
    # The values were read by GlobalOptions.parse before the plugins loaded; they are
    # declared here so that Click accepts them and --help lists them.
    _check_plugin_options(ctx, plugin_options or [])


def _check_plugin_options(ctx: typer.Context, values: list[str]) -> None:
    """Click must have read the same -p values as GlobalOptions.parse, which disabled the
    plugins: a form only Click understands ("-vpno:x") would leave the plugin running."""
    context = ctx.find_object(MigrationsContext)
    if context is None:
        return
    clicks = GlobalOptions(plugin_options=tuple(values)).disabled_plugins
    if set(clicks) != context.plugin_manager.disabled_by_flag:
        raise typer.BadParameter(
            f"write each {PLUGIN_OPTION} {DISABLE_FLAG_PREFIX}NAME on its own, before the command",
            param_hint=f"'{PLUGIN_OPTION}'",
        )


def build_app(manager: MigrationsPluginManager) -> typer.Typer:
    app = typer.Typer(
        name=PROG_NAME,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(global_options)
    register_all_commands(manager, app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    options = GlobalOptions.parse(args)
    for option, value in (
        (ENV_FILE_OPTION, options.env_file),
        (DATABASE_URL_OPTION, options.database_url),
    ):
        if value == "":
            output.error(f"{option} needs a value (it was empty)")
            return USAGE_ERROR
    problem = options.usage_error()
    if problem is not None:
        output.error(problem)
        return USAGE_ERROR
    try:
        settings = load_settings(options.env_file, overrides={"DATABASE_URL": options.database_url})
    except MigrationsError as error:
        output.error(str(error))
        return error.exit_code
    # A URL given anywhere on the command line (even where Click will reject it, and echo it
    # in its usage error) is a secret too.
    secrets = settings.secrets() | {
        password for arg in args if "://" in arg for password in url_passwords(arg)
    }
    with output.redacted_output(secrets), _alembic_logging(options.verbose):
        return _run(args, settings, options)


def _run(args: list[str], settings: Settings, options: GlobalOptions) -> int:
    make_project_importable(settings)
    try:
        manager = build_plugin_manager(settings, disable=options.disabled_plugins)
        app = build_app(manager)
        for warning in manager.warnings:
            output.warn(warning)
        command = typer.main.get_command(app)
        command.main(
            args=args,
            prog_name=PROG_NAME,
            obj=MigrationsContext(settings=settings, plugin_manager=manager),
        )
    except SystemExit as exit_:
        return _exit_code(exit_)
    except Exception as error:
        if options.verbose:
            traceback.print_exception(error)
        output.error(describe(error))
        return error.exit_code if isinstance(error, MigrationsError) else 1
    return 0


def _exit_code(exit_: SystemExit) -> int:
    """`sys.exit(None | int | message)` as Python itself treats it: a message is printed."""
    if exit_.code is None:
        return 0
    if isinstance(exit_.code, int):
        return exit_.code
    output.info(str(exit_.code))
    return 1


@contextmanager
def _alembic_logging(verbose: bool) -> Iterator[None]:
    """Alembic logs each step at INFO: show that with --verbose, otherwise warnings only,
    on this run's stderr; the logger is left as it was found (main() may run in-process)."""
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
