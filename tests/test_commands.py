"""Each built-in command on SQLite, in-process, asserting what it prints, writes and changes."""

from __future__ import annotations

import re

from conftest import MODELS_V2, table_names, versions_in

# migrate's file_template, or Alembic's default (a project configured for plain Alembic).
FILE_NAME = re.compile(r"^(?:\d{8}_\d{4}-)?(?P<rev>[0-9a-f]{12})_(?P<slug>\w+)\.py$")


def revision_of(path) -> str:
    match = FILE_NAME.match(path.name)
    assert match, f"unexpected file name {path.name}"
    return match["rev"]


def test_create_autogenerates_from_models_and_prints_path_and_reminder(project, migrate):
    result = migrate("create", "Add users table")

    assert result.exit_code == 0, result.output
    [written] = project.revision_files()
    assert FILE_NAME.match(written.name)["slug"] == "add_users_table"
    assert result.stdout.strip() == f"alembic/versions/{written.name}"
    assert "Review it" in result.stderr
    source = written.read_text()
    assert "op.create_table(" in source and "'users'" in source


def test_create_empty_writes_a_blank_revision_without_touching_the_database(project, migrate):
    result = migrate("create", "Backfill emails", "--empty")

    assert result.exit_code == 0, result.output
    [written] = project.revision_files()
    assert "backfill_emails" in written.name
    assert "op.create_table" not in written.read_text()
    assert not project.db_path.exists()


