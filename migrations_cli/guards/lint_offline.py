"""Each revision's offline SQL, statement by statement, each mapped to the line of the
revision file that wrote it; and squawk run on that SQL.

Alembic's `--sql` mode runs every revision's `upgrade()` against a buffer instead of a
database. The buffer here is a recorder: when a statement is written it looks up the call
stack for the revision file's frame, so each statement is known with the revision and the
exact line (the `op.*` call) it came from. SQL written outside a revision (the version
table, the transaction around the run) is left out. One run covers every revision, through
the project's own env.py, exactly as `migrate upgrade --sql` would write it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import MigrationsError, first_line

if TYPE_CHECKING:
    from types import TracebackType

    from migrations_cli.core.context import MigrationsContext
    from migrations_cli.guards.lint_actions import Action
    from migrations_cli.guards.revision_source import Finding, Severity


@dataclass(frozen=True)
class Statement:
    """One statement of a revision's offline SQL and the revision file's line that wrote it."""

    sql: str
    line: int


class _Recorder:
    """An output buffer for Alembic's offline mode that keeps, for each statement written
    from inside one of `paths`, that file and line."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._paths = {os.path.realpath(path): Path(path) for path in paths}
        self.statements: dict[Path, list[Statement]] = {}

    def write(self, text: str) -> int:
        sql = text.strip()
        frame = sys._getframe(1)
        while sql and frame is not None:
            path = self._paths.get(os.path.realpath(frame.f_code.co_filename))
            if path is not None:
                self.statements.setdefault(path, []).append(Statement(sql, frame.f_lineno))
                break
            frame = frame.f_back  # type: ignore[assignment]
        return len(text)

    def flush(self) -> None:
        pass

    def revision_line(self, trace: TracebackType | None) -> str:
        """` at alembic/versions/x.py:12`: the last revision line of `trace`, if any."""
        from migrations_cli.graph.revision_graph import shown_path

        found = ""
        while trace is not None:
            filename = trace.tb_frame.f_code.co_filename
            if os.path.realpath(filename) in self._paths:
                found = f" at {shown_path(filename)}:{trace.tb_lineno}"
            trace = trace.tb_next
        return found


def offline_statements(
    context: MigrationsContext, paths: Iterable[Path]
) -> dict[Path, list[Statement]]:
    """The offline PostgreSQL SQL of the revisions in `paths`, statement by statement."""
    from alembic import command
    from alembic.util import CommandError

    from migrations_cli.guards.revision_source import dialect_of

    dialect = dialect_of(context.settings.database_url)
    if dialect != "postgresql":
        raise MigrationsError(
            f"linting offline SQL needs PostgreSQL's SQL, and DATABASE_URL names "
            f"{dialect or 'no database'}: set it to a postgresql:// URL (nothing connects)"
        )
    recorder = _Recorder(paths)
    config = context.alembic_config
    config.output_buffer = recorder  # type: ignore[assignment]  # write() is all Alembic calls
    try:
        command.upgrade(config, "heads", sql=True)
    except CommandError as error:
        raise MigrationsError(f"the offline SQL could not be written: {error}") from None
    except Exception as error:
        # A revision that reads the database (op.get_bind(), an inspector) cannot run
        # offline: say which, as `migrate upgrade --sql` would fail there too.
        where = recorder.revision_line(error.__traceback__)
        raise MigrationsError(
            f"the offline SQL could not be written{where}: {type(error).__name__}: "
            f"{first_line(str(error))} (--sql and --squawk need revisions that run offline, "
            "as `migrate upgrade --sql` does; lint without them)"
        ) from error
    finally:
        config.output_buffer = None
    return recorder.statements


def offline_actions(statements: Iterable[Statement]) -> list[Action]:
    """The actions of a revision's offline SQL. Alembic runs a PostgreSQL revision in a
    transaction; autocommit_block() writes COMMIT and BEGIN around what runs outside it."""
    from migrations_cli.guards.lint_actions import SqlSyntaxError, from_sql

    in_transaction = True
    actions: list[Action] = []
    for statement in statements:
        keyword = statement.sql.rstrip(";").strip().upper()
        if keyword in ("BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK"):
            in_transaction = keyword in ("BEGIN", "START TRANSACTION")
            continue
        try:
            found = from_sql(statement.sql, statement.line, in_transaction=in_transaction)
        except SqlSyntaxError:
            continue
        actions += [_single_line(action, statement.line) for action in found]
    return actions


def _single_line(action: Action, line: int) -> Action:
    """A statement is one `op` call: its findings go on that call's line."""
    from dataclasses import replace

    return replace(action, line=line)


def require_parser() -> None:
    """Refuse --sql before any SQL is written when pglast is not installed."""
    from migrations_cli.guards.lint_actions import sql_is_parsable

    if not sql_is_parsable():
        raise MigrationsError("--sql parses SQL with pglast: pip install 'migrations-cli[sql]'")


def squawk_executable() -> str:
    """squawk, next to this Python (a virtualenv's bin/) or on PATH."""
    beside = Path(sys.executable).with_name("squawk")
    found = str(beside) if beside.is_file() else shutil.which("squawk")
    if found is None:
        raise MigrationsError(
            "--squawk needs squawk: pip install 'migrations-cli[squawk]' (squawk-cli)"
        )
    return found


def squawk_findings(
    executable: str, statements: Mapping[Path, list[Statement]]
) -> dict[Path, list[Finding]]:
    """squawk's findings on each revision's offline SQL, on the revision's own lines. Each
    revision's SQL is one file, between BEGIN and COMMIT as Alembic runs it on PostgreSQL
    (an autocommit_block() writes its own COMMIT and BEGIN inside)."""
    found: dict[Path, list[Finding]] = {path: [] for path in statements}
    with tempfile.TemporaryDirectory(prefix="migrate-squawk-") as directory:
        starts: dict[str, tuple[Path, list[tuple[int, int]]]] = {}
        for number, (path, revision_statements) in enumerate(statements.items()):
            sql_path = Path(directory, f"{number}.sql")
            lines, text = [], "BEGIN;\n\n"
            for statement in revision_statements:
                lines.append((text.count("\n"), statement.line))
                text += statement.sql + "\n\n"
            sql_path.write_text(text + "COMMIT;\n", encoding="utf-8")
            starts[str(sql_path)] = (path, lines)
        if not starts:
            return found
        reports = _run_squawk(executable, sorted(starts))
    for report in reports:
        path, lines = starts[report["file"]]
        found[path].append(_squawk_finding(report, lines))
    return found


def _run_squawk(executable: str, files: list[str]) -> list[dict[str, Any]]:
    command = [executable, "--reporter", "json", *files]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise MigrationsError(f"squawk could not run: {error}") from None
    try:
        reports = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        message = (completed.stderr or completed.stdout).strip().splitlines()
        raise MigrationsError(
            f"squawk failed (exit {completed.returncode}): {message[0] if message else ''}"
        ) from None
    return list(reports)


def _squawk_finding(report: dict[str, Any], lines: list[tuple[int, int]]) -> Finding:
    """A squawk report (0-based line in the SQL file) on the revision line that wrote it."""
    from migrations_cli.guards.revision_source import Finding

    sql_line = int(report.get("line") or 0)
    line = next(
        (revision_line for start, revision_line in reversed(lines) if start <= sql_line),
        lines[0][1] if lines else 1,
    )
    advice = report.get("help")
    message = str(report.get("message", "")) + (f" {advice}" if advice else "")
    severity: Severity = "error" if str(report.get("level", "")).lower() == "error" else "warning"
    return Finding(str(report.get("rule_name")), severity, line, message, source="squawk")
