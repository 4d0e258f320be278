"""What alembic/env.py runs, under `migrate` and under plain `alembic` alike.

Under `migrate`, the settings and the plugin hooks arrive in ``Config.attributes`` from the
Config factory; under plain `alembic` they are read from `.env` here. Either way the same
options apply: NullPool, batch mode on SQLite, type comparison, one transaction per
migration, plugin filters for autogenerate, and no file for an autogenerate that found
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from migrations_cli.core import output
from migrations_cli.core.config import AUTOGENERATE_KEY, HOOK_KEY, SETTINGS_KEY, WITHOUT_MODELS_KEY
from migrations_cli.core.database import connect, create_engine, made_ddl_transactional
from migrations_cli.core.errors import MigrationsError, describe
from migrations_cli.core.hook_calls import call_hook
from migrations_cli.core.metadata import load_metadata
from migrations_cli.core.plugin_manager import build_plugin_manager
from migrations_cli.core.settings import (
    Settings,
    env_file_in_environment,
    load_settings,
    make_project_importable,
)
from migrations_cli.core.tool_tables import plugin_include_object
from migrations_cli.graph.cache_files import CACHE_DIR
from migrations_cli.guards.code_sums import MEMO_NAME
from migrations_cli.running.checksums import ChecksumRecorder, all_recorded
from migrations_cli.running.configure_options import merged, plugin_options, revision_directives
from migrations_cli.running.ddl_retry import LockWaitFailure, RevisionRetries
from migrations_cli.running.ddl_timeouts import RevisionSteps, configured_timeouts
from migrations_cli.running.locking import LockCheck, LockLost, migration_lock
from migrations_cli.running.migration_run import (
    RUN_KEY,
    Failure,
    MigrationRun,
    applied_at,
    call_after_migrate,
    failed_statement,
    failing_frame,
    recorder,
    revisions_between,
)

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection, Dialect

# Alembic commands whose run of env.py never compares the models: they run the revisions'
# own code, so the models need not import (they may need settings a deploy lacks). Any
# other use, a test tool's included, gets the models as a hand-written env.py gives them.
_COMMANDS_WITHOUT_MODELS = frozenset(
    {"upgrade", "downgrade", "stamp", "current", "merge", "ensure_version"}
)
# How a failure names the database (MariaDB is told apart from MySQL by its dialect).
_DATABASE_NAMES = {
    "postgresql": "PostgreSQL",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
    "oracle": "Oracle",
}
# What `alembic init` writes into alembic.ini: not a database anyone means.
ALEMBIC_INI_PLACEHOLDER_URL = "driver://user:pass@localhost/dbname"


def run_migrations() -> None:
    """The body of env.py."""
    from alembic import context as alembic_context
    from alembic.util import CommandError

    context = cast("EnvironmentContext", alembic_context)
    config = context.config
    from_factory = SETTINGS_KEY in config.attributes
    try:
        settings = _with_configured_url(
            config.attributes[SETTINGS_KEY] if from_factory else _settings_from_env_file(config),
            config,
        )
        make_project_importable(settings)
        # (under plain alembic, as the load_dotenv() of an env.py would: migrate's main()
        # has already done it)
        with nullcontext() if from_factory else env_file_in_environment(settings):
            _run(
                context,
                config,
                settings,
                config.attributes.get(HOOK_KEY) or _load_plugins(settings),
            )
    except MigrationsError as error:
        if from_factory:
            raise  # `migrate` reports it
        raise CommandError(str(error)) from error  # as Alembic reports its own: "FAILED: ..."


def _run(
    context: EnvironmentContext, config: Config, settings: Settings, hook: pluggy.HookRelay
) -> None:
    from sqlalchemy.engine import Connection, Engine

    options: dict[str, Any] = {
        "target_metadata": (
            load_metadata(settings.metadata)
            if settings.metadata and _needs_models(config) and not context.is_offline_mode()
            else None
        ),
        "compare_type": True,
        "transaction_per_migration": True,
        "include_object": plugin_include_object(hook),
        "process_revision_directives": revision_directives(hook, _is_autogenerate(config)),
        # A target schema holds its own version table (search_path is the schema's too).
        "version_table_schema": settings.target_schema,
    }
    options = merged(options, plugin_options(hook, config, settings))
    if context.is_offline_mode():
        options.update(
            url=settings.require_database_url(),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        context.configure(**options)
        if _steps_function(context):  # (each revision's timeouts written into the script)
            _with_timeouts(context, settings, options)
        with context.begin_transaction():
            context.run_migrations()
        return
    shared: Connection | Engine | None = config.attributes.get("connection")
    if isinstance(shared, Connection):  # Alembic's documented way to hand env.py a connection;
        _run_online(context, config, settings, shared, options, hook, lock=None)  # its owner locks
        return
    # An Engine there (as pytest-alembic hands one) is the database to use, and its owner's.
    engine = create_engine(settings) if shared is None else shared
    if shared is None and made_ddl_transactional(engine):  # (create_engine's SQLite recipe)
        options["transactional_ddl"] = True
    try:
        with connect(engine, settings) as connection:
            _cancel_statements_of_a_killed_process(connection)
            if settings.target_schema:
                _create_schema(connection, settings.target_schema)
            lock = partial(
                migration_lock,
                engine,
                settings.lock,
                settings.lock_timeout,
                connection,
                schema=settings.target_schema,
            )
            _run_online(context, config, settings, connection, options, hook, lock)
    finally:
        if shared is None:
            engine.dispose()


def _run_online(
    context: EnvironmentContext,
    config: Config,
    settings: Settings,
    connection: Connection,
    options: dict[str, Any],
    hook: pluggy.HookRelay,
    lock: Callable[[], AbstractContextManager[LockCheck]] | None,
) -> None:
    run: MigrationRun | None = config.attributes.get(RUN_KEY)
    checksums = ChecksumRecorder(context.script, settings.project_dir / CACHE_DIR / MEMO_NAME)
    # configure() comes first: Alembic judges whether the caller owns a transaction when it
    # is configured; reading the version table afterwards is safe.
    options.update(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=recorder(run, checksums) if run else None,
    )
    context.configure(**options)
    if run is None:  # plain alembic, autogenerate, a tool driving Alembic's API: no hooks
        steps = _with_timeouts(context, settings, options) if _steps_function(context) else None
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if steps is not None:
                steps.restore()
        return
    revisions = RevisionRetries(
        connection,
        own=lock is not None,
        retries=settings.ddl_retries,
        max_wait=settings.ddl_retry_max_wait,
        after_failure=lambda: run.settle(_heads_after_failure(context.get_context(), run)),
    )
    steps = _with_timeouts(context, settings, options, revisions.on_revision)
    migration_context = context.get_context()
    applied = cache(partial(applied_at, context.script))  # (at the target, looked at twice)
    at_target = lock is not None and _at_target_before_locking(context, connection, run, applied)
    with nullcontext(_unlocked) if at_target or lock is None else lock() as still_locked:
        run.check_lock = still_locked
        # Read under the lock: a process that waited sees what the one before it applied.
        run.previous = run.current = _database_heads(migration_context)
        # (before the first revision's transaction begins; also at the target, so that
        # edited migrations are warned about on the migration's own connection, and a
        # database migrated without rows gets them, under the lock: _at_target_before_locking)
        if run.direction == "upgrade":
            checksums.prepare(connection, run.previous, applied(run.previous), commit=bool(lock))
        call_hook(
            hook.before_migrate,
            config=config,
            direction=run.direction,
            current=run.previous,
            target=run.target,
        )
        try:  # (the connection may have dropped while getting ready)
            run.check_lock()
        except LockLost as lost:
            raise LockLost(f"{lost}; no revision was {run.verb}: {run.retry()}") from None
        run.start_clock()
        # After a failure on a caller's connection, no checksum rows are written: its
        # transaction, aborted perhaps, is the caller's to end.
        write_checksums = True
        try:
            if not at_target:  # (at the target, nothing runs: nothing runs unlocked)
                try:
                    revisions.run(context, run)
                finally:
                    steps.restore()
        except Exception as error:
            from alembic.util import CommandError

            if isinstance(error, CommandError):
                from migrations_cli.graph.squashing import below_baseline_error

                # Alembic's own errors (unknown revision, ...) already say what is wrong,
                # unless the revision is one a baseline replaced.
                below = below_baseline_error(context.script, run.previous)
                if below is not None:
                    raise below from None
            write_checksums = lock is not None
            stopped = _stopped(context, migration_context, run, error, revisions.failure)
            if stopped is error:
                raise  # (its own cause, Alembic's specific message, kept)
            raise stopped from error
        finally:
            # (run.revisions: those that committed, once settle() has had its say)
            checksums.finish(
                connection, run.revisions if write_checksums else (), commit=bool(lock)
            )
    call_after_migrate(hook, config, run)


def _with_timeouts(
    context: EnvironmentContext,
    settings: Settings,
    options: dict[str, Any],
    on_revision: Callable[[Any], None] | None = None,
) -> RevisionSteps:
    """Alembic's list of the steps to run (the `fn` its command handed to env.py, among the
    options the MigrationContext was configured with) wrapped, and configured again with
    the same options: each revision gets its timeouts as it begins, and a retry resumes at
    the one that failed (ddl_timeouts.py)."""
    steps = RevisionSteps(_steps_function(context), configured_timeouts(settings), on_revision)
    context.configure(**options, fn=steps)
    return steps


def _steps_function(context: EnvironmentContext) -> Any:
    """What the Alembic command handed to env.py as the steps to run (None from a caller
    that hands none, for which Alembic's run_migrations says what is wrong)."""
    return context.get_context().opts.get("fn")


def _at_target_before_locking(
    context: EnvironmentContext,
    connection: Connection,
    run: MigrationRun,
    applied: Callable[[tuple[str, ...]], frozenset[str]],
) -> bool:
    """Whether the database is already where the run would take it, with a checksum row
    for every revision an upgrade finds applied: every instance of a rolling deploy after
    the first then returns at once, without queueing for the lock. Rows missing (a database
    upgraded by plain alembic, or by a run that is still writing its rows at its end) are
    recorded under the lock, as the run writing them holds it.

    The transaction the look opened is ended, so that what is read under the lock comes
    from a new one (MariaDB's repeatable read would otherwise show the old revision).
    """
    heads = _database_heads(context.get_context())
    at_target = _already_at_target(context, run, heads) and (
        run.direction != "upgrade" or all_recorded(connection, applied(heads))
    )
    connection.rollback()
    return at_target


def _unlocked() -> None:
    """The lock check when no lock is held (a caller's connection, or nothing to run)."""


def _already_at_target(
    context: EnvironmentContext, run: MigrationRun, heads: tuple[str, ...]
) -> bool:
    if run.direction == "downgrade":
        return run.target == "base" and not heads
    if any(mark in run.target for mark in "+-:@"):  # relative or branch targets: take the lock
        return False
    try:
        wanted = {script.revision for script in context.script.get_revisions(run.target)}
    except Exception:
        return False  # several heads, unknown revision...: Alembic will say so under the lock
    return bool(wanted) and set(heads) == wanted


def _database_heads(migration_context: MigrationContext) -> tuple[str, ...]:
    """The version table's revisions, sorted as on_version_apply's heads are (and as
    `database.database_heads` returns them)."""
    return tuple(sorted(migration_context.get_current_heads()))


def _stopped(
    context: EnvironmentContext,
    migration_context: MigrationContext,
    run: MigrationRun,
    error: Exception,
    lock_wait: LockWaitFailure | None = None,
) -> Exception:
    """The error a run that raised ends with: the database's word first, then the lock's.
    Heads this run never left mean another process migrated meanwhile: say so, not that the
    revision under way is at fault; a lock found gone is named as the reason."""
    from alembic.util import CommandError

    heads = _heads_after_failure(migration_context, run)
    if run.overtaken_by(heads):
        others = revisions_between(context.script, run.direction, run.current, heads)
        run.current = heads
        return MigrationsError(run.overtaken(others))
    lost = _lock_lost(run, error)
    if run.direction == "downgrade" and "Ambiguous walk" in str(error):
        return MigrationsError(_ambiguous_downgrade(context, run))
    if isinstance(error, (CommandError, Warning)) and lost is None:
        # Alembic's own errors (unknown revision, ...) already say what is wrong, and a
        # warning raised as one (errors.history_errors_raise) is about the history
        return error
    unrecorded = run.settle(heads)
    failed = _failure(
        context,
        migration_context,
        error,
        unrecorded or (lost.revision if lost else None),
        lock_wait,
    )
    if lost is not None:
        reason = str(lost) if lost is error else f"{lost} ({failed.reason})"
        failed = replace(failed, reason=reason, interrupted=True)
    return MigrationsError(run.failure(failed))


def _ambiguous_downgrade(context: EnvironmentContext, run: MigrationRun) -> str:
    """Alembic's "Ambiguous walk" (a relative downgrade from a merge point) with what it
    means: which parents the merge sits on, and how to name the one to go back to."""
    for head in run.current:
        parents = _revisions_below(context, head)
        if len(parents) > 1:
            return (
                f"`migrate downgrade {run.target}` is ambiguous from {head}, which merges "
                f"{' and '.join(parents)}: name the revision to go back to; "
                f"`migrate downgrade {parents[0]}` reverts the merge alone, leaving "
                f"{' and '.join(parents)} applied"
            )
    return f"`migrate downgrade {run.target}` is ambiguous here: name the revision to go back to"


def _lock_lost(run: MigrationRun, error: Exception) -> LockLost | None:
    """The LockLost that stopped the run, or that explains its error (the connection that
    held the lock was killed mid-statement); None while the lock is held."""
    if isinstance(error, LockLost):
        return error
    try:
        run.check_lock()
    except LockLost as lost:
        return lost
    except Exception:
        return None  # the check cannot run either: the run's own error says why
    return None


def _heads_after_failure(migration_context: MigrationContext, run: MigrationRun) -> tuple[str, ...]:
    """The revisions the database is really at once the failed transaction rolled back."""
    try:
        return _database_heads(migration_context)
    except Exception:  # e.g. a caller's transaction left aborted: keep what was recorded
        return run.current


def _failure(
    context: EnvironmentContext,
    migration_context: MigrationContext,
    error: Exception,
    unrecorded: str | None,
    lock_wait: LockWaitFailure | None = None,
) -> Failure:
    """What the error says about the revision that raised: which one, at which statement,
    and whether its statements before the error went with its rolled-back transaction (for
    a lock wait that was retried, whether it had committed any is known)."""
    frame = failing_frame(error)
    revision = str(frame.f_globals.get("revision")) if frame else unrecorded
    partial_because = None
    if not migration_context.impl.transactional_ddl:
        partial_because = f"{_database_name(migration_context.dialect)} commits DDL at once"
    elif frame and "autocommit_block" in frame.f_code.co_names:
        partial_because = "it ran statements in autocommit_block(), which commits"
    if lock_wait is not None and lock_wait.rolled_back:
        partial_because = None
    return Failure(
        reason=lock_wait.reason if lock_wait else describe(error),
        revision=revision,
        statement=failed_statement(error),
        partial_because=partial_because,
        below=_revisions_below(context, revision),
        remedy=lock_wait.remedy if lock_wait else Failure.remedy,
    )


def _revisions_below(context: EnvironmentContext, revision: str | None) -> tuple[str, ...]:
    """The revision(s) `revision` sits on: where stamping would put a half-downgraded one."""
    if revision is None:
        return ()
    try:
        script = context.script.get_revision(revision)
    except Exception:
        return ()
    down = script.down_revision if script is not None else None
    return tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())


