"""Start-up, revision graph, upgrade and memory: `migrate` beside plain `alembic` in one run.

Every comparison runs in throwaway projects under a temporary folder, which both tools read:
the repository's env.py and script.py.mako, a pyproject.toml [tool.alembic] for `alembic`, a
.env for both. Each command runs --repeat times, the two tools taking turns; the table shows
the medians of wall time and their ratio, migrate / alembic (lower is better), against the
target, and the same ratio for CPU time (user + system), which other load disturbs less.

1. Start-up, on the repository's example project (2 revisions): `--help` and `heads`.
   Target: migrate no slower (ratio <= 1).
2. Revision graph: synthetic histories (bench/histories.py) of each --sizes, linear and
   with branches and merges.
   First run, as CI, a Docker build or a new clone sees it: `heads`, `history` and `current`
   of both tools, each run in a fresh copy of the history (no bytecode, no
   .migrations-cache/), the runs taking turns in an order that rotates each round.
   Target: no slower than Alembic, and no more memory (ratio <= 1, rows of section 4).
   Warm: `heads`, `history`, `current` of both, and `migrate status` beside `alembic
   history` + `alembic current` (Alembic has no status). Each tool gets its own copy of the
   history (the same files), so that neither warms the other's bytecode or cache. Target:
   5x faster (ratio <= 0.2); heads and history 10x faster (ratio <= 0.1) from 3,000
   revisions on. The database is stamped at the heads, so `current` looks its revisions up.
   The revision ids both print (heads, history, current) must be the same: a difference is
   printed loudly (a revision Alembic marks "(effective head)", a head only because a later
   revision names it in depends_on, is reported on its own line when `migrate` leaves it
   out).
3. `upgrade head` of --upgrade-revisions small revisions (a table each), on a fresh database
   per run: SQLite always, PostgreSQL when MIGRATIONS_TEST_POSTGRES_URL names a server.
   `migrate upgrade` takes the migration lock (MIGRATIONS_LOCK=advisory by default); it is
   also run with MIGRATIONS_LOCK=none so the lock's own cost shows. Plain `alembic` runs this
   project's env.py as a user's would; outside `migrate` that env.py takes no lock. Both
   tools are also run as in a fresh clone: no bytecode of the revisions (both compile every
   file) and no .migrations-cache/ (`migrate` tokenizes each file it applies), in a copy of
   the project of their own. All runs take turns in an order that rotates each round. A
   last row compares `alembic` with a second run of itself: the ratio noise alone gives.
   Target: at most 5% slower (ratio <= 1.05). Wall times on a shared machine move by more
   than that between runs: bench/upgrade_instructions.py counts instructions instead, and
   --sqlite-dir on a RAM disk (/dev/shm) takes the disk's sync latency out of the SQLite runs.
4. Peak RSS (from the runs above, per process through os.wait4): `heads` on the example
   project, the first runs of every size, and warm `heads` at the largest size. Target: no
   more than alembic (ratio <= 1).

    python bench/revision_graph.py [--repeat 5] [--sizes 1000,5000] [--upgrade-revisions 1000]
                                   [--quick] [--no-bytecode] [--comparisons startup,graph,upgrade]
                                   [--sqlite-dir DIR]

The children run with bytecode caching on, as on a developer's machine
(PYTHONDONTWRITEBYTECODE is removed from their environment; --no-bytecode sets it instead).
The run takes 10 to 15 minutes with the defaults and PostgreSQL; wall times are only worth
reading on an otherwise idle machine, so the highest load average seen is printed, with a
warning above nproc. Exit status 1 when a command failed or the tools disagreed on a
revision id; the targets themselves only show as "NO".
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from histories import GeneratedRevision, write_history
from server_databases import fresh_server_database

from migrations_cli.core import output
from migrations_cli.graph.cache_files import CACHE_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's console scripts sit beside its python
POSTGRES_VARIABLE = "MIGRATIONS_TEST_POSTGRES_URL"
# The revision cache trusts a file's stat only when the file changed this long before the
# cache checked it (migrations_cli/graph/cache_files.py SETTLE_NS is 3 s); so does the graph
# snapshot.
SETTLE_SECONDS = 3.5
COMPARISONS = ("startup", "graph", "upgrade")
QUICK_SIZES = (100, 300)
QUICK_UPGRADE_REVISIONS = 50
QUICK_REPEAT = 2
SHAPES: dict[str, dict[str, int]] = {
    "linear": {},
    "branched": {"branches": 10, "merges": 6, "labels": 3, "depends_on": 20},
}
STARTUP_TARGET = 1.0
GRAPH_TARGET = 0.2
# Warm heads and history from this many revisions on: 10x faster than Alembic.
FAST_GRAPH_TARGET = 0.1
FAST_GRAPH_FROM = 3000
FIRST_RUN_TARGET = 1.0
UPGRADE_TARGET = 1.05
RSS_TARGET = 1.0

PYPROJECT = """\
[tool.alembic]
script_location = "%(here)s/alembic"
prepend_sys_path = ["%(here)s"]
"""
REVISION_ID = re.compile(r"^[0-9a-f]{12}$")
EFFECTIVE_HEAD = "(effective head)"
ALEMBIC_HISTORY_TARGET = re.compile(r"-> ([0-9a-f]{12})\b")


@dataclass(frozen=True)
class Sample:
    """One finished process."""

    seconds: float
    cpu_seconds: float  # user + system
    max_rss_kib: int
    exit_code: int
    stdout: str
    stderr: str

    def __add__(self, other: Sample) -> Sample:
        """Two processes run one after the other, as one."""
        return Sample(
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
            max(self.max_rss_kib, other.max_rss_kib),
            max(self.exit_code, other.exit_code),
            self.stdout + other.stdout,
            self.stderr + other.stderr,
        )


@dataclass(frozen=True)
class Row:
    """One line of a table: each tool's runs, and the ratio migrate / alembic not to exceed.
    `memory`: the row compares peak RSS instead of time."""

    command: str
    n: str
    migrate: Sequence[Sample]
    alembic: Sequence[Sample]
    target: float | None
    memory: bool = False

    def cells(self) -> list[str]:
        measure = _rss if self.memory else _seconds
        ratio = _ratio(self.migrate, self.alembic, measure)
        met = "-" if self.target is None or ratio is None else _met(ratio <= self.target)
        cpu_ratio = None if self.memory else _ratio(self.migrate, self.alembic, _cpu)
        return [
            self.command,
            self.n,
            self._value(self.migrate, measure),
            self._value(self.alembic, measure),
            _format_ratio(ratio),
            "-" if self.target is None else f"<= {self.target:.2f}",
            met,
            _format_ratio(cpu_ratio),
        ]

    def _value(self, samples: Sequence[Sample], measure: Callable[[Sample], float]) -> str:
        if not samples:
            return "-"
        median = statistics.median(measure(sample) for sample in samples)
        return f"{median / 1024:.1f} MiB" if self.memory else f"{median:.3f}"


def _seconds(sample: Sample) -> float:
    return sample.seconds


def _cpu(sample: Sample) -> float:
    return sample.cpu_seconds


def _rss(sample: Sample) -> float:
    return float(sample.max_rss_kib)


def _ratio(
    migrate: Sequence[Sample], alembic: Sequence[Sample], measure: Callable[[Sample], float]
) -> float | None:
    if not migrate or not alembic:
        return None
    return statistics.median(map(measure, migrate)) / statistics.median(map(measure, alembic))


def _format_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _met(met: bool) -> str:
    return "yes" if met else "NO"


@dataclass
class Problems:
    """Failed commands and disagreements between the tools: printed as they happen and
    again at the end, where they make the exit status 1."""

    found: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.found.append(text)
        progress(f"!!! {text}")

    def check_exit(self, what: str, sample: Sample) -> None:
        if sample.exit_code != 0:
            last = (sample.stderr.strip().splitlines() or ["(no output)"])[-1]
            self.add(f"{what} exited {sample.exit_code}: {last}")

    def check_same(self, what: str, answers: Mapping[str, set[str]]) -> None:
        """Every answer names the same revision ids."""
        distinct = {frozenset(ids) for ids in answers.values()}
        if len(distinct) > 1:
            parts = "; ".join(f"{name}: {_ids(ids)}" for name, ids in answers.items())
            self.add(f"MISMATCH in {what}: {parts}")


def _ids(ids: set[str], shown: int = 6) -> str:
    listed = sorted(ids)
    more = f" (+{len(listed) - shown} more)" if len(listed) > shown else ""
    return f"{len(listed)} ids " + ", ".join(listed[:shown]) + more


# --- processes ---------------------------------------------------------------------------


def run(
    command: Sequence[str], cwd: Path, extra_environment: Mapping[str, str] | None = None
) -> Sample:
    """Run one console script of the venv to its end: its wall time, and its own peak RSS
    (os.wait4 reports the rusage of that one child, where RUSAGE_CHILDREN keeps a maximum
    over every child so far)."""
    environment = child_environment(extra_environment or {})
    executable = [str(BIN / command[0]), *command[1:]]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            executable,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return Sample(
            seconds,
            usage.ru_utime + usage.ru_stime,
            int(usage.ru_maxrss),  # KiB on Linux
            process.returncode,
            stdout.read().decode(errors="replace"),
            stderr.read().decode(errors="replace"),
        )


# What every child gets on top of the rest: PYTHONDONTWRITEBYTECODE under --no-bytecode.
CHILD_OVERRIDES: dict[str, str] = {}


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without the caller's settings for the tool, with bytecode caching
    as users have it (unless --no-bytecode), plus `extra`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
        and not key.startswith("MIGRATIONS_")
    }
    environment.update(NO_COLOR="1", **CHILD_OVERRIDES, **extra)
    return environment


# The highest 1-minute load average seen at a progress line: other work on the machine.
HIGHEST_LOAD = [0.0]


def progress(text: str) -> None:
    HIGHEST_LOAD[0] = max(HIGHEST_LOAD[0], os.getloadavg()[0])
    print(text, file=sys.stderr, flush=True)


def settle(written_at: float) -> None:
    """Wait until the files written at `written_at` are old enough for the cache to trust."""
    time.sleep(max(0.0, written_at + SETTLE_SECONDS - time.monotonic()))


# --- projects ----------------------------------------------------------------------------


def base_project(root: Path, database_url: str, *, models: bool = False) -> Path:
    """A project both tools read: our env.py and template, pyproject.toml, .env."""
    (root / "alembic" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO_ROOT / "alembic" / name, root / "alembic" / name)
    (root / "pyproject.toml").write_text(PYPROJECT)
    env = f"DATABASE_URL={database_url}\n"
    if models:
        env += "MIGRATIONS_METADATA=app.models:Base.metadata\n"
    (root / ".env").write_text(env)
    return root


def example_project(root: Path) -> Path:
    """The repository's own example: app/ and its two revisions."""
    base_project(root, "sqlite:///app.db", models=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "app", root / "app", ignore=ignore)
    for path in (REPO_ROOT / "alembic" / "versions").glob("*.py"):
        shutil.copy(path, root / "alembic" / "versions" / path.name)
    return root


