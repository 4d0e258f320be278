"""Errors that used to be raw or misleading: each one line naming the revision or file, and
what to do."""

from __future__ import annotations

import pytest
from test_errors import assert_one_line_error, write_revision

from migrations_cli.running import locking


def test_a_down_revision_pointing_nowhere_names_the_revision(project, migrate):
    write_revision(project, "aaaa00000001", down="zzzz99999999")

    for command in (("heads",), ("status",), ("upgrade",)):
        result = migrate(*command)

        assert_one_line_error(
            result, "revision aaaa00000001 names zzzz99999999 as its down_revision"
        )
        assert "UserWarning" not in result.output
        assert "KeyError" not in result.output
        assert "fix it" not in result.output  # nothing ran
    assert project.versions_in_db() == set()


def test_a_revision_id_two_files_define_names_both_files(project, migrate):
    write_revision(project, "aaaa00000001")
    write_revision(project, "bbbb00000002", down="aaaa00000001", message="two")
    copy = project.root / "alembic/versions/bbbb00000002_two_copy.py"
    copy.write_text((project.root / "alembic/versions/bbbb00000002_two.py").read_text())

    for command in (("heads",), ("status",), ("upgrade",)):
        result = migrate(*command)

        assert_one_line_error(
            result,
            "several revision files define revision bbbb00000002 "
            "(versions/bbbb00000002_two.py, versions/bbbb00000002_two_copy.py)",
            "`migrate merge` cannot help",
        )
        assert "Heads:" not in result.output


def test_a_models_module_calling_sys_exit_is_an_error_that_says_so(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata")
    project.write("models.py", "import sys\nsys.exit(3)\n")

    result = migrate("create", "Add users")

    assert_one_line_error(result, "importing models called sys.exit(3)")
    assert project.revision_files() == []


def test_a_lock_release_that_fails_is_one_warning_line(project, migrate, monkeypatch):
    from sqlalchemy import exc

    def failing_release(self):
        raise exc.OperationalError(
            "SELECT 1", {}, Exception("server closed the connection\nunexpectedly")
        )

    monkeypatch.setattr(locking._FileLock, "release", failing_release)
    write_revision(project, "aaaa00000001")

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.stderr.splitlines() if "release" in line]
    assert warning.startswith("warning: could not release the migration lock (file lock ")
    assert "database error: server closed the connection" in warning
    assert "sqlalche.me" not in result.output
    assert "unexpectedly" not in result.output


def test_downgrade_by_one_from_a_merge_point_names_its_parents(project, migrate):
    write_revision(project, "aaaa00000001")
    write_revision(project, "bbbb00000002", down="aaaa00000001", message="b")
    write_revision(project, "cccc00000003", down="aaaa00000001", message="c")
    write_revision(project, "dddd00000004", down=("bbbb00000002", "cccc00000003"), message="m")
    assert migrate("upgrade").exit_code == 0

    result = migrate("downgrade", "-1", "--yes")

    assert_one_line_error(
        result,
        "is ambiguous from dddd00000004, which merges bbbb00000002 and cccc00000003",
        "`migrate downgrade bbbb00000002` reverts the merge alone",
    )
    assert "Ambiguous walk" not in result.output
    assert project.versions_in_db() == {"dddd00000004"}


@pytest.mark.parametrize("message", ["Add users\nand teams", "Add users\r\n  and teams\n"])
def test_a_message_with_line_breaks_is_folded_into_one_history_row(project, migrate, message):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    created = migrate("create", "--empty", message)
    history = migrate("history")

    assert created.exit_code == 0, created.output
    assert created.stdout.strip().endswith("_add_users_and_teams.py")
    [row] = [line for line in history.stdout.splitlines() if "teams" in line]
    assert row.endswith("Add users and teams")