def test_create_without_metadata_writes_an_empty_revision_and_says_why(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    result = migrate("create", "Hand written")

    assert result.exit_code == 0, result.output
    assert "MIGRATIONS_METADATA is not set" in result.stderr
    [written] = project.revision_files()
    assert "op.create_table" not in written.read_text()


def test_create_with_no_model_changes_writes_no_file(project, migrate):
    migrate("create", "Add users table")
    migrate("upgrade")

    result = migrate("create", "Nothing changed")

    assert result.exit_code == 0, result.output
    assert "No differences" in result.stderr
    assert len(project.revision_files()) == 1


def test_create_refuses_when_the_database_is_behind(project, migrate):
    migrate("create", "Add users table")

    result = migrate("create", "Second")

    assert result.exit_code == 1
    assert "not up to date" in result.stderr
    assert len(project.revision_files()) == 1


def test_upgrade_downgrade_upgrade_round_trip(project, migrate, database_url):
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    migrate("create", "Add users table")
    migrate("upgrade")
    project.write("models.py", MODELS_V2)
    migrate("create", "Add teams table")
    first, second = (revision_of(path) for path in _in_history_order(project))

    assert table_names(database_url) == {"users"}
    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.strip() == f"Upgraded {first} -> {second} (1 revision)."
    assert table_names(database_url) == {"users", "teams"}

    downgraded = migrate("downgrade")
    assert downgraded.exit_code == 0, downgraded.output
    assert downgraded.stdout.strip() == f"Downgraded {second} -> {first} (1 revision)."
    assert f"reverted {second}" in downgraded.stderr
    assert table_names(database_url) == {"users"}
    assert versions_in(database_url) == {first}

    assert migrate("upgrade").exit_code == 0
    assert table_names(database_url) == {"users", "teams"}
    assert versions_in(database_url) == {second}


def test_upgrade_when_at_head_says_so(project, migrate):
    migrate("create", "Add users table")
    migrate("upgrade")

    result = migrate("upgrade")

    assert result.exit_code == 0
    assert "nothing to upgrade" in result.stdout


def test_an_in_process_run_leaves_the_garbage_collector_as_it_found_it(project, migrate):
    """A command runs with fewer collections; a plugin's tests that run `migrate` in their
    own process (migrations_cli.testing) get Python's thresholds back, after a failure too."""
    import gc

    before = gc.get_threshold()
    assert migrate("create", "Add users table").exit_code == 0
    assert gc.get_threshold() == before
    assert migrate("upgrade", "0123456789ab").exit_code != 0  # no such revision
    assert gc.get_threshold() == before


def _three_revisions(migrate, project) -> list[str]:
    for message in ("one", "two", "three"):
        assert migrate("create", message, "--empty").exit_code == 0
    return [revision_of(path) for path in _in_history_order(project)]


def _in_history_order(project):
    """Files sorted by their Down revision chain (file names share a minute)."""
    by_parent = {}
    for path in project.revision_files():
        parent = re.search(r"^down_revision.*= (.*)$", path.read_text(), re.M)[1]
        by_parent[parent.strip("'\"")] = path
    ordered, parent = [], "None"
    while parent in by_parent:
        ordered.append(by_parent[parent])
        parent = revision_of(by_parent[parent])
    return ordered


def test_upgrade_accepts_relative_steps_ids_and_unique_prefixes(project, migrate):
    one, two, three = _three_revisions(migrate, project)

    assert migrate("upgrade", "+1").exit_code == 0
    assert project.versions_in_db() == {one}
    assert migrate("upgrade", two).exit_code == 0
    assert project.versions_in_db() == {two}
    assert migrate("upgrade", three[:6]).exit_code == 0
    assert project.versions_in_db() == {three}


def test_downgrade_accepts_steps_revisions_and_base(project, migrate):
    one, two, _ = _three_revisions(migrate, project)
    migrate("upgrade")

    assert migrate("downgrade", "-2").exit_code == 0
    assert project.versions_in_db() == {one}
    assert migrate("upgrade").exit_code == 0
    assert migrate("downgrade", two).exit_code == 0
    assert project.versions_in_db() == {two}
    result = migrate("downgrade", "base")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"Downgraded {two} -> base (2 revisions)."
    assert project.versions_in_db() == set()


def test_heads_lists_the_head(project, migrate):
    migrate("create", "Add users table")
    [path] = project.revision_files()

    result = migrate("heads")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"{revision_of(path)} (head)  Add users table"
    assert "warning" not in result.stderr


def test_heads_on_an_empty_history(project, migrate):
    result = migrate("heads")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No revisions yet" in result.stderr


def _two_heads(project, migrate) -> tuple[str, str]:
    """A base revision with two children: what two developers branching off main produce."""
    migrate("create", "base", "--empty")
    [base_file] = project.revision_files()
    base = revision_of(base_file)
    for message in ("left", "right"):
        migrate("create", message, "--empty")
        # Point each new revision at the base, as a parallel branch would.
        [new] = [p for p in project.revision_files() if message in p.name]
        new.write_text(
            re.sub(
                r"^down_revision(.*)= .*$",
                rf"down_revision\1= {base!r}",
                new.read_text(),
                flags=re.M,
            )
        )
    left = revision_of(next(p for p in project.revision_files() if "left" in p.name))
    right = revision_of(next(p for p in project.revision_files() if "right" in p.name))
    return left, right


def test_multiple_heads_warn_then_merge_joins_them(project, migrate, database_url):
    project.write_env(DATABASE_URL=database_url)
    left, right = _two_heads(project, migrate)

    heads = migrate("heads")
    assert heads.exit_code == 0
    assert {line.split()[0] for line in heads.stdout.splitlines()} == {left, right}
    assert "2 heads" in heads.stderr and "migrate merge" in heads.stderr
    blocked = migrate("upgrade")
    assert blocked.exit_code == 1
    assert "Multiple head revisions" in blocked.stderr

    merged = migrate("merge")
    assert merged.exit_code == 0, merged.output
    merge_file = project.root / merged.stdout.strip()
    assert merge_file.exists() and "merge_heads" in merge_file.name
    assert f"{left!r}" in merge_file.read_text() and f"{right!r}" in merge_file.read_text()

    single = migrate("heads")
    assert single.stdout.split()[0] == revision_of(merge_file)
    assert "warning" not in single.stderr
    assert migrate("upgrade").exit_code == 0
    assert versions_in(database_url) == {revision_of(merge_file)}


def test_merge_named_revisions_with_message(project, migrate):
    left, right = _two_heads(project, migrate)

    result = migrate("merge", left[:5], right, "-m", "Merge branches")

    assert result.exit_code == 0, result.output
    assert "merge_branches" in result.stdout
    assert len(migrate("heads").stdout.splitlines()) == 1


def test_merge_with_a_single_head_does_nothing(project, migrate):
    migrate("create", "only", "--empty")

    result = migrate("merge")

    assert result.exit_code == 0
    assert "nothing to merge" in result.stderr
    assert len(project.revision_files()) == 1


def test_merge_needs_two_revisions_when_naming_them(project, migrate):
    migrate("create", "only", "--empty")
    [path] = project.revision_files()

    result = migrate("merge", revision_of(path))

    assert result.exit_code == 2
    assert "two or more revisions" in result.stderr
