"""A fresh `migrate upgrade head` before and after squashing a long history.

    .venv/bin/python bench/squash.py [--revisions 500]

Writes a linear history (bench/histories.py: one table per revision) into a temporary project,
times `migrate upgrade head` on a new SQLite database, squashes every revision but the last
with `migrate squash`, and times the fresh upgrade again (through the baseline). Each time is
the best of three runs, each on a new database file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from histories import write_history

REPO = Path(__file__).resolve().parents[1]
MIGRATE = str(Path(sys.executable).with_name("migrate"))


def fresh_upgrade(project: Path, runs: int = 3) -> float:
    best = float("inf")
    for run in range(runs):
        database = project / f"fresh{run}.sqlite"
        started = time.perf_counter()
        subprocess.run(
            [MIGRATE, "--database-url", f"sqlite:///{database}", "upgrade", "head"],
            cwd=project,
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - started)
        database.unlink()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=500)
    count = parser.parse_args().revisions
    with tempfile.TemporaryDirectory(prefix="bench-squash-") as folder:
        project = Path(folder)
        (project / "alembic").mkdir()
        for name in ("env.py", "script.py.mako"):
            shutil.copy(REPO / "alembic" / name, project / "alembic" / name)
        (project / ".env").write_text("DATABASE_URL=sqlite:///db.sqlite\n")
        revisions = write_history(project / "alembic" / "versions", count)
        before = fresh_upgrade(project)
        started = time.perf_counter()
        subprocess.run(
            [MIGRATE, "squash", revisions[-2].revision],
            cwd=project,
            check=True,
            capture_output=True,
        )
        squashing = time.perf_counter() - started
        files = len(list((project / "alembic" / "versions").glob("*.py")))
        after = fresh_upgrade(project)
    print(f"fresh `migrate upgrade head`, SQLite, best of 3 ({count} revisions, one table each)")
    print(f"  before squash: {count:4d} revision files  {before:7.2f}s")
    print(
        f"  after squash:  {files:4d} revision files  {after:7.2f}s  ({before / after:.1f}x faster)"
    )
    print(f"  the squash itself (replay, render, proof): {squashing:.2f}s")


if __name__ == "__main__":
    main()