def history_project(root: Path, n: int, shape: str) -> list[GeneratedRevision]:
    """A project with a synthetic history of `n` revisions, and a SQLite database stamped
    at its heads."""
    base_project(root, "sqlite:///graph.sqlite")
    revisions = write_history(root / "alembic" / "versions", n, **SHAPES[shape])
    stamp(root / "graph.sqlite", expected_heads(revisions))
    return revisions


def expected_heads(revisions: Sequence[GeneratedRevision]) -> set[str]:
    """The heads as `alembic stamp heads` writes them and `alembic heads` marks "(head)":
    revisions no other one names as down_revision or in depends_on."""
    named: set[str] = set()
    for revision in revisions:
        down = revision.down_revision
        named.update((down,) if isinstance(down, str) else down or ())
        named.update(revision.depends_on)
    return {revision.revision for revision in revisions} - named


def stamp(path: Path, heads: set[str]) -> None:
    """Alembic's version table holding `heads`, as `alembic stamp heads` leaves it (written here
    so that neither tool runs before its first, cold run)."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(h,) for h in heads])
    connection.close()


@contextmanager
def fresh_database(dialect: str, folder: Path) -> Iterator[str]:
    """An empty database for one run: a new SQLite file, or a database created on the
    PostgreSQL server and dropped afterwards (as tests/conftest.py does)."""
    if dialect == "sqlite":
        run_folder = folder / uuid.uuid4().hex[:12]
        run_folder.mkdir(parents=True)
        try:
            yield f"sqlite:///{run_folder / 'bench.sqlite'}"
        finally:
            shutil.rmtree(run_folder, ignore_errors=True)
        return
    with fresh_server_database(os.environ[POSTGRES_VARIABLE]) as url:
        yield url


def database_versions(url: str) -> set[str]:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        if "alembic_version" not in inspect(engine).get_table_names():
            return set()
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {version for (version,) in rows}
    finally:
        engine.dispose()


# --- reading answers ---------------------------------------------------------------------


def leading_ids(text: str) -> set[str]:
    """The revision ids that start lines: `heads` and `current` of both tools, and the rows
    of `migrate history`."""
    words = (line.split() for line in text.splitlines())
    return {first[0] for first in words if first and REVISION_ID.match(first[0])}


def effective_heads(text: str) -> set[str]:
    """The lines `alembic heads` and `alembic current` mark "(effective head)": a revision
    that is a head only because the one that follows it names it in depends_on."""
    return leading_ids("\n".join(line for line in text.splitlines() if EFFECTIVE_HEAD in line))


def alembic_history_ids(text: str) -> set[str]:
    """Every revision of `alembic history`: "down -> revision (labels), message" lines."""
    return set(ALEMBIC_HISTORY_TARGET.findall(text))


# --- 1. start-up -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One command under both tools; either side may be missing."""

    label: str
    migrate: tuple[str, ...] | None
    alembic: tuple[str, ...] | None