def _database_name(dialect: Dialect) -> str:
    if getattr(dialect, "is_mariadb", False):
        return "MariaDB"
    return _DATABASE_NAMES.get(dialect.name, dialect.name)


def _create_schema(connection: Connection, schema: str) -> None:
    """A new tenant's schema is created by its first run (looked up first: CREATE SCHEMA
    IF NOT EXISTS needs the right to create schemas even when the schema exists; and a
    second run creating it at the same moment is no error)."""
    from sqlalchemy import exc, text

    def exists() -> bool:
        query = text("SELECT 1 FROM pg_namespace WHERE nspname = :schema")
        return bool(connection.execute(query, {"schema": schema}).scalar())

    if not exists():
        try:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        except exc.DBAPIError:
            connection.rollback()
            if not exists():
                raise
    connection.commit()


def _cancel_statements_of_a_killed_process(connection: Connection) -> None:
    """PostgreSQL runs a statement to its end after the process that sent it was killed,
    keeping its locks (and a table its transaction created) until then: the next
    `migrate upgrade` would wait on them. From PostgreSQL 14 the server can look for its
    client every second and cancel the statement of one that is gone."""
    from sqlalchemy import exc

    version = connection.dialect.server_version_info or (0,)
    if connection.dialect.name != "postgresql" or version < (14,):
        return
    try:
        connection.exec_driver_sql("SET client_connection_check_interval = 1000")
        connection.commit()  # a SET inside a transaction that rolls back is undone
    except exc.DBAPIError:  # a server that speaks PostgreSQL without it: carry on
        connection.rollback()


