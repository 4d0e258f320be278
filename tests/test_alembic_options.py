"""Every `alembic` option a team uses has its `migrate` form with the same meaning, checked
against plain `alembic` on the same project: create's (revision's) options, -x, --name,
edit, history --indicate-current, several version_locations; and the conventions of a
project configured for plain Alembic."""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_process, versions_in

from migrations_cli.core import app
from migrations_cli.core.global_options import GlobalOptions
from migrations_cli.graph import cache_files

# Runs `alembic ARGS` once per step, in one interpreter (one start-up for all of them): each
# step's output follows a marker line with the step's number, and its exit code.
ALEMBIC_STEPS = """
import json, sys
from alembic.config import main
for number, argv in enumerate(json.loads(sys.argv[1])):
    sys.stdout.flush()
    try:
        main(argv=argv, prog="alembic")
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    sys.stdout.flush()
    print(f"=== step {number} exit {code}", flush=True)
"""

TWO_VERSION_LOCATIONS = """\
[alembic]
script_location = %(here)s/alembic
version_locations = %(here)s/alembic/versions %(here)s/alembic/other
path_separator = space
prepend_sys_path = .
"""


def run_alembic(cwd: Path, *steps: list[str]) -> list[tuple[int, str]]:
    """Plain alembic's exit code and stdout for each step."""
    result = run_process([sys.executable, "-c", ALEMBIC_STEPS, json.dumps(steps)], cwd=cwd)
    found, output = [], []
    for line in result.stdout.splitlines():
        if line.startswith("=== step "):
            found.append((int(line.rsplit(" ", 1)[1]), "\n".join(output)))
            output = []
        else:
            output.append(line)
    assert len(found) == len(steps), result.output
    return found


def identities(folder: Path) -> list[tuple[str, object, object, object]]:
    """Each revision file below `folder` (path relative to it), with its down_revision,
    branch_labels and depends_on as written."""
    found = []
    for path in sorted((folder / "alembic").rglob("*.py")):
        if path.name == "env.py":
            continue
        values = {
            node.target.id: ast.literal_eval(node.value)
            for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value
        }
        found.append(
            (
                path.relative_to(folder).as_posix(),
                values["down_revision"],
                values["branch_labels"],
                values["depends_on"],
            )
        )
    return found


@pytest.fixture
def two_locations(project):
    """The project configured for plain Alembic, with two version folders."""
    project.write("alembic.ini", TWO_VERSION_LOCATIONS)
    (project.root / "alembic" / "other").mkdir()
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    return project


# Each revision command of a team with branches, as alembic and as migrate.
NEW_BRANCH = ("--branch-label", "other", "--version-path", "alembic/other")
DEPENDS = ("--depends-on", "b1", "--depends-on", "b2")
REVISION_STEPS = [
    (
        ["revision", "-m", "one", "--rev-id", "a1", "--version-path", "alembic/versions"],
        ["create", "--empty", "one", "--rev-id", "a1", "--version-path", "alembic/versions"],
    ),
    (
        ["revision", "-m", "two", "--rev-id", "b1", "--head", "base", *NEW_BRANCH],
        ["create", "--empty", "two", "--rev-id", "b1", "--head", "base", *NEW_BRANCH],
    ),
    (
        ["revision", "-m", "three", "--rev-id", "b2", "--head", "other@head"],
        ["create", "--empty", "three", "--rev-id", "b2", "--head", "other@head"],
    ),
    (
        ["revision", "-m", "four", "--rev-id", "a2", "--head", "a1", *DEPENDS],
        ["create", "--empty", "four", "--rev-id", "a2", "--head", "a1", *DEPENDS],
    ),
    (
        ["revision", "-m", "five", "--rev-id", "a3", "--head", "a1", "--splice"],
        ["create", "--empty", "five", "--rev-id", "a3", "--head", "a1", "--splice"],
    ),
    (
        ["merge", "-m", "join", "--rev-id", "m1", "--branch-label", "joined", "a2", "a3"],
        ["merge", "a2", "a3", "-m", "join", "--rev-id", "m1", "--branch-label", "joined"],
    ),
]


