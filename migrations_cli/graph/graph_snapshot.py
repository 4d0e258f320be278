"""The revision graph as Alembic computed it, kept with the exact inputs it came from, so that
`heads`, `history`, `current` and `status` answer a repeated question without importing
Alembic, SQLAlchemy or a single revision file.

A snapshot is taken from the revision map a command has just built through the revision
cache (migrations_cli.graph.revision_cache), and saved only when its inputs are pinned down:
- every revision file's identity came from a cache entry (a plain file's literals, or
  literals checked against Alembic's import of the same bytes), so the graph is a function
  of the files' bytes;
- every such file had stopped changing well before the snapshot was saved, so any later
  change shows in its stat (cache_files.settled);
- only the built-in plugins are loaded (a plugin's configure_alembic may change the Config;
  the installed distributions seen without entry points of the group are recorded, so that
  a quick answer looks them up again only when they change);
- the version folders are not searched recursively.
A saved snapshot is used only while the configuration files have the same bytes (their
length and CRC-32), each version folder lists the same files, each revision file has the
same stat, and the tool and Alembic are the same versions; otherwise the command builds the
map through Alembic and saves a new snapshot. A missing, unreadable, corrupt or
other-version snapshot is ignored.

The document is three lines: a header (versions, inputs, the CRC-32 of the other two lines
and the graph's length), the answers (what `heads` and `history` without options print: a
quick answer reads these two lines and stops), then the graph. A document cut short or
grown is ignored whole, and a damaged or hand-edited line fails its CRC-32, which is
computed without importing hashlib (no sum here is a defence against a forger, who could
rewrite it).

Which revisions a database at given heads has applied is Alembic's walk too: it is kept in
the snapshot for the few database states last asked about (`pending_for`).

Reading a snapshot imports nothing of Alembic; taking one works on the map the caller built.
"""

from __future__ import annotations

