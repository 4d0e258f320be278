"""The revision cache (.migrations-cache/): heads, history, status, current, show and branches
answer exactly as over Alembic's own ScriptDirectory, cold and warm, after every kind of edit
to the revision files, and whatever state the cache itself is in."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NoReturn

import alembic.util
import pytest
from alembic.script import ScriptDirectory
from conftest import MIGRATE_SCRIPT, SETTING_NAMES

from bench.histories import write_history
from migrations_cli.core import cli
from migrations_cli.graph import cache_files, graph_snapshot, revision_cache

HISTORIES = {
    "linear": {"n": 40},
    "branches and merges": {"n": 60, "branches": 4, "merges": 2},
    "branch labels": {"n": 50, "branches": 3, "merges": 1, "labels": 3},
    "depends_on": {"n": 50, "branches": 3, "merges": 2, "labels": 1, "depends_on": 6},
}


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _settled_at_once(monkeypatch):
    """Entries are trusted on their stat as soon as the file is older than the check (the
    real margin is seconds, for file systems with coarse clocks: one test keeps it), and no
    .pyc is written, so that an edit within the same second is read by Python too."""
    monkeypatch.setattr(cache_files, "SETTLE_NS", 0)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


@pytest.fixture
def alembic_imported(monkeypatch, project):
    """The revision files Alembic imports (by name), in order."""
    loaded: list[str] = []
    original = alembic.util.load_python_file

    def counting(dir_, filename):
        if Path(dir_).resolve() == project.versions.resolve():
            loaded.append(Path(filename).name)
        return original(dir_, filename)

    monkeypatch.setattr(alembic.util, "load_python_file", counting)
    return loaded


@pytest.fixture
def imported(monkeypatch, alembic_imported):
    """The revision files whose identity was learned (by name), in order: imported by
    Alembic, or read from the text of a plain file (migrations_cli.graph.revision_reader)."""
    original = revision_cache.read_entry

    def counting(path, *args):
        entry = original(path, *args)
        if entry is not None:
            alembic_imported.append(Path(path).name)
        return entry

    monkeypatch.setattr(revision_cache, "read_entry", counting)
    return alembic_imported


@pytest.fixture
def alembic_command(migrate, monkeypatch):
    """Run one command over Alembic's own ScriptDirectory: the revision cache, the saved
    graph snapshot and the quick answers taken out."""

    def plain(config, cache_dir):
        return ScriptDirectory.from_config(config), None

    def run(*args):
        with monkeypatch.context() as patch:
            patch.setattr(revision_cache, "load_cached", plain)
            patch.setattr(graph_snapshot, "read_snapshot", lambda settings: None)
            patch.setattr(cli, "quick_answer", lambda args, settings, **_: None)
            return migrate(*args)

    return run


@pytest.fixture
def alembic_answers(alembic_command):
    """The same commands over Alembic's own ScriptDirectory (`alembic_command`)."""
    return lambda *extra: answers(alembic_command, *extra)


def answers(migrate, *extra):
    """Every read-only command's --json answer (exit code, document, stderr)."""
    commands = [
        ("heads",),
        ("history",),
        ("status",),
        ("current",),
        ("branches",),
        ("show", "heads"),
        *extra,
    ]
    found = {}
    for command in commands:
        result = migrate(*command, "--json")
        document = json.loads(result.stdout) if result.stdout else None
        found[command] = (result.exit_code, document, result.stderr)
    return found


def check(migrate, alembic_answers, imported, *, expect_imports, every_time=(), extra=()):
    """The cached answers equal Alembic's; Alembic imported `expect_imports` once (the first
    command learned them) and `every_time` on every command (the cache could not hold them)."""
    imported.clear()
    cached = answers(migrate, *extra)
    loaded = sorted(imported)
    assert cached == alembic_answers(*extra)
    assert loaded == sorted([*expect_imports, *list(every_time) * len(cached)])
    return cached


def settle() -> None:
    """Let the clock move past the files just written (their timestamps are coarse)."""
    time.sleep(0.05)