def test_create_and_merge_take_alembics_revision_options_with_its_meaning(
    two_locations, migrate, tmp_path
):
    plain = tmp_path / "plain"
    shutil.copytree(two_locations.root, plain)

    answers = run_alembic(plain, *(alembic for alembic, _ in REVISION_STEPS))
    for (_, migrate_args), (code, _) in zip(REVISION_STEPS, answers, strict=True):
        result = migrate(*migrate_args)
        assert (result.exit_code, code) == (0, 0), (migrate_args, result.output)

    assert identities(two_locations.root) == identities(plain)
    assert ("alembic/other/b1_two.py", None, ("other",), None) in identities(plain)
    assert ("alembic/versions/a2_four.py", "a1", None, ["b1", "b2"]) in identities(plain)


def test_a_revision_that_is_not_a_head_needs_splice_as_in_alembic(two_locations, migrate):
    migrate("create", "--empty", "one", "--rev-id", "a1", "--version-path", "alembic/versions")
    migrate("create", "--empty", "two", "--rev-id", "a2")
    [(code, _)] = run_alembic(two_locations.root, ["revision", "-m", "x", "--head", "a1"])

    result = migrate("create", "--empty", "x", "--head", "a1")

    assert result.exit_code == 1
    assert code != 0  # Alembic exits -1 (255)
    assert result.stderr.splitlines() == [
        "error: Revision a1 is not a head revision; please specify --splice to create a new "
        "branch from this revision"
    ]
    assert len(two_locations.revision_files()) == 2


def test_heads_history_branches_and_upgrade_read_every_version_location(
    two_locations, migrate, tmp_path
):
    for _, migrate_args in REVISION_STEPS[:5]:
        assert migrate(*migrate_args).exit_code == 0
    plain = tmp_path / "plain"
    shutil.copytree(two_locations.root, plain)
    heads, history, branches, upgraded = run_alembic(
        plain, ["heads"], ["history"], ["branches"], ["upgrade", "heads"]
    )

    assert [line.split()[0] for line in migrate("heads").stdout.splitlines()] == [
        line.split()[0] for line in heads[1].splitlines()
    ]
    documents = json.loads(migrate("history", "--json").stdout)["revisions"]
    alembic_ids = [line.split(" -> ")[1].split()[0].rstrip(",") for line in history[1].splitlines()]
    assert [document["revision"] for document in documents] == alembic_ids[::-1]
    assert _branch_points(migrate("branches").stdout) == _branch_points(branches[1])
    assert migrate("upgrade", "heads").exit_code == upgraded[0] == 0
    assert versions_in(f"sqlite:///{two_locations.root / 'db.sqlite'}") == versions_in(
        f"sqlite:///{plain / 'db.sqlite'}"
    )


def test_a_file_added_to_another_version_location_is_seen_by_the_quick_answers(
    two_locations, migrate, monkeypatch
):
    monkeypatch.setattr(cache_files, "SETTLE_NS", 0)  # files count as settled at once
    full_runs: list[bool] = []
    run_app = app.run_app
    monkeypatch.setattr(app, "run_app", lambda *args: full_runs.append(True) or run_app(*args))
    for _, migrate_args in REVISION_STEPS[:3]:
        assert migrate(*migrate_args).exit_code == 0
    migrate("heads")  # a full run, which saves the graph snapshot
    full_runs.clear()
    first = migrate("heads")
    assert not full_runs  # answered from the snapshot
    [(code, _)] = run_alembic(two_locations.root, ["revision", "-m", "four", "--head", "b2"])

    second = migrate("heads")

    assert code == 0
    [added] = (two_locations.root / "alembic" / "other").glob("*_four.py")
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["a1", "b2"]
    assert [line.split()[0] for line in second.stdout.splitlines()] == [
        "a1",
        added.name.split("_")[0],
    ]


def _branch_points(text: str) -> list[str]:
    """The branch points a `branches` output lists, in its order (lines not indented)."""
    return [line.split()[0] for line in text.splitlines() if line and not line[0].isspace()]


def test_branches_lists_branch_points_in_alembics_order(project, migrate):
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    for rev_id, head in [("a", "base"), ("b1", "a"), ("b2", "a"), ("c1", "b1"), ("c2", "b1")]:
        splice = ["--splice"] if head in ("a", "b1") else []
        result = migrate("create", "--empty", rev_id, "--rev-id", rev_id, "--head", head, *splice)
        assert result.exit_code == 0, result.output
    [(_, plain)] = run_alembic(project.root, ["branches"])

    result = migrate("branches")

    assert _branch_points(plain) == ["b1", "a"]  # newest first
    assert _branch_points(result.stdout) == _branch_points(plain)
    assert [
        point["revision"]
        for point in json.loads(migrate("branches", "--json").stdout)["branch_points"]
    ] == ["b1", "a"]