import json
import os
import sys
from binascii import crc32
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrations_cli import __version__
from migrations_cli.core.settings import ALEMBIC_INI, ENTRY_POINT_GROUP, PYPROJECT
from migrations_cli.graph import cache_files
from migrations_cli.graph.revision_graph import (
    RevisionRecord,
    all_revisions,
    head_document,
    history_table,
    one_line,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alembic.script import ScriptDirectory

    from migrations_cli.core.settings import Settings
    from migrations_cli.graph.revision_cache import CachedLoading

# Bumped whenever the document's layout or the meaning of a field changes.
FORMAT_VERSION = 2
# The database states whose pending revisions are kept (the latest ones asked about).
KEPT_STATES = 8


class GraphSnapshot:
    """The revisions oldest first (as history and status list them), the heads as Alembic's
    `get_heads` orders them, how many heads remain once depends_on is resolved (Alembic's
    "heads"), and the pending revisions of recent database states. Not changed once made
    (a plain class rather than a dataclass: a quick answer does not import dataclasses)."""

    def __init__(
        self,
        revisions: tuple[RevisionRecord, ...],
        heads: tuple[str, ...],
        resolved_heads: int,
        pending: dict[str, tuple[str, ...]] | None = None,
        inputs: dict[str, Any] | None = None,
        file_sums: dict[str, str] | None = None,
    ) -> None:
        self.revisions = revisions
        self.heads = heads
        self.resolved_heads = resolved_heads
        self.pending: dict[str, tuple[str, ...]] = pending or {}
        # What the graph was computed from (see `pinned`); empty for one that cannot be
        # saved.
        self.inputs: dict[str, Any] = inputs or {}
        # The SHA-256 of each revision's file, by revision (known when the inputs are
        # pinned): a checksum's text sum, without reading the file.
        self.file_sums: dict[str, str] = file_sums or {}

    def _with(
        self,
        pending: dict[str, tuple[str, ...]] | None = None,
        inputs: dict[str, Any] | None = None,
        file_sums: dict[str, str] | None = None,
    ) -> GraphSnapshot:
        """This graph with other pending states, or inputs and sums."""
        return GraphSnapshot(
            self.revisions,
            self.heads,
            self.resolved_heads,
            self.pending if pending is None else pending,
            self.inputs if inputs is None else inputs,
            self.file_sums if file_sums is None else file_sums,
        )

    @cached_property
    def by_id(self) -> dict[str, RevisionRecord]:
        return {record.revision: record for record in self.revisions}

    def head_records(self) -> list[RevisionRecord]:
        return [self.by_id[head] for head in self.heads]

    @cached_property
    def heads_answer(self) -> dict[str, Any]:
        """What `heads` prints (text and --json), in plain values (graph_answers prints
        them)."""
        heads = self.head_records()
        return {
            "heads": [one_line(record) for record in heads],
            "heads_document": {"heads": [head_document(record) for record in heads]},
            "resolved_heads": self.resolved_heads,
        }

    def answers(self) -> dict[str, Any]:
        """What `heads` and `history` without options print: saved on a line of their own,
        before the graph, so that a quick answer reads a few lines instead of the graph."""
        history = history_table(self.revisions, False) if self.revisions else []
        return {**self.heads_answer, "history": "\n".join(history)}

    def pending_for(self, current: tuple[str, ...]) -> tuple[str, ...] | None:
        """The revisions a database at `current` has not applied, when known."""
        return self.pending.get(_state_key(current))

    def keeping_states_of(self, other: GraphSnapshot) -> GraphSnapshot:
        """This graph with the database states `other` remembers, when it is the same
        graph."""
        if (other.revisions, other.heads) != (self.revisions, self.heads):
            return self
        return self._with(pending={**other.pending, **self.pending})

    def with_pending(self, current: tuple[str, ...], pending: tuple[str, ...]) -> GraphSnapshot:
        kept = {key: ids for key, ids in self.pending.items() if key != _state_key(current)}
        recent = dict(list(kept.items())[-(KEPT_STATES - 1) :])
        return self._with(pending={**recent, _state_key(current): pending})


def _state_key(current: tuple[str, ...]) -> str:
    return " ".join(sorted(current))


def only_built_in_plugins(settings: Settings, environment: Any = None) -> bool:
    """Whether a run with these settings loads no plugin but the built-ins and warns about
    none: the condition for a snapshot to be saved or used. `environment`: an installed
    environment (`plugin_environment`) that had no entry point of the group: while it is
    still the installed one, the entry points are not looked up again (importlib.metadata
    alone costs a quick answer a fifth of its time)."""
    if settings.plugins or settings.plugins_dir is not None or settings.disabled_plugins:
        return False
    if not settings.plugin_autoload:
        return True
    if environment is not None and environment == plugin_environment(settings):
        return True
    from importlib.metadata import entry_points

    return not entry_points(group=ENTRY_POINT_GROUP)


def plugin_environment(settings: Settings) -> list[Any]:
    """What the installed distributions' entry points (and versions) are read from, cheaply:
    the distribution metadata folders, by name (which holds the version), with the stat of
    their entry_points.txt, in each folder of sys.path and the project's folder (which a
    command puts on sys.path before loading plugins). Installing, removing or upgrading a
    distribution, or editing its entry points, changes it."""
    found: list[Any] = []
    project = str(settings.project_dir)
    for folder in dict.fromkeys([project, *(path for path in sys.path if path != project)]):
        try:
            with os.scandir(folder or ".") as entries:
                names = sorted(
                    entry.name
                    for entry in entries
                    if entry.name.endswith((".dist-info", ".egg-info"))
                )
        except OSError:  # a zip file, or a missing folder
            if os.path.isfile(folder):
                found.append([folder, _stat(folder)])
            continue
        if names:  # (a folder without any, such as the script's own, says nothing)
            found.append(
                [
                    folder,
                    [
                        [name, _stat(os.path.join(folder, name, "entry_points.txt"))]
                        for name in names
                    ],
                ]
            )
    as_read: list[Any] = json.loads(json.dumps(found))  # as it reads back from a snapshot
    return as_read


def snapshot_path(settings: Settings) -> Path:
    """One snapshot per migrations folder, beside the revision cache (one taken for another
    ini section is not used: the section is among its inputs; nor is one of another folder
    whose name has the same CRC-32: the folder is among its inputs too)."""
    where = f"{crc32(os.fsencode(settings.migrations_dir)):08x}"
    return settings.project_dir / cache_files.CACHE_DIR / f"graph-{where}.json"


def take_snapshot(script: ScriptDirectory) -> GraphSnapshot:
    """The graph of Alembic's revision map, through Alembic's own walk and heads."""
    return GraphSnapshot(
        revisions=tuple(RevisionRecord.of(revision) for revision in all_revisions(script)),
        heads=tuple(script.get_heads()),
        resolved_heads=len(script.get_revisions("heads")),
    )


def pinned(
    snapshot: GraphSnapshot,
    script: ScriptDirectory,
    loading: CachedLoading | None,
    settings: Settings,
) -> GraphSnapshot:
    """`snapshot` with the inputs it was computed from, when they are pinned down (see the
    module's docstring); unchanged (and so never saved) otherwise."""
    entries = loading.pinned_entries() if loading is not None else None
    if loading is None or entries is None or script.recursive_version_locations:
        return snapshot
    if len({entry.revision for entry in entries.values()}) != len(entries):
        return snapshot  # a revision defined twice: Alembic warns, which a snapshot would not
    # Each version folder: its files' names, and the stat of each revision file among them
    # (None for a file Alembic skips by its name: not .py, ...).
    folders: list[tuple[str, list[str] | None, list[cache_files.StatKey | None]]] = []
    sums = {entry.revision: entry.sha256 for entry in entries.values()}
    listed = 0
    for location in map(os.fspath, script._version_locations):
        names = _file_names(location)
        stats: list[cache_files.StatKey | None] = []
        for name in names or ():
            real = loading.real_paths.get(os.path.join(location, name))
            if real is None:
                return snapshot  # a file came since the map was built
            listed += 1
            entry = entries.pop(real, None)
            # The stat the entry was checked with: a later change shows in the stat, as
            # every file had settled then (save_snapshot checks).
            stats.append(
                (entry.size, entry.mtime_ns, entry.ctime_ns, entry.inode) if entry else None
            )
        folders.append((location, names, stats))
    if entries or listed != len(loading.real_paths):
        return snapshot  # a file went since the map was built
    return snapshot._with(
        inputs={
            "config": _config_inputs(settings),
            "folders": folders,
            # Known to have no entry point of the group only when they were looked up.
            "environment": plugin_environment(settings) if settings.plugin_autoload else None,
        },
        file_sums=sums,
    )


def save_snapshot(snapshot: GraphSnapshot, settings: Settings) -> None:
    """Write `snapshot` when its inputs are pinned and every revision file had settled by
    now (the file system's clock); a snapshot that cannot be written is skipped."""
    if not snapshot.inputs:
        return
    path = snapshot_path(settings)
    pending = cache_files.PendingWrite.start(path)
    try:
        if all(
            cache_files.settled(stat[1], stat[2], pending.started_ns)
            for _, _, stats in snapshot.inputs["folders"]
            for stat in stats
            if stat is not None
        ):
            pending.commit(_document(snapshot), path)
    finally:
        pending.discard()


def read_snapshot(settings: Settings) -> GraphSnapshot | None:
    """The saved snapshot, when it is still the graph of the files as they are now."""
    found = _read(settings, graph=True)
    if found is None:
        return None
    header, _, graph = found
    try:
        return _snapshot(json.loads(graph), header["inputs"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def read_answers(settings: Settings) -> tuple[dict[str, Any], Any] | None:
    """The answers saved with the snapshot (GraphSnapshot.answers) and the installed
    environment it recorded (for only_built_in_plugins), when the snapshot is still the
    graph of the files as they are now: the graph itself is neither read nor parsed."""
    found = _read(settings, graph=False)
    if found is None:
        return None
    header, answers, _ = found
    return answers, header["inputs"]["environment"]


def _read(settings: Settings, *, graph: bool) -> tuple[dict[str, Any], Any, bytes] | None:
    """The header, the answers and (with `graph`) the graph's bytes, once each line has its
    sum, the versions are the same and the inputs still hold; else None."""
    try:
        with snapshot_path(settings).open("rb") as file:
            header = json.loads(file.readline())
            answers = file.readline()
            # The graph is read only when asked for, but a document cut short (or grown)
            # is ignored whole, whichever part is asked for: its length is checked.
            rest_length = os.fstat(file.fileno()).st_size - file.tell()
            rest = file.read() if graph else b""
        environment = header["inputs"]["environment"]
        if (
            header["format"] != FORMAT_VERSION
            or header["tool"] != __version__
            or rest_length != header["graph_length"]
            or crc32(answers) != header["answers_crc32"]
            or (graph and crc32(rest) != header["graph_crc32"])
            or (
                # The same distributions (by name and version): the same Alembic.
                (environment is None or environment != plugin_environment(settings))
                and header["alembic"] != _alembic_version()
            )
            or header["inputs"]["config"] != _config_inputs(settings)
            or not _folders_unchanged(header["inputs"]["folders"])
        ):
            return None
        return header, json.loads(answers), rest
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _folders_unchanged(folders: list[list[Any]]) -> bool:
    """Whether each version folder lists the same files, and each revision file has the
    same stat (looked up relative to its open folder where the system allows it)."""
    for location, names, stats in folders:
        if _file_names(location) != names:
            return False
        if not names:
            continue
        if not _DIR_FD:
            if any(
                stat is not None and list(_stat(os.path.join(location, name)) or ()) != stat
                for name, stat in zip(names, stats, strict=True)
            ):
                return False
            continue
        try:
            folder = os.open(location, os.O_RDONLY)
        except OSError:
            return False
        try:
            for name, stat in zip(names, stats, strict=True):
                if stat is not None:
                    found = os.stat(name, dir_fd=folder)
                    if [found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino] != stat:
                        return False
        except OSError:
            return False
        finally:
            os.close(folder)
    return True


# Whether os.stat takes a folder's descriptor (not on Windows): each stat then skips
# resolving the folder's path again.
_DIR_FD = os.stat in os.supports_dir_fd


def _file_names(location: str) -> list[str] | None:
    """The files (not folders) in a version folder, sorted; None when it does not exist."""
    try:
        with os.scandir(location) as found:
            return sorted(entry.name for entry in found if not entry.is_dir())
    except FileNotFoundError:
        return None


def _stat(path: str) -> cache_files.StatKey | None:
    try:
        return cache_files.stat_key(os.stat(path))
    except OSError:
        return None


def _config_inputs(settings: Settings) -> dict[str, Any]:
    """What the Config is built from besides the settings' migrations folder: the alembic.ini
    and pyproject.toml Alembic would read, by length and CRC-32 of their bytes (None when
    absent), and the ini section read (-n)."""
    found: dict[str, list[int] | None] = {}
    for name in (ALEMBIC_INI, PYPROJECT):
        try:
            data = (settings.project_dir / name).read_bytes()
        except OSError:
            found[name] = None
        else:
            found[name] = [len(data), crc32(data)]
    return {
        "migrations_dir": os.fspath(settings.migrations_dir),
        "ini_section": settings.ini_section,
        "files": found,
    }


def _alembic_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alembic")
    except PackageNotFoundError:
        return None


def _document(snapshot: GraphSnapshot) -> Iterator[bytes]:
    """The header line, the answers line, then the graph in pieces (one JSON object)."""
    answers = json.dumps(snapshot.answers(), separators=(",", ":")).encode() + b"\n"
    rest = {
        "heads": snapshot.heads,
        "resolved_heads": snapshot.resolved_heads,
        "pending": snapshot.pending,
        "sums": snapshot.file_sums,
    }
    pieces = cache_files.json_pieces(rest, "revisions", snapshot.revisions, list)
    graph_sum = graph_length = 0
    for piece in pieces:
        encoded = piece.encode()
        graph_sum = crc32(encoded, graph_sum)
        graph_length += len(encoded)
    header = {
        "format": FORMAT_VERSION,
        "tool": __version__,
        "alembic": _alembic_version(),
        "inputs": snapshot.inputs,
        "answers_crc32": crc32(answers),
        "graph_crc32": graph_sum,
        "graph_length": graph_length,
    }
    yield json.dumps(header, separators=(",", ":")).encode() + b"\n"
    yield answers
    for piece in pieces:
        yield piece.encode()


def _snapshot(graph: dict[str, Any], inputs: dict[str, Any]) -> GraphSnapshot:
    """The snapshot of a graph document whose sum matched (so written by `_document`)."""
    return GraphSnapshot(
        revisions=tuple(map(RevisionRecord._make, graph["revisions"])),
        heads=tuple(graph["heads"]),
        resolved_heads=graph["resolved_heads"],
        pending={key: tuple(ids) for key, ids in graph["pending"].items()},
        inputs=inputs,
        file_sums=graph["sums"],
    )
