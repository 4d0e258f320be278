"""Concurrent deploys: P processes upgrade one fresh database at once, R rounds per database.

Every instance of a rolling deploy runs `migrate upgrade` as it starts, so several processes
race for the same database. The migration lock has to make that safe: every process exits 0,
each migration runs exactly once and the database ends at head. This measures it, beside plain
`alembic upgrade head`, which has no lock of its own.

Plain `alembic` runs the project's env.py, which is ours; it takes the lock only under
`migrate`, so the alembic runs show how Alembic behaves without a lock (they are also given
MIGRATIONS_LOCK=none, to say so).

Each revision creates a table, records itself in a ledger table (in its own transaction, so
the ledger counts the applications that committed) and sleeps 50 ms to widen the race window.
On PostgreSQL a last revision builds an index with CREATE INDEX CONCURRENTLY in an
autocommit block, which a lock waiting inside the database would hang.

The row "lock connection killed mid-run" (PostgreSQL and MariaDB) kills the server session
that holds the migration lock once the first revision has committed (`pg_terminate_backend`;
MariaDB's `KILL`, which takes the migration connection the lock lives on): the holder must
stop before its next revision commits (one failed process per round, saying so), the waiters
carry on to head, and the ledger must show no revision applied twice. Its tables are created
IF NOT EXISTS: on MariaDB, whose DDL commits at once, the revision the kill cut short leaves
its table behind, and the waiter that runs it again must not fail on that.

    python bench/concurrent_upgrades.py [--rounds 20] [--processes 8] [--revisions 5]
                                        [--databases sqlite postgresql mysql]

SQLite is always measured (a new file per round). PostgreSQL and MariaDB/MySQL are measured
when MIGRATIONS_TEST_POSTGRES_URL / MIGRATIONS_TEST_MYSQL_URL name a server: a database is
created on it for each round and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from server_databases import fresh_server_database

from migrations_cli.core import output

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's console scripts sit beside its python
DATABASES = ("sqlite", "postgresql", "mysql")
SERVER_URL_VARIABLES = {
    "postgresql": "MIGRATIONS_TEST_POSTGRES_URL",
    "mysql": "MIGRATIONS_TEST_MYSQL_URL",
}
PROCESS_TIMEOUT_SECONDS = 300.0
LEDGER = "bench_ledger"
INDEX = "ix_bench_t1_id"

PYPROJECT = """\
[tool.alembic]
script_location = "%(here)s/alembic"
"""

REVISION = '''\
"""bench revision {number}"""
import time

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}
    op.execute("INSERT INTO {ledger} (revision) VALUES ('{revision}')")
    time.sleep(0.05)  # widen the window in which unlocked runs race


def downgrade() -> None:
    raise NotImplementedError
'''

LEDGER_BODY = f"""\
    op.create_table("{LEDGER}", sa.Column("revision", sa.String(32), nullable=False))
