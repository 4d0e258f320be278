"""`migrate doctor`: walk the problems the migration guide's troubleshooting notes describe
(settings, database, models, heads, revisions) and say what to do about each, one line per
check, so a user need not know which of them to suspect first."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import MigrationsContext, get_context
from migrations_cli.core.errors import SettingsError, describe, first_line
from migrations_cli.graph.database_state import applied_revisions
from migrations_cli.graph.revision_graph import all_revisions, undefined_revisions
from migrations_cli.hookspecs import hookimpl
from migrations_cli.running.migration_run import describe_revisions

if TYPE_CHECKING:
    import pluggy
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection

    from migrations_cli.core.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]
COLOURS: dict[Status, str] = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "blue"}
TABLE_OPERATIONS = ("create_table", "drop_table", "rename_table")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and what to do about it."""

    name: str
    status: Status
    message: str
    advice: str | None = None


@dataclass(frozen=True)
class DatabaseReading:
    """What the checks after `database` need from the database, read on one connection."""

    heads: tuple[str, ...]
    # Tables autogenerate would drop (no model defines them); None without models to compare.
    tables_without_model: tuple[str, ...] | None
    tables_error: str | None = None


def doctor(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Check settings, database, models and revisions; say what to do about each problem."""
    options = ctx.parent.params if ctx.parent is not None else {}
    checks = list(run_checks(get_context(ctx), options))
    healthy = all(check.status != "fail" for check in checks)
    if json_output:
        output.json_result({"checks": [asdict(check) for check in checks], "ok": healthy})
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            # Not output.result: these lines carry settings, so they go through the masking
            # (as migrate's own words: a check's name is never masked).
            output.echo(report_line(check, width))
    if not healthy:
        raise typer.Exit(1)


def report_line(check: Check, width: int) -> str:
    status = output.styled(check.status.ljust(4), COLOURS[check.status], bold=True)
    advice = f"; {check.advice}" if check.advice and check.status in ("warn", "fail") else ""
    return f"{status}  {check.name.ljust(width)}  {check.message}{advice}"


def run_checks(context: MigrationsContext, options: Mapping[str, Any]) -> Iterator[Check]:
    """Every check, in the order a user would fix things; each runs as far as the earlier
    findings allow, and says `skip` (and why) where they do not."""
    yield _guarded("settings", lambda: settings_check(context, options))
    script, migrations = load_migrations(context)
    yield migrations
    metadata, models = load_models(context)
    database, database_line = read_database(context, metadata)
    yield database_line
    yield models
    yield _guarded(
        "model imports", lambda: unmodelled_tables_check(context, metadata, script, database)
    )
    yield _guarded("heads", lambda: heads_check(script))
    no_database = None
    if database is None:
        no_database = (
            "the database could not be read"
            if database_line.status == "fail"
            else database_line.message.removeprefix("skipped: ")
        )
    yield _guarded("db revision", lambda: revision_check(script, database, no_database))
    yield _guarded("pending", lambda: pending_check(script, database, no_database))
    yield _guarded("checksums", lambda: checksums_check(context, script, database, no_database))


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """A check that raised is a failed line: the checks after it still run."""
    try:
        return check()
    except Exception as error:
        return Check(name, "fail", describe(error), "fix what the message names, then run again")


# settings -----------------------------------------------------------------------------------


def settings_check(context: MigrationsContext, options: Mapping[str, Any]) -> Check:
    """Which file the settings came from and what they say, the password masked; for the
    database URL, which of its sources won: --database-url, then DATABASE_URL (the
    environment or .env), then the `sqlalchemy.url` of alembic.ini (or of a plugin)."""
    settings = context.settings
    origin = _SettingOrigins(settings, options)
    values = {
        "DATABASE_URL": settings.masked_url() if settings.database_url else None,
        "MIGRATIONS_DIR": _shown(settings.migrations_dir, settings.project_dir),
        "MIGRATIONS_METADATA": settings.metadata,
    }
    optional = {
        "MIGRATIONS_PLUGINS": ",".join(settings.plugins) or None,
        "MIGRATIONS_PLUGINS_DIR": (
            _shown(settings.plugins_dir, settings.project_dir) if settings.plugins_dir else None
        ),
        "MIGRATIONS_DISABLE_PLUGINS": ",".join(settings.disabled_plugins) or None,
        "MIGRATIONS_LOCK": settings.lock if settings.lock != "advisory" else None,
        "MIGRATIONS_ENV": settings.environment,
    }
    values.update({key: value for key, value in optional.items() if value is not None})
    described = ", ".join(
        f"{key}={value}{origin.note(key)}" if value is not None else f"{key} not set"
        for key, value in values.items()
    )
    source = (
        f"from {settings.env_file}"
        if settings.env_file
        else f"no .env file in {settings.project_dir} or above; from the environment"
    )
    message = f"{source}: {described}"
    if settings.database_url:
        return Check("settings", "ok", message)
    configured = _configured_url(context)
    if configured is not None:
        return Check("settings", "ok", f"{message}; {configured}")
    where = settings.env_file or settings.project_dir / ".env"
    return Check(
        "settings",
        "fail",
        message,
        f"add DATABASE_URL=dialect+driver://user:password@host:port/database to {where}",
    )


def _configured_url(context: MigrationsContext) -> str | None:
    """The database URL of the Alembic Config when DATABASE_URL is not set, and whose it
    is; None when there is none (or only `alembic init`'s placeholder)."""
    from migrations_cli.core.settings import ALEMBIC_INI

    try:
        database = context.database
    except SettingsError:
        return None
    ini = context.settings.project_dir / ALEMBIC_INI
    owner = (
        f"from {ini}"
        if database.database_url == _ini_url(ini)
        else "set by a plugin's configure_alembic"
    )
    return f"database URL sqlalchemy.url={database.masked_url()} ({owner})"


def _ini_url(ini: Path) -> str | None:
    """The `sqlalchemy.url` of alembic.ini's [alembic] section, as Alembic reads it."""
    from configparser import ConfigParser

    if not ini.is_file():
        return None
    parser = ConfigParser(defaults={"here": ini.parent.as_posix()})
    parser.read(ini, encoding="utf-8")
    return parser.get("alembic", "sqlalchemy.url", fallback=None)


class _SettingOrigins:
    """Where each setting's value came from, by the precedence load_settings applies:
    --database-url, then the environment over .env (or a --env-file file over the
    environment)."""

    def __init__(self, settings: Settings, options: Mapping[str, Any]) -> None:
        from migrations_cli.core.settings import read_env_file

        # Read without error at start-up, or the run would have stopped there.
        self._file = read_env_file(settings.env_file) if settings.env_file else {}
        self._file_chosen = options.get("env_file") is not None
        self._url_option = bool(options.get("database_url"))

    def note(self, key: str) -> str:
        if key == "DATABASE_URL" and self._url_option:
            return " (from --database-url)"
        from migrations_cli.core.settings import in_environment as set_in_environment

        in_environment = set_in_environment(key)
        in_file = bool(self._file.get(key, "").strip())
        if in_file and (self._file_chosen or not in_environment):
            return ""  # the file the message names
        if in_environment:
            return " (from the environment)"
        return " (default)"


def _shown(path: Path, project_dir: Path) -> str:
    """A path inside the project relative to it, as the settings write it."""
    return (
        path.relative_to(project_dir).as_posix() if path.is_relative_to(project_dir) else str(path)
    )


# migrations ---------------------------------------------------------------------------------


def load_migrations(context: MigrationsContext) -> tuple[ScriptDirectory | None, Check]:
    """The revision files, all of them loaded, so a broken chain shows up here."""
    import warnings

    folder = _shown(context.settings.migrations_dir, context.settings.project_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            script = context.script
            count = len(list(script.walk_revisions()))
        except SettingsError as error:
            return None, Check(
                "migrations",
                "fail",
                str(error),
                "create it with `migrate init`, or set MIGRATIONS_DIR to the folder that "
                "holds env.py and versions/",
            )
        except Exception as error:
            # Alembic warns "Revision X referenced from Y is not present", then fails with a
            # bare KeyError: the warning is the message worth showing.
            reasons = [first_line(str(warning.message)) for warning in caught]
            if not reasons:
                return None, Check(
                    "migrations", "fail", describe(error), "fix the file the message names"
                )
            return None, Check(
                "migrations",
                "fail",
                f"{folder}: {'; '.join(reasons)}",
                "restore the missing revision file from version control (a deleted file "
                "breaks the chain: downgrade past a revision before removing it)",
            )
    return script, Check("migrations", "ok", f"{folder}: {count} revision file(s)")


def heads_check(script: ScriptDirectory | None) -> Check:
    if script is None:
        return _skipped("heads", "the migrations did not load")
    heads = script.get_revisions("heads")
    if not heads:
        return Check("heads", "ok", "no revisions yet")
    if len(heads) == 1:
        return Check("heads", "ok", f"one head: {_revision_text(heads[0])}")
    listed = ", ".join(_revision_text(head) for head in heads)
    if all(head.branch_labels for head in heads):
        return Check(
            "heads",
            "warn",
            f"{len(heads)} heads, one per labelled branch: {listed}",
            "upgrade names a branch (LABEL@head) or `heads`; join them with `migrate merge` "
            "when they should become one",
        )
    return Check(
        "heads",
        "fail",
        f"{len(heads)} heads: {listed}",
        "join them with `migrate merge`, then `migrate upgrade` (until then upgrade and "
        "create stop with 'Multiple head revisions are present')",
    )


def _revision_text(script: Script) -> str:
    labels = f" [{', '.join(sorted(script.branch_labels))}]" if script.branch_labels else ""
    doc = f" ({script.doc})" if script.doc else ""
    return f"{script.revision}{labels}{doc}"


# database -----------------------------------------------------------------------------------


def read_database(
    context: MigrationsContext, metadata: MetaData | list[MetaData] | None
) -> tuple[DatabaseReading | None, Check]:
    """Connect once and read what the later checks need: the version table, and the tables
    that no model defines."""
    from migrations_cli.core.database import database_heads, opened_connection

    try:
        settings = context.database
    except SettingsError as error:
        return None, _skipped("database", str(error))
    try:
        missing = _missing_sqlite_file(settings.require_database_url())
        if missing is not None:
            return None, Check(
                "database",
                "warn",
                f"the SQLite file {missing} does not exist yet",
                "`migrate upgrade` creates it",
            )
        with opened_connection(settings) as connection:
            heads = database_heads(connection)
            state = _tables_state(connection, heads, metadata, context.plugin_manager.hook)
    except Exception as error:
        advice = (
            f"fix DATABASE_URL in {settings.env_file or 'the environment'}"
            if isinstance(error, SettingsError)
            else "check that the server is running and that DATABASE_URL names the right "
            "host, port, user, password and database"
        )
        return None, Check("database", "fail", describe(error), advice)
    return state, Check("database", "ok", f"reachable: {settings.masked_url()}")


def _tables_state(
    connection: Connection,
    heads: tuple[str, ...],
    metadata: MetaData | list[MetaData] | None,
    hook: pluggy.HookRelay,
) -> DatabaseReading:
    """The database tables autogenerate would drop, by its own comparison (so a plugin's
    include_object filter applies); a failure here leaves the connection check ok."""
    from migrations_cli.guards.model_diff import model_differences

    if metadata is None:
        return DatabaseReading(heads, None)
    try:
        differences = model_differences(connection, metadata, hook)
    except Exception as error:
        return DatabaseReading(heads, None, describe(error))
    removed = tuple(found.table or "" for found in differences if found.kind == "remove_table")
    return DatabaseReading(heads, removed)


def _missing_sqlite_file(url: str) -> Path | None:
    """A SQLite file that is not there: connecting would create it, and a check must not."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None  # create_engine reports it
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or parsed.query.get("uri")
    ):
        return None
    path = Path(database)
    return None if path.exists() else path


def revision_check(
    script: ScriptDirectory | None, database: DatabaseReading | None, no_database: str | None
) -> Check:
    """The database's revision must be one a migration file defines (not a deleted one)."""
    name = "db revision"
    if script is None or database is None:
        return _skipped(name, no_database or "the migrations did not load")
    unknown = undefined_revisions(script, database.heads)
    if unknown:
        versions = _shown(Path(script.versions), Path.cwd())
        return Check(
            name,
            "fail",
            f"the database is at {', '.join(unknown)}, which no migration file defines "
            "(a deleted file, or one not pulled yet)",
            f"restore the file (`git log --diff-filter=D --name-only -- {versions}` finds it) "
            "or pull the branch that has it",
        )
    if not database.heads:
        return Check(name, "ok", "the database has no revision yet (never migrated)")
    described = ", ".join(_revision_text(script.get_revision(head)) for head in database.heads)
    return Check(name, "ok", f"the database is at {described}")


def pending_check(
    script: ScriptDirectory | None, database: DatabaseReading | None, no_database: str | None
) -> Check:
    """Migrations that the database has not had yet, oldest first."""
    if script is None or database is None:
        return _skipped("pending", no_database or "the migrations did not load")
    if undefined_revisions(script, database.heads):
        return _skipped("pending", "the database is at a revision no migration file defines")
    applied = applied_revisions(script, database.heads)
    pending = [found.revision for found in all_revisions(script) if found.revision not in applied]
    if not pending:
        return Check(
            "pending", "ok", f"none: the database is at head ({describe_revisions(database.heads)})"
        )
    return Check(
        "pending",
        "warn",
        f"{len(pending)} migration(s) not applied: {', '.join(pending)}",
        "apply them with `migrate upgrade`",
    )


def checksums_check(
    context: MigrationsContext,
    script: ScriptDirectory | None,
    database: DatabaseReading | None,
    no_database: str | None,
) -> Check:
    """Applied migrations whose files changed since they were applied, or are gone."""
    from migrations_cli.running.checksums import COMMENT_ONLY, UNRECORDED, database_report

    name = "checksums"
    if script is None or database is None:
        return _skipped(name, no_database or "the migrations did not load")
    report = database_report(context)
    warnings = report.warnings()
    if warnings:
        return Check(name, "warn", "; ".join(warnings))
    if not report.revisions:
        return Check(name, "ok", "no revision applied yet")
    # Only a recorded checksum says a file is unchanged: the others are said to be unchecked.
    unrecorded = len(report.with_state(UNRECORDED))
    checked = len(report.revisions) - unrecorded
    not_checked = (
        f"{unrecorded} applied before checksums were kept, not checked (the next "
        "`migrate upgrade` records them)"
    )
    if not checked:
        return Check(name, "ok", f"no checksum recorded yet: {not_checked}")
    notes = []
    if report.with_state(COMMENT_ONLY):
        notes.append(f"{len(report.with_state(COMMENT_ONLY))} with comment/whitespace edits")
    if unrecorded:
        notes.append(not_checked)
    extra = f" ({'; '.join(notes)})" if notes else ""
    return Check(name, "ok", f"{checked} applied migration file(s) unchanged in code{extra}")


# models -------------------------------------------------------------------------------------


def load_models(context: MigrationsContext) -> tuple[MetaData | list[MetaData] | None, Check]:
    """The models as every command finds them (MIGRATIONS_METADATA, else env.py's
    target_metadata), and which tables they hold."""
    from migrations_cli.core.metadata import NO_MODELS_FOUND, resolve_models

    settings = context.settings
    try:
        models = resolve_models(context)
    except Exception as error:
        return None, Check(
            "metadata",
            "fail",
            describe(error),
            f"check the import path, and that it imports from {settings.project_dir} (the "
            ".env folder, which migrate puts on sys.path)",
        )
    if models.metadata is None:
        return None, Check(
            "metadata",
            "warn",
            f"{NO_MODELS_FOUND}: `migrate create` writes empty revisions and `migrate check` "
            "has nothing to compare",
            "set it to the models' MetaData, e.g. MIGRATIONS_METADATA=app.models:Base.metadata",
        )
    tables = sorted(_model_tables(models.metadata))
    if not tables:
        return models.metadata, Check(
            "metadata",
            "warn",
            f"{models.source} holds no tables",
            "import every model module in the package it names (as app/models/__init__.py "
            "does), so their tables join the MetaData",
        )
    return models.metadata, Check(
        "metadata", "ok", f"{models.source}: {len(tables)} table(s): {', '.join(tables)}"
    )


def _model_tables(metadata: MetaData | list[MetaData]) -> set[str]:
    return {
        table.name
        for each in (metadata if isinstance(metadata, list) else [metadata])
        for table in each.tables.values()
    }


def unmodelled_tables_check(
    context: MigrationsContext,
    metadata: MetaData | list[MetaData] | None,
    script: ScriptDirectory | None,
    database: DatabaseReading | None,
) -> Check:
    """A table in the database or created by a migration that no model defines: its model
    module is not imported, and the next autogenerate would drop the table."""
    name = "model imports"
    if metadata is None:
        return _skipped(name, "no models to compare (see metadata)")
    found: dict[str, list[str]] = {}
    looked_at = []
    if database is not None and database.tables_without_model is not None:
        looked_at.append("the database")
        for table in database.tables_without_model:
            found.setdefault(table, []).append("in the database")
    if script is not None:
        looked_at.append("the migrations")
        modelled = _model_tables(metadata)
        include = _include_table(context.plugin_manager.hook)
        for table, revision in _tables_created_by_migrations(script).items():
            if table not in modelled and include(table):
                found.setdefault(table, []).append(f"created by migration {revision}")
    not_compared = (
        f" (the database's tables were not compared: {database.tables_error})"
        if database is not None and database.tables_error
        else ""
    )
    if not looked_at:
        return _skipped(name, f"no database and no migrations to compare{not_compared}")
    if not found:
        return Check(
            name, "ok", f"every table in {' and '.join(looked_at)} has a model{not_compared}"
        )
    listed = ", ".join(f"{table} ({', '.join(where)})" for table, where in sorted(found.items()))
    return Check(
        name,
        "warn",
        f"no model defines {listed}{not_compared}",
        "import their model modules in the package MIGRATIONS_METADATA names (as "
        "app/models/__init__.py does), or the next `migrate create` drops them; leave a "
        "table out of the models on purpose with an include_object plugin",
    )


def _include_table(hook: pluggy.HookRelay) -> Callable[[str], bool]:
    """Ask the plugins' include_object about a table by name, as autogenerate would."""
    from sqlalchemy import MetaData, Table

    from migrations_cli.core.tool_tables import plugin_include_object

    include_object = plugin_include_object(hook)

    def include(name: str) -> bool:
        return include_object(Table(name, MetaData()), name, "table", True, None)

    return include


def _tables_created_by_migrations(script: ScriptDirectory) -> dict[str, str]:
    """Tables the migrations' upgrade() functions leave behind, oldest revision first,
    each with the revision that created it: read from the files' `op.create_table`,
    `op.drop_table` and `op.rename_table` calls, without running them."""
    tables: dict[str, str] = {}
    for revision in reversed(list(script.walk_revisions())):
        for operation, names in _table_operations(Path(revision.path)):
            if operation == "create_table":
                tables[names[0]] = revision.revision
            elif operation == "drop_table":
                tables.pop(names[0], None)
            elif len(names) == 2 and names[0] in tables:
                tables[names[1]] = tables.pop(names[0])
    return tables


def _table_operations(path: Path) -> list[tuple[str, list[str]]]:
    """(operation, table names) for each table operation in upgrade(), in source order."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []  # not Python source (e.g. a .pyc-only revision): nothing to read
    upgrade = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
        ),
        None,
    )
    if upgrade is None:
        return []
    calls = sorted(
        (
            node
            for node in ast.walk(upgrade)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TABLE_OPERATIONS
        ),
        key=lambda node: (node.lineno, node.col_offset),
    )
    operations = []
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        names = [
            argument.value
            for argument in call.args[:2]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        ]
        names += [
            keyword.value.value
            for keyword in call.keywords
            if keyword.arg in ("table_name", "old_table_name", "new_table_name")
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
        ]
        if names:
            operations.append((call.func.attr, names))
    return operations


def _skipped(name: str, reason: str) -> Check:
    return Check(name, "skip", f"skipped: {reason}")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(doctor)