# -- -x and --name ---------------------------------------------------------------------------

X_RECORDING_ENV_PY = """\
import json
from pathlib import Path

from alembic import context

from migrations_cli.environment import run_migrations

Path(context.config.get_main_option("here") or ".", "x.json").write_text(
    json.dumps(context.get_x_argument(as_dictionary=True))
)
run_migrations()
"""


def test_global_options_read_x_and_name_before_the_command():
    options = GlobalOptions.parse(["-x", "tenant=acme", "-xregion=eu", "-n", "db2", "upgrade"])

    assert options.x_arguments == ("tenant=acme", "region=eu")
    assert options.name == "db2"
    assert options.command == "upgrade"
    assert GlobalOptions.parse(["--name=db2", "heads"]).name == "db2"
    assert GlobalOptions.parse(["--name", "db2", "-x", "a=1", "heads"]).command == "heads"


def test_x_arguments_reach_env_py_as_with_plain_alembic(project, migrate, tmp_path):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    project.write("alembic/env.py", X_RECORDING_ENV_PY)
    migrate("create", "--empty", "first")
    [(code, _)] = run_alembic(
        project.root, ["-x", "tenant=acme", "-x", "region=eu", "upgrade", "head"]
    )
    assert code == 0
    plain = json.loads((project.root / "x.json").read_text())
    migrate("downgrade", "base", "--yes")

    result = migrate("-x", "tenant=acme", "-xregion=eu", "upgrade")

    assert result.exit_code == 0, result.output
    assert plain == {"tenant": "acme", "region": "eu"}
    assert json.loads((project.root / "x.json").read_text()) == plain
    assert migrate("downgrade", "base", "--yes").exit_code == 0
    assert json.loads((project.root / "x.json").read_text()) == {}


MULTI_DATABASE_INI = """\
[engine_one]
script_location = %(here)s/one
sqlalchemy.url = sqlite:///%(here)s/one.db

[engine_two]
script_location = %(here)s/two
sqlalchemy.url = sqlite:///%(here)s/two.db
"""


def test_name_picks_the_ini_section_of_one_database_as_in_alembic(project, migrate):
    project.write("alembic.ini", MULTI_DATABASE_INI)
    for folder in ("one", "two"):
        shutil.copytree(project.root / "alembic", project.root / folder)
    project.write_env()  # no DATABASE_URL: each section's own URL

    created = migrate("--name", "engine_two", "create", "--empty", "first", "--rev-id", "t1")
    upgraded = migrate("-n", "engine_two", "upgrade")

    assert created.exit_code == 0, created.output
    assert created.stdout == "two/versions/t1_first.py\n"
    assert upgraded.exit_code == 0, upgraded.output
    assert versions_in(f"sqlite:///{project.root / 'two.db'}") == {"t1"}
    assert not (project.root / "one.db").exists()
    current_two, heads_one = run_alembic(
        project.root, ["-n", "engine_two", "current"], ["-n", "engine_one", "heads"]
    )
    assert current_two == (0, "t1 (head)")
    assert heads_one == (0, "")
    assert migrate("-n", "engine_one", "heads").stdout == ""
    assert migrate("-n", "engine_two", "heads").stdout.split()[0] == "t1"


def test_name_of_a_section_the_ini_lacks_is_one_line(project, migrate):
    project.write("alembic.ini", MULTI_DATABASE_INI)

    result = migrate("--name", "engine_three", "heads")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --name engine_three: {project.root / 'alembic.ini'} has no [engine_three] "
        "section\n"
    )


# -- edit, history --indicate-current ---------------------------------------------------------

EDITOR = """\
#!/bin/sh
echo "$1" >> "$(dirname "$0")/edited.txt"
"""