"""
TABLE_BODY = """\
    op.create_table("bench_t{number}", sa.Column("id", sa.Integer, primary_key=True))"""
IDEMPOTENT_TABLE_BODY = """\
    op.execute("CREATE TABLE IF NOT EXISTS bench_t{number} (id INTEGER PRIMARY KEY)")"""
# Committed outside the migration's transaction; waits for every older snapshot.
CONCURRENT_INDEX_BODY = f"""\
    with op.get_context().autocommit_block():
        op.create_index("{INDEX}", "bench_t1", ["id"], postgresql_concurrently=True)"""


@dataclass(frozen=True)
class Tool:
    """A way to upgrade: the console script, its arguments and the MIGRATIONS_LOCK it runs with."""

    name: str
    command: tuple[str, ...]
    lock: str
    prints_applied: bool  # `migrate` prints one "applied REV" line per revision it ran
    kill_lock: bool = False  # kill the lock holder's session once the first revision committed


TOOLS = (
    Tool("migrate upgrade (MIGRATIONS_LOCK=advisory)", ("migrate", "upgrade"), "advisory", True),
    Tool("migrate upgrade (MIGRATIONS_LOCK=table)", ("migrate", "upgrade"), "table", True),
    Tool(
        "alembic upgrade head (MIGRATIONS_LOCK=none)", ("alembic", "upgrade", "head"), "none", False
    ),
    Tool(
        "migrate upgrade (advisory, lock connection killed mid-run)",
        ("migrate", "upgrade"),
        "advisory",
        True,
        kill_lock=True,
    ),
)


@dataclass(frozen=True)
class History:
    """The revisions written into the throwaway project, oldest first."""

    revisions: tuple[str, ...]
    tables: frozenset[str]
    concurrent_index: bool

    @property
    def head(self) -> str:
        return self.revisions[-1]


@dataclass(frozen=True)
class Finished:
    """One process of a round, once it exited."""

    exit_code: int
    stderr: str


@dataclass(frozen=True)
class Round:
    seconds: float
    processes: tuple[Finished, ...]
    problems: tuple[str, ...]  # why the round is bad; empty for a good one
    applied_twice: int = 0  # revisions with two ledger rows

    @property
    def failed(self) -> tuple[Finished, ...]:
        return tuple(process for process in self.processes if process.exit_code != 0)


@dataclass
class Measurement:
    """The rounds of one tool on one database."""

    database: str
    tool: Tool
    rounds: list[Round] = field(default_factory=list)

    def row(self) -> list[str]:
        started = sum(len(round_.processes) for round_ in self.rounds)
        failed = sum(len(round_.failed) for round_ in self.rounds)
        bad = sum(1 for round_ in self.rounds if round_.problems)
        twice = sum(round_.applied_twice for round_ in self.rounds)
        median = statistics.median(round_.seconds for round_ in self.rounds)
        return [
            self.database,
            self.tool.name,
            str(len(self.rounds)),
            str(started),
            str(failed),
            str(bad),
            str(twice),
            f"{median:.2f}",
        ]

    def notes(self, limit: int = 3) -> list[str]:
        """The most common errors of failed processes and reasons for bad rounds."""
        errors = Counter(error_line(p.stderr) for r in self.rounds for p in r.failed)
        problems = Counter(problem for r in self.rounds for problem in r.problems)
        return [
            *(f"{count}x process: {text}" for text, count in errors.most_common(limit)),
            *(f"{count}x round: {text}" for text, count in problems.most_common(limit)),
        ]


def write_project(
    root: Path, revision_count: int, dialect: str, idempotent: bool = False
) -> History:
    """A project plain `alembic` and `migrate` both run: the repository's env.py and template,
    a pyproject.toml naming the script location, and a linear history."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO_ROOT / "alembic" / name, root / "alembic" / name)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".env").write_text("# settings arrive in the environment of each process\n")
    table_body = IDEMPOTENT_TABLE_BODY if idempotent else TABLE_BODY
    bodies = [table_body.format(number=number) for number in range(1, revision_count + 1)]
    bodies[0] = LEDGER_BODY + bodies[0]
    if dialect == "postgresql":
        bodies.append(CONCURRENT_INDEX_BODY)
    revisions = [f"{number:04d}bench" for number in range(1, len(bodies) + 1)]
    for number, (revision, body) in enumerate(zip(revisions, bodies, strict=True), start=1):
        source = REVISION.format(
            number=number,
            revision=revision,
            down=revisions[number - 2] if number > 1 else None,
            body=body,
            ledger=LEDGER,
        )
        (versions / f"{revision}_bench_{number}.py").write_text(source)
    tables = {f"bench_t{number}" for number in range(1, revision_count + 1)} | {LEDGER}
    return History(tuple(revisions), frozenset(tables), dialect == "postgresql")


@contextmanager
def fresh_database(dialect: str, round_dir: Path) -> Iterator[str]:
    """The URL of an empty database for one round: a new SQLite file, or a database created
    on the server for the round and dropped after it."""
    if dialect == "sqlite":
        round_dir.mkdir(parents=True)
        yield f"sqlite:///{round_dir / 'bench.sqlite'}"
        return
    with fresh_server_database(os.environ[SERVER_URL_VARIABLES[dialect]]) as url:
        yield url