@dataclass
class Runs:
    """The samples of each Pair, per tool, in run order."""

    migrate: dict[str, list[Sample]] = field(default_factory=dict)
    alembic: dict[str, list[Sample]] = field(default_factory=dict)

    def of(self, tool: str, label: str) -> list[Sample]:
        samples: dict[str, list[Sample]] = getattr(self, tool)
        return samples.get(label, [])


def measure(
    pairs: Sequence[Pair],
    migrate_project: Path,
    alembic_project: Path,
    repeat: int,
    problems: Problems,
    what: str,
) -> Runs:
    """Every pair `repeat` times, the tools taking turns, after one untimed run of each
    command (so both start with the same warm file cache, bytecode and revision cache)."""
    runs = Runs()
    for number in range(repeat + 1):
        for pair in pairs:
            for tool, arguments, project in (
                ("migrate", pair.migrate, migrate_project),
                ("alembic", pair.alembic, alembic_project),
            ):
                if arguments is None:
                    continue
                sample = run((tool, *arguments), project)
                problems.check_exit(f"{what}: {tool} {' '.join(arguments)}", sample)
                if number:  # the first round only warms up
                    getattr(runs, tool).setdefault(pair.label, []).append(sample)
        if number:
            progress(f"{what}: round {number}/{repeat}")
    return runs