def test_edit_opens_the_files_alembic_edit_opens(project, migrate, tmp_path, monkeypatch):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    editor = tmp_path / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    migrate("create", "--empty", "one", "--rev-id", "a1")
    migrate("create", "--empty", "two", "--rev-id", "b1", "--head", "base", "--splice")
    edited = tmp_path / "edited.txt"

    run_process(
        [sys.executable, "-c", ALEMBIC_STEPS, json.dumps([["edit", "a1"]])],
        project.root,
        env={"EDITOR": str(editor)},
    )
    run_process(
        [sys.executable, "-c", ALEMBIC_STEPS, json.dumps([["edit", "heads"]])],
        project.root,
        env={"EDITOR": str(editor)},
    )
    plain = edited.read_text().splitlines()
    edited.unlink()
    assert migrate("edit", "a1").exit_code == 0
    assert migrate("edit", "heads").exit_code == 0

    assert plain[0].endswith("a1_one.py")
    assert sorted(plain[1:]) == sorted(str(path) for path in project.revision_files())
    assert edited.read_text().splitlines()[0] == plain[0]
    assert sorted(edited.read_text().splitlines()[1:]) == sorted(plain[1:])
    unknown = migrate("edit", "nosuch")
    assert unknown.exit_code == 1
    assert unknown.stderr.count("\n") == 1 and unknown.stderr.startswith("error: ")


def test_history_indicate_current_marks_what_alembic_marks(project, migrate):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")
    for rev_id in ("a1", "a2", "a3"):
        migrate("create", "--empty", rev_id, "--rev-id", rev_id)
    migrate("upgrade", "a2")
    [(code, plain)] = run_alembic(project.root, ["history", "--indicate-current"])

    result = migrate("history", "-i")

    assert (result.exit_code, code) == (0, 0)
    [marked] = [line for line in plain.splitlines() if "(current)" in line]
    assert marked.startswith("a1 -> a2 ")
    assert [line.split()[0] for line in result.stdout.splitlines() if "(current)" in line] == ["a2"]
    documents = json.loads(migrate("history", "-i", "--json").stdout)["revisions"]
    assert [document["is_current"] for document in documents] == [False, True, False]
    assert "(current)" not in migrate("history").stdout


def test_stamp_sql_prints_what_alembic_stamp_sql_prints(project, migrate):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    migrate("create", "--empty", "first", "--rev-id", "a1")
    [(code, plain)] = run_alembic(project.root, ["stamp", "head", "--sql"])

    result = migrate("stamp", "head", "--sql")

    assert (result.exit_code, code) == (0, 0)
    assert "INSERT INTO alembic_version (version_num) VALUES ('a1')" in plain
    assert result.stdout.rstrip("\n") == plain.rstrip("\n")
    assert not project.db_path.exists()


def test_version_names_the_alembic_that_alembic_version_names(project, migrate):
    [(code, plain)] = run_alembic(project.root, ["--version"])

    result = migrate("--version")

    assert (result.exit_code, code) == (0, 0)
    assert plain.startswith("alembic ")
    assert f"(alembic {plain.split()[1]}, SQLAlchemy " in result.stdout


# -- the project's conventions ------------------------------------------------------------------


def test_a_project_configured_for_alembic_keeps_alembics_file_names(project, migrate):
    project.write("alembic.ini", "[alembic]\nscript_location = %(here)s/alembic\n")
    [(code, _)] = run_alembic(project.root, ["revision", "-m", "by alembic", "--rev-id", "a1"])

    result = migrate("create", "--empty", "by migrate", "--rev-id", "m1")

    assert (result.exit_code, code) == (0, 0)
    assert sorted(path.name for path in project.revision_files()) == [
        "a1_by_alembic.py",
        "m1_by_migrate.py",
    ]


def test_init_writes_tool_alembic_so_plain_alembic_works_there(project, migrate):
    shutil.rmtree(project.root / "alembic")
    project.write("pyproject.toml", '[project]\nname = "app"\n')

    result = migrate("init")
    created = migrate("create", "--empty", "first")
    [(code, heads)] = run_alembic(project.root, ["heads"])

    assert result.exit_code == 0, result.output
    assert "updated  pyproject.toml (added [tool.alembic])" in result.stdout.splitlines()
    assert (project.root / "pyproject.toml").read_text().startswith('[project]\nname = "app"\n')
    assert not (project.root / "alembic.ini").exists()
    [path] = project.revision_files()
    assert created.stdout == f"alembic/versions/{path.name}\n"
    assert path.name[:8].isdigit() and path.name[13] == "-"  # migrate's YYYYMMDD_HHMM-
    assert code == 0
    assert heads.split()[0] == path.name[14:26]