def process_environment(database_url: str, lock: str) -> dict[str, str]:
    """This environment without the caller's own settings, plus the round's."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("MIGRATIONS_")
    }
    environment.update(DATABASE_URL=database_url, MIGRATIONS_LOCK=lock, NO_COLOR="1")
    return environment


def run_processes(
    tool: Tool, project: Path, database_url: str, count: int, history: History
) -> tuple[float, tuple[Finished, ...]]:
    """Start `count` processes back to back, wait for all; the round's wall time with them."""
    command = [str(BIN / tool.command[0]), *tool.command[1:]]
    environment = process_environment(database_url, tool.lock)
    started = time.monotonic()
    running = [
        subprocess.Popen(
            command,
            cwd=project,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    if tool.kill_lock:
        kill_lock_holder(database_url, history.revisions[0])
    deadline = started + PROCESS_TIMEOUT_SECONDS
    finished = tuple(wait(process, deadline) for process in running)
    return time.monotonic() - started, finished


def kill_lock_holder(database_url: str, first: str) -> None:
    """Once `first` has committed, kill the server session holding the migration lock: the
    lock's own connection on PostgreSQL, the migration connection on MariaDB."""
    from sqlalchemy import create_engine, exc, text

    from migrations_cli.running.locking import LOCK_NAME, _PostgreSQLAdvisoryLock

    postgresql = database_url.startswith("postgresql")
    key = _PostgreSQLAdvisoryLock.KEY
    holder_sql = (
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid::bigint = :high AND objid::bigint = :low"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        if postgresql
        else "SELECT IS_USED_LOCK(CONCAT(:name, '.', DATABASE()))"
    )
    parameters = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF, "name": LOCK_NAME}
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
    try:
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                try:
                    version = connection.execute(
                        text("SELECT version_num FROM alembic_version")
                    ).scalar()
                except exc.DBAPIError:  # no version table yet
                    version = None
                holder = connection.execute(text(holder_sql), parameters).scalar()
                if version == first and holder is not None:
                    kill = "SELECT pg_terminate_backend(:pid)" if postgresql else f"KILL {holder}"
                    connection.execute(text(kill), {"pid": holder})
                    return
                time.sleep(0.005)
    finally:
        engine.dispose()


def wait(process: subprocess.Popen[str], deadline: float) -> Finished:
    try:
        _, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        stderr += f"\nerror: killed after {PROCESS_TIMEOUT_SECONDS:g}s"
    return Finished(process.returncode, stderr)


def applied_problems(history: History, processes: Sequence[Finished]) -> list[str]:
    """What the "applied" lines of `migrate` say went wrong: a revision run twice or never."""
    applied = Counter(
        line.split()[1]
        for process in processes
        for line in process.stderr.splitlines()
        if line.strip().startswith("applied ")
    )
    twice = sorted(revision for revision, count in applied.items() if count > 1)
    never = sorted(set(history.revisions) - set(applied))
    return [
        *([f"applied twice per output: {', '.join(twice)}"] if twice else []),
        *([f"never reported applied: {', '.join(never)}"] if never else []),
    ]


def database_problems(history: History, database_url: str) -> tuple[list[str], list[str]]:
    """What the database says went wrong (not at head, tables missing, a ledger entry twice),
    and the revisions applied twice."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            twice = applied_twice(connection) if LEDGER in tables else []
            problems = [
                *schema_problems(connection, history, tables),
                *version_problems(connection, history, tables),
                *([f"applied twice per database: {', '.join(twice)}"] if twice else []),
            ]
            return problems, twice
    finally:
        engine.dispose()


def schema_problems(connection: Connection, history: History, tables: set[str]) -> list[str]:
    from sqlalchemy import inspect

    missing = sorted(history.tables - tables)
    problems = [f"missing tables: {', '.join(missing)}"] if missing else []
    if history.concurrent_index and "bench_t1" in tables:
        indexes = {index["name"] for index in inspect(connection).get_indexes("bench_t1")}
        problems += [] if INDEX in indexes else [f"missing index {INDEX}"]
    return problems


def version_problems(connection: Connection, history: History, tables: set[str]) -> list[str]:
    from sqlalchemy import text

    heads: list[str] = []
    if "alembic_version" in tables:
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        heads = sorted(version for (version,) in rows)
    return [] if heads == [history.head] else [f"not at head: at {', '.join(heads) or 'base'}"]


def applied_twice(connection: Connection) -> list[str]:
    """Revisions whose migration committed more than once, by the ledger rows they wrote."""
    from sqlalchemy import text

    rows = connection.execute(text(f"SELECT revision, COUNT(*) FROM {LEDGER} GROUP BY revision"))
    return sorted(revision for revision, count in rows if count > 1)


def run_round(
    tool: Tool, dialect: str, project: Path, history: History, processes: int, round_dir: Path
) -> Round:
    with fresh_database(dialect, round_dir) as database_url:
        seconds, finished = run_processes(tool, project, database_url, processes, history)
        problems, twice = database_problems(history, database_url)
    if tool.prints_applied:
        problems.extend(applied_problems(history, finished))
    return Round(seconds, finished, tuple(problems), len(twice))


def measure(
    dialect: str, tool: Tool, rounds: int, processes: int, revisions: int, workspace: Path
) -> Measurement:
    """`rounds` rounds of `processes` at once, each round on a fresh database."""
    base = workspace / f"{dialect}-{tool.lock}{'-killed' if tool.kill_lock else ''}"
    history = write_project(base / "project", revisions, dialect, idempotent=tool.kill_lock)
    measurement = Measurement(dialect, tool)
    for number in range(1, rounds + 1):
        round_ = run_round(tool, dialect, base / "project", history, processes, base / str(number))
        measurement.rounds.append(round_)
        progress(
            f"{dialect} | {tool.name} | round {number}/{rounds}: {len(round_.failed)} "
            f"failed, {'bad' if round_.problems else 'ok'}, {round_.seconds:.2f}s"
        )
    return measurement


def error_line(stderr: str) -> str:
    """The line of a failed process's stderr that says what failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    pattern = re.compile(r"^(error:|FAILED:|[\w.]*(Error|Exception)\b)")
    chosen = next((line for line in reversed(lines) if pattern.match(line)), None)
    chosen = chosen or (lines[-1] if lines else "(no output)")
    return chosen if len(chosen) <= 200 else chosen[:197] + "..."


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def chosen_databases(requested: Sequence[str] | None) -> list[str]:
    """The databases asked for (all by default); a server asked for by name must be set."""
    databases = list(requested or DATABASES)
    available = []
    for dialect in databases:
        variable = SERVER_URL_VARIABLES.get(dialect)
        if variable and not os.environ.get(variable):
            if requested:
                raise SystemExit(f"error: --databases {dialect} needs {variable} set")
            progress(f"skipping {dialect}: {variable} is not set")
            continue
        available.append(dialect)
    return available


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=20)
    parser.add_argument("--processes", type=positive, default=8)
    parser.add_argument("--revisions", type=positive, default=5)
    parser.add_argument("--databases", nargs="+", choices=DATABASES)
    return parser.parse_args(argv)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def report(measurements: Sequence[Measurement]) -> None:
    headers = [
        "database",
        "tool",
        "rounds",
        "processes",
        "failed processes",
        "bad rounds",
        "revisions applied twice",
        "median round s",
    ]
    for line in output.table(headers, (m.row() for m in measurements)):
        print(line)
    print(
        "\nbad round: the database did not end at head, a table or index is missing, or a "
        "migration was applied twice.\nplain alembic runs our env.py, which takes the migration "
        "lock only under `migrate`: its runs show Alembic without a lock."
    )
    notes = [(m, m.notes()) for m in measurements]
    for measurement, lines in notes:
        if lines:
            print(f"\n{measurement.database} | {measurement.tool.name}:")
            print("\n".join(f"  {line}" for line in lines))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    databases = chosen_databases(arguments.databases)
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as workspace:
        measurements = [
            measure(
                dialect,
                tool,
                arguments.rounds,
                arguments.processes,
                arguments.revisions,
                Path(workspace),
            )
            for dialect in databases
            for tool in TOOLS
            if not (tool.kill_lock and dialect == "sqlite")  # (a file lock: no connection)
        ]
    report(measurements)
    return 0


if __name__ == "__main__":
    sys.exit(main())
