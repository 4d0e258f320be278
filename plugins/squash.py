"""`migrate squash REV`: the revisions up to REV become one proven baseline revision.

The baseline keeps REV's id, so a database at REV or past it has nothing to do; its
upgrade() is what Alembic's autogenerate renders from the schema the old history builds on a
scratch database. Before anything is written, the baseline is replayed on the emptied scratch
database and its schema compared in full with the old history's; any difference aborts.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import complete_revision
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError, SettingsError
from migrations_cli.guards.scratch import ScratchOption, configured_scratch_url, scratch_database
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    import pluggy
    from alembic.script import Script

    from migrations_cli.core.settings import Settings
    from migrations_cli.guards.schema_compare import Schema


def squash(
    ctx: typer.Context,
    revision: Annotated[
        str,
        typer.Argument(
            help="The newest revision to squash: it and every revision below it become one "
            "baseline with its id.",
            autocompletion=complete_revision,
            show_default=False,
        ),
    ],
    scratch_url: ScratchOption = None,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            help="Move the replaced revision files into DIR (outside the versions folder) "
            "instead of deleting them.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the baseline and the proof; write nothing."),
    ] = False,
) -> None:
    """Replace REV and every revision below it by one baseline revision, proven on a
    scratch database to build the same schema."""
    from migrations_cli.graph.squashing import baseline_source, data_operations, revisions_to_squash

    context = get_context(ctx)
    context.alembic_config  # noqa: B018 - raises the usual "folder does not exist" error
    replaced = revisions_to_squash(context.script, revision)
    target = replaced[-1]
    folders = {Path(found.path).resolve().parent for found in replaced}
    if archive is not None:
        archive = (context.settings.project_dir / archive).resolve()
        if any(archive == folder or folder in archive.parents for folder in folders):
            raise SettingsError(
                f"--archive {archive} is inside the versions folder: Alembic would still load "
                "the replaced revisions from there"
            )
    data = data_operations(replaced)
    configured = scratch_url or configured_scratch_url(context.settings)
    with scratch_database(context.settings, configured, "squash") as scratch:
        hook = context.plugin_manager.hook
        expected, upgrade_body, downgrade_body, dialect = replay_and_render(scratch, hook, target)
        source = baseline_source(target, replaced, upgrade_body, downgrade_body, data, dialect)
        where = scratch.masked_url() if configured else "a temporary SQLite database"
        output.info(f"Replayed {len(replaced)} revisions up to {target.revision} on {where}")
        problems = prove(scratch, hook, target, source, expected)
    if dry_run:
        output.result(source)
    if problems:
        output.result(f"proof FAILED: the baseline differs from the old history ({len(problems)}):")
        for problem in problems:
            output.result(f"  {problem}")
        raise MigrationsError("squash aborted: nothing was written")
    output.result(
        f"proof ok: the baseline builds the same schema as the {len(replaced)} revisions "
        "(tables, columns, types, defaults, indexes, constraints), and its downgrade() drops it"
    )
    if data:
        output.result(
            f"review: {len(data)} non-schema statement{'s' if len(data) != 1 else ''} of the old "
            "revisions listed in the baseline's REVIEW block (not run by it)"
        )
    if dry_run:
        output.result("dry run: nothing written")
        return
    write(target, replaced, source, archive)


def replay_and_render(
    scratch: Settings, hook: pluggy.HookRelay, target: Script
) -> tuple[Schema, str, str, str]:
    """The old history's schema at `target` (reflected from the scratch database), and the
    upgrade() and downgrade() bodies that build and drop it, rendered against the scratch
    database once emptied."""
    from migrations_cli.core.database import opened_connection
    from migrations_cli.graph.squashing import render_operations
    from migrations_cli.guards.schema_compare import reflect_schema
    from migrations_cli.guards.scratch import replay, scratch_config, wipe

    expected = replay(scratch_config(scratch, hook), scratch, (target.revision,))
    with opened_connection(scratch) as connection:
        to_render = reflect_schema(connection)  # a copy render_operations may adjust
        dialect = connection.dialect.name
    wipe(scratch)
    with opened_connection(scratch) as connection:
        upgrade_body, downgrade_body = render_operations(connection, to_render)
    return expected, upgrade_body, downgrade_body, dialect


def prove(
    scratch: Settings, hook: pluggy.HookRelay, target: Script, source: str, expected: Schema
) -> list[str]:
    """The baseline, alone in a versions folder of its own, upgraded on the (empty) scratch
    database and compared with the old history's schema; then downgraded, which must leave
    nothing behind. Each difference in words; none when proven."""
    from alembic import command

    from migrations_cli.core.database import opened_connection
    from migrations_cli.core.errors import describe
    from migrations_cli.guards.schema_compare import reflect_schema, schema_differences
    from migrations_cli.guards.scratch import replay, scratch_config, wipe

    with tempfile.TemporaryDirectory(prefix="migrate-squash-") as folder:
        (Path(folder) / Path(target.path).name).write_text(source, encoding="utf-8")
        config = scratch_config(scratch, hook, version_location=Path(folder))
        replay(config, scratch, ("heads",))
        with opened_connection(scratch) as connection:
            problems = [
                difference.description
                for difference in schema_differences(
                    expected, connection, expected_name="the old history", found_name="the baseline"
                )
            ]
        try:
            command.downgrade(config, "base")
        except Exception as error:
            return [*problems, f"the baseline's downgrade() failed: {describe(error)}"]
    with opened_connection(scratch) as connection:
        left = reflect_schema(connection)
    wipe(scratch)  # (the version table and the checksums': empty, as it was given)
    leftovers = [*left.metadata.tables, *left.enums, *left.sequences]
    if leftovers:
        problems.append(f"the baseline's downgrade() left {', '.join(sorted(leftovers))} behind")
    return problems


def write(target: Script, replaced: list[Script], source: str, archive: Path | None) -> None:
    """The baseline over REV's file; the other replaced files deleted or archived."""
    if archive is not None:
        archive.mkdir(parents=True, exist_ok=True)
    for found in replaced:
        path = Path(found.path)
        if archive is not None:
            shutil.copy2(path, archive / path.name)
        if found is not target:
            path.unlink()
    Path(target.path).write_text(source, encoding="utf-8")
    where = f"moved to {archive}" if archive is not None else "removed (git keeps them)"
    output.result(
        f"Wrote baseline {target.revision} ({Path(target.path).name}); "
        f"{len(replaced) - 1} revision files {where}."
    )
    output.info(
        f"Databases at {target.revision} or later are untouched. A database below it must be "
        f"upgraded to {target.revision} with a release from before this squash."
    )


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Migrate")(squash)