def set_database(project, *revisions) -> None:
    """The project's SQLite database at `revisions`, as a stamp leaves it."""
    with closing(sqlite3.connect(project.db_path)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT)")
        connection.execute("DELETE FROM alembic_version")
        connection.executemany(
            "INSERT INTO alembic_version VALUES (?)", [(revision,) for revision in revisions]
        )
        connection.commit()


def cache_path(project) -> Path:
    [path] = (project.root / cache_files.CACHE_DIR).glob("revisions-*.json")
    return path


def cached_paths(project) -> set[str]:
    return {entry["path"] for entry in json.loads(cache_path(project).read_text())["files"]}


def names(revisions) -> list[str]:
    return [revision.path.name for revision in revisions]


def edit(path: Path, old: str, new: str, *, keep_mtime=False) -> None:
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def history_of(project, **shape):
    revisions = write_history(project.versions, **shape)
    # The database at one revision in the middle and at the newest one.
    set_database(project, revisions[len(revisions) // 2].revision)
    settle()
    return revisions


# -- the same answers as Alembic ------------------------------------------------------------


@pytest.mark.parametrize("name", HISTORIES)
def test_cold_and_warm_answers_equal_alembics(project, migrate, alembic_answers, imported, name):
    revisions = history_of(project, **HISTORIES[name])
    middle = revisions[len(revisions) // 3].revision
    extra = [("history", "-r", f"{middle}:"), ("history", "-r", "current:heads")]

    cold = check(migrate, alembic_answers, imported, expect_imports=names(revisions), extra=extra)
    warm = check(migrate, alembic_answers, imported, expect_imports=[], extra=extra)

    assert warm == cold
    assert len(cold["history",][1]["revisions"]) == len(revisions)
    assert cached_paths(project) == {str(revision.path.resolve()) for revision in revisions}


def test_status_and_current_on_every_database(
    project, migrate, alembic_answers, imported, database_url
):
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    revisions = history_of(project, **HISTORIES["branches and merges"])
    stamped = migrate("stamp", revisions[20].revision)
    assert stamped.exit_code == 0, stamped.output

    cold = check(migrate, alembic_answers, imported, expect_imports=names(revisions))
    warm = check(migrate, alembic_answers, imported, expect_imports=[])

    assert warm == cold
    assert cold["current",][1]["current"][0]["revision"] == revisions[20].revision
    assert 0 < cold["status",][1]["pending"] < len(revisions)


def test_the_histories_have_the_shapes_asked_for(project):
    """The generated histories exercise what they are named for, as Alembic reads them."""
    write_history(project.versions, 50, branches=3, merges=1, labels=2, depends_on=5)
    script = ScriptDirectory(str(project.root / "alembic"))
    revisions = list(script.walk_revisions())

    assert len(revisions) == 50
    assert len(script.get_heads()) == 3  # the trunk and two unmerged branches
    assert sum(revision.is_merge_point for revision in revisions) == 1
    assert sum(revision.is_branch_point for revision in revisions) == 3
    assert sum(bool(revision.dependencies) for revision in revisions) == 5
    assert {label for r in revisions for label in r.branch_labels} == {"branch_1", "branch_2"}


def test_console_script_cold_then_warm(project, migrate_console, alembic_answers):
    revisions = history_of(project, **HISTORIES["branch labels"])

    cold = migrate_console("heads", "--json")
    warm = migrate_console("heads", "--json")

    expected = alembic_answers()["heads",]
    assert (cold.exit_code, json.loads(cold.stdout), cold.stderr) == expected
    assert (warm.exit_code, json.loads(warm.stdout), warm.stderr) == expected
    assert cached_paths(project) == {str(revision.path.resolve()) for revision in revisions}


# -- edits to the revision files ------------------------------------------------------------


def test_a_changed_down_revision_of_the_same_size(project, migrate, alembic_answers, imported):
    revisions = history_of(project, **HISTORIES["linear"])
    check(migrate, alembic_answers, imported, expect_imports=names(revisions))

    # Revision 20 now follows revision 18: revision 19 becomes a second head.
    target = revisions[20]
    size = target.path.stat().st_size
    edit(target.path, f"= {revisions[19].revision!r}", f"= {revisions[18].revision!r}")
    assert target.path.stat().st_size == size

    after = check(migrate, alembic_answers, imported, expect_imports=[target.path.name])
    assert len(after["heads",][1]["heads"]) == 2


def test_an_edit_keeping_the_mtime(project, migrate, alembic_answers, imported):
    revisions = history_of(project, **HISTORIES["linear"])
    check(migrate, alembic_answers, imported, expect_imports=names(revisions))
    longer, same_size = revisions[5], revisions[6]

    # A new size with the old mtime; then the same size and the same mtime (the inode's
    # change time still moves).
    edit(longer.path, "trunk", "trunk, renamed", keep_mtime=True)
    edit(same_size.path, "trunk", "TRUNK", keep_mtime=True)

    after = check(migrate, alembic_answers, imported, expect_imports=names([longer, same_size]))
    messages = {r["revision"]: r["message"] for r in after["history",][1]["revisions"]}
    assert messages[longer.revision].endswith("trunk, renamed")
    assert messages[same_size.revision].endswith("TRUNK")


def test_labels_and_depends_on_edited(project, migrate, alembic_answers, imported):
    revisions = history_of(project, **HISTORIES["depends_on"])
    check(migrate, alembic_answers, imported, expect_imports=names(revisions))
    index, labelled = next((i, r) for i, r in enumerate(revisions) if r.branch_labels)
    plain = next(r for r in revisions[index + 1 :] if not r.branch_labels and not r.depends_on)

    edit(labelled.path, f"= {labelled.branch_labels!r}", "= ('renamed_label',)")
    edit(
        plain.path, "depends_on: str | Sequence[str] | None = None", "depends_on = 'renamed_label'"
    )

    after = check(migrate, alembic_answers, imported, expect_imports=names([labelled, plain]))
    documents = {r["revision"]: r for r in after["history",][1]["revisions"]}
    assert documents[labelled.revision]["branch_labels"] == ["renamed_label"]


def test_deleted_renamed_and_added_files(project, migrate, alembic_answers, imported):
    revisions = history_of(project, **HISTORIES["linear"])
    check(migrate, alembic_answers, imported, expect_imports=names(revisions))
    head, renamed = revisions[-1], revisions[10]

    head.path.unlink()
    moved = renamed.path.with_name("renamed_" + renamed.path.name)
    renamed.path.rename(moved)
    added = project.versions / "0000_new_head.py"
    shutil.copy(revisions[-2].path, added)
    edit(added, f"revision: str = {revisions[-2].revision!r}", "revision: str = 'ffff00000000'")
    edit(added, f"= {revisions[-3].revision!r}", f"= {revisions[-2].revision!r}")

    after = check(migrate, alembic_answers, imported, expect_imports=[moved.name, added.name])
    assert after["heads",][1]["heads"][0]["revision"] == "ffff00000000"
    paths = cached_paths(project)
    assert str(head.path.resolve()) not in paths
    assert str(renamed.path.resolve()) not in paths
    assert {str(moved.resolve()), str(added.resolve())} <= paths


def test_a_touched_file_is_not_imported_again(project, migrate, alembic_answers, imported):
    """The same bytes under a new mtime (a checkout, `touch`) keep their entry."""
    revisions = history_of(project, **HISTORIES["linear"])
    check(migrate, alembic_answers, imported, expect_imports=names(revisions))

    for revision in revisions[:10]:
        os.utime(revision.path)

    check(migrate, alembic_answers, imported, expect_imports=[])


def test_a_file_taking_its_identity_from_elsewhere_is_never_cached(
    project, migrate, alembic_answers, imported
):
    """Only literal identities are cached: one read from another module follows it."""
    revisions = history_of(project, n=5)
    project.write("shared_parent.py", f"PARENT = {revisions[3].revision!r}\n")
    computed = project.write(
        "alembic/versions/computed.py",
        '''
        """computed parent"""
        from shared_parent import PARENT

        revision = "cccc00000000"
        down_revision = PARENT
        ''',
    )
    settle()
    check(
        migrate,
        alembic_answers,
        imported,
        expect_imports=names(revisions),
        every_time=[computed.name],
    )
    check(migrate, alembic_answers, imported, expect_imports=[], every_time=[computed.name])

    project.write("shared_parent.py", f"PARENT = {revisions[2].revision!r}\n")

    after = check(migrate, alembic_answers, imported, expect_imports=[], every_time=[computed.name])
    documents = {r["revision"]: r for r in after["history",][1]["revisions"]}
    assert documents["cccc00000000"]["parents"] == [revisions[2].revision]
    assert str(computed.resolve()) not in cached_paths(project)


@pytest.mark.parametrize(
    "source",
    [
        'revision = "cccc00000000"\ndown_revision = None\nif True:\n    down_revision = None\n',
        'revision = "cccc00000000"\ndown_revision = None\nglobals()["down_revision"] = None\n',
        'revision = "cccc" + "00000000"\ndown_revision = None\n',
        'from os import *\nrevision = "cccc00000000"\ndown_revision = None\n',
        'revision = "cccc00000000"\ndown_revision = None\n__doc__ = "set later"\n',
    ],
)
def test_what_is_not_a_literal_identity(source):
    assert revision_cache.literal_identity(source.encode()) is None


def test_a_literal_identity():
    source = b'"""Doc.\n\nMore."""\nrevision: str = "ab"\ndown_revision = ("c", "d")\n'
    assert revision_cache.literal_identity(source) == {
        "revision": "ab",
        "down_revision": ("c", "d"),
        "__doc__": "Doc.\n\nMore.",
    }


def test_an_entry_checked_right_after_a_change_is_verified_by_content(
    project, migrate, alembic_answers, imported, monkeypatch
):
    """File clocks are coarse: an edit in the same tick as the check keeps the stat. Such
    an entry is compared by content; one checked long after the change is trusted."""
    monkeypatch.setattr(cache_files, "SETTLE_NS", 3_000_000_000)
    revisions = history_of(project, n=5)
    migrate("heads")
    path = cache_path(project)
    target = revisions[-1]
    # The cache as if the file had said something else when it was checked, in the same
    # tick as its last change (its stat unchanged since).
    document = json.loads(path.read_text())
    [entry] = [e for e in document["files"] if e["revision"] == target.revision]
    stat = target.path.stat()
    entry.update(
        doc="Stale message", sha256="0" * 64, checked_ns=max(stat.st_mtime_ns, stat.st_ctime_ns)
    )
    path.write_text(json.dumps(document))

    racy = check(migrate, alembic_answers, imported, expect_imports=[target.path.name])
    assert racy["heads",][1]["heads"][0]["message"] == target.message

    # Checked long after the change: the stat alone decides (and here the entry says more).
    document = json.loads(path.read_text())
    [entry] = [e for e in document["files"] if e["revision"] == target.revision]
    entry.update(doc="Trusted message", checked_ns=entry["checked_ns"] + 10**10)
    path.write_text(json.dumps(document))
    assert json.loads(migrate("heads", "--json").stdout)["heads"][0]["message"] == (
        "Trusted message"
    )


# -- the cache's own state ------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        "not json {",
        "",
        "[1, 2, 3]",
        '{"format": 1}',
        "older format",
        "older tool",
        "entry of the wrong shape",
        "entry with a wrong type",
    ],
)
def test_a_damaged_or_other_version_cache_is_rebuilt(
    project, migrate, alembic_answers, imported, damage
):
    revisions = history_of(project, **HISTORIES["branch labels"])
    migrate("heads")
    path = cache_path(project)
    document = json.loads(path.read_text())
    if damage == "older format":
        document["format"] -= 1
    elif damage == "older tool":
        document["tool"] = "0.0.1"
    elif damage == "entry of the wrong shape":
        del document["files"][3]["sha256"]
    elif damage == "entry with a wrong type":
        document["files"][3]["revision"] = 12
    else:
        document = None
    path.write_text(damage if document is None else json.dumps(document))

    check(migrate, alembic_answers, imported, expect_imports=names(revisions))

    rebuilt = json.loads(path.read_text())
    assert rebuilt["format"] == revision_cache.FORMAT_VERSION
    assert len(rebuilt["files"]) == len(revisions)
    check(migrate, alembic_answers, imported, expect_imports=[])


@pytest.fixture
def no_snapshot(monkeypatch):
    """The revision cache alone: no graph snapshot is saved, so every command builds the
    revision map (tests/test_graph_snapshot.py covers the snapshot)."""
    monkeypatch.setattr(graph_snapshot, "save_snapshot", lambda snapshot, settings: None)


@pytest.mark.usefixtures("no_snapshot")
def test_a_cache_that_is_a_folder(project, migrate, alembic_answers, imported):
    revisions = history_of(project, n=10)
    migrate("heads")
    path = cache_path(project)
    path.unlink()
    path.mkdir()

    check(migrate, alembic_answers, imported, expect_imports=[], every_time=names(revisions))
    assert path.is_dir()


@pytest.mark.usefixtures("no_snapshot")
def test_a_cache_folder_that_is_a_file(project, migrate, alembic_answers, imported):
    revisions = history_of(project, n=10)
    (project.root / cache_files.CACHE_DIR).write_text("in the way")

    check(migrate, alembic_answers, imported, expect_imports=[], every_time=names(revisions))
    check(migrate, alembic_answers, imported, expect_imports=[], every_time=names(revisions))


def _permissions_apply() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() != 0


@contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """`path` cannot be opened: by its mode, or, for root (who reads through any mode, as
    CI runs), by refusing to open it as the operating system would."""
    if _permissions_apply():
        path.chmod(0)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    original = path.stat().st_ino  # (a new file put in its place can be read)
    with pytest.MonkeyPatch.context() as patch:
        real_open = Path.open

        def refusing_open(self, *args, **kwargs):
            if Path(self) == path and path.stat().st_ino == original:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        patch.setattr(Path, "open", refusing_open)
        yield


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Nothing can be created, replaced or removed in `folder`: by its mode, or, for root,
    by refusing every call that would, as a read-only folder does."""
    if _permissions_apply():
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return

    def inside(path) -> bool:
        return Path(path).resolve().parent == folder.resolve()

    def refuse(path) -> NoReturn:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    with pytest.MonkeyPatch.context() as patch:
        real_mkstemp, real_replace, real_os_open, real_unlink = (
            tempfile.mkstemp,
            os.replace,
            os.open,
            os.unlink,
        )
        real_path_open = Path.open
        patch.setattr(
            tempfile,
            "mkstemp",
            lambda *a, dir=None, **k: (
                refuse(dir) if dir and inside(Path(dir) / "new") else real_mkstemp(*a, dir=dir, **k)
            ),
        )
        patch.setattr(
            os, "replace", lambda a, b, **k: refuse(b) if inside(b) else real_replace(a, b, **k)
        )
        patch.setattr(
            os,
            "open",
            lambda p, flags, *a, **k: (
                refuse(p) if flags & writing and inside(p) else real_os_open(p, flags, *a, **k)
            ),
        )
        patch.setattr(os, "unlink", lambda p, **k: refuse(p) if inside(p) else real_unlink(p, **k))
        patch.setattr(
            Path,
            "open",
            lambda self, mode="r", *a, **k: (
                refuse(self)
                if set(mode) & set("wax+") and inside(self)
                else real_path_open(self, mode, *a, **k)
            ),
        )
        yield


def test_an_unreadable_cache(project, migrate, alembic_answers, imported):
    revisions = history_of(project, n=10)
    migrate("heads")
    path = cache_path(project)
    with unreadable(path):
        check(migrate, alembic_answers, imported, expect_imports=names(revisions))
    # Replaced by a readable one (the folder was writable).
    check(migrate, alembic_answers, imported, expect_imports=[])


@pytest.mark.usefixtures("no_snapshot")  # (the revision cache's files alone)
def test_a_read_only_cache_folder(project, migrate, alembic_answers, imported):
    revisions = history_of(project, n=10)
    migrate("heads")
    folder = project.root / cache_files.CACHE_DIR
    revisions[-1].path.unlink()
    with read_only(folder):
        # The cache is read (the files it still describes are not imported), never written.
        check(migrate, alembic_answers, imported, expect_imports=[])
        edit(revisions[3].path, "trunk", "TRUNK")
        check(
            migrate,
            alembic_answers,
            imported,
            expect_imports=[],
            every_time=[revisions[3].path.name],
        )
        check(
            migrate,
            alembic_answers,
            imported,
            expect_imports=[],
            every_time=[revisions[3].path.name],
        )
        assert sorted(os.listdir(folder)) == [".gitignore", cache_path(project).name]


@pytest.mark.usefixtures("no_snapshot")
def test_a_cache_that_cannot_be_written(project, migrate, alembic_answers, imported, monkeypatch):
    """As in a read-only folder, for whoever runs the tests (root writes through chmod)."""
    revisions = history_of(project, n=10)
    migrate("heads")

    def refused(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    edit(revisions[3].path, "trunk", "TRUNK")
    revisions[-1].path.unlink()

    check(migrate, alembic_answers, imported, expect_imports=[], every_time=names(revisions[3:4]))
    assert revision_cache.read_cache(cache_path(project)).keys() == {
        str(revision.path.resolve()) for revision in revisions
    }


def test_concurrent_writers_leave_a_valid_cache(project, alembic_answers):
    """Several processes building the cache at once: each answers right, and the cache
    left behind is one of theirs, whole."""
    revisions = history_of(project, **HISTORIES["depends_on"])
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    processes = [
        subprocess.Popen(
            [str(MIGRATE_SCRIPT), "heads", "--json"],
            cwd=project.root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    results = [
        (process.returncode, *output) for process, output in zip(processes, outputs, strict=True)
    ]

    expected = alembic_answers()["heads",]
    for exit_code, stdout, stderr in results:
        assert (exit_code, json.loads(stdout), stderr) == expected
    folder = project.root / cache_files.CACHE_DIR
    # No temporary file is left behind (beside the cache, perhaps a graph snapshot).
    left = sorted(name for name in os.listdir(folder) if not name.startswith("graph-"))
    assert left == [".gitignore", cache_path(project).name]
    entries = revision_cache.read_cache(cache_path(project))
    assert set(entries) == {str(revision.path.resolve()) for revision in revisions}
    assert {entry.revision for entry in entries.values()} == {r.revision for r in revisions}


def test_the_cache_folder_ignores_itself_in_git(project, migrate):
    history_of(project, n=3)
    migrate("heads")
    ignore = project.root / cache_files.CACHE_DIR / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"


# -- what still needs the real modules ------------------------------------------------------


def test_commands_that_migrate_use_alembics_loading(project, migrate, imported):
    revisions = history_of(project, n=4)
    set_database(project)
    migrate("heads")
    imported.clear()

    result = migrate("upgrade")

    assert result.exit_code == 0, result.output
    assert project.versions_in_db() == {revisions[-1].revision}
    assert sorted(imported) == sorted(names(revisions))


def test_a_cached_modules_other_attributes_come_from_the_file(project, migrate, imported):
    revisions = history_of(project, n=3)
    migrate("heads")
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(project.root / "alembic"))
    imported.clear()
    script_directory, _ = revision_cache.load_cached(config, project.root / cache_files.CACHE_DIR)
    script = script_directory.get_revision(revisions[1].revision)

    assert script.doc == revisions[1].message
    assert imported == []
    assert callable(script.module.upgrade)
    assert imported == [revisions[1].path.name]
