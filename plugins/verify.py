"""`migrate verify`: prove on a scratch database that every migration can be undone.

For CI on a pull request: a "stairway" upgrades each revision, downgrades it and upgrades it
again, comparing the reflected schema before and after, so a downgrade that forgets an
index fails here rather than in production. At head the models are compared with the
schema (as `check` does) and the history must have one head. The project's own database
(DATABASE_URL) is never connected to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption, complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError, describe
from migrations_cli.fanout.fan_out import fans_out
from migrations_cli.guards.scratch import (
    ScratchOption,
    configured_scratch_url,
    scratch_config,
    scratch_database,
)
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.core.settings import Settings

# Tables Alembic and migrations-cli keep for themselves: not part of a migration's schema.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "migrations_cli_lock"})

# One part of a reflected schema: ("index", "users.ix_users_email") -> its definition.
SchemaItem = tuple[str, str]
Snapshot = dict[SchemaItem, Any]


@dataclass
class Step:
    """One revision's stairway: up, down, up again."""

    revision: str
    message: str
    ok: bool = True
    seconds: float = 0.0
    problem: str = ""


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    models: str = "skipped"  # "ok", "failed" or "skipped"
    model_differences: list[str] = field(default_factory=list)
    model_note: str = ""
    failures: list[str] = field(default_factory=list)


FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Upgrade straight to REV, then step only through the revisions after it "
        "(what a pull request added).",
        autocompletion=complete_revision,
        show_default=False,
    ),
]


@fans_out(url_option="--scratch-url")
def verify(
    ctx: typer.Context,
    scratch_url: ScratchOption = None,
    from_revision: FromOption = None,
    json_output: JsonOption = False,
) -> None:
    """Upgrade, downgrade and upgrade each revision on a scratch database, compare the
    models at head and check for one head; exit 1 on any failure."""
    context = get_context(ctx)
    configured = scratch_url or configured_scratch_url(context.settings)
    with scratch_database(context.settings, configured) as scratch:
        report = run_verify(context, scratch, from_revision, print_lines=not json_output)
    if json_output:
        output.json_result(
            {
                "ok": not report.failures,
                "revisions": [vars(step) for step in report.steps],
                "heads": report.heads,
                "models": report.models,
                "models_skipped_because": report.model_note or None,
                "model_differences": report.model_differences,
                "failures": report.failures,
            }
        )
    elif report.failures:
        output.result(f"verify failed: {'; '.join(report.failures)}")
    else:
        count = len(report.steps)
        output.result(f"verify: {count} revision{'s' if count != 1 else ''} ok")
    if report.failures:
        raise typer.Exit(1)


def run_verify(
    context: MigrationsContext, scratch: Settings, from_revision: str | None, print_lines: bool
) -> Report:
    from alembic.script import ScriptDirectory

    if not context.settings.migrations_dir.is_dir():
        context.alembic_config  # noqa: B018 - raises the usual "folder does not exist" error
    config = scratch_config(scratch, context.plugin_manager.hook)
    script = ScriptDirectory.from_config(config)
    report = Report(heads=sorted(script.get_heads()))
    say = output.result if print_lines else (lambda text: None)
    revisions = revisions_to_step(script, from_revision)
    if from_revision is not None:
        started = time.perf_counter()
        migrate(config, "upgrade", from_revision)
        say(f"setup  upgraded to {from_revision}  {time.perf_counter() - started:.2f}s")
    for revision in revisions:
        step = stairway_step(config, scratch, revision)
        report.steps.append(step)
        say(step_line(step))
        if not step.ok:
            report.failures.append(f"revision {step.revision}: {step.problem}")
            break
    stairway_failed = bool(report.failures)
    check_heads(report, say)
    if stairway_failed:
        report.model_note = "the stairway failed"
        say("models skipped (the stairway failed)")
    else:
        compare_models(context, config, report, say)
    return report


