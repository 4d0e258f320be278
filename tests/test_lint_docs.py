"""docs/lint.md's examples: each rule's risky upgrade() is flagged with that rule and its safe
rewrite passes clean; each command shown runs."""

from __future__ import annotations

import json
import re
import shlex
import textwrap

import pytest
from conftest import REPO_ROOT, readme_section
from lint_catalogue import HEADER, TIMEOUTS
from test_lint import POSTGRES_ENV

from migrations_cli.lint_rules import BUILTIN_RULES, read_revision, run_rules

GUIDE = (REPO_ROOT / "docs" / "lint.md").read_text()
# (the README's lint commands, in the block it says this test runs)
README_SECTION = (
    readme_section("## Guard rails: verify, lint, checksums")
    .split("example-run-by: tests/test_lint_docs.py", 1)[1]
    .split("```", 2)[1]
)
SECTIONS = re.findall(r"^### (ML\d{3}): .*?(?=^### |^## |\Z)", GUIDE, re.S | re.M)
EXAMPLES = {
    rule: re.findall(r"```python\n(.*?)```", section, re.S)
    for rule, section in zip(
        SECTIONS, re.split(r"^### ML\d{3}: ", GUIDE, flags=re.M)[1:], strict=True
    )
}


def lint(tmp_path, rule: str, body: str) -> list[str]:
    timeouts = "" if rule == "ML022" else TIMEOUTS
    source = HEADER.format(name=rule, revision="doc000000001") + timeouts
    source += textwrap.indent(body, "    ")
    path = tmp_path / "revision.py"
    path.write_text(source)
    return [finding.rule for finding in run_rules(read_revision(path), BUILTIN_RULES)]


def test_every_postgresql_rule_has_a_section():
    assert sorted(EXAMPLES) == [f"ML0{number}" for number in range(10, 23)]


@pytest.mark.parametrize("rule", sorted(EXAMPLES))
def test_the_risky_example_is_flagged_and_the_safe_one_passes(tmp_path, rule):
    risky, safe = EXAMPLES[rule]

    assert lint(tmp_path, rule, risky) == [rule]
    assert lint(tmp_path, rule, safe) == []


@pytest.mark.parametrize("page", [GUIDE, README_SECTION], ids=["lint.md", "readme section"])
def test_the_commands_shown_run(project, migrate, page):
    project.write_env(**POSTGRES_ENV)
    body = EXAMPLES["ML019"][0]
    source = HEADER.format(name="doc", revision="doc000000001") + TIMEOUTS
    project.write("alembic/versions/doc.py", source + textwrap.indent(body, "    "))
    commands = re.findall(r"^\s*\$ migrate (.+)$", page, re.M)

    results = {command: migrate(*shlex.split(command)) for command in commands}

    assert len(commands) == 3
    for command, result in results.items():
        assert result.exit_code == 0, (command, result.output)
        assert "ML019" in result.stdout, command
    sarif = json.loads(results["lint --squawk --format sarif"].stdout)
    assert [run["tool"]["driver"]["name"] for run in sarif["runs"]] == ["migrate lint", "squawk"]
