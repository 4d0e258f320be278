"""The files of .migrations-cache/: where they live, how one is replaced without a reader
ever seeing half of it, and when a file's stat can be trusted to show its changes."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

CACHE_DIR = ".migrations-cache"
# A file changed less than this before it was checked may have been changed again within
# the same timestamp tick (2 s on FAT), keeping its stat: it cannot be trusted on its stat.
SETTLE_NS = 3_000_000_000


# What a file's stat says of it for the caches: size, mtime_ns, ctime_ns, inode.
StatKey = tuple[int, int, int, int]


def stat_key(stat: os.stat_result) -> StatKey:
    """The parts of a stat that change whenever the file does (once it has settled)."""
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def settled(mtime_ns: int, ctime_ns: int, checked_ns: int) -> bool:
    """Whether a file with these times had stopped changing when it was checked at
    `checked_ns` (the file system's clock), so that any later change shows in its stat."""
    return max(mtime_ns, ctime_ns) + SETTLE_NS < checked_ns


def _write_gitignore(ignore: Path) -> None:
    """Create the folder's .gitignore unless something is there already: O_EXCL refuses
    any existing name, a symbolic link too (dangling or not), so nothing is ever written
    through a link to a file outside the project."""
    try:
        handle = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(handle, "w") as file:
        file.write("# Written by migrations-cli: a cache, never committed.\n*\n")


def make_cache_dir(folder: Path) -> None:
    """The cache folder, with a .gitignore that keeps all of it out of version control."""
    folder.mkdir(exist_ok=True)
    _write_gitignore(folder / ".gitignore")


# A long list in a cache document is encoded this many items at a time: one string of
# megabytes of JSON (and its bytes) would add to the run's peak memory.
JSON_BATCH = 500


def json_pieces(
    document: dict[str, Any], key: str, items: Sequence[Any], as_json: Callable[[Any], Any]
) -> list[str]:
    """`document` with `key` set to `as_json` of each of `items` (last), as compact JSON in
    pieces of JSON_BATCH items that join into one document."""
    head = json.dumps(document, separators=(",", ":"))
    pieces = [f"{head[:-1]}{',' if document else ''}{json.dumps(key)}:["]
    for start in range(0, len(items), JSON_BATCH):
        batch = [as_json(item) for item in items[start : start + JSON_BATCH]]
        pieces.append(("," if start else "") + json.dumps(batch, separators=(",", ":"))[1:-1])
    pieces.append("]}")
    return pieces


class PendingWrite:
    """The temporary file a new cache document goes to before it replaces the old one."""

    def __init__(self, file: Path | None, started_ns: int) -> None:
        self.file = file
        self.started_ns = started_ns

    @classmethod
    def start(cls, cache_path: Path) -> PendingWrite:
        import tempfile  # (only a write needs it: a quick answer does not import it)

        try:
            make_cache_dir(cache_path.parent)
            handle, name = tempfile.mkstemp(
                prefix=f".{cache_path.stem}-", suffix=".tmp", dir=cache_path.parent
            )
        except OSError:
            return cls(None, 0)
        try:
            started_ns = os.fstat(handle).st_mtime_ns
        finally:
            os.close(handle)
        return cls(Path(name), started_ns)

    def commit(self, data: Iterable[bytes], cache_path: Path) -> None:
        """Put the chunks of `data` in place of `cache_path`, whole."""
        if self.file is None:
            return
        try:
            with self.file.open("wb") as file:
                for chunk in data:
                    file.write(chunk)
            os.replace(self.file, cache_path)
            self.file = None
        except OSError:
            self.discard()

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.unlink()
            self.file = None
