"""Quick answers: `heads`, `history`, `current` and `status` printed from the saved graph
snapshot (migrations_cli.graph.graph_snapshot) before Typer, Alembic or SQLAlchemy is imported.

A quick answer is printed by the very functions the commands use (migrations_cli.
graph_answers), and only where it is exactly the command's answer; otherwise `quick_answer`
returns None, having printed nothing, and the command runs as usual. It answers when:
- only the built-in plugins are in play (no entry point, MIGRATIONS_PLUGINS, plugins
  folder, disabled plugin or -p): a plugin may change the Config, or the command;
- the command line is one of the commands with options listed in QUICK_OPTIONS, after the
  global options --env-file, --database-url and --verbose (--help and the rest go to Click);
- the snapshot is still the graph of the files as they are (`heads`, and `history` without
  options, read only its first two lines: the answers they print are saved there, apart
  from the graph); without one, `heads`, `history` and `current` take the graph from the
  files here (graph_of_the_files), as the command's context would, but without Typer or
  the plugin manager (a fresh clone's first run);
- for `current` and `status`: DATABASE_URL names a SQLite file, whose version table is
  read through Python's own sqlite3, read-only (any other database, or an alembic.ini's URL,
  is read by the command, through SQLAlchemy); for `status`, the snapshot also knows which
  revisions a database at those revisions has applied, and the database holds no checksum
  the revision files no longer match (the command words those warnings itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from migrations_cli.core.settings import Settings, make_project_importable
from migrations_cli.core.tool_tables import CHECKSUM_TABLE
from migrations_cli.fanout import target_report
from migrations_cli.graph import graph_snapshot
from migrations_cli.graph.graph_snapshot import (
    GraphSnapshot,
    only_built_in_plugins,
    read_answers,
    read_snapshot,
)

if TYPE_CHECKING:
    from sqlite3 import Connection

# The options each quick command accepts after its name; any other word goes to Click.
QUICK_OPTIONS = {
    "heads": frozenset({"--json"}),
    "history": frozenset({"--json", "--verbose", "-v"}),
    "current": frozenset({"--json"}),
    "status": frozenset({"--json", "--check"}),
}
_GLOBAL_FLAGS = frozenset({"--verbose", "-v"})
_GLOBAL_VALUED = ("--env-file", "--database-url")
# A SQLite file as settings.py leaves DATABASE_URL: an absolute path, no query.
_SQLITE_FILE = re.compile(r"^sqlite(?:\+pysqlite)?:///(/[^?#]+)$")
# Alembic's default version table, which the commands read too (migrations_cli.core.database).
VERSION_TABLE = "alembic_version"


def quick_answer(
    args: Sequence[str],
    settings: Settings,
    *,
    building: AbstractContextManager[object] | None = None,
) -> int | None:
    """The exit code after printing the command's answer from the snapshot; None (nothing
    printed) when the command must run through Typer and Alembic. Without a snapshot that
    still holds, `building` set, heads, history and current take the graph from the revision
    files as the command would (within `building`), and save it."""
    command = _quick_command(args)
    if command is None:
        return None
    name, options = command
    if name == "heads" or (name == "history" and not options):
        # Their answers are saved on a line of their own: the graph is not even read.
        saved = read_answers(settings)
        if saved is not None:
            answers, environment = saved
            if not only_built_in_plugins(settings, environment):
                return None
            from migrations_cli.graph import graph_answers

            if name == "heads":
                graph_answers.print_saved_heads(answers, "--json" in options)
            else:
                graph_answers.print_saved_history(answers["history"])
            return 0
    graph = read_snapshot(settings)
    environment = graph.inputs["environment"] if graph is not None else None
    if not only_built_in_plugins(settings, environment):
        return None
    database = None
    if name in ("current", "status"):
        database = _read_sqlite(settings)
        if database is None:
            return None
    # `status` answers from a snapshot only when it knows the database's state, which the
    # command itself records: without a snapshot, the command runs (and takes the graph once).
    if graph is None and building is not None and name != "status":
        with building:
            graph = graph_of_the_files(settings)
    if graph is None:
        return None
    from migrations_cli.graph import graph_answers

    json_output = "--json" in options
    if name == "heads":
        graph_answers.print_heads(graph, json_output)
        return 0
    if name == "history":
        verbose = bool(options & {"--verbose", "-v"})
        graph_answers.print_history(graph.revisions, None, verbose, json_output)
        return 0
    assert database is not None
    current, checksums = database
    target_report.where_it_stands(current)
    if name == "current":
        graph_answers.print_current(current, graph, json_output)
        return 0
    return _status(graph, current, checksums, json_output, "--check" in options)


def graph_of_the_files(settings: Settings) -> GraphSnapshot | None:
    """The graph taken from Alembic's map of the revision files, loaded through the revision
    cache and saved when pinned, as a read-only command's context takes it
    (MigrationsContext.taken_graph), but without Typer or the plugin manager: only the
    built-in plugins are in play, and none of them adjusts the Config. None when the
    migrations folder is missing (the command says so)."""
    if not settings.migrations_dir.is_dir():
        return None
    from migrations_cli.core.config import build_alembic_config
    from migrations_cli.graph.cache_files import CACHE_DIR
    from migrations_cli.graph.revision_cache import load_cached

    make_project_importable(settings)
    script, loading = load_cached(build_alembic_config(settings), settings.project_dir / CACHE_DIR)
    snapshot = graph_snapshot.take_snapshot(script)
    snapshot = graph_snapshot.pinned(snapshot, script, loading, settings)
    graph_snapshot.save_snapshot(snapshot, settings)
    return snapshot


def _quick_command(args: Sequence[str]) -> tuple[str, frozenset[str]] | None:
    """The command's name and options, when the command line is one a quick answer serves."""
    position = 0
    while position < len(args) and args[position].startswith("-"):
        word = args[position]
        if word in _GLOBAL_VALUED:
            position += 1  # its value (main() has checked there is one)
        elif word not in _GLOBAL_FLAGS and not word.startswith(
            tuple(f"{option}=" for option in _GLOBAL_VALUED)
        ):
            return None
        position += 1
    if position >= len(args) or args[position] not in QUICK_OPTIONS:
        return None
    name, options = args[position], frozenset(args[position + 1 :])
    if len(options) != len(args) - position - 1 or not options <= QUICK_OPTIONS[name]:
        return None
    return name, options


