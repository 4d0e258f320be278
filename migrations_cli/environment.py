"""What alembic/env.py runs, under `migrate` and under plain `alembic` alike.

Under `migrate`, the settings and the plugin hooks arrive in ``Config.attributes`` from the
Config factory; under plain `alembic` they are read from `.env` here. Either way the same
options apply: NullPool, batch mode on SQLite, type comparison, one transaction per
migration, plugin filters for autogenerate, and no file for an autogenerate that found
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrations_cli import output
from migrations_cli.config import AUTOGENERATE_KEY, HOOK_KEY, SETTINGS_KEY
from migrations_cli.database import connect, create_engine, transactional_ddl
from migrations_cli.errors import MigrationsError, PluginError, describe
from migrations_cli.metadata import load_metadata
from migrations_cli.migration_run import RUN_KEY, MigrationRun, describe_revisions
from migrations_cli.plugin_manager import build_plugin_manager, call_hook
from migrations_cli.settings import Settings, load_settings, make_project_importable

# Alembic commands whose env.py run never compares the models.
_COMMANDS_WITHOUT_MODELS = frozenset({"upgrade", "downgrade", "stamp", "current", "merge"})
# What `alembic init` writes into alembic.ini: not a database anyone means.
ALEMBIC_INI_PLACEHOLDER_URL = "driver://user:pass@localhost/dbname"

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext, MigrationInfo
    from sqlalchemy.engine import Connection


def run_migrations() -> None:
    """The body of env.py."""
    from alembic import context

    config = context.config
    if SETTINGS_KEY in config.attributes:  # built by our Config factory
        settings = _with_configured_url(config.attributes[SETTINGS_KEY], config)
        make_project_importable(settings)
        hook = config.attributes.get(HOOK_KEY) or build_plugin_manager(settings).hook
        _run(context, config, settings, hook)
        return
    # Plain `alembic`: report our errors the way Alembic reports its own ("FAILED: ...").
    from alembic.util import CommandError

    try:
        settings = _with_configured_url(_settings_for_plain_alembic(config), config)
        make_project_importable(settings)
        plugins = build_plugin_manager(settings)
        for failure in plugins.failures:
            output.warn(str(failure))
        _run(context, config, settings, plugins.hook)
    except MigrationsError as error:
        raise CommandError(str(error)) from error


def _run(
    context: EnvironmentContext, config: Config, settings: Settings, hook: pluggy.HookRelay
) -> None:
    options: dict[str, Any] = {
        "target_metadata": (
            load_metadata(settings.metadata)
            if settings.metadata and _needs_models(config)
            else None
        ),
        "compare_type": True,
        "transaction_per_migration": True,
        "include_object": _include_object(hook),
        "process_revision_directives": _process_revision_directives(hook, _is_autogenerate(config)),
    }
    if context.is_offline_mode():
        context.configure(
            url=settings.require_database_url(),
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    shared: Connection | None = config.attributes.get("connection")
    if shared is not None:  # Alembic's documented way to hand env.py a connection
        _run_online(context, config, shared, options, hook)
        return
    engine = create_engine(settings)
    if transactional_ddl(engine) is not None:
        options["transactional_ddl"] = transactional_ddl(engine)
    try:
        with connect(engine, settings) as connection:
            _run_online(context, config, connection, options, hook)
    finally:
        engine.dispose()


def _run_online(
    context: EnvironmentContext,
    config: Config,
    connection: Connection,
    options: dict[str, Any],
    hook: pluggy.HookRelay,
) -> None:
    run: MigrationRun | None = config.attributes.get(RUN_KEY)
    # configure() comes first: Alembic judges whether the caller owns a transaction when it
    # is configured; reading the version table afterwards is safe.
    context.configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=[_recorder(run)] if run else [],
        **options,
    )
    if run is not None:
        run.previous = run.current = tuple(context.get_context().get_current_heads())
        call_hook(
            hook.before_migrate,
            config=config,
            direction=run.direction,
            current=run.previous,
            target=run.target,
        )
    try:
        with context.begin_transaction():
            context.run_migrations()
    except Exception as error:
        from alembic.util import CommandError

        if run is None or isinstance(error, CommandError):
            raise  # Alembic's own errors (unknown revision, ...) already say what is wrong
        failed = _failing_revision(error)
        partial = (
            ""
            if context.get_context().impl.transactional_ddl
            else f"; statements of {failed or 'the failed revision'} that ran before the "
            f"error stay applied ({connection.dialect.name} commits DDL at once): repair "
            "the schema before retrying"
        )
        raise MigrationsError(
            f"{run.direction} stopped{f' in revision {failed}' if failed else ''}: "
            f"{describe(error)} (the database is at {describe_revisions(run.current)}; "
            f"{len(run.revisions)} revision(s) "
            f"{'applied' if run.direction == 'upgrade' else 'reverted'} before the failure"
            f"{partial})"
        ) from error
    if run is not None:
        try:
            call_hook(
                hook.after_migrate,
                config=config,
                direction=run.direction,
                previous=run.previous,
                current=run.current,
                revisions=tuple(run.revisions),
            )
        except PluginError as error:
            raise PluginError(
                f"{error} (the {run.direction} itself completed: the database is at "
                f"{describe_revisions(run.current)})"
            ) from error


def _failing_revision(error: BaseException) -> str | None:
    """The revision whose upgrade() or downgrade() raised: its frame is in the traceback."""
    frame = error.__traceback__
    while frame is not None:
        code, module_globals = frame.tb_frame.f_code, frame.tb_frame.f_globals
        if code.co_name in ("upgrade", "downgrade") and "down_revision" in module_globals:
            return str(module_globals.get("revision"))
        frame = frame.tb_next
    return None


def _recorder(run: MigrationRun) -> Callable[..., None]:
    def on_version_apply(
        ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: dict[str, Any]
    ) -> None:
        revision = step.up_revision
        run.record(
            step.up_revision_id or "", revision.doc if revision else None, tuple(sorted(heads))
        )

    return on_version_apply


def _include_object(hook: pluggy.HookRelay) -> Callable[..., bool]:
    def include_object(
        object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        answers = call_hook(
            hook.include_object,
            object=object,
            name=name,
            type_=type_,
            reflected=reflected,
            compare_to=compare_to,
        )
        return False not in answers

    return include_object


def _process_revision_directives(hook: pluggy.HookRelay, autogenerate: bool) -> Callable[..., None]:
    def process_revision_directives(
        context: MigrationContext, revision: tuple[str, ...], directives: list[MigrationScript]
    ) -> None:
        call_hook(
            hook.process_revision_directives,
            context=context,
            revision=revision,
            directives=directives,
        )
        if autogenerate and all(
            ops.is_empty() for script in directives for ops in script.upgrade_ops_list
        ):
            directives[:] = []  # nothing changed: write no file

    return process_revision_directives


def _needs_models(config: Config) -> bool:
    """Upgrades, downgrades and the like run the revisions' own code: the models need not
    import (they may need application settings a deploy does not have)."""
    if RUN_KEY in config.attributes:
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
    return replace(settings, database_url=url)


def _settings_for_plain_alembic(config: Config) -> Settings:
    """Settings from the `.env` nearest the alembic.ini or pyproject.toml in use."""
    source = config.toml_file_name or config.config_file_name
    return load_settings(start=Path(source).resolve().parent if source else None)
