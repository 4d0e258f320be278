"""A cache of each revision file's identity, so that the commands which only read the
history (heads, history, status, current, show, branches) skip importing unchanged files.

Alembic builds its revision map by importing every file in versions/. Here the map is built
by Alembic's own RevisionMap from the same listing, in the same order, but a file whose
identity (revision, down_revision, branch_labels, depends_on, docstring) is cached and
provably unchanged becomes a `Script` over a stand-in module carrying just those values.
A new or changed file that is plain (migrations_cli.graph.revision_reader: its identity written
as literals nothing else can rebind, and it compiles) becomes one the same way, read from
its text without being imported: a fresh clone's first run imports none of them. Any other
file (unreadable, or computing its identity) is loaded by Alembic itself, exactly as plain
Alembic would.

The cache can never change an answer:
- an entry is stored only when the file's identity is a function of its bytes alone,
  recorded with their SHA-256: a plain file's, read from its text, or literals (read with
  `ast`) that equal what Alembic's import of the same file produced;
- an entry is trusted on the file's stat (size, mtime, ctime, inode) only when the file was
  last changed well before the entry was checked (file clocks are coarse: an edit in the
  same tick can keep the stat); otherwise the bytes are hashed and compared;
- the cache file is one JSON document, replaced atomically; an unreadable, corrupt or
  other-version one is ignored and rebuilt, and a cache that cannot be written is skipped.

Alembic is imported at the top: this module is itself only imported by a command that is
about to read the revision files.
"""

from __future__ import annotations

import hashlib
import json
import os
import types
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from stat import S_ISLNK
from typing import TYPE_CHECKING, Any

import alembic
from alembic import util
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap

from migrations_cli import __version__
from migrations_cli.graph import cache_files
from migrations_cli.graph.cache_files import PendingWrite, stat_key
from migrations_cli.graph.revision_reader import plain_identity

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from alembic.config import Config

# Bumped whenever the document's layout or the meaning of an entry changes.
FORMAT_VERSION = 1

_IDENTITY = ("revision", "down_revision", "branch_labels", "depends_on")
# Names whose rebinding anywhere in a file makes its identity something only running it tells.
_GUARDED = frozenset((*_IDENTITY, "__doc__"))
_DYNAMIC = frozenset(("globals", "locals", "vars", "exec", "eval", "setattr", "delattr"))

# A value as Alembic reads it from a revision file, in JSON's types.
Value = str | list[str] | None


def load_cached(config: Config, cache_dir: Path) -> tuple[ScriptDirectory, CachedLoading | None]:
    """Alembic's ScriptDirectory for `config`, its revision map loaded through the cache in
    `cache_dir`, and that loading (None when Alembic loads every file: .pyc revisions, or an
    Alembic without the loading steps used here), which tells once the map is built whether
    every file came from a cache entry. For reading only: a cached file's `Script.module`
    holds just its identity (anything else loads the real module on first use)."""
    script = ScriptDirectory.from_config(config)
    if script.sourceless or not all(
        hasattr(Script, step) for step in ("_list_py_dir", "_from_path")
    ):
        return script, None
    loading = CachedLoading(script, cache_dir)
    script.revision_map = RevisionMap(loading.scripts)
    return script, loading


def _cache_name(script: ScriptDirectory) -> str:
    """One cache file per set of version locations, so that two configurations of a project
    do not keep dropping each other's entries."""
    locations = [os.fspath(path) for path in script._version_locations]
    where = json.dumps([locations, script.recursive_version_locations])
    return f"revisions-{hashlib.sha256(where.encode()).hexdigest()[:16]}.json"