def test_a_migrations_folder_without_its_template_is_one_line(project, migrate):
    (project.root / "alembic" / "script.py.mako").unlink()

    created = migrate("create", "--empty", "first")
    merged = migrate("merge", "a", "b")

    for result in (created, merged):
        assert result.exit_code == 1
        assert result.stderr == (
            "error: alembic/script.py.mako is missing: it is the template of new revision "
            "files (`migrate init` writes it again; existing files are left alone)\n"
        )
    assert project.revision_files() == []


def test_a_revision_file_raising_on_import_is_named(project, migrate):
    migrate("create", "--empty", "first", "--rev-id", "a1")
    [path] = project.revision_files()
    path.write_text(path.read_text() + "\nraise RuntimeError('SECRET_KEY is not set')\n")
    line = path.read_text().count("\n")

    for command in (("heads",), ("history",), ("upgrade",)):
        result = migrate(*command)
        assert result.exit_code == 1, command
        assert (
            f"alembic/versions/{path.name}:{line}: RuntimeError: SECRET_KEY is not set "
            "(raised while the revision file was imported)"
        ) in result.stderr, command
        assert result.stderr.count("\n") == 1, result.stderr


def test_warnings_of_the_model_comparison_are_not_a_line_of_migrate(project, migrate):
    migrate("create", "users")
    migrate("upgrade")
    import sqlite3

    with sqlite3.connect(project.db_path) as connection:
        connection.execute("CREATE INDEX ix_upper ON users (upper(name))")

    result = migrate("check")

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: comparing the models with the database: SAWarning: Skipped unsupported "
        "reflection of expression-based index ix_upper"
    ]


# -- hookimpl ------------------------------------------------------------------------------------


def test_hookimpl_is_importable_from_the_package_and_from_hookspecs(project, migrate):
    import migrations_cli
    from migrations_cli import hookimpl
    from migrations_cli.hookspecs import hookimpl as long_form

    assert hookimpl is long_form
    assert "hookimpl" in migrations_cli.__all__
    project.write(
        "short_form.py",
        "from migrations_cli import hookimpl\n\n\n"
        "@hookimpl\ndef after_migrate(revisions):\n    print('short', len(revisions))\n",
    )
    project.write(
        "long_form.py",
        "from migrations_cli.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef after_migrate(revisions):\n    print('long', len(revisions))\n",
    )
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="short_form,long_form")
    migrate("create", "--empty", "first")

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert {"short 1", "long 1"} <= set(result.stdout.splitlines())


def test_importing_the_package_does_not_import_pluggy(project):
    probe = "import sys, migrations_cli; print('pluggy' in sys.modules)"

    result = run_process([sys.executable, "-c", probe], cwd=REPO_ROOT)

    assert result.stdout.strip() == "False", result.output


# -- the alembic -> migrate table ----------------------------------------------------------------

_OPTION = re.compile(r"(?<![\w-])(--?[a-z][\w-]*)")


def alembic_options() -> dict[str | None, set[str]]:
    """Every option string of `alembic`'s own argument parser: the global ones under None,
    each command's under its name (its positional arguments and --help left out)."""
    from alembic.config import CommandLine

    parser = CommandLine(prog="alembic").parser
    found: dict[str | None, set[str]] = {None: set()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                found[name] = {
                    option
                    for sub_action in command._actions
                    for option in sub_action.option_strings
                    if option not in ("-h", "--help")
                }
        else:
            found[None] |= set(action.option_strings)
    return found


def table_rows() -> list[str]:
    """The first cell of each row of the alembic -> migrate table in docs/commands.md."""
    guide = (REPO_ROOT / "docs" / "commands.md").read_text()
    section = guide.split("## Every `alembic` command and option, and its `migrate` form", 1)[1]
    section = section.split("\n## ", 1)[0]
    return [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `alembic")]


def test_the_table_names_every_command_and_option_of_alembics_parser():
    rows = table_rows()
    by_command: dict[str | None, set[str]] = {}
    for row in rows:
        for form in re.findall(r"`alembic([^`]*)`", row):
            words = form.split()
            command = words[0] if words and not words[0].startswith("-") else None
            if command == "CMD":  # `alembic CMD --help`: every command's --help
                continue
            by_command.setdefault(command, set()).update(_OPTION.findall(form))

    for command, options in alembic_options().items():
        assert command in by_command, f"alembic {command} is not in the table"
        missing = options - by_command[command]
        assert not missing, f"alembic {command or ''} {sorted(missing)} not in the table"
    assert None in by_command and "--help" in by_command[None]
