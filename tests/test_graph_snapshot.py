"""The graph snapshot (.migrations-cache/graph-*.json) and the quick answers printed from it:
a repeated heads/history/current/status is Alembic's answer without importing Alembic,
Typer, SQLAlchemy or a revision file; and whenever the snapshot may not be the answer (files
or configuration changed, plugins, other databases, a damaged snapshot) the command runs as
usual, with the same answer. Behaviour only, through the CLI: not the document's layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import test_revision_cache as revision_cache_tests
from conftest import MIGRATE_SCRIPT, REPO_ROOT, SETTING_NAMES, Result, run_process
from test_revision_cache import HISTORIES, edit, history_of, set_database, settle

from bench.histories import write_history
from migrations_cli.core import app
from migrations_cli.graph import cache_files, graph_snapshot, quick_answers

# The revision cache tests' fixtures: files trusted at once; Alembic's own answer to a command.
_settled_at_once = revision_cache_tests._settled_at_once
alembic_command = revision_cache_tests.alembic_command

# Every command the quick lane serves, in each of its forms.
QUICK_COMMANDS = [("heads",), ("history",), ("history", "--verbose"), ("current",), ("status",)]
QUICK_COMMANDS += [(*command, "--json") for command in QUICK_COMMANDS]
JSON_COMMANDS = [("heads", "--json"), ("history", "--json"), ("current", "--json")]
JSON_COMMANDS += [("status", "--json")]
# heads, and history without options, are answered from the answers saved before the graph.
TEXT_COMMANDS = [("heads",), ("history",)]
# Enough for what does not depend on the history's shape.
SMALL = {"n": 12, "branches": 1, "labels": 1}
ENV = {"DATABASE_URL": "sqlite:///db.sqlite", "MIGRATIONS_METADATA": "models:metadata"}
# Runs main() in a fresh interpreter; writes its exit code and the heavy modules imported
# (migrations_cli's `hookimpl` is imported on first use, so pluggy is not among them).
PROBE = """
import json, sys
from migrations_cli.core.cli import main
code = main(sys.argv[2:])
heavy = {"alembic", "typer", "sqlalchemy", "pluggy"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
open(sys.argv[1], "w").write(json.dumps([code, heavy]))
"""


@pytest.fixture
def run(migrate, monkeypatch):
    """Run a command in-process: (exit code, stdout, stderr) and whether the quick lane
    answered it from the snapshot (neither the Typer app nor the revision files were read)."""
    full: list[bool] = []

    def counting(module, name):
        original = getattr(module, name)

        def counted(*args, **kwargs):
            full.append(True)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    counting(app, "run_app")
    counting(quick_answers, "graph_of_the_files")

    def run_command(*args):
        full.clear()
        result = migrate(*args)
        return (result.exit_code, result.stdout, result.stderr), not full

    return run_command


@pytest.fixture
def same(project, run, alembic_command):
    """Run each command; assert it answers as Alembic does (and in the lane `quick` says,
    unless None); returns each one's (exit code, whether the quick lane answered)."""
    known: dict[tuple, Result] = {}

    def alembics(command):
        # Alembic's answer is a function of the project's files (the cache aside).
        files = tuple(
            (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            for path in sorted(project.root.rglob("*"))
            if cache_files.CACHE_DIR not in path.parts
            for stat in [path.stat()]
        )
        database = project.db_path.read_bytes() if project.db_path.exists() else b""
        key = (command, files, database)
        if key not in known:
            known[key] = alembic_command(*command)
        return known[key]

    def check(*commands, quick=None):
        found = []
        for command in commands:
            answer, was_quick = run(*command)
            plain = alembics(command)
            assert answer == (plain.exit_code, plain.stdout, plain.stderr), command
            assert quick is None or was_quick == quick, (command, was_quick)
            found.append((answer[0], was_quick))
        return found

    return check


def warm(same) -> None:
    """A first run saves the snapshot (with the database's state); the next one is quick."""
    same(("status",))
    same(*JSON_COMMANDS, quick=True)


def answered_after_a_change(same, run, before=None) -> None:
    """Right after a change the snapshot is not used; the graph taken then is saved and
    answers the next time. `before`: history's answer before the change, which changed it."""
    [(_, first_quick), *_] = same(*TEXT_COMMANDS, *JSON_COMMANDS)
    assert not first_quick
    same(*TEXT_COMMANDS, *JSON_COMMANDS, quick=True)
    assert before is None or run("history", "--json")[0] != before


# -- 1. a warm command is Alembic's answer, without Alembic -----------------------------------


def test_warm_commands_answer_without_importing_alembic(project, same, alembic_command, tmp_path):
    revisions = history_of(project, **HISTORIES["depends_on"])
    warm(same)
    for command in QUICK_COMMANDS:
        probe = tmp_path / "probe.json"
        result = run_process([sys.executable, "-c", PROBE, str(probe), *command], project.root)
        code, heavy = json.loads(probe.read_text())
        plain = alembic_command(*command)
        assert (code, result.stdout, result.stderr) == (plain.exit_code, plain.stdout, plain.stderr)
        # Every generated revision file imports alembic and sqlalchemy: none was imported.
        assert heavy == [], command
    assert str(revisions[-1].revision) in alembic_command("heads").stdout


# -- 2. never stale -----------------------------------------------------------------------------


def _down_revision(project, revisions):
    edit(revisions[20].path, f"= {revisions[19].revision!r}", f"= {revisions[18].revision!r}")


def _docstring(project, revisions):
    edit(revisions[5].path, "trunk", "TRUNK", keep_mtime=True)


def _added(project, revisions):
    added = project.versions / "0000_new_head.py"
    shutil.copy(revisions[-2].path, added)
    edit(added, f"revision: str = {revisions[-2].revision!r}", "revision: str = 'ffff00000000'")
    edit(added, f"= {revisions[-3].revision!r}", f"= {revisions[-2].revision!r}")


def _deleted(project, revisions):
    revisions[-1].path.unlink()


def _renamed(project, revisions):
    path = revisions[10].path
    path.rename(path.with_name("renamed_" + path.name))


def _labels(project, revisions):
    labelled = next(r for r in revisions if r.branch_labels)
    edit(labelled.path, f"= {labelled.branch_labels!r}", "= ('renamed_label',)")


def _depends_on(project, revisions):
    depending = next(r for r in revisions if r.depends_on)
    edit(depending.path, f"depends_on: str | Sequence[str] | None = {depending.depends_on!r}", "")
    edit(depending.path, "def upgrade", "depends_on = None\n\n\ndef upgrade")


@pytest.mark.parametrize(
    ("shape", "change"),
    [
        ("linear", _down_revision),
        ("linear", _docstring),
        ("branches and merges", _added),
        ("branches and merges", _deleted),
        ("linear", _renamed),
        ("branch labels", _labels),
        ("depends_on", _depends_on),
    ],
    ids=lambda value: value if isinstance(value, str) else value.__name__.strip("_"),
)
def test_edited_files_are_never_answered_from_a_stale_snapshot(project, same, run, shape, change):
    revisions = history_of(project, **HISTORIES[shape])
    warm(same)
    before = run("history", "--json")[0]

    change(project, revisions)
    settle()

    answered_after_a_change(same, run, before)


VERSIONS_INI = "[alembic]\npath_separator = os\nversion_locations = {}\n"
VERSIONS_TOML = "[tool.alembic]\nversion_locations = [{}]\n"


@pytest.mark.parametrize("where", ["alembic.ini", "pyproject.toml", "MIGRATIONS_DIR"])
def test_configuration_changes_are_never_answered_stale(project, same, run, where):
    history_of(project, **HISTORIES["branch labels"])
    set_database(project)  # known in either migrations folder
    other = project.root / "other"
    for name in ("env.py", "script.py.mako"):
        (other / "versions").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "alembic" / name, other / name)
    write_history(other / "versions", 12, branches=1, seed=1)
    folders = [str(project.versions), str(other / "versions")]
    if where == "alembic.ini":
        project.write(where, VERSIONS_INI.format(folders[0]))
    elif where == "pyproject.toml":
        project.write(where, VERSIONS_TOML.format(json.dumps(folders[0])))
    settle()
    warm(same)
    before = run("history", "--json")[0]

    if where == "alembic.ini":
        project.write(where, VERSIONS_INI.format(os.pathsep.join(folders)))
    elif where == "pyproject.toml":
        project.write(where, VERSIONS_TOML.format(", ".join(map(json.dumps, folders))))
    else:
        project.write_env(**ENV, MIGRATIONS_DIR="other")
    settle()

    answered_after_a_change(same, run, before)


# -- 3. status against a real database ----------------------------------------------------------


def test_status_follows_stamp_upgrade_and_edits(project, migrate, same):
    revisions = history_of(project, n=6)
    set_database(project)
    same(("status",), quick=False)
    assert same(("status",), ("status", "--check"), quick=True) == [(0, True), (1, True)]

    assert migrate("stamp", revisions[2].revision).exit_code == 0
    # A database state not seen before is Alembic's walk, then remembered.
    assert same(("status", "--check"), quick=False) == [(1, False)]
    same(("status", "--json"), ("status", "--check"), quick=True)

    upgraded = migrate("upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert same(("status", "--check"), quick=False) == [(0, False)]
    assert same(("status", "--check"), ("current",), quick=True) == [(0, True), (0, True)]

    assert migrate("downgrade", "-1").exit_code == 0
    same(("status",), quick=False)
    same(("status", "--json"), quick=True)

    assert migrate("upgrade").exit_code == 0
    same(("status",))
    edit(revisions[1].path, 'op.create_table("t_', 'op.create_table("edited_t_')
    settle()
    # Every time: the checksum warning is the command's to word.
    for _ in range(2):
        same(("status",), ("status", "--json"), ("status", "--check"), quick=False)
    assert "edited since" in migrate("status").stderr


def test_database_states_asked_about_before_are_remembered(project, migrate, same):
    """The snapshot keeps the pending revisions of the last few database states asked about
    (graph_snapshot.KEPT_STATES), not only of the last one."""
    revisions = history_of(project, **HISTORIES["branches and merges"])
    states = [revisions[10].revision, revisions[30].revision]
    for revision in states:
        set_database(project, revision)
        same(("status",), quick=False)
        same(("status",), quick=True)

    set_database(project, states[0])
    same(("status", "--json"), quick=True)


# -- 4. what the snapshot cannot know: the command runs ------------------------------------------

EXTRA_VERSIONS_PLUGIN = """
import os

from migrations_cli.hookspecs import hookimpl


@hookimpl
def configure_alembic(config, settings):
    config.set_main_option("path_separator", "os")
    folders = [settings.migrations_dir / "versions", settings.project_dir / "extra"]
    config.set_main_option("version_locations", os.pathsep.join(map(str, folders)))
"""


def test_a_configured_plugin_is_never_bypassed(project, same, alembic_command):
    """A plugin's configure_alembic decides the graph: here, a second version folder."""
    history_of(project, **HISTORIES["branches and merges"])
    extra = write_history(project.root / "extra", 5, seed=2)
    project.write("extra_versions.py", EXTRA_VERSIONS_PLUGIN)
    warm(same)

    project.write_env(**ENV, MIGRATIONS_PLUGINS="extra_versions")
    for _ in range(2):
        same(*JSON_COMMANDS, quick=False)
    assert extra[-1].revision in alembic_command("heads").stdout


def test_an_installed_entry_point_is_never_bypassed(project, same, monkeypatch, tmp_path):
    """A warm snapshot remembers the installed distributions it saw without entry points of
    the group: one installed since (or an entry_points.txt edited) is looked up again."""
    history_of(project, **SMALL)
    site = tmp_path / "site"
    dist_info = site / "team_ep-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / "team_ep.py").write_text('"""A plugin with no hooks."""\n')
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: team-ep\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("[other_group]\nteam = team_ep\n")
    monkeypatch.syspath_prepend(str(site))
    warm(same)

    (dist_info / "entry_points.txt").write_text("[migrations_cli]\nteam = team_ep\n")
    for _ in range(2):
        same(*JSON_COMMANDS, quick=False)


@pytest.mark.parametrize(
    ("settings", "args", "exit_code", "says"),
    [
        ({"MIGRATIONS_DISABLE_PLUGINS": "dowgrade"}, ("heads",), 0, "no plugin is named"),
        ({"MIGRATIONS_DISABLE_PLUGINS": "heads"}, ("heads",), 2, "No such command"),
        ({}, ("-p", "no:heads", "heads"), 2, "No such command"),
        ({}, ("-p", "no:downgrade", "history", "--json"), 0, ""),
    ],
)
def test_disabled_plugins_step_aside(project, same, run, settings, args, exit_code, says):
    history_of(project, **SMALL)
    warm(same)
    project.write_env(**ENV, **settings)

    for _ in range(2):
        assert same(args, quick=False) == [(exit_code, False)]
    assert says in "".join(run(*args)[0][1:])


def test_a_computed_identity_is_never_answered_from_a_snapshot(project, same):
    revisions = history_of(project, n=5)
    project.write("shared_parent.py", f"PARENT = {revisions[3].revision!r}\n")
    project.write(
        "alembic/versions/computed.py",
        'from shared_parent import PARENT\n\nrevision = "cccc00000000"\ndown_revision = PARENT\n',
    )
    settle()
    for _ in range(2):
        same(*JSON_COMMANDS, quick=False)

    project.write("shared_parent.py", f"PARENT = {revisions[2].revision!r}\n")
    same(*JSON_COMMANDS, quick=False)


def test_a_server_database_is_read_by_the_command(project, migrate, same, postgresql_url):
    revisions = history_of(project, n=5)
    warm(same)
    project.write_env(**{**ENV, "DATABASE_URL": postgresql_url})
    assert migrate("stamp", revisions[2].revision).exit_code == 0

    same(("heads",), ("history", "--json"), quick=True)  # no database read
    for _ in range(2):
        same(("current",), ("current", "--json"), ("status",), ("status", "--json"), quick=False)


def test_an_unknown_revision_in_the_version_table(project, same, run):
    history_of(project, **HISTORIES["branches and merges"])
    warm(same)
    set_database(project, "deadbeef0000")

    for _ in range(2):
        status = same(("status",), ("status", "--json"), ("status", "--check"), quick=False)
        assert [code for code, _ in status] == [0, 0, 1]
        same(("current",), ("current", "--json"))
    for command in ("status", "current"):
        assert "deadbeef0000, which no migration file defines" in run(command)[0][2]


def test_several_database_heads_in_any_table_order(project, same, run):
    """A database on two branches lists them as the command does (sorted), whatever order
    the version table keeps its rows in."""
    history_of(project, **HISTORIES["branches and merges"])
    warm(same)
    (_, heads_output, _), _ = run("heads", "--json")
    heads = sorted(head["revision"] for head in json.loads(heads_output)["heads"])
    assert len(heads) > 1
    set_database(project, *reversed(heads))

    same(("current",), ("current", "--json"), ("status",), ("status", "--json"))
    same(("current",), ("current", "--json"), ("status",), quick=True)


# -- 5. the snapshot's own state ------------------------------------------------------------------


def snapshot_file(project):
    [path] = (project.root / cache_files.CACHE_DIR).glob("graph-*.json")
    return path


@pytest.mark.parametrize("damage", ["", "truncated", "altered", "other format", "other tool"])
def test_a_damaged_or_other_version_snapshot_is_ignored(project, same, run, monkeypatch, damage):
    revisions = history_of(project, **SMALL)
    warm(same)
    path = snapshot_file(project)
    data = path.read_bytes()
    message = revisions[-1].message.encode()  # in the graph, not in the file names
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "altered":
        path.write_bytes(data.replace(message, message.upper()))
    elif damage == "other format":
        monkeypatch.setattr(graph_snapshot, "FORMAT_VERSION", graph_snapshot.FORMAT_VERSION + 1)
    elif damage == "other tool":
        monkeypatch.setattr(graph_snapshot, "__version__", "0.0.1")
    else:
        path.write_text(damage)

    answered_after_a_change(same, run)
    assert all(code == 0 for code, _ in same(*JSON_COMMANDS))


def test_a_damaged_graph_is_not_used_though_the_answers_before_it_are(project, same):
    """heads and history (without options) read the answers line alone, which has a sum
    of its own; whatever reads the graph checks the graph's sum."""
    history_of(project, **SMALL)
    warm(same)
    path = snapshot_file(project)
    data = path.read_bytes()
    damaged = data.replace(b"Create Date", b"CREATE DATE")  # in the graph alone
    assert damaged != data
    assert damaged.splitlines()[:2] == data.splitlines()[:2]
    path.write_bytes(damaged)

    same(*TEXT_COMMANDS, quick=True)
    [(_, quick)] = same(("history", "--json"))
    assert not quick
    same(("history", "--json"), ("history", "--verbose"), quick=True)


def test_a_snapshot_that_is_a_folder(project, same):
    history_of(project, **SMALL)
    warm(same)
    path = snapshot_file(project)
    path.unlink()
    path.mkdir()

    for _ in range(2):
        same(*JSON_COMMANDS, quick=False)
    assert path.is_dir()


def test_a_cache_folder_that_cannot_be_written(project, same, monkeypatch):
    history_of(project, **SMALL)

    def refused(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    for _ in range(2):
        same(*JSON_COMMANDS, quick=False)


# -- 6. concurrent runs ---------------------------------------------------------------------------


def test_concurrent_console_scripts_leave_a_valid_snapshot(project, same, alembic_command):
    history_of(project, n=20, branches=2, merges=1, labels=1, depends_on=3)
    time.sleep(3.2)  # past cache_files.SETTLE_NS (as it is in the console script)
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    commands = [("heads", "--json"), ("status", "--json")] * 2
    processes = [
        subprocess.Popen(
            [str(MIGRATE_SCRIPT), *command],
            cwd=project.root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for command, process in zip(commands, processes, strict=True):
        stdout, stderr = process.communicate(timeout=120)
        plain = alembic_command(*command)
        assert (process.returncode, stdout, stderr) == (plain.exit_code, plain.stdout, plain.stderr)

    assert snapshot_file(project).is_file()
    left = sorted(os.listdir(project.root / cache_files.CACHE_DIR))
    assert not [name for name in left if name.endswith(".tmp")]
    same(("heads", "--json"), ("history", "--json"), quick=True)
    same(("status", "--json"))