@dataclass(frozen=True, slots=True)
class Entry:
    """One revision file's identity, and the file it was read from (slots: one is kept per
    revision file while a command runs)."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str
    checked_ns: int  # the file system's clock before the bytes were read
    revision: str
    down_revision: Value
    branch_labels: Value
    depends_on: Value
    doc: str | None

    def same_stat(self, stat: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == stat_key(stat)

    def settled(self) -> bool:
        """Changed long enough before it was checked that any later change shows in the
        stat."""
        return cache_files.settled(self.mtime_ns, self.ctime_ns, self.checked_ns)

    def restamped(self, stat: os.stat_result, checked_ns: int) -> Entry:
        size, mtime_ns, ctime_ns, inode = stat_key(stat)
        return replace(
            self,
            size=size,
            mtime_ns=mtime_ns,
            ctime_ns=ctime_ns,
            inode=inode,
            checked_ns=checked_ns,
        )

    def script(self, path: str) -> Script:
        return Script(_IdentityModule(path, self), self.revision, path)


class _IdentityModule(types.ModuleType):
    """Stands in for a revision file's module: the identity Alembic reads, and the real
    module (loaded on first use) for anything else."""

    def __init__(self, path: str, entry: Entry) -> None:
        super().__init__(os.path.basename(path), _as_module_value(entry.doc))
        self.__file__ = path
        self.revision = entry.revision
        self.down_revision = _as_module_value(entry.down_revision)
        self.branch_labels = _as_module_value(entry.branch_labels)
        self.depends_on = _as_module_value(entry.depends_on)

    def __getattr__(self, name: str) -> Any:
        # Script.longdoc asks for this on every read; the entry exists only without it.
        if name == "_alembic_source_encoding" or name.startswith("__"):
            raise AttributeError(name)
        real = self.__dict__.get("_real_module")
        if real is None:
            folder, file_name = os.path.split(self.__dict__["__file__"])
            real = self.__dict__["_real_module"] = util.load_python_file(folder, file_name)
        return getattr(real, name)


def _as_module_value(value: Value) -> Any:
    return tuple(value) if isinstance(value, list) else value


class CachedLoading:
    """One load of the revision map: Alembic's listing, each file from the cache or from
    Alembic, then the cache rewritten if anything in it changed."""

    def __init__(self, script: ScriptDirectory, cache_dir: Path) -> None:
        self.script_directory = script
        self.cache_dir = cache_dir
        self.cached: dict[str, Entry] = {}
        self.fresh: dict[str, Entry] = {}
        self.changed = False
        self.pending: PendingWrite | None = None
        # A file Alembic loaded itself, or one listed twice: the map is not the entries'.
        self.unpinned = False
        self.finished = False
        self.listed: set[str] = set()  # every file Alembic's listing named, by real path
        self.real_paths: dict[str, str] = {}  # each of those files' real path, by its listed one

    def pinned_entries(self) -> dict[str, Entry] | None:
        """Once the map is built: the entry of every file it was built from, by path, when
        each file's identity came from an entry (so the map is a function of their bytes);
        else None."""
        if not self.finished or self.unpinned:
            return None
        return dict(self.fresh)

    @cached_property
    def cache_path(self) -> Path:
        return self.cache_dir / _cache_name(self.script_directory)

    def scripts(self) -> Iterator[Script]:
        """What ScriptDirectory._load_revisions yields, in its order, with its warnings."""
        self.cached = read_cache(self.cache_path)
        try:
            yield from self._listed_scripts()
            self.finished = True
            if self.changed or self.fresh.keys() != self.cached.keys():
                self._write()
        finally:
            if self.pending is not None:
                self.pending.discard()

    def _listed_scripts(self) -> Iterator[Script]:
        directory = self.script_directory
        real_folders: dict[str, str] = {}
        for versions in [path for path in directory._version_locations if os.path.exists(path)]:
            for file_path in Script._list_py_dir(directory, versions):
                real, stat = real_path(file_path, real_folders)
                if real in self.listed:
                    self.unpinned = True
                    util.warn(
                        f"File {real} loaded twice! ignoring. "
                        "Please ensure version_locations is unique."
                    )
                    continue
                self.listed.add(real)
                self.real_paths[os.fspath(file_path)] = real
                script = self._script(real, stat)
                if script is not None:
                    yield script

    def _script(self, path: str, stat: os.stat_result | None) -> Script | None:
        script, entry = self._script_and_entry(path, stat)
        if script is not None and entry is None:
            self.unpinned = True
        return script

    def _script_and_entry(
        self, path: str, stat: os.stat_result | None
    ) -> tuple[Script | None, Entry | None]:
        """The file's Script, and the entry it now has in the cache (None when Alembic
        loaded it and its identity could not be cached)."""
        entry = self.cached.get(path)
        if stat is None or not path.endswith(".py"):  # Alembic skips all but .py files
            return Script._from_path(self.script_directory, path), None
        if entry is not None and entry.same_stat(stat) and entry.settled():
            self.fresh[path] = entry
            return entry.script(path), entry
        checked_ns = self._checked_ns()
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError:
            return Script._from_path(self.script_directory, path), None
        digest = hashlib.sha256(source).hexdigest()
        if entry is not None and entry.sha256 == digest:
            # The same bytes (touched, checked out again, or not yet settled): same identity.
            if checked_ns is None:
                return entry.script(path), None
            self.fresh[path] = entry.restamped(stat, checked_ns)
            self.changed = True
            return entry.script(path), self.fresh[path]
        read = read_entry(path, stat, source, digest, checked_ns or 0)
        if read is not None:
            # A plain file: its identity read from its text, without importing it.
            if checked_ns is None:
                return read.script(path), None
            self.fresh[path] = read
            self.changed = True
            return read.script(path), read
        script = Script._from_path(self.script_directory, path)
        if script is None or checked_ns is None:
            return script, None
        learned = learn_entry(path, stat, source, digest, checked_ns, script.module)
        if learned is not None:
            self.fresh[path] = learned
            self.changed = True
        return script, learned

    def _checked_ns(self) -> int | None:
        """The file system's clock now, from the temporary file the new cache will be
        written to (None when it cannot be written: nothing is learned then)."""
        if self.pending is None:
            self.pending = PendingWrite.start(self.cache_path)
        return self.pending.started_ns if self.pending.file else None

    def _write(self) -> None:
        self._checked_ns()
        if self.pending is not None:
            pieces = cache_document(list(self.fresh.values()))
            self.pending.commit((piece.encode() for piece in pieces), self.cache_path)


def real_path(path: str | Path, real_folders: dict[str, str]) -> tuple[str, os.stat_result | None]:
    """`path.resolve()`, as Alembic names a file, and the file's stat (None when it cannot
    be read): one system call for a file that is not a symbolic link, not one per folder."""
    name = os.fspath(path)
    try:
        stat = os.lstat(name)
    except OSError:
        return os.path.realpath(name), None
    if S_ISLNK(stat.st_mode):
        real = os.path.realpath(name)
        try:
            return real, os.stat(real)
        except OSError:
            return real, None
    folder, base = os.path.split(name)
    real_folder = real_folders.get(folder)
    if real_folder is None:
        real_folder = real_folders[folder] = os.path.realpath(folder)
    return os.path.join(real_folder, base), stat


def cache_document(entries: Sequence[Entry]) -> list[str]:
    """The cache's JSON document of `entries`, in pieces (cache_files.json_pieces)."""
    return cache_files.json_pieces(
        {"format": FORMAT_VERSION, "tool": __version__, "alembic": alembic.__version__},
        "files",
        entries,
        _entry_document,
    )


