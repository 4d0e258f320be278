"""status, current, history, show, branches, stamp and heads: what they print (text and
--json) for linear, branched and merged histories, and what stamp does to each database."""

from __future__ import annotations

import json
import os
import pty
import subprocess

import typer
from conftest import MIGRATE_SCRIPT, SETTING_NAMES, table_names, versions_in

CREATED = "2025-10-13 22:37:04.183512"


# Revision ids, named for the role they play in the histories below.
FIRST, SECOND = "aaaa11111111", "bbbb22222222"
BASE, LEFT, RIGHT, MERGE, AFTER = (
    "aaaa11111111",
    "bbbb22222222",
    "cccc33333333",
    "dddd44444444",
    "eeee55555555",
)
UNKNOWN = "deadbeef0000"


def write_revision(project, revision, message, down=None, labels=None):
    return project.write_revision(
        revision,
        down,
        message=message,
        branch_labels=labels,
        created=CREATED,
        upgrade=f'op.create_table("t_{revision}", sa.Column("id", sa.Integer, primary_key=True))',
        downgrade=f'op.drop_table("t_{revision}")',
    )


def linear(project) -> None:
    write_revision(project, FIRST, "first")
    write_revision(project, SECOND, "second", down=FIRST)


def branched(project, merged=True) -> None:
    """base -> left (labelled `feature`) and right -> merge -> after."""
    write_revision(project, BASE, "base")
    write_revision(project, LEFT, "left", down=BASE, labels=("feature",))
    write_revision(project, RIGHT, "right", down=BASE)
    if merged:
        write_revision(project, MERGE, "merge", down=(LEFT, RIGHT))
        write_revision(project, AFTER, "after", down=MERGE)


def use_database(project, database_url) -> None:
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")


