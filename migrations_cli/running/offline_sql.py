"""Offline SQL (`--sql`) for `upgrade` and `downgrade`: the options, their checks, and the
script written out, so both directions offer and write SQL the same way."""

from __future__ import annotations

import io
import re
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from migrations_cli.core import output
from migrations_cli.core.errors import MigrationsError

if TYPE_CHECKING:
    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.hookspecs import Direction

SqlOption = Annotated[
    bool,
    typer.Option(
        "--sql",
        help="Print the SQL instead of running it (offline: the database is not contacted). "
        "REVISION may be a range FROM:TO.",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="With --sql: write the SQL to FILE instead of stdout.",
        metavar="FILE",
        dir_okay=False,
    ),
]

# In --sql mode Alembic marks each revision with a comment such as
# "-- Running upgrade dcd397241ba3 -> 2ce5f4470956".
_REVISION_COMMENT = re.compile(r"^-- Running (?:upgrade|downgrade) ", re.M)


def check_sql_options(
    revision: str, sql: bool, output_file: Path | None, dry_run: bool = False
) -> None:
    """Refuse combinations that would do something else than asked: -o without --sql would
    migrate the database when a file of SQL was wanted."""
    if dry_run and sql:
        raise typer.BadParameter("--dry-run lists revisions, --sql prints SQL: pick one")
    if output_file is not None and not sql:
        raise typer.BadParameter("only with --sql (it receives the SQL)", param_hint="'--output'")
    if ":" in revision and not sql:
        raise typer.BadParameter("a range FROM:TO needs --sql", param_hint="REVISION")
    start, colon, end = revision.partition(":")
    if colon and not (start and end):
        raise typer.BadParameter(
            f"{revision!r} is not FROM:TO, e.g. base:head", param_hint="REVISION"
        )


def write_offline_sql(
    context: MigrationsContext, direction: Direction, revision: str, destination: Path | None
) -> None:
    """Run Alembic's --sql mode and write the SQL to `destination` or stdout.

    The SQL is collected first and written only when Alembic succeeded, so a failure (an
    unknown revision, a batch operation that needs a live SQLite table) leaves no half
    script behind. Nothing else reaches stdout or the file; messages go to stderr.
    """
    from alembic import command

    config = context.alembic_config
    buffer = io.StringIO()
    config.output_buffer = buffer
    try:
        with _timeouts_of_own_env_py(context):
            getattr(command, direction)(config, revision, sql=True)
    finally:
        config.output_buffer = None
    script = _masked(buffer.getvalue(), context.settings.secrets())
    _write(script, destination)
    _report(script, direction, revision, destination)


def _timeouts_of_own_env_py(context: MigrationsContext) -> AbstractContextManager[object]:
    """Each revision's timeouts written into the script of a project's own env.py as well:
    its `context.configure()` gets them added (migrations-cli's env.py adds them itself)."""
    from migrations_cli.core.env_py import is_projects_own_env_py
    from migrations_cli.running.configure_options import adjusted_configure
    from migrations_cli.running.ddl_timeouts import RevisionSteps, configured_timeouts

    if not is_projects_own_env_py(context.script):
        return nullcontext()
    timeouts = configured_timeouts(context.database)
    return adjusted_configure({}, steps=lambda steps: RevisionSteps(steps, timeouts))


def _masked(script: str, secrets: frozenset[str]) -> str:
    """The SQL with the database password masked, as everything printed is. When a migration
    embeds the password, a warning says so: the masked script will not run as it stands."""
    if not secrets:
        return script
    masked = output.Redactor(secrets).text(script)
    if masked != script:
        output.warn(
            "the SQL contains the database password, replaced by ***: review those lines "
            "before running it"
        )
    return masked


def _write(script: str, destination: Path | None) -> None:
    if destination is None:
        # Not output.result: the SQL is masked like any text that may hold a secret.
        output.echo(script, newline=False)
        return
    try:
        destination.write_text(script, encoding="utf-8")
    except OSError as error:
        raise MigrationsError(f"cannot write {destination}: {error.strerror}") from None


def _report(script: str, direction: Direction, revision: str, destination: Path | None) -> None:
    """One line on stderr: how many revisions the SQL covers, and that none of them ran."""
    start, _, end = revision.rpartition(":")
    steps = f"{direction} {start or 'base'} -> {end}"
    count = len(_REVISION_COMMENT.findall(script))
    if count == 0:
        output.info(f"No revisions to run ({steps}): the SQL is empty.")
        return
    where = f" written to {destination}" if destination is not None else ""
    plural = "s" if count != 1 else ""
    output.info(
        f"SQL for {count} revision{plural} ({steps}){where}; nothing was run on the database."
    )
