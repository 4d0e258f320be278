"""`--format github|sarif` on `check` and `status --check`: the same answers as annotations
a CI pipeline shows, with the exit codes of the text output. (`lint`'s are tested in
test_lint_postgresql.py.)"""

from __future__ import annotations

import json

from test_check_doctor import MODELS_V1, users_at_head
from test_revision_commands import FIRST, SECOND, linear


def test_check_as_github_annotations_and_sarif(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")
    project.write("models.py", MODELS_V1.replace("String(50)", "String(80)"))

    github = migrate("check", "--format", "github")
    sarif = migrate("check", "--format", "sarif")

    assert github.exit_code == sarif.exit_code == 1
    assert github.stdout.splitlines() == [
        "::error title=model-modify-type::column type changed: users.name VARCHAR(50) -> "
        "VARCHAR(80): the models changed without a migration; write one with `migrate create "
        "MESSAGE`"
    ]
    (run,) = json.loads(sarif.stdout)["runs"]
    assert run["tool"]["driver"]["name"] == "migrate check"
    assert [(found["ruleId"], found["level"]) for found in run["results"]] == [
        ("model-modify-type", "error")
    ]
    assert "locations" not in run["results"][0]  # a model difference is in no revision file


def test_check_without_differences_is_an_empty_sarif_run(project, migrate):
    users_at_head(project, migrate, "sqlite:///db.sqlite")

    result = migrate("check", "--format", "sarif")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["runs"][0]["results"] == []


def test_status_check_annotates_each_pending_revision_file(project, migrate):
    linear(project)
    migrate("upgrade", "+1")

    github = migrate("status", "--check", "--format", "github")
    sarif = migrate("status", "--check", "--format", "sarif")
    migrate("upgrade")
    up_to_date = migrate("status", "--check", "--format", "github")

    path = next(p for p in project.revision_files() if SECOND in p.read_text())
    shown = path.relative_to(project.root).as_posix()
    assert github.exit_code == sarif.exit_code == 1
    assert github.stdout.splitlines() == [
        f"::error file={shown},line=1,title=pending-revision::revision {SECOND} (second) is "
        "not applied to the database: run `migrate upgrade`"
    ]
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    uris = [
        found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for found in results
    ]
    assert uris == [shown]
    assert FIRST not in sarif.stdout
    assert up_to_date.exit_code == 0 and up_to_date.stdout == ""