def startup(workspace: Path, repeat: int, problems: Problems) -> tuple[list[Row], Row]:
    """Rows for --help and heads on the example project, and the RSS row of its heads."""
    project = example_project(workspace / "example")
    settle(time.monotonic())
    pairs = [
        Pair("--help", ("--help",), ("--help",)),
        Pair("heads", ("heads",), ("heads",)),
    ]
    runs = measure(pairs, project, project, repeat, problems, "start-up")
    check_heads(runs, "example project", problems)
    rows = [
        Row(
            pair.label,
            "2",
            runs.of("migrate", pair.label),
            runs.of("alembic", pair.label),
            STARTUP_TARGET,
        )
        for pair in pairs
    ]
    rss = Row(
        "heads (example project)",
        "2",
        runs.of("migrate", "heads"),
        runs.of("alembic", "heads"),
        RSS_TARGET,
        memory=True,
    )
    return rows, rss


def check_heads(runs: Runs, what: str, problems: Problems) -> None:
    check_listed(runs, "heads", what, problems)


def check_listed(
    runs: Runs, command: str, what: str, problems: Problems, **expected: set[str]
) -> None:
    """`command` of both tools (heads or current) names the same revisions. Alembic's
    "(effective head)" lines are compared apart: `migrate` leaving them out is reported
    as a difference of its own, not as a wrong answer."""
    alembic_text = runs.alembic[command][-1].stdout
    migrate_ids = leading_ids(runs.migrate[command][-1].stdout)
    effective = effective_heads(alembic_text)
    problems.check_same(
        f"{command} ({what})",
        {
            "migrate": migrate_ids - effective,
            "alembic": leading_ids(alembic_text) - effective,
            **expected,
        },
    )
    if effective - migrate_ids:
        problems.add(
            f"DIFFERENCE in {command} ({what}): alembic also lists {_ids(effective - migrate_ids)}"
            f" as {EFFECTIVE_HEAD} (named only in a later revision's depends_on); migrate does not"
        )