def add_version_row(database_url, revision) -> None:
    """What a deleted migration file leaves behind: a version the files do not define."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision}
            )
    finally:
        engine.dispose()


def parsed(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(result, *fragments, exit_code=1):
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    for fragment in fragments:
        assert fragment in line


# -- status ---------------------------------------------------------------------------------


def test_status_from_never_migrated_to_up_to_date(project, migrate, database_url):
    use_database(project, database_url)
    linear(project)

    fresh = migrate("status")
    assert fresh.exit_code == 0, fresh.output
    assert fresh.stdout.splitlines() == [
        "Current: base (no revision applied)",
        f"Head:    {SECOND}",
        "",
        "state    revision      message",
        f"pending  {FIRST}  first",
        f"pending  {SECOND}  second",
        "",
        "2 revisions pending: `migrate upgrade` applies them.",
    ]
    assert migrate("status", "--check").exit_code == 1

    migrate("upgrade", "+1")
    partial = migrate("status", "--check")
    assert partial.exit_code == 1
    assert partial.stdout.splitlines()[0] == f"Current: {FIRST}"
    assert partial.stdout.splitlines()[4:] == [
        f"applied  {FIRST}  first",
        f"pending  {SECOND}  second",
        "",
        "1 revision pending: `migrate upgrade` applies it.",
    ]
    assert parsed(migrate("status", "--json")) == {
        "current": [FIRST],
        "heads": [SECOND],
        "unknown": [],
        "pending": 1,
        "revisions": [
            {"revision": FIRST, "message": "first", "state": "applied", "is_head": False},
            {"revision": SECOND, "message": "second", "state": "pending", "is_head": True},
        ],
    }

    migrate("upgrade")
    done = migrate("status", "--check")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[-1] == "Up to date: every revision is applied."
    assert done.stderr == ""


def test_status_applies_ancestry_across_branches_and_merges(project, migrate):
    branched(project)
    assert migrate("upgrade", LEFT).exit_code == 0

    result = migrate("status")

    assert result.stdout.splitlines()[:2] == [f"Current: {LEFT}", f"Head:    {AFTER}"]
    assert result.stdout.splitlines()[3:9] == [
        "state    revision      message",
        f"applied  {BASE}  base",
        f"pending  {RIGHT}  right",
        f"applied  {LEFT}  left",
        f"pending  {MERGE}  merge",
        f"pending  {AFTER}  after",
    ]

    migrate("upgrade", RIGHT)
    both = parsed(migrate("status", "--json"))
    assert both["current"] == [LEFT, RIGHT]
    assert [r["revision"] for r in both["revisions"] if r["state"] == "pending"] == [MERGE, AFTER]


def test_status_with_two_unmerged_heads(project, migrate):
    branched(project, merged=False)
    migrate("upgrade", LEFT)

    behind = migrate("status", "--check")
    assert behind.exit_code == 1
    # A plain `migrate upgrade` (to head) is refused while there are two heads.
    assert behind.stdout.splitlines()[-1] == (
        "1 revision pending: `migrate upgrade heads` applies every branch, "
        "or `migrate merge` first."
    )

    migrate("upgrade", "heads")
    result = migrate("status", "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        f"Current: {LEFT}, {RIGHT}",
        f"Heads:   {LEFT}, {RIGHT}",
    ]
    assert parsed(migrate("status", "--json"))["heads"] == [LEFT, RIGHT]


def test_status_with_a_database_revision_no_file_defines(project, migrate):
    linear(project)
    migrate("upgrade", "+1")
    add_version_row(f"sqlite:///{project.db_path}", UNKNOWN)

    result = migrate("status")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Current: {FIRST}, {UNKNOWN} (no migration file)"
    # The first revision is an ancestor of a known one; the rest cannot be told.
    assert result.stdout.splitlines()[4:] == [
        f"applied  {FIRST}  first",
        f"unknown  {SECOND}  second",
    ]
    assert f"warning: the database is at {UNKNOWN}, which no migration file defines" in (
        result.stderr
    )
    assert "migrate stamp --purge" in result.stderr
    assert migrate("status", "--check").exit_code == 1
    document = parsed(migrate("status", "--json"))
    assert document["unknown"] == [UNKNOWN]
    assert document["pending"] == 0
    assert [r["state"] for r in document["revisions"]] == ["applied", "unknown"]


def on_a_terminal(project, *args, env=None):
    """The console script with stdout on a pseudo-terminal, as a person runs it."""
    master, replica = pty.openpty()
    environment = {
        key: value for key, value in os.environ.items() if key not in (*SETTING_NAMES, "NO_COLOR")
    }
    completed = subprocess.run(
        [str(MIGRATE_SCRIPT), *args],
        cwd=project.root,
        env={**environment, **(env or {})},
        stdout=replica,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    os.close(replica)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return completed.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


def test_status_on_a_terminal_colours_the_state_and_keeps_columns_aligned(project, migrate):
    linear(project)
    migrate("upgrade", "+1")

    exit_code, coloured = on_a_terminal(project, "status", "--check")
    _, plain = on_a_terminal(project, "status", env={"NO_COLOR": "1"})

    assert exit_code == 1
    lines = coloured.splitlines()
    assert lines[4] == typer.style("applied", fg="green", bold=False) + f"  {FIRST}  first"
    assert lines[5] == typer.style("pending", fg="yellow", bold=False) + f"  {SECOND}  second"
    assert plain.splitlines()[4:6] == [f"applied  {FIRST}  first", f"pending  {SECOND}  second"]


def test_status_on_an_empty_history(project, migrate):
    result = migrate("status", "--check")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["Current: base (no revision applied)", "Head:    none"]
    assert "No revisions yet" in result.stderr


def test_status_check_from_the_console_script(project, migrate_console):
    linear(project)

    result = migrate_console("status", "--check")

    assert result.exit_code == 1
    assert f"pending  {SECOND}  second" in result.stdout.splitlines()
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


# -- current --------------------------------------------------------------------------------


def test_current_from_base_to_head(project, migrate, database_url):
    use_database(project, database_url)
    linear(project)

    assert migrate("current").stdout == "base (no revision applied)\n"
    assert parsed(migrate("current", "--json")) == {"current": [], "unknown": []}

    migrate("upgrade", "+1")
    assert migrate("current").stdout == f"{FIRST}  first\n"

    migrate("upgrade")
    result = migrate("current")
    assert result.exit_code == 0
    assert result.stdout == f"{SECOND} (head)  second\n"
    assert parsed(migrate("current", "--json")) == {
        "current": [{"revision": SECOND, "message": "second", "is_head": True}],
        "unknown": [],
    }


def test_current_names_a_revision_without_file(project, migrate):
    linear(project)
    migrate("upgrade")
    add_version_row(f"sqlite:///{project.db_path}", UNKNOWN)

    result = migrate("current")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{SECOND} (head)  second",
        f"{UNKNOWN} (no migration file)",
    ]
    assert "no migration file defines" in result.stderr
    assert parsed(migrate("current", "--json"))["unknown"] == [UNKNOWN]


def test_current_with_branch_heads_from_the_console_script(project, migrate, migrate_console):
    branched(project, merged=False)
    migrate("upgrade", "heads")

    result = migrate_console("current", "--json")

    assert parsed(result) == {
        "current": [
            {"revision": LEFT, "message": "left", "is_head": True},
            {"revision": RIGHT, "message": "right", "is_head": True},
        ],
        "unknown": [],
    }


# -- history --------------------------------------------------------------------------------


def test_history_lists_oldest_first_with_tree_markers(project, migrate):
    branched(project)

    result = migrate("history")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "revision                             message",
        f"{BASE} (branchpoint)           base",
        f"{RIGHT}                         right",
        f"{LEFT} (feature)               left",
        f"{MERGE} (feature) (mergepoint)  merge",
        f"{AFTER} (feature) (head)        after",
    ]


def test_history_verbose_adds_parents_labels_dates_and_paths(project, migrate):
    branched(project, merged=False)

    result = migrate("history", "--verbose")

    # A branch label names its whole branch (Alembic's rule): base is on no single branch.
    assert result.stdout.splitlines() == [
        "revision                    parent        branch   created           message  path",
        f"{BASE} (branchpoint)  base                   2025-10-13 22:37  base     "
        f"alembic/versions/{BASE}_base.py",
        f"{RIGHT} (head)         {BASE}           2025-10-13 22:37  right    "
        f"alembic/versions/{RIGHT}_right.py",
        f"{LEFT} (head)         {BASE}  feature  2025-10-13 22:37  left     "
        f"alembic/versions/{LEFT}_left.py",
    ]


def test_history_ranges_follow_alembic(project, migrate):
    branched(project)

    def revisions(rev_range):
        result = migrate("history", "-r", rev_range)
        assert result.exit_code == 0, result.output
        return [line.split()[0] for line in result.stdout.splitlines()[1:]]

    assert revisions(f"{MERGE[:6]}:") == [MERGE, AFTER]
    assert revisions(f":{LEFT}") == [BASE, LEFT]
    assert revisions(f"{LEFT}:{AFTER}") == [LEFT, MERGE, AFTER]
    assert revisions("base:heads") == [BASE, RIGHT, LEFT, MERGE, AFTER]
    assert revisions("-1:") == [MERGE, AFTER]


def test_history_ranges_with_current(project, migrate):
    linear(project)
    write_revision(project, "cccc33333333", "third", down=SECOND)

    before = migrate("history", "-r", ":current")
    assert before.exit_code == 0
    assert before.stdout == ""
    assert "No revisions in :current" in before.stderr

    migrate("upgrade", SECOND)
    up_to = migrate("history", "-r", ":current")
    assert [line.split()[0] for line in up_to.stdout.splitlines()[1:]] == [FIRST, SECOND]
    onwards = parsed(migrate("history", "-r", "current:", "--json"))
    assert [r["revision"] for r in onwards["revisions"]] == [SECOND, "cccc33333333"]


def test_history_json_carries_every_field(project, migrate):
    branched(project)

    document = parsed(migrate("history", "--json"))

    assert [r["revision"] for r in document["revisions"]] == [BASE, RIGHT, LEFT, MERGE, AFTER]
    by_id = {r["revision"]: r for r in document["revisions"]}
    assert by_id[MERGE] == {
        "revision": MERGE,
        "message": "merge",
        "parents": [LEFT, RIGHT],
        "depends_on": [],
        "children": [AFTER],
        "branch_labels": ["feature"],
        "is_head": False,
        "is_branch_point": False,
        "is_merge_point": True,
        "created": "2025-10-13T22:37:04.183512",
        "path": f"alembic/versions/{MERGE}_merge.py",
    }
    assert by_id[BASE]["children"] == [LEFT, RIGHT]
    assert by_id[BASE]["is_branch_point"] is True
    assert by_id[LEFT]["branch_labels"] == ["feature"]
    assert by_id[AFTER]["is_head"] is True


def test_history_errors(project, migrate):
    linear(project)

    assert_one_line_error(migrate("history", "-r", "zzzz:"), "No such revision or branch 'zzzz'")
    assert_one_line_error(migrate("history", "-r", f"{SECOND}:{FIRST}"), "Requested range")
    malformed = migrate("history", "-r", FIRST)
    assert malformed.exit_code == 2
    assert "is not a range" in malformed.stderr


def test_history_of_nothing(project, migrate):
    result = migrate("history")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No revisions yet" in result.stderr
    assert parsed(migrate("history", "--json")) == {"revisions": []}


def test_history_from_the_console_script(project, migrate_console):
    linear(project)

    result = migrate_console("history", "-r", f"{SECOND[:4]}:")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "revision             message",
        f"{SECOND} (head)  second",
    ]


# -- show -----------------------------------------------------------------------------------


def test_show_a_merge_point_by_prefix(project, migrate):
    branched(project)

    result = migrate("show", MERGE[:5])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Revision:      {MERGE} (mergepoint)",
        f"Merges:        {LEFT}, {RIGHT}",
        "Branch labels: feature",
        "Created:       2025-10-13 22:37:04.183512",
        f"Path:          alembic/versions/{MERGE}_merge.py",
        "",
        "    merge",
        "",
        f"    Revision ID: {MERGE}",
        f"    Revises: {(LEFT, RIGHT)!r}",
        f"    Create Date: {CREATED}",
    ]


def test_show_a_branch_point_and_a_labelled_revision(project, migrate):
    branched(project)

    point = migrate("show", BASE).stdout.splitlines()
    labelled = migrate("show", LEFT).stdout.splitlines()

    assert point[:3] == [
        f"Revision:      {BASE} (branchpoint)",
        "Parent:        base",
        f"Branches into: {LEFT}, {RIGHT}",
    ]
    assert labelled[:3] == [
        f"Revision:      {LEFT}",
        f"Parent:        {BASE}",
        "Branch labels: feature",
    ]


def test_show_head_current_and_json(project, migrate):
    linear(project)
    migrate("upgrade", "+1")

    assert migrate("show", "head").stdout.startswith(f"Revision:      {SECOND} (head)\n")
    assert migrate("show", "current").stdout.startswith(f"Revision:      {FIRST}\n")
    [document] = parsed(migrate("show", SECOND, "--json"))["revisions"]
    assert document["revision"] == SECOND
    assert document["parents"] == [FIRST]
    assert document["is_head"] is True


def test_show_errors(project, migrate):
    linear(project)

    assert_one_line_error(migrate("show", "zzzz"), "No such revision or branch 'zzzz'")
    assert_one_line_error(migrate("show", "base"), "base is not a revision")
    assert_one_line_error(migrate("show", "current"), "the database is at base")
    assert migrate("show").exit_code == 2


def test_show_from_the_console_script_and_its_completion(project, migrate_console):
    branched(project)

    shown = migrate_console("show", LEFT[:4])
    completed = migrate_console(
        env={
            "_MIGRATE_COMPLETE": "complete_bash",
            "COMP_WORDS": "migrate show dd",
            "COMP_CWORD": "2",
        }
    )

    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"Revision:      {LEFT}\n")
    assert completed.stdout.split() == [MERGE]


# -- branches -------------------------------------------------------------------------------


def test_branches_lists_each_branch_point_and_its_branches(project, migrate):
    branched(project)

    result = migrate("branches")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{BASE} (branchpoint)  base",
        f"  -> {LEFT} (feature)  left",
        f"  -> {RIGHT}  right",
    ]
    assert parsed(migrate("branches", "--json")) == {
        "branch_points": [
            {
                "revision": BASE,
                "message": "base",
                "branches": [
                    {"revision": LEFT, "message": "left", "is_head": False},
                    {"revision": RIGHT, "message": "right", "is_head": False},
                ],
            }
        ]
    }


def test_branches_of_a_linear_history(project, migrate, migrate_console):
    linear(project)

    result = migrate_console("branches")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No branch points" in result.stderr
    assert parsed(migrate("branches", "--json")) == {"branch_points": []}


# -- stamp ----------------------------------------------------------------------------------


def test_stamp_head_then_base_runs_no_migration(project, migrate, database_url):
    use_database(project, database_url)
    linear(project)

    stamped = migrate("stamp", "head")
    assert stamped.exit_code == 0, stamped.output
    assert stamped.stdout == f"Stamped base -> {SECOND}.\n"
    assert versions_in(database_url) == {SECOND}
    assert not {name for name in table_names(database_url) if name.startswith("t_")}
    assert migrate("status", "--check").exit_code == 0

    again = migrate("stamp", SECOND[:6])
    assert again.stdout == f"Already at {SECOND}: nothing to stamp.\n"

    back = migrate("stamp", "base")
    assert back.exit_code == 0, back.output
    assert back.stdout == f"Stamped {SECOND} -> base.\n"
    assert versions_in(database_url) == set()


def test_stamp_purge_replaces_a_revision_no_file_defines(project, migrate, database_url):
    use_database(project, database_url)
    linear(project)
    migrate("stamp", FIRST)
    add_version_row(database_url, UNKNOWN)

    refused = migrate("stamp", "head")
    assert_one_line_error(refused, f"the database is at {UNKNOWN}", "--purge")
    assert versions_in(database_url) == {FIRST, UNKNOWN}

    purged = migrate("stamp", "head", "--purge")
    assert purged.exit_code == 0, purged.output
    assert purged.stdout == f"Stamped {FIRST}, {UNKNOWN} -> {SECOND}.\n"
    assert versions_in(database_url) == {SECOND}


def test_stamp_several_branch_heads(project, migrate):
    branched(project, merged=False)

    result = migrate("stamp", LEFT, RIGHT)

    assert result.stdout == f"Stamped base -> {LEFT}, {RIGHT}.\n"
    assert project.versions_in_db() == {LEFT, RIGHT}


def test_stamp_an_unknown_revision(project, migrate):
    linear(project)

    assert_one_line_error(migrate("stamp", "zzzz"), "No such revision or branch 'zzzz'")
    assert migrate("stamp").exit_code == 2
    assert project.versions_in_db() == set()


def test_stamp_from_the_console_script(project, migrate_console):
    linear(project)

    result = migrate_console("stamp", FIRST[:4])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"Stamped base -> {FIRST}.\n"
    assert "No migration ran" in result.stderr
    assert project.versions_in_db() == {FIRST}


def test_stamp_does_not_import_the_models(project, migrate):
    """A deploy stamps without the application's settings, as it upgrades without them."""
    linear(project)
    project.write("models.py", "raise RuntimeError('needs the application settings')\n")

    result = migrate("stamp", "head")

    assert result.exit_code == 0, result.output


