"""Many databases: `migrate upgrade --targets all --jobs N` over T SQLite targets of R
revisions each, beside a shell loop of plain `alembic upgrade head` over the same targets
(and a shell loop of `migrate upgrade`: one process per target, the other way a fan-out
could run).

    python bench/fan_out.py [--targets 200] [--revisions 20] [--jobs 1 2 4] [--rounds 1]

Each row starts from fresh (absent) database files and is timed in wall-clock seconds; the
ratio is the row's time over the alembic loop's (below 1: faster). Every run must leave
every target at head, or the row says how many did not get there.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from histories import write_history

from migrations_cli.core import output

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's console scripts sit beside its python
PYPROJECT = """
[tool.alembic]
script_location = "%(here)s/alembic"
"""


@dataclass(frozen=True)
class Row:
    name: str
    seconds: list[float]
    not_at_head: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def write_project(root: Path, targets: int, revisions: int) -> tuple[list[Path], str]:
    """A project with a linear history, and a targets file of `targets` SQLite files;
    returns the files and the head revision."""
    (root / "alembic").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO_ROOT / "alembic" / name, root / "alembic" / name)
    (root / "pyproject.toml").write_text(PYPROJECT)
    history = write_history(root / "alembic" / "versions", revisions)
    files = [root / "data" / f"tenant_{number:03d}.sqlite" for number in range(targets)]
    (root / "data").mkdir()
    (root / "targets.toml").write_text(
        "".join(f'[targets.{path.stem}]\nurl = "sqlite:///{path}"\n' for path in files)
    )
    (root / ".env").write_text(
        "DATABASE_URL=sqlite:///main.sqlite\nMIGRATIONS_TARGETS=targets.toml\n"
    )
    return files, history[-1].revision


def shell_loop(tool: str, files: Sequence[Path]) -> list[str]:
    """`for each target: DATABASE_URL=... TOOL upgrade head`, as one bash script."""
    lines = [
        f"DATABASE_URL={shlex.quote(f'sqlite:///{path}')} {BIN / tool} upgrade head >/dev/null 2>&1"
        for path in files
    ]
    return ["bash", "-c", "\n".join(["set -e", *lines])]


def not_at_head(files: Sequence[Path], head: str) -> int:
    missing = 0
    for path in files:
        try:
            with closing(sqlite3.connect(path)) as connection:
                rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.Error:
            rows = []
        missing += rows != [(head,)]
    return missing


def timed(command: list[str], root: Path, files: Sequence[Path], head: str) -> tuple[float, int]:
    for path in files:
        path.unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATIONS_")}
    environment.pop("DATABASE_URL", None)
    started = time.perf_counter()
    subprocess.run(command, cwd=root, env=environment, capture_output=True, check=False)
    return time.perf_counter() - started, not_at_head(files, head)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=1)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fan-out-") as workspace:
        root = Path(workspace)
        files, head = write_project(root, arguments.targets, arguments.revisions)
        commands = {
            "shell loop: alembic upgrade head": shell_loop("alembic", files),
            "shell loop: migrate upgrade": shell_loop("migrate", files),
            **{
                f"migrate upgrade --targets all --jobs {jobs}": [
                    str(BIN / "migrate"),
                    *("upgrade", "--targets", "all", "--jobs", str(jobs)),
                ]
                for jobs in arguments.jobs
            },
        }
        rows = []
        for name, command in commands.items():
            results = [timed(command, root, files, head) for _ in range(arguments.rounds)]
            rows.append(Row(name, [s for s, _ in results], max(n for _, n in results)))
            print(f"  {name}: {rows[-1].median:.1f}s", file=sys.stderr)
    baseline = rows[0].median
    print(
        f"{arguments.targets} SQLite targets x {arguments.revisions} revisions, "
        f"{arguments.rounds} round(s), {os.cpu_count()} CPUs"
    )
    table = output.table(
        ("run", "seconds", "ratio to alembic loop", "targets not at head"),
        (
            (r.name, f"{r.median:.1f}", f"{r.median / baseline:.2f}", str(r.not_at_head))
            for r in rows
        ),
    )
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