def step_line(step: Step) -> str:
    if step.ok:
        return f"ok    {step.revision}  {step.seconds:.2f}s  {step.message}".rstrip()
    return f"FAIL  {step.revision}  {step.seconds:.2f}s  {step.problem}"


def revisions_to_step(script: ScriptDirectory, from_revision: str | None) -> list[Script]:
    """The revisions oldest first (each after the ones it depends on); with --from, only
    those that are not REV or one of its ancestors."""
    from alembic.util import CommandError

    ordered = list(script.walk_revisions("base", "heads"))[::-1]
    if from_revision is None:
        return ordered
    try:
        start = script.get_revision(from_revision)
    except CommandError as error:
        raise typer.BadParameter(f"--from {from_revision}: {error}") from None
    if start is None:
        return ordered
    below = {found.revision for found in script.iterate_revisions(start.revision, "base")}
    return [found for found in ordered if found.revision not in below]


def stairway_step(config: Config, scratch: Settings, revision: Script) -> Step:
    """Up, snapshot, down, compare with before, up again, compare with after the first up."""
    step = Step(revision.revision, revision.doc or "")
    started = time.perf_counter()
    try:
        step.problem = _stairway(config, scratch, revision)
    finally:
        step.seconds = round(time.perf_counter() - started, 3)
    step.ok = not step.problem
    return step


def _stairway(config: Config, scratch: Settings, revision: Script) -> str:
    """The problem found, or "" when the revision's downgrade undoes its upgrade."""
    before = snapshot(scratch)
    heads_before = database_heads_of(scratch)
    if problem := migrate(config, "upgrade", revision.revision, "upgrade"):
        return problem
    after_up = snapshot(scratch)
    if problem := migrate(config, "downgrade", downgrade_target(revision), "downgrade"):
        return problem
    if (heads := database_heads_of(scratch)) != heads_before:
        return (
            f"downgrade left the database at {', '.join(heads) or 'base'}, "
            f"not {', '.join(heads_before) or 'base'}"
        )
    if differences := compare(before, snapshot(scratch)):
        return f"downgrade {differences}"
    if problem := migrate(config, "upgrade", revision.revision, "upgrade after downgrade"):
        return problem
    if differences := compare(after_up, snapshot(scratch)):
        return f"upgrade after downgrade {differences}"
    return ""


def downgrade_target(revision: Script) -> str:
    """Exactly one step below the revision, leaving other branches alone: `REV@-1`. A merge
    has no single step below (Alembic calls that walk ambiguous): its first parent, which
    takes back what depends on that parent, the merge itself, as the check of the heads
    after the downgrade confirms."""
    down = revision.down_revision
    if isinstance(down, (tuple, list)) and len(down) > 1:
        return str(down[0])
    return f"{revision.revision}@-1"


def migrate(config: Config, direction: str, target: str, what: str | None = None) -> str:
    """Run Alembic's upgrade or downgrade through the project's env.py (batch mode and all).
    With `what`, a failure is returned as text for the revision's line; without, it is an
    error (the --from setup)."""
    from alembic import command

    try:
        getattr(command, direction)(config, target)
    except Exception as error:
        if what is None:
            raise MigrationsError(f"{direction} to {target} failed: {describe(error)}") from None
        return f"{what} failed: {describe(error)}"
    return ""


def database_heads_of(scratch: Settings) -> tuple[str, ...]:
    from migrations_cli.core.database import database_heads, opened_connection

    with opened_connection(scratch) as connection:
        return database_heads(connection)


def snapshot(scratch: Settings) -> Snapshot:
    """The schema as reflection sees it, flattened to named items."""
    from sqlalchemy import inspect

    from migrations_cli.core.database import opened_connection

    with opened_connection(scratch) as connection:
        return reflect(connection, inspect(connection))