# -- heads ----------------------------------------------------------------------------------


def test_heads_json_with_two_heads_keeps_the_warning_on_stderr(project, migrate):
    branched(project, merged=False)

    result = migrate("heads", "--json")

    assert parsed(result) == {
        "heads": [
            {
                "revision": LEFT,
                "message": "left",
                "branch_labels": ["feature"],
                "effective_head": False,
            },
            {"revision": RIGHT, "message": "right", "branch_labels": [], "effective_head": False},
        ]
    }
    assert "2 heads" in result.stderr


def test_heads_json_from_the_console_script(project, migrate_console):
    empty = migrate_console("heads", "--json")
    linear(project)
    one = migrate_console("heads", "--json")

    assert parsed(empty) == {"heads": []}
    assert parsed(one) == {
        "heads": [
            {"revision": SECOND, "message": "second", "branch_labels": [], "effective_head": False}
        ]
    }


def test_heads_lists_an_effective_head_as_alembic_heads_does(project, migrate):
    """A revision only another's depends_on names is still listed (and marked), as plain
    `alembic heads` lists it; upgrading to `head` is not ambiguous because of it."""
    import io

    from alembic import command
    from alembic.config import Config

    write_revision(project, "aaaa11111111", "first")
    write_revision(project, "dddd44444444", "other root")
    path = write_revision(project, "bbbb22222222", "second", down="aaaa11111111")
    path.write_text(path.read_text().replace("depends_on = None", "depends_on = 'dddd44444444'"))
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(project.root / "alembic"))
    command.heads(config)

    result = migrate("heads")
    document = json.loads(migrate("heads", "--json").stdout)

    assert "dddd44444444 (effective head)" in config.stdout.getvalue()
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.splitlines()) == [
        "bbbb22222222 (head)  second",
        "dddd44444444 (effective head)  other root",
    ]
    assert "heads:" not in result.stderr  # one head once depends_on is resolved
    assert {head["revision"]: head["effective_head"] for head in document["heads"]} == {
        "bbbb22222222": False,
        "dddd44444444": True,
    }
