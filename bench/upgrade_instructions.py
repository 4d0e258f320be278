"""`upgrade head` counted in instructions: `migrate upgrade` beside `alembic upgrade head`.

Wall time on a shared machine moves by tens of percent between runs, more than the 5% the
upgrade target allows. Valgrind's callgrind counts the instructions a process executes
instead, which the rest of the machine does not change: the same command gives the same
count again (hash randomisation is fixed with PYTHONHASHSEED=0 for this). Time spent in
the kernel (writes, fsync) is not counted; revision_graph.py's wall and CPU times show it.

For each --sizes N: a linear history of N small revisions (bench/histories.py) that both
tools read, the bytecode of every file compiled and migrate's caches written by one
untimed run of each tool, then each upgrades a fresh SQLite database under callgrind, the
two at once (one per CPU). Two sizes give the cost per revision and the fixed cost apart.

    python bench/upgrade_instructions.py [--sizes 200,1000]

Needs valgrind (without it, says so and counts nothing). Takes about 6 minutes with the
defaults on a 2-CPU machine.
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
from revision_graph import BIN, base_project, child_environment, settle

from migrations_cli import output

TOOLS = {"migrate": ("migrate", "upgrade"), "alembic": ("alembic", "upgrade", "head")}
TARGET = 1.05
_TOTAL = re.compile(r"Collected : (\d+)")


def project(root: Path, n: int) -> Path:
    base_project(root, "sqlite:///upgrade.sqlite")
    write_history(root / "alembic" / "versions", n)
    settle(time.monotonic())  # the caches trust only files that have settled
    return root


def environment() -> dict[str, str]:
    return child_environment({"PYTHONHASHSEED": "0"})


def warm(root: Path) -> None:
    """Compile every revision's bytecode, and let migrate write its caches."""
    for arguments in TOOLS.values():
        (root / "upgrade.sqlite").unlink(missing_ok=True)
        run(root, [str(BIN / arguments[0]), *arguments[1:]])


def run(root: Path, command: list[str]) -> str:
    done = subprocess.run(
        command, cwd=root, env=environment(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {root}:\n{done.stderr[-2000:]}")
    return done.stderr


def instructions(root: Path, tool: str) -> int:
    """The instructions of one upgrade of a fresh database in `root`."""
    (root / "upgrade.sqlite").unlink(missing_ok=True)
    program, *arguments = TOOLS[tool]
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
    )
    found = _TOTAL.search(report)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind for {tool}:\n{report[-2000:]}")
    return int(found.group(1))


def measure(workspace: Path, n: int) -> dict[str, int]:
    """Each tool in its own copy of the same history, both at once."""
    roots = {}
    for tool in TOOLS:
        roots[tool] = project(workspace / f"{tool}-{n}", n)
        warm(roots[tool])
    with ThreadPoolExecutor(len(TOOLS)) as pool:
        counts = {tool: pool.submit(instructions, roots[tool], tool) for tool in TOOLS}
        return {tool: future.result() for tool, future in counts.items()}


def report(results: dict[int, dict[str, int]]) -> None:
    rows = [
        [
            "upgrade head (sqlite)",
            str(n),
            f"{counts['migrate'] / 1e6:,.0f}M",
            f"{counts['alembic'] / 1e6:,.0f}M",
            f"{counts['migrate'] / counts['alembic']:.3f}",
            f"<= {TARGET:.2f}",
            "yes" if counts["migrate"] <= TARGET * counts["alembic"] else "NO",
        ]
        for n, counts in sorted(results.items())
    ]
    headers = ["command", "N", "migrate", "alembic", "ratio", "target", "met"]
    print("instructions (callgrind), one run each: the count repeats run to run")
    for line in output.table(headers, rows):
        print(line)
    if len(results) >= 2:
        (small, low), (large, high) = sorted(results.items())[0], sorted(results.items())[-1]
        for tool in TOOLS:
            per_revision = (high[tool] - low[tool]) / (large - small)
            fixed = low[tool] - per_revision * small
            print(f"{tool}: {fixed / 1e6:,.0f}M fixed + {per_revision / 1e3:,.0f}K per revision")


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
    with tempfile.TemporaryDirectory(prefix="upgrade-instructions-") as folder:
        results = {}
        for n in arguments.sizes:
            print(f"measuring N={n}...", file=sys.stderr, flush=True)
            results[n] = measure(Path(folder), n)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
