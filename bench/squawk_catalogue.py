"""squawk and `migrate lint` side by side on the catalogue of risky PostgreSQL migrations.

Writes every case of tests/lint_catalogue.py (risky and safe) into one temporary project,
runs `migrate lint --format json` (its own rules, on the revision files) and squawk on each
revision's offline SQL (through `migrate lint --squawk`, keeping only squawk's findings), and
prints two tables: by squawk rule, the risky cases squawk flags and how many of them `migrate
lint` flags too; by `migrate lint` rule, the cases each finds. Exit 1 when squawk flags a risky
case that `migrate lint` does not, or `migrate lint` flags a safe one.

    .venv/bin/python bench/squawk_catalogue.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lint_catalogue import CASES  # noqa: E402

MIGRATE = str(Path(sys.executable).with_name("migrate"))


def write_project(directory: Path) -> dict[str, tuple[str, str]]:
    """The catalogue as one chain of revisions; returns file name → (case, variant)."""
    versions = directory / "alembic" / "versions"
    subprocess.run([MIGRATE, "init"], cwd=directory, check=True, capture_output=True)
    (directory / ".env").write_text("DATABASE_URL=postgresql+psycopg://app@db.invalid/app\n")
    cases: dict[str, tuple[str, str]] = {}
    previous = None
    for case in CASES:
        for variant in ("risky", "safe"):
            source = case.source(variant)
            revision = re.search(r'revision = "(\w+)"', source)[1]  # type: ignore[index]
            source = source.replace("down_revision = None", f"down_revision = {previous!r}")
            (versions / f"{revision}.py").write_text(source)
            cases[f"{revision}.py"] = (case.name, variant)
            previous = revision
    return cases


def findings(directory: Path, *options: str) -> list[dict[str, object]]:
    completed = subprocess.run(
        [MIGRATE, "lint", "--format", "json", *options],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode not in (0, 1):
        sys.exit(f"migrate lint failed: {completed.stderr.strip()}")
    return list(json.loads(completed.stdout)["findings"])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="squawk-catalogue-") as name:
        directory = Path(name)
        cases = write_project(directory)
        ours = findings(directory)
        theirs = [item for item in findings(directory, "--squawk") if item["source"] == "squawk"]
    flagged_by_us = {(str(item["path"]).rsplit("/", 1)[-1]) for item in ours}
    by_squawk_rule: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for item in theirs:
        file = str(item["path"]).rsplit("/", 1)[-1]
        by_squawk_rule[str(item["rule"])][cases[file][1]].add(file)
    by_our_rule: dict[str, set[str]] = defaultdict(set)
    for item in ours:
        by_our_rule[str(item["rule"])].add(str(item["path"]).rsplit("/", 1)[-1])
    missed: list[str] = []
    print(f"{len(CASES)} risky migrations, each with its safe rewrite (tests/lint_catalogue.py)")
    print()
    print(f"{'squawk rule':<46} {'risky found by squawk':>22} {'of those, by migrate lint':>26}")
    print(f"{'':<46} {'(safe ones it flags)':>22}")
    for rule in sorted(by_squawk_rule):
        risky = by_squawk_rule[rule]["risky"]
        safe = by_squawk_rule[rule]["safe"]
        also = risky & flagged_by_us
        missed += [f"{rule}: {cases[file][0]}" for file in sorted(risky - also)]
        counted = f"{len(risky)} ({len(safe)})"
        print(f"{rule:<46} {counted:>22} {len(also):>26}")
    print()
    squawk_flagged = {file for rule in by_squawk_rule.values() for file in rule["risky"]}
    print(
        f"{'migrate lint rule':<20} {'risky found':>12} {'safe flagged':>13} {'also by squawk':>15}"
    )
    for rule in sorted(by_our_rule):
        files = by_our_rule[rule]
        risky = {file for file in files if cases[file][1] == "risky"}
        safe = files - risky
        print(f"{rule:<20} {len(risky):>12} {len(safe):>13} {len(risky & squawk_flagged):>15}")
    risky_total = sum(variant == "risky" for _, variant in cases.values())
    risky_ours = {file for file in flagged_by_us if cases[file][1] == "risky"}
    safe_ours = flagged_by_us - risky_ours
    print()
    print(
        f"risky migrations flagged: migrate lint {len(risky_ours)}/{risky_total}, "
        f"squawk {len(squawk_flagged)}/{risky_total}; safe rewrites flagged by migrate lint: "
        f"{len(safe_ours)}"
    )
    for line in missed:
        print(f"MISSED by migrate lint: {line}")
    return 1 if missed or safe_ours else 0


if __name__ == "__main__":
    sys.exit(main())
