"""`upgrade head` counted in instructions: `migrate upgrade` beside `alembic upgrade head`.

Wall time on a shared machine moves by tens of percent between runs, more than the 5% the
upgrade target allows. Valgrind's callgrind counts the instructions a process executes
instead, which the rest of the machine does not change: the same command gives the same
count again (hash randomisation is fixed with PYTHONHASHSEED=0 for this). Time spent in
the kernel (writes, fsync) is not counted; revision_graph.py's wall and CPU times show it.

For each --sizes N: a linear history of N small revisions (bench/histories.py) that both
tools read, the bytecode of every file compiled and migrate's caches written by one
untimed run of each tool, then each upgrades a fresh database under callgrind, two at once
(one per CPU): SQLite always, PostgreSQL when MIGRATIONS_TEST_POSTGRES_URL names a server.
On PostgreSQL only the client is counted, not the server's work for each tool. Each tool
is counted twice: as it runs again where it ran before, and as it runs first in a fresh
clone, where no revision has bytecode yet (both compile every file) and `migrate` has no
.migrations-cache/ (it tokenizes each file it applies for its code sum). Two sizes give the
cost per revision and the fixed cost apart.

    python bench/upgrade_instructions.py [--sizes 200,1000]

Needs valgrind (without it, says so and counts nothing). Takes about 12 minutes per
database with the defaults on a 2-CPU machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from histories import write_history
from revision_graph import (
    BIN,
    base_project,
    child_environment,
    forget_caches,
    fresh_database,
    settle,
    upgrade_dialects,
)

from migrations_cli.core import output

TOOLS = {"migrate": ("migrate", "upgrade"), "alembic": ("alembic", "upgrade", "head")}
# What is counted: a name for each run, its tool, and whether it starts as in a fresh clone.
RUNS = {
    "migrate": ("migrate", False),
    "alembic": ("alembic", False),
    "migrate, fresh clone": ("migrate", True),
    "alembic, fresh clone": ("alembic", True),
}
# Each row: migrate's run beside alembic's.
PAIRS = (("migrate", "alembic"), ("migrate, fresh clone", "alembic, fresh clone"))
TARGET = 1.05
_TOTAL = re.compile(r"Collected : (\d+)")


def project(root: Path, n: int) -> Path:
    base_project(root, "sqlite:///unused.sqlite")  # (each run is given its database)
    write_history(root / "alembic" / "versions", n)
    settle(time.monotonic())  # the caches trust only files that have settled
    return root


def warm(root: Path, dialect: str) -> None:
    """Compile every revision's bytecode, and let migrate write its caches."""
    for arguments in TOOLS.values():
        with fresh_database(dialect, root / "databases") as url:
            run(root, [str(BIN / arguments[0]), *arguments[1:]], url)


def run(root: Path, command: list[str], url: str) -> str:
    environment = child_environment({"PYTHONHASHSEED": "0", "DATABASE_URL": url})
    done = subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {root}:\n{done.stderr[-2000:]}")
    return done.stderr


def instructions(root: Path, counted: str, dialect: str) -> int:
    """The instructions of one upgrade of a fresh database in `root`."""
    tool, fresh_clone = RUNS[counted]
    if fresh_clone:
        forget_caches(root)
    program, *arguments = TOOLS[tool]
    with fresh_database(dialect, root / "databases") as url:
        report = run(
            root,
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={root / 'callgrind.out'}",
                sys.executable,
                str(BIN / program),
                *arguments,
            ],
            url,
        )
    found = _TOTAL.search(report)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind for {counted}:\n{report[-2000:]}")
    return int(found.group(1))


def measure(workspace: Path, dialect: str, n: int) -> dict[str, int]:
    """Each count in its own copy of the same history, two at once."""
    roots = {}
    for number, counted in enumerate(RUNS):
        roots[counted] = project(workspace / f"{dialect}-{number}-{n}", n)
        warm(roots[counted], dialect)
    with ThreadPoolExecutor(2) as pool:
        counts = {
            counted: pool.submit(instructions, roots[counted], counted, dialect) for counted in RUNS
        }
        return {counted: future.result() for counted, future in counts.items()}


def report(dialect: str, results: dict[int, dict[str, int]]) -> None:
    rows = [
        [
            f"upgrade head ({dialect}){counted.removeprefix('migrate')}",
            str(n),
            f"{counts[counted] / 1e6:,.0f}M",
            f"{counts[baseline] / 1e6:,.0f}M",
            f"{counts[counted] / counts[baseline]:.3f}",
            f"<= {TARGET:.2f}",
            "yes" if counts[counted] <= TARGET * counts[baseline] else "NO",
        ]
        for counted, baseline in PAIRS
        for n, counts in sorted(results.items())
    ]
    headers = ["command", "N", "migrate", "alembic", "ratio", "target", "met"]
    for line in output.table(headers, rows):
        print(line)
    if len(results) >= 2:
        (small, low), (large, high) = sorted(results.items())[0], sorted(results.items())[-1]
        for counted in RUNS:
            per_revision = (high[counted] - low[counted]) / (large - small)
            fixed = low[counted] - per_revision * small
            print(
                f"{dialect}, {counted}: {fixed / 1e6:,.0f}M fixed + "
                f"{per_revision / 1e3:,.0f}K per revision"
            )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="200,1000",
        type=lambda text: sorted({int(part) for part in text.split(",")}),
        help="history sizes (default 200,1000)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instructions counted", file=sys.stderr)
        return 0
    print(f"command: upgrade_instructions.py --sizes {','.join(map(str, arguments.sizes))}")
    print(f"load average (does not change the counts): {os.getloadavg()[0]:.2f}")
    dialects = upgrade_dialects()
    results: dict[str, dict[int, dict[str, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="upgrade-instructions-") as folder:
        for dialect in dialects:
            for n in arguments.sizes:
                print(f"measuring {dialect} N={n}...", file=sys.stderr, flush=True)
                results.setdefault(dialect, {})[n] = measure(Path(folder), dialect, n)
    print("instructions (callgrind), one run each: the count repeats run to run")
    for dialect, counts in results.items():
        report(dialect, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
