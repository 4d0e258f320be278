"""`migrate upgrade` and `downgrade`: Alembic's command run to a target, with
migrations-cli's env.py (which takes the lock and records the run itself, environment.py)
or with a project's own, around which this module does the same (the lock, checksums,
timeouts, retries, hooks). What a run is and says lives in migration_run.py."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, NoReturn

from migrations_cli.core import output
from migrations_cli.core.env_py import is_projects_own_env_py
from migrations_cli.core.errors import MigrationsError, describe
from migrations_cli.fanout import target_report
from migrations_cli.running.migration_run import (
    RUN_KEY,
    MigrationRun,
    applied_at,
    call_after_migrate,
    describe_revisions,
    failed_statement,
    failing_frame,
    recorder,
    revisions_between,
    shortened_statement,
)

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.core.settings import Settings
    from migrations_cli.hookspecs import Direction


def run_migration(context: MigrationsContext, direction: Direction, target: str) -> MigrationRun:
    """Run Alembic's upgrade or downgrade to `target` and return what happened."""
    from alembic import command

    config = context.alembic_config
    if is_projects_own_env_py(context.script):
        return _run_with_own_environment(context, direction, target)
    run = MigrationRun(direction, target)
    config.attributes[RUN_KEY] = run
    try:
        getattr(command, direction)(config, target)
    except Exception:
        if run.observed:  # (where a failed run left the database, for a fan-out's table)
            target_report.where_it_stands(run.current, run.previous, run.revisions)
        raise
    finally:
        del config.attributes[RUN_KEY]
    if not run.observed:  # an env.py that names our module without handing over to it
        run.current = _read_heads(context.database)
    target_report.where_it_stands(
        run.current, run.previous if run.observed else None, run.revisions
    )
    return run


def _run_with_own_environment(
    context: MigrationsContext, direction: Direction, target: str
) -> MigrationRun:
    """The project's own env.py migrates, unchanged; what `migrate` needs of the run comes
    from its `context.configure()`, to which `configure_options.adjusted_configure` adds a
    per-revision callback (the progress line, the file's checksums taken as it is applied,
    the lock check). That env.py takes no lock of its own, so the run holds the migration
    lock around it, and the checksum table is prepared before (with the warnings about
    edited applied files) and written after, under the lock, on connections of the run's
    own. The lifecycle hooks run around it as they do for ours. Each revision gets its lock
    and statement timeouts, and a run that timed out waiting for a lock is run again
    (ddl_retry.OwnEnvironmentRetries says when that is safe).
    """
    from alembic import command

    from migrations_cli.core.database import create_engine
    from migrations_cli.core.hook_calls import call_hook
    from migrations_cli.graph.cache_files import CACHE_DIR
    from migrations_cli.guards.code_sums import MEMO_NAME
    from migrations_cli.running.checksums import ChecksumRecorder
    from migrations_cli.running.configure_options import adjusted_configure, plugin_options
    from migrations_cli.running.ddl_retry import OwnEnvironmentRetries
    from migrations_cli.running.ddl_timeouts import configured_timeouts
    from migrations_cli.running.locking import migration_lock

    config = context.alembic_config
    database = context.database
    hook = context.plugin_manager.hook
    run = MigrationRun(direction, target)
    memo = context.settings.project_dir / CACHE_DIR / MEMO_NAME
    checksums = ChecksumRecorder(context.script, memo)
    ours = {
        **plugin_options(hook, config, context.settings),
        "on_version_apply": recorder(run, checksums),
    }
    engine = create_engine(database)

    def settle() -> None:
        run.current = _read_heads(database)
        run.revisions = _committed(context.script, run)

    retries = OwnEnvironmentRetries(
        run,
        context.script,
        engine,
        configured_timeouts(database),
        retries=database.ddl_retries,
        max_wait=database.ddl_retry_max_wait,
        settle=settle,
    )
    try:
        with migration_lock(
            engine, database.lock, database.lock_timeout, schema=database.target_schema
        ) as still_locked:
            run.check_lock = still_locked
            # Read under the lock: a process that waited sees what the one before it applied.
            run.previous = run.current = _read_heads(database)
            if direction == "upgrade":
                with engine.connect() as connection:
                    applied = applied_at(context.script, run.previous)
                    checksums.prepare(connection, run.previous, applied, commit=True)
            call_hook(
                hook.before_migrate,
                config=config,
                direction=direction,
                current=run.previous,
                target=target,
            )
            run.start_clock()
            failure: Exception | None = None
            try:
                with adjusted_configure(ours, steps=retries.steps) as configured:
                    retries.run(partial(getattr(command, direction), config))
            except Exception as error:
                failure = error
            try:
                run.current = _read_heads(database)
            except MigrationsError:
                if failure is None:
                    raise
                raise failure from None  # (the database is gone: its error says enough)
            run.revisions = _committed(context.script, run)
            with engine.connect() as connection:
                checksums.finish(connection, run.revisions, commit=True)
            if failure is not None:
                timed_out = retries.failed(failure)
                if timed_out is not None:  # (said as migrations-cli's env.py says it)
                    raise MigrationsError(run.failure(timed_out)) from failure
                _raise_with_where_it_stopped(failure, run)
    finally:
        engine.dispose()
    if not configured.calls:
        run.revisions = _revisions_between(context.script, run)
        output.warn(
            "env.py did not call context.configure() within Alembic's command, so migrate "
            "could neither show each revision nor record checksums for this run"
        )
    call_after_migrate(hook, config, run)
    target_report.where_it_stands(run.current, run.previous, run.revisions)
    return run


def _committed(script: ScriptDirectory, run: MigrationRun) -> list[str]:
    """The revisions the run applied (or reverted) that the version table says committed:
    an env.py that runs every revision in one transaction rolls them all back together."""
    applied = applied_at(script, run.current)
    wanted = run.direction == "upgrade"
    return [revision for revision in run.revisions if (revision in applied) == wanted]


def _read_heads(database: Settings) -> tuple[str, ...]:
    """The version table, quietly: an alembic.ini's logging, which that env.py turns on,
    would log Alembic's "Context impl" lines a second time for this look."""
    from migrations_cli.core.database import database_heads, opened_connection

    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with opened_connection(database) as connection:
            return database_heads(connection)
    finally:
        logger.setLevel(level)


def _raise_with_where_it_stopped(error: Exception, run: MigrationRun) -> NoReturn:
    """A failed migration: say where the database was left, which that env.py cannot."""
    from alembic.util import CommandError

    if isinstance(error, (CommandError, MigrationsError)):
        raise error  # Alembic's own errors (unknown revision, ...) already say what is wrong
    frame = failing_frame(error)
    where = f" in revision {frame.f_globals.get('revision')}" if frame else ""
    statement = failed_statement(error)
    sql = f" [SQL: {shortened_statement(statement)}]" if statement else ""
    raise MigrationsError(
        f"{run.direction} stopped{where}: {describe(error)}{sql} (the database is at "
        f"{describe_revisions(run.current)}; it was at {describe_revisions(run.previous)})"
    ) from error


def _revisions_between(script: ScriptDirectory, run: MigrationRun) -> list[str]:
    return revisions_between(script, run.direction, run.previous, run.current)