# --- 2. revision graph -------------------------------------------------------------------

GRAPH_PAIRS = (
    Pair("heads", ("heads",), ("heads",)),
    Pair("history", ("history",), ("history",)),
    Pair("current", ("current",), ("current",)),
    Pair("status", ("status",), None),
)


@dataclass
class GraphResult:
    rows: list[Row]
    rss: list[Row]
    cache_files: int  # how many of the two cache files (revisions, graph) were written


FIRST_RUN_COMMANDS = ("heads", "history", "current")


def revision_graph(
    workspace: Path, n: int, shape: str, repeat: int, problems: Problems
) -> GraphResult:
    what = f"{shape} N={n}"
    progress(f"{what}: writing the history")
    pristine = workspace / f"{shape}-{n}-pristine"
    revisions = history_project(pristine, n, shape)
    first_rows, first_rss = first_runs(workspace, pristine, n, shape, repeat, problems)
    migrate_project = workspace / f"{shape}-{n}-migrate"
    alembic_project = workspace / f"{shape}-{n}-alembic"
    for project in (migrate_project, alembic_project):
        shutil.copytree(pristine, project)
    written_at = time.monotonic()
    for tool, project in (("migrate", migrate_project), ("alembic", alembic_project)):
        problems.check_exit(f"{what}: first {tool} heads", run((tool, "heads"), project))
    settle(written_at)
    runs = measure(GRAPH_PAIRS, migrate_project, alembic_project, repeat, problems, what)
    check_graph(runs, revisions, what, problems)
    n_text = f"{n} {shape}"
    fast = FAST_GRAPH_TARGET if n >= FAST_GRAPH_FROM else GRAPH_TARGET
    rows = [
        *first_rows,
        *(
            Row(
                pair.label,
                n_text,
                runs.of("migrate", pair.label),
                runs.of("alembic", pair.label),
                fast if pair.label in ("heads", "history") else GRAPH_TARGET,
            )
            for pair in GRAPH_PAIRS[:3]
        ),
        Row(
            "status (alembic: history + current)",
            n_text,
            runs.of("migrate", "status"),
            [
                h + c
                for h, c in zip(
                    runs.of("alembic", "history"),
                    runs.of("alembic", "current"),
                    strict=True,
                )
            ],
            GRAPH_TARGET,
        ),
    ]
    rss = [
        *first_rss,
        Row(
            "heads",
            n_text,
            runs.of("migrate", "heads"),
            runs.of("alembic", "heads"),
            RSS_TARGET,
            memory=True,
        ),
    ]
    cache_folder = migrate_project / ".migrations-cache"
    cache_files = sum(any(cache_folder.glob(f"{kind}-*.json")) for kind in ("revisions", "graph"))
    for project in (pristine, migrate_project, alembic_project):
        shutil.rmtree(project, ignore_errors=True)
    return GraphResult(rows, rss, cache_files)


def first_runs(
    workspace: Path, pristine: Path, n: int, shape: str, repeat: int, problems: Problems
) -> tuple[list[Row], list[Row]]:
    """Each command of FIRST_RUN_COMMANDS as on a fresh clone, `repeat` times per tool: every
    run in a copy of `pristine` of its own (no bytecode, no .migrations-cache/), the runs
    taking turns in an order that rotates each round. Rows of time and of peak RSS."""
    what = f"{shape} N={n} first run"
    runs = [(tool, command) for command in FIRST_RUN_COMMANDS for tool in ("migrate", "alembic")]
    samples: dict[tuple[str, str], list[Sample]] = {key: [] for key in runs}
    answers: dict[str, dict[str, str]] = {command: {} for command in FIRST_RUN_COMMANDS}
    clone = workspace / f"{shape}-{n}-clone"
    for number in range(repeat):
        start = number % len(runs)
        for tool, command in [*runs[start:], *runs[:start]]:
            shutil.rmtree(clone, ignore_errors=True)
            shutil.copytree(pristine, clone)
            sample = run((tool, command), clone)
            problems.check_exit(f"{what}: {tool} {command}", sample)
            samples[tool, command].append(sample)
            answers[command][tool] = sample.stdout
        progress(f"{what}: round {number + 1}/{repeat}")
    shutil.rmtree(clone, ignore_errors=True)
    check_first_answers(answers, what, problems)
    n_text = f"{n} {shape}"
    time_rows = [
        Row(
            f"{command} (first run)",
            n_text,
            samples["migrate", command],
            samples["alembic", command],
            FIRST_RUN_TARGET,
        )
        for command in FIRST_RUN_COMMANDS
    ]
    rss_rows = [
        Row(
            f"{command} (first run)",
            n_text,
            samples["migrate", command],
            samples["alembic", command],
            RSS_TARGET,
            memory=True,
        )
        for command in FIRST_RUN_COMMANDS
    ]
    return time_rows, rss_rows


