"""`migrate squash`: a 60-revision history squashed at revision 40 on each database, the
proof, what databases at, past, below and without the baseline do afterwards."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
from contextlib import ExitStack, closing

import pytest
from conftest import (
    MIGRATE_SCRIPT,
    _fresh_server_database,
    readme_section,
    run_process,
    versions_in,
)
from squash_history import SEED, revision_id, write_history, write_revision

REV = revision_id(40)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def databases(request, tmp_path):
    """Five empty databases of one kind, by name: the scratch one and four to migrate."""
    names = ("scratch", "fresh", "at_rev", "past_rev", "below_rev")
    if request.param == "sqlite":
        yield {name: f"sqlite:///{tmp_path / name}.sqlite" for name in names}
        return
    with ExitStack() as stack:
        urls = {}
        for name in names:
            created = _fresh_server_database(request.param)
            urls[name] = next(created)
            stack.callback(lambda created=created: next(created, None))
        yield urls


def test_a_squashed_history_builds_the_same_schema_and_keeps_databases_where_they_are(
    project, migrate, databases
):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")  # no models: the history is all
    write_history(project.versions, 60)
    for name, revision in (
        ("at_rev", REV),
        ("past_rev", revision_id(41)),
        ("below_rev", revision_id(2)),
    ):
        result = migrate("--database-url", databases[name], "upgrade", revision)
        assert result.exit_code == 0, result.output
    scratch = (
        ["--scratch-url", databases["scratch"]] if "sqlite" not in databases["scratch"] else []
    )

    squashed = migrate("--database-url", databases["fresh"], "squash", REV, *scratch)

    assert squashed.exit_code == 0, squashed.output
    assert "proof ok" in squashed.stdout
    assert "review: 2 non-schema statements" in squashed.stdout
    files = sorted(path.name for path in project.versions.glob("*.py"))
    assert len(files) == 20 and files[0].startswith(REV)
    baseline = (project.versions / files[0]).read_text()
    assert "down_revision = None" in baseline
    assert "op.bulk_insert(parent" in baseline and "# REVIEW" in baseline
    if "postgresql" in databases["fresh"]:
        assert "CREATE TYPE ticket_state AS ENUM ('open', 'closed')" in baseline

    fresh = migrate("--database-url", databases["fresh"], "upgrade")
    assert fresh.exit_code == 0, fresh.output
    assert versions_in(databases["fresh"]) == {revision_id(59)}
    # Through the baseline or through the old history: the same schema.
    for name in ("at_rev", "past_rev"):
        upgraded = migrate("--database-url", databases[name], "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert versions_in(databases[name]) == {revision_id(59)}
        assert "edited" not in upgraded.stderr and "without a migration file" not in upgraded.stderr
    same = migrate("diff", databases["past_rev"], databases["fresh"])
    assert same.exit_code == 0, same.output
    assert same.stdout.endswith("no differences\n")

    below = migrate("--database-url", databases["below_rev"], "upgrade")
    assert below.exit_code != 0
    assert f"the database is at {revision_id(2)}, which baseline {REV} replaced" in below.stderr
    assert "Traceback" not in below.output
    assert versions_in(databases["below_rev"]) == {revision_id(2)}

    # The stairway near the head, after an upgrade through the baseline (whose own downgrade
    # the squash proved already): the whole history would be slow on a server.
    near_head = ["--from", revision_id(56)]
    verified = migrate("--database-url", databases["fresh"], "verify", *scratch, *near_head)
    assert verified.exit_code == 0, verified.output


def test_dry_run_shows_the_baseline_and_writes_nothing(project, migrate):
    write_history(project.versions, 12)
    before = {path.name: path.read_text() for path in project.versions.glob("*.py")}

    result = migrate("squash", revision_id(10), "--dry-run")

    assert result.exit_code == 0, result.output
    assert f"revision = '{revision_id(10)}'" in result.stdout
    assert "proof ok" in result.stdout and "dry run: nothing written" in result.stdout
    assert {path.name: path.read_text() for path in project.versions.glob("*.py")} == before
    assert not project.db_path.exists()


def test_archive_moves_the_replaced_files_out_of_the_versions_folder(project, migrate):
    written = write_history(project.versions, 12)

    result = migrate("squash", revision_id(10), "--archive", "old_revisions")

    assert result.exit_code == 0, result.output
    archived = sorted(path.name[:12] for path in (project.root / "old_revisions").glob("*.py"))
    assert archived == written[:11]
    assert sorted(path.name[:12] for path in project.versions.glob("*.py")) == written[10:]
    inside = migrate("squash", revision_id(11), "--archive", "alembic/versions/old")
    assert inside.exit_code != 0 and "inside the versions folder" in inside.stderr


def test_a_branch_below_rev_that_is_not_merged_is_refused(project, migrate):
    write_history(project.versions, 12)
    write_revision(
        project.versions,
        "side00000001",
        revision_id(SEED),
        "Side branch",
        'op.create_table("side", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("side")',
    )

    result = migrate("squash", revision_id(10))

    assert result.exit_code != 0
    assert (
        f"cannot squash {revision_id(10)}: revision side00000001 (Side branch) branches off "
        f"{revision_id(SEED)}, below {revision_id(10)}, and is not merged into it"
    ) in result.stderr
    assert len(list(project.versions.glob("*.py"))) == 13


def test_a_baseline_that_differs_aborts_with_the_differences(project, migrate, monkeypatch):
    """Whatever renders the baseline, the proof is what decides: a baseline missing an
    index is caught and nothing is written."""
    from migrations_cli import squashing

    render = squashing.render_operations

    def losing_an_index(connection, schema):
        upgrade, downgrade = render(connection, schema)
        kept = [line for line in upgrade.splitlines() if "ix_t1_label" not in line]
        gone = [line for line in downgrade.splitlines() if "ix_t1_label" not in line]
        return "\n".join(kept), "\n".join(gone)

    monkeypatch.setattr(squashing, "render_operations", losing_an_index)
    write_history(project.versions, 12)

    result = migrate("squash", revision_id(10))

    assert result.exit_code != 0
    assert "proof FAILED: the baseline differs from the old history (1):" in result.stdout
    assert "  index only in the old history: ix_t1_label on t1 (label)" in result.stdout
    assert "squash aborted: nothing was written" in result.stderr
    assert len(list(project.versions.glob("*.py"))) == 12


def test_the_readme_section_runs_as_shown(project, tmp_path):
    """README's "Squashing old revisions" terminal session, replayed command by command in
    the project it describes (12 generated revisions, app.sqlite at head, old.sqlite at
    revision 6): the same output, but for timings and paths."""
    section = readme_section("## Squashing old revisions")
    session = re.search(r"```console\n(.*?)```", section, re.S)[1]
    write_history(project.versions, 12)
    project.write_env(DATABASE_URL="sqlite:///app.sqlite")
    environment = {"PATH": f"{MIGRATE_SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    for setup in ("migrate upgrade 0006aaaabbbb", "cp app.sqlite old.sqlite", "migrate upgrade"):
        assert run_process(["sh", "-c", setup], project.root, environment).exit_code == 0

    replayed = []
    for command in re.findall(r"^\$ (.*)$", session, re.M):
        replayed.append(f"$ {command}")
        if command.startswith("sqlite3 "):  # (the sqlite3 shell may not be installed)
            _, database, statement = shlex.split(command)
            with closing(sqlite3.connect(project.root / database)) as connection:
                connection.execute(statement)
            continue
        result = run_process(["sh", "-c", f"{{ {command}; }} 2>&1"], project.root, environment)
        replayed.append(result.stdout.rstrip("\n"))
        if result.exit_code:
            replayed.append(f"[exit {result.exit_code}]")

    assert normalised("\n".join(replayed), project.root) == normalised(session, "/home/me/shop")


def normalised(session, root):
    """Timings as 0.00s, the project folder as a placeholder."""
    session = session.replace(str(root), "PROJECT").rstrip("\n")
    return re.sub(r"\d+\.\d\ds", "0.00s", session)
