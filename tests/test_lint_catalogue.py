"""The catalogue of risky PostgreSQL migrations (tests/lint_catalogue.py): lint flags each
risky revision with its rule, on the line that takes the risk, and passes every safe rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest
from lint_catalogue import CASES, Case

from migrations_cli.guards.lint_rules import BUILTIN_RULES, Finding, read_revision, run_rules


def lint(tmp_path: Path, source: str, **options: object) -> list[Finding]:
    path = tmp_path / "revision.py"
    path.write_text(source)
    return run_rules(read_revision(path, dialect="postgresql", **options), BUILTIN_RULES)  # type: ignore[arg-type]


def test_the_catalogue_is_large_enough_and_covers_raw_sql():
    assert len(CASES) >= 25
    assert sum(case.name.startswith("SQL:") for case in CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_risky_is_flagged_with_its_rule_and_the_safe_rewrite_passes(tmp_path, case: Case):
    risky = case.source("risky")
    first_body_line = len(risky.splitlines()) - len(case.risky.splitlines()) + 1

    found = lint(tmp_path, risky)

    assert [(finding.rule, finding.line) for finding in found] == [(case.rule, first_body_line)]
    assert lint(tmp_path, case.source("safe")) == []