def check_first_answers(
    answers: Mapping[str, Mapping[str, str]], what: str, problems: Problems
) -> None:
    """The first runs name the same revisions as Alembic's (heads, history, current)."""
    for command in ("heads", "current"):
        runs = Runs(
            migrate={command: [_stdout(answers[command]["migrate"])]},
            alembic={command: [_stdout(answers[command]["alembic"])]},
        )
        check_listed(runs, command, what, problems)
    problems.check_same(
        f"history ({what})",
        {
            "migrate": leading_ids(answers["history"]["migrate"]),
            "alembic": alembic_history_ids(answers["history"]["alembic"]),
        },
    )


def _stdout(text: str) -> Sample:
    return Sample(0.0, 0.0, 0, 0, text, "")


def check_graph(
    runs: Runs, revisions: Sequence[GeneratedRevision], what: str, problems: Problems
) -> None:
    """Both tools name the same heads, history and current revisions, and those are the
    generated history's."""
    every = {revision.revision for revision in revisions}
    heads = expected_heads(revisions)
    check_listed(runs, "heads", what, problems, generated=heads)
    problems.check_same(
        f"history ({what})",
        {
            "migrate": leading_ids(runs.migrate["history"][-1].stdout),
            "alembic": alembic_history_ids(runs.alembic["history"][-1].stdout),
            "generated": every,
        },
    )
    check_listed(runs, "current", what, problems, stamped=heads)


# --- 3. upgrade --------------------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeTool:
    name: str
    tool: str
    arguments: tuple[str, ...]
    environment: Mapping[str, str]
    fresh_clone: bool = False


UPGRADE_TOOLS = (
    UpgradeTool("migrate", "migrate", ("upgrade",), {}),
    UpgradeTool("migrate-no-lock", "migrate", ("upgrade",), {"MIGRATIONS_LOCK": "none"}),
    UpgradeTool("alembic", "alembic", ("upgrade", "head"), {}),
    UpgradeTool("alembic-again", "alembic", ("upgrade", "head"), {}),
    UpgradeTool("alembic-fresh", "alembic", ("upgrade", "head"), {}, fresh_clone=True),
    UpgradeTool("migrate-fresh", "migrate", ("upgrade",), {}, fresh_clone=True),
)
# Rows: what migrate's run is called, and the two runs compared. The last compares Alembic
# with itself: the ratio that noise alone gives on this machine in this run.
UPGRADE_ROWS = (
    ("", "migrate", "alembic", UPGRADE_TARGET),
    (", MIGRATIONS_LOCK=none", "migrate-no-lock", "alembic", UPGRADE_TARGET),
    (", fresh clone", "migrate-fresh", "alembic-fresh", UPGRADE_TARGET),
    (": alembic beside itself (noise)", "alembic-again", "alembic", None),
)


def upgrade_dialects() -> list[str]:
    """SQLite, and PostgreSQL when POSTGRES_VARIABLE names a server (else says it is skipped)."""
    if os.environ.get(POSTGRES_VARIABLE):
        return ["sqlite", "postgresql"]
    progress(f"PostgreSQL skipped: {POSTGRES_VARIABLE} is not set")
    return ["sqlite"]


def _upgrade_order(number: int) -> list[UpgradeTool]:
    """The runs of round `number`, each round starting one further on, so that no run
    always follows the same one. (With alembic's fresh-clone run always just before
    migrate's, migrate's took 25% longer than alembic's; with the two taking turns, 9%.)"""
    start = number % len(UPGRADE_TOOLS)
    return [*UPGRADE_TOOLS[start:], *UPGRADE_TOOLS[:start]]


def forget_caches(project: Path) -> None:
    """What a fresh clone lacks: the revisions' bytecode and .migrations-cache/."""
    for folder in [project / CACHE_DIR, *(project / "alembic").rglob("__pycache__")]:
        shutil.rmtree(folder, ignore_errors=True)


