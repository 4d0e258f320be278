"""The Typer app: the global options, every plugin's commands, and the one error boundary
around a command's run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from migrations_cli.core import errors, output
from migrations_cli.core.context import MigrationsContext
from migrations_cli.core.global_options import (
    DATABASE_URL_OPTION,
    ENV_FILE_OPTION,
    NAME_OPTIONS,
    PLUGIN_OPTION,
    PROG_NAME,
    VERBOSE_OPTIONS,
    X_OPTION,
    GlobalOptions,
)
from migrations_cli.core.plugin_manager import (
    MigrationsPluginManager,
    build_plugin_manager,
    keep_only_command,
    register_all_commands,
)
from migrations_cli.core.settings import DISABLE_FLAG_PREFIX, Settings, make_project_importable


def _print_version(value: bool) -> None:
    """`migrate --version`: this tool's version and the Alembic and SQLAlchemy it drives,
    read from the installed distributions (nothing of them is imported)."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    from migrations_cli import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    output.result(
        f"{PROG_NAME} {__version__} (alembic {installed('alembic')}, "
        f"SQLAlchemy {installed('sqlalchemy')})"
    )
    raise typer.Exit()


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
    x_arguments: Annotated[
        list[str] | None,
        typer.Option(
            X_OPTION,
            metavar="KEY=VALUE",
            help="For env.py, which reads it with context.get_x_argument(), as with "
            "`alembic -x`. Repeatable.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            *NAME_OPTIONS,
            metavar="SECTION",
            help="The alembic.ini section to use (one database of a multi-database "
            "setup), as with `alembic --name`. Default: alembic.",
        ),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Show the version of migrate, Alembic and SQLAlchemy, and exit.",
        ),
    ] = False,
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


def run_app(args: list[str], settings: Settings, options: GlobalOptions) -> int:
    """Run the command line through the plugins' commands; returns the exit code. The one
    error boundary of a command: an error is one line (a traceback only with --verbose)."""
    make_project_importable(settings)
    try:
        manager = build_plugin_manager(settings, disable=options.disabled_plugins)
        app = build_app(manager)
        for warning in manager.warnings:
            output.warn(warning)
        if options.command is not None:
            keep_only_command(app, options.command)
        command = typer.main.get_command(app)
        command.main(
            args=args,
            prog_name=PROG_NAME,
            obj=MigrationsContext(
                settings=settings, plugin_manager=manager, global_words=options.words
            ),
        )
    except SystemExit as exit_:
        return _exit_code(exit_)
    except Exception as error:
        return errors.error_exit(error, options.verbose)
    return 0


def _exit_code(exit_: SystemExit) -> int:
    """`sys.exit(None | int | message)` as Python itself treats it: a message is printed."""
    if exit_.code is None:
        return 0
    if isinstance(exit_.code, int):
        return exit_.code
    output.info(str(exit_.code))
    return 1