def _needs_models(config: Config) -> bool:
    if RUN_KEY in config.attributes or WITHOUT_MODELS_KEY in config.attributes:
        return False
    plain_alembic_command = getattr(config.cmd_opts, "cmd", None)
    return not (
        plain_alembic_command and plain_alembic_command[0].__name__ in _COMMANDS_WITHOUT_MODELS
    )


def _is_autogenerate(config: Config) -> bool:
    return bool(
        config.attributes.get(AUTOGENERATE_KEY) or getattr(config.cmd_opts, "autogenerate", False)
    )


def _with_configured_url(settings: Settings, config: Config) -> Settings:
    """A `sqlalchemy.url` set on the Config (by alembic.ini, a test fixture or a plugin's
    configure_alembic) names the database to use, as it would with any env.py."""
    section = config.config_ini_section
    if not config.file_config.has_option(section, "sqlalchemy.url"):
        return settings  # (plain alembic with pyproject.toml alone has no such section)
    url = config.get_main_option("sqlalchemy.url")
    if not url or url == ALEMBIC_INI_PLACEHOLDER_URL or url == settings.database_url:
        return settings
    return settings._replace(database_url=url)


def _settings_from_env_file(config: Config) -> Settings:
    """Settings from the `.env` nearest the alembic.ini or pyproject.toml in use, for the
    ini section plain alembic's -n chose."""
    source = config.toml_file_name or config.config_file_name
    return load_settings(
        start=Path(source).resolve().parent if source else None,
        ini_section=config.config_ini_section,
    )


def _load_plugins(settings: Settings) -> pluggy.HookRelay:
    """The plugins, for a Config built outside `migrate` (plain alembic, a test tool)."""
    manager = build_plugin_manager(settings)
    for warning in manager.warnings:
        output.warn(warning)
    return manager.hook