def reflect(connection: Connection, inspector: Any) -> Snapshot:
    items: Snapshot = {}
    for table in sorted(set(inspector.get_table_names()) - BOOKKEEPING_TABLES):
        items[("table", table)] = table
        for column in inspector.get_columns(table):
            items[("column", f"{table}.{column['name']}")] = (
                str(column["type"]),
                column["nullable"],
                column.get("default"),
            )
        primary = inspector.get_pk_constraint(table)
        if primary.get("constrained_columns"):
            items[("primary key", table)] = tuple(primary["constrained_columns"])
        for index in inspector.get_indexes(table):
            name = index["name"] or _columns_key(index["column_names"])
            items[("index", f"{table}.{name}")] = (
                tuple(str(column) for column in index["column_names"]),
                bool(index["unique"]),
            )
        for unique in inspector.get_unique_constraints(table):
            name = unique["name"] or _columns_key(unique["column_names"])
            items[("unique constraint", f"{table}.{name}")] = tuple(unique["column_names"])
        for foreign in inspector.get_foreign_keys(table):
            name = foreign["name"] or _columns_key(foreign["constrained_columns"])
            items[("foreign key", f"{table}.{name}")] = (
                tuple(foreign["constrained_columns"]),
                foreign["referred_table"],
                tuple(foreign["referred_columns"]),
            )
    return items


def _columns_key(columns: list[Any]) -> str:
    return f"({', '.join(str(column) for column in columns)})"


def compare(expected: Snapshot, found: Snapshot) -> str:
    """What differs, in words ("left index users.ix_users_email behind"); "" when equal.
    Parts of a table that is itself added or missing are not listed again."""
    added_tables = {name for kind, name in found.keys() - expected.keys() if kind == "table"}
    missing_tables = {name for kind, name in expected.keys() - found.keys() if kind == "table"}

    def inside(name: str, tables: set[str]) -> bool:
        return name.split(".", 1)[0] in tables

    problems = [
        f"left {kind} {name} behind"
        for kind, name in sorted(found.keys() - expected.keys())
        if kind == "table" or not inside(name, added_tables)
    ]
    problems += [
        f"removed {kind} {name}"
        for kind, name in sorted(expected.keys() - found.keys())
        if kind == "table" or not inside(name, missing_tables)
    ]
    problems += [
        f"changed {kind} {name}"
        for kind, name in sorted(expected.keys() & found.keys())
        if expected[(kind, name)] != found[(kind, name)]
    ]
    return ", ".join(problems)


def check_heads(report: Report, say: Any) -> None:
    if len(report.heads) == 1:
        say("heads  ok (one head)")
        return
    if not report.heads:
        say("heads  ok (no revisions)")
        return
    problem = f"{len(report.heads)} heads ({', '.join(report.heads)}): merge them"
    say(f"heads  FAIL {problem}")
    report.failures.append(problem)


def compare_models(context: MigrationsContext, config: Config, report: Report, say: Any) -> None:
    """The models against the scratch database at head, as `migrate check` compares them.
    After the stairway the database is at head already (upgrading to heads is a no-op);
    with --from and nothing after REV, this upgrade gets it there."""
    from migrations_cli.core.metadata import without_models
    from migrations_cli.guards.model_diff import env_differences

    if without_models(context):
        report.model_note = "MIGRATIONS_METADATA not set"
        say("models skipped: MIGRATIONS_METADATA not set")
        return
    if len(report.heads) > 1:
        report.model_note = "more than one head"
        say("models skipped (more than one head)")
        return
    from migrations_cli.core.settings import make_project_importable

    make_project_importable(context.settings)
    migrate(config, "upgrade", "heads")
    # (as `migrate check` compares: through env.py, on the scratch database)
    differences = env_differences(context, config)
    report.model_differences = [found.description for found in differences]
    if differences:
        report.models = "failed"
        count = len(differences)
        say(f"models FAIL {count} difference{'s' if count != 1 else ''} at head:")
        for found in differences:
            say(f"  {found.description}")
        report.failures.append(
            "the models differ from the migrations at head (write a migration with "
            "`migrate create MESSAGE`)"
        )
    else:
        report.models = "ok"
        say("models ok (match the schema at head)")


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Checks")(verify)