def _read_sqlite(settings: Settings) -> tuple[tuple[str, ...], dict[str, str] | None] | None:
    """From a SQLite file, read-only: the version table's revisions, sorted as
    migrations_cli.core.database reads them, and the recorded text sums by revision (None
    without a checksum table); None when DATABASE_URL is not a SQLite file that can be
    read here."""
    database = _sqlite_file(settings)
    if database is None:
        return None
    import sqlite3

    try:
        uri = f"file:{quote(database.as_posix())}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            versions = _rows(connection, VERSION_TABLE, "version_num")
            sums = _rows(connection, CHECKSUM_TABLE, "revision, text_sha256")
    except (sqlite3.Error, ValueError):
        return None
    current = tuple(sorted(version for (version,) in versions or ()))
    return current, ({revision: text for revision, text in sums} if sums is not None else None)


def _rows(connection: Connection, table: str, columns: str) -> list[tuple[str, ...]] | None:
    """The rows of `table`, every value text (else ValueError); None without the table."""
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if found is None:
        return None
    rows: list[tuple[str, ...]] = connection.execute(f"SELECT {columns} FROM {table}").fetchall()
    if not all(isinstance(value, str) for row in rows for value in row):
        raise ValueError("not text")
    return rows


def _sqlite_file(settings: Settings) -> Path | None:
    match = _SQLITE_FILE.match(settings.database_url or "")
    if match is None:
        return None
    path = Path(unquote(match[1]))
    return path if path.is_file() else None


def _status(
    graph: GraphSnapshot,
    current: tuple[str, ...],
    checksums: dict[str, str] | None,
    json_output: bool,
    check: bool,
) -> int | None:
    """`status`, when the snapshot knows the database's state and `migrate status` would
    have nothing to say about checksums: every applied revision's recorded text sum is its
    file's (else the command words the warnings itself)."""
    from migrations_cli.graph.database_state import state_in_graph

    state = state_in_graph(graph, current)
    if state is None or state.unknown:
        return None
    for revision, text_sum in (checksums or {}).items():
        if revision not in graph.by_id or (
            revision in state.applied and graph.file_sums.get(revision) != text_sum
        ):
            return None
    from migrations_cli.graph.graph_answers import print_status

    pending = print_status(state, graph, json_output)
    return 1 if check and pending else 0