def _entry_document(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS}


_ENTRY_FIELDS = tuple(entry_field.name for entry_field in fields(Entry))


def read_cache(path: Path) -> dict[str, Entry]:
    """The entries of the cache at `path` by file path: none when it is missing,
    unreadable, corrupt, or written by another version of the tool or of Alembic."""
    try:
        with path.open("rb") as file:
            document = json.load(file)
        if not isinstance(document, dict) or (
            document.get("format"),
            document.get("tool"),
            document.get("alembic"),
        ) != (FORMAT_VERSION, __version__, alembic.__version__):
            return {}
        entries = [_entry(item) for item in document["files"]]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return {}
    return {entry.path: entry for entry in entries}


def _entry(item: Any) -> Entry:
    """One entry of the document, its every field checked (ValueError when one is off)."""
    if not isinstance(item, dict):
        raise ValueError("not a cache entry")
    entry = Entry(**item)  # TypeError for a missing or an unknown field
    numbers = (entry.size, entry.mtime_ns, entry.ctime_ns, entry.inode, entry.checked_ns)
    texts = (entry.path, entry.sha256, entry.revision)
    if not (
        all(type(number) is int for number in numbers)
        and all(isinstance(text, str) for text in texts)
        and all(_is_value(value) for value in (entry.down_revision, entry.branch_labels))
        and _is_value(entry.depends_on)
        and (entry.doc is None or isinstance(entry.doc, str))
    ):
        raise ValueError("not a cache entry")
    return entry


