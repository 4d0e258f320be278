"""The worker side of a fan-out over targets (`migrations_cli.fanout.fan_out`): each worker
process runs target after target, each as the command line a user would type for that one
database, in-process, its output captured.

Workers are forked from multiprocessing's fork server, which imported Alembic and
SQLAlchemy once, rather than from the `migrate` process (which may hold threads and locks),
or started afresh for each target (which would import them again each time).
"""

from __future__ import annotations

import io
import json
import os
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from migrations_cli.fanout import target_report

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

Result = Literal["ok", "failed", "not reached"]
# What the fork server imports before forking the workers.
WORKER_PRELOAD = (
    "migrations_cli.fanout.fan_out_worker",
    "migrations_cli.environment",
    "alembic.command",
)


@dataclass(frozen=True)
class Task:
    """One target's run, as a worker receives it."""

    name: str
    argv: tuple[str, ...]
    # The whole environment and working folder of the run: a worker forked from the fork
    # server has those of the moment the server started.
    environment: dict[str, str]
    cwd: str


@dataclass
class Outcome:
    """One target's row in the table and the results file."""

    name: str
    result: Result = "not reached"
    previous: list[str] | None = None
    current: list[str] | None = None
    revisions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    exit_code: int | None = None
    group: str | None = None
    schema: str | None = None
    # The target's own --json document, for a command that has one.
    document: Any = None
    output: str = ""  # what the run printed, for --verbose


def process_context() -> Any:
    """Workers forked from a fork server that imported Alembic and SQLAlchemy once (not a
    fork of this process, which may hold threads and locks); spawn where there is none."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_PRELOAD))
    return context


_events: Queue[tuple[str, str]] | None = None


def start_worker(events: Queue[tuple[str, str]]) -> None:
    global _events
    _events = events


def run_target(task: Task) -> Outcome:
    """Run one target's command line in this worker process, its output captured."""
    from migrations_cli.core.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    stands: dict[str, Any] = {}

    def listen(event: str, fields: dict[str, Any]) -> None:
        if event == "revision" and _events is not None:
            _events.put((task.name, fields["revision"]))
        elif event == "stands":
            previous = stands.get("previous")
            stands.update(fields)
            stands["previous"] = previous if fields["previous"] is None else fields["previous"]

    started = time.perf_counter()
    os.environ.clear()
    os.environ.update(task.environment)
    os.chdir(task.cwd)
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr), target_report.listening(listen):
            code = main(list(task.argv))
    except BaseException as error:  # one target's crash is its row, not the run's
        code = 1
        stderr.write(f"error: unexpected {type(error).__name__}: {error}\n")
    return Outcome(
        task.name,
        "ok" if code == 0 else "failed",
        previous=stands.get("previous"),
        current=stands.get("current"),
        revisions=stands.get("revisions", []),
        seconds=time.perf_counter() - started,
        error=None if code == 0 else _error_line(stderr.getvalue(), stdout.getvalue(), code),
        exit_code=code,
        document=_document(stdout.getvalue()),
        output=stdout.getvalue() + stderr.getvalue(),
    )


def _error_line(stderr: str, stdout: str, code: int) -> str:
    """What the target's run said went wrong: its error line, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    last = lines or [line.strip() for line in stdout.splitlines() if line.strip()]
    return f"exit {code}: {last[-1]}" if last else f"exit {code}"


def _document(stdout: str) -> Any:
    """The run's --json document, when its stdout is one."""
    text = stdout.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