def upgrade(
    workspace: Path, dialect: str, n: int, repeat: int, problems: Problems, databases: Path
) -> list[Row]:
    """SQLite databases go under `databases`. The fresh-clone runs use a copy of the project
    of their own, so that the warm runs always find the bytecode and caches they left."""
    project = workspace / f"upgrade-{dialect}"
    fresh_project = workspace / f"upgrade-{dialect}-fresh"
    revisions = history_project(project, n, "linear")
    history_project(fresh_project, n, "linear")
    head = revisions[-1].revision
    # Compiles every revision's bytecode, so no timed run pays for it.
    problems.check_exit("upgrade: warm-up alembic heads", run(("alembic", "heads"), project))
    samples: dict[str, list[Sample]] = {tool.name: [] for tool in UPGRADE_TOOLS}
    for number in range(1, repeat + 1):
        for tool in _upgrade_order(number):
            if tool.fresh_clone:
                forget_caches(fresh_project)
            with fresh_database(dialect, databases) as url:
                sample = run(
                    (tool.tool, *tool.arguments),
                    fresh_project if tool.fresh_clone else project,
                    {"DATABASE_URL": url, **tool.environment},
                )
                what = f"upgrade {dialect} N={n}: {tool.name}"
                problems.check_exit(what, sample)
                problems.check_same(what, {"database": database_versions(url), "head": {head}})
            samples[tool.name].append(sample)
            # What the run wrote (bytecode, caches, the database it dropped) reaches the disk
            # now, not while the next run waits on its own commits to be written.
            os.sync()
        took = ", ".join(f"{name} {runs[-1].seconds:.2f}s" for name, runs in samples.items())
        progress(f"upgrade {dialect} N={n}: round {number}/{repeat}: {took}")
    return [
        Row(f"upgrade head ({dialect}){label}", str(n), samples[ours], samples[theirs], target)
        for label, ours, theirs, target in UPGRADE_ROWS
    ]


# --- report ------------------------------------------------------------------------------

HEADERS = ["command", "N", "migrate", "alembic", "ratio", "target", "met", "cpu ratio"]


def print_table(title: str, rows: Sequence[Row], unit: str = "median seconds") -> None:
    if not rows:
        return
    print(f"\n{title} ({unit})")
    for line in output.table(HEADERS, (row.cells() for row in rows)):
        print(line)


def machine() -> list[str]:
    """What the numbers were measured on."""
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("alembic", "SQLAlchemy", "typer", "psycopg")
    )
    cache = REPO_ROOT / "migrations_cli" / "graph" / "revision_cache.py"
    return [
        f"machine: {_cpu_model()}, nproc {len(os.sched_getaffinity(0))}, "
        f"{platform.system()} {platform.release()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"packages: migrations-cli {_version('migrations-cli')}, {versions}",
        f"revision cache: {'present' if cache.exists() else 'ABSENT'} ({cache.name})",
        f"tree: {_tree()}",
        f"load average at start: {_load()}",
    ]