def _is_value(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def read_entry(
    path: str, stat: os.stat_result, source: bytes, digest: str, checked_ns: int
) -> Entry | None:
    """The entry of a plain revision file (migrations_cli.graph.revision_reader), read from its
    text; None when only importing it tells its identity."""
    identity = plain_identity(source, path)
    if identity is None:
        return None
    return _entry_of(path, stat, digest, checked_ns, identity)


def learn_entry(
    path: str,
    stat: os.stat_result,
    source: bytes,
    digest: str,
    checked_ns: int,
    module: types.ModuleType,
) -> Entry | None:
    """The entry for a file Alembic has just loaded as `module`, when its identity is
    literals in `source` that match the module's; None when only running it tells."""
    identity = literal_identity(source)
    if identity is None or hasattr(module, "_alembic_source_encoding"):
        return None
    values = {name: identity.get(name) for name in _IDENTITY}
    if module.__doc__ != identity["__doc__"] or any(
        getattr(module, name, None) != value for name, value in values.items()
    ):
        return None
    return _entry_of(path, stat, digest, checked_ns, identity)


def _entry_of(
    path: str, stat: os.stat_result, digest: str, checked_ns: int, identity: dict[str, Any]
) -> Entry:
    size, mtime_ns, ctime_ns, inode = stat_key(stat)
    return Entry(
        path=path,
        size=size,
        mtime_ns=mtime_ns,
        ctime_ns=ctime_ns,
        inode=inode,
        sha256=digest,
        checked_ns=checked_ns,
        revision=identity["revision"],
        down_revision=_as_json_value(identity.get("down_revision")),
        branch_labels=_as_json_value(identity.get("branch_labels")),
        depends_on=_as_json_value(identity.get("depends_on")),
        doc=identity["__doc__"],
    )


def _as_json_value(value: Any) -> Value:
    return list(value) if isinstance(value, tuple) else value


def literal_identity(source: bytes) -> dict[str, Any] | None:
    """The identity a revision file states as literals, with its docstring under `__doc__`;
    None when the file does not parse, a value is computed or of an unexpected type, or
    anything could bind one of the names another way."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: dict[str, Any] = {}
    stated: set[int] = set()
    for statement in tree.body:
        target, value = _assignment(statement)
        if target is None or target.id not in _IDENTITY:
            continue
        if target.id in found or value is None:
            return None
        try:
            found[target.id] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        stated.add(id(target))
    if not isinstance(found.get("revision"), str) or "down_revision" not in found:
        return None
    if not all(_is_value(_as_json_value(value)) for value in found.values()):
        return None
    if any(_may_bind(node) and id(node) not in stated for node in ast.walk(tree)):
        return None
    found["__doc__"] = ast.get_docstring(tree, clean=False)
    return found


def _assignment(statement: Any) -> tuple[Any, Any]:
    """(name, value) of `name = value` or `name: type = value` at the top of a module."""
    import ast

    if (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        return statement.targets[0], statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return statement.target, statement.value
    return None, None


def _may_bind(node: Any) -> bool:
    """Whether `node` could give a guarded name a value other than its literal."""
    import ast

    names: list[str | None] = []
    if isinstance(node, ast.Name):
        if node.id in _DYNAMIC:
            return True
        if not isinstance(node.ctx, ast.Load):
            names.append(node.id)
    elif isinstance(node, ast.Attribute):
        if node.attr == "__dict__":
            return True
        if not isinstance(node.ctx, ast.Load):
            names.append(node.attr)
    elif isinstance(node, ast.alias):
        if node.name == "*":
            return True
        names.append(node.asname or node.name.split(".")[0])
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names.append(node.name)
    elif isinstance(node, ast.Global | ast.Nonlocal):
        names.extend(node.names)
    elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        names.append(node.name)
    elif isinstance(node, ast.MatchMapping):
        names.append(node.rest)
    return any(name in _GUARDED for name in names)