def _tree() -> str:
    """The commit measured, and how many files differ from it."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"{commit}" + (f" with {len(changed)} modified file(s)" if changed else "")


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- main --------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=positive, help="runs per median (default 5)")
    parser.add_argument("--sizes", type=sizes, help="history sizes (default 1000,5000)")
    parser.add_argument(
        "--upgrade-revisions", type=positive, help="revisions to upgrade (default 1000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: by default sizes {QUICK_SIZES}, {QUICK_UPGRADE_REVISIONS} revisions "
        f"to upgrade, {QUICK_REPEAT} repeats",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="run both tools with PYTHONDONTWRITEBYTECODE=1, as in images built with it: "
        "every revision file is compiled on every run",
    )
    parser.add_argument(
        "--comparisons",
        type=comparisons,
        default=COMPARISONS,
        help=f"which to run, comma-separated (default {','.join(COMPARISONS)}; peak RSS comes "
        "with startup and graph)",
    )
    parser.add_argument(
        "--sqlite-dir",
        type=Path,
        help="where the upgrade runs' SQLite databases go (default: the temporary folder); "
        "on a RAM disk such as /dev/shm the disk's latency, which both tools wait on for the "
        "same number of syncs, no longer moves the times",
    )
    arguments = parser.parse_args(argv)
    defaults = (
        (QUICK_REPEAT, QUICK_SIZES, QUICK_UPGRADE_REVISIONS)
        if arguments.quick
        else (5, (1000, 5000), 1000)
    )
    for name, default in zip(("repeat", "sizes", "upgrade_revisions"), defaults, strict=True):
        if getattr(arguments, name) is None:
            setattr(arguments, name, default)
    return arguments


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def comparisons(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(chosen) - set(COMPARISONS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(COMPARISONS)}")
    return chosen


def sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text}: comma-separated numbers") from error


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if arguments.no_bytecode:
        CHILD_OVERRIDES["PYTHONDONTWRITEBYTECODE"] = "1"
    print("\n".join(machine()))
    print(f"bytecode caching in the children: {'off' if arguments.no_bytecode else 'on'}")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    problems = Problems()
    startup_rows: list[Row] = []
    graph_rows: list[Row] = []
    rss_rows: list[Row] = []
    upgrade_rows: list[Row] = []
    cache_files: list[int] = []
    chosen = arguments.comparisons
    dialects = upgrade_dialects() if "upgrade" in chosen else []
    with tempfile.TemporaryDirectory(prefix="bench-graph-") as folder:
        workspace = Path(folder)
        if "startup" in chosen:
            startup_rows, startup_rss = startup(workspace, arguments.repeat, problems)
            rss_rows.append(startup_rss)
        for n in arguments.sizes if "graph" in chosen else ():
            for shape in SHAPES:
                result = revision_graph(workspace, n, shape, arguments.repeat, problems)
                graph_rows.extend(result.rows)
                cache_files.append(result.cache_files)
                # Every first run; warm heads at the largest size.
                rss_rows.extend(result.rss if n == max(arguments.sizes) else result.rss[:-1])
        databases = arguments.sqlite_dir or workspace / "databases"
        if "sqlite" in dialects:
            print(f"sqlite databases under: {databases}")
        for dialect in dialects:
            upgrade_rows.extend(
                upgrade(
                    workspace,
                    dialect,
                    arguments.upgrade_revisions,
                    arguments.repeat,
                    problems,
                    databases,
                )
            )
    report(startup_rows, graph_rows, upgrade_rows, rss_rows, cache_files, arguments.repeat)
    print(f"load average at end: {_load()}")
    print(f"highest 1-minute load average during the run: {HIGHEST_LOAD[0]:.2f}")
    if HIGHEST_LOAD[0] > len(os.sched_getaffinity(0)) + 0.5:
        print(
            "!!! the machine was busy with other work during the run (load above nproc, this "
            "run counting for about 1): the medians are disturbed"
        )
    if problems.found:
        print(f"\n!!! {len(problems.found)} PROBLEM(S):")
        print("\n".join(f"!!! {text}" for text in problems.found))
        return 1
    return 0


def report(
    startup_rows: Sequence[Row],
    graph_rows: Sequence[Row],
    upgrade_rows: Sequence[Row],
    rss_rows: Sequence[Row],
    cache_files: Sequence[int],
    repeat: int,
) -> None:
    print(
        f"\nmedians of {repeat} runs, after one untimed run of each command; ratio = migrate / "
        "alembic (lower is better);\ncpu ratio = the same for user + system CPU time, which "
        "other load on the machine disturbs less than wall time"
    )
    print_table("1. start-up, the example project", startup_rows)
    print_table("2. revision graph: first run (a fresh clone), then warm", graph_rows)
    if cache_files:
        both = sum(1 for count in cache_files if count == 2)
        print(
            f"revision cache and graph snapshot written by migrate in {both} of "
            f"{len(cache_files)} histories"
        )
    print_table("3. upgrade head, a fresh database per run", upgrade_rows)
    if upgrade_rows:
        print(
            "plain alembic runs this project's env.py, which takes no migration lock outside "
            "`migrate`;\n`migrate upgrade` takes MIGRATIONS_LOCK=advisory (a file lock beside a "
            "SQLite file, an advisory lock on PostgreSQL) unless told none;\n"
            "fresh clone: both without the revisions' bytecode, migrate without "
            ".migrations-cache/ (each run compiles, and migrate tokenizes, every file);\n"
            "alembic beside itself: two runs of the same command, whose ratio is the noise."
        )
    print_table("4. peak RSS", rss_rows, "median peak RSS")


if __name__ == "__main__":
    sys.exit(main())
