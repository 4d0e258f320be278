"""One command over many databases: `--targets NAMES|all` or `--group`, for any command
that opts in with the `@fans_out()` decorator.

Each target's run is exactly the command a user would type for that one database:
`migrate [global options] --database-url URL COMMAND [its options]`, with MIGRATIONS_TARGET
and MIGRATIONS_TARGET_SCHEMA set, so it gets its own connection, lock and checksums, and
nothing is shared but the revision files. No coordinator: each database's own lock keeps
two fan-outs over the same targets from migrating one database twice.

Runs go to worker *processes* (`fan_out_worker`: forked from multiprocessing's fork server,
which imported Alembic and SQLAlchemy once), each running targets one after the other
in-process, so nothing is imported again per target; `fan_out_display` shows the progress.
Threads cannot run env.py side by side: Alembic's `context` is a module global.
bench/fan_out.py measures the choice against a process per target (a shell loop).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from migrations_cli.core import output
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError, SettingsError
from migrations_cli.core.global_options import DATABASE_URL_OPTION
from migrations_cli.fanout.fan_out_display import Progress, is_terminal, outcome_table
from migrations_cli.fanout.fan_out_worker import (
    Outcome,
    Task,
    process_context,
    run_target,
    start_worker,
)

if TYPE_CHECKING:
    from concurrent.futures import Future
    from multiprocessing.queues import Queue

    from migrations_cli.fanout.targets import Target

PANEL = "Many databases"
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_JOBS = 4
# How often the live display is redrawn (and worker reports are read), in seconds.
TICK_SECONDS = 0.1

TargetsOption = Annotated[
    str | None,
    typer.Option(
        "--targets",
        metavar="NAMES|all",
        help="Run over these targets (comma-separated names, or all) of MIGRATIONS_TARGETS "
        "and the plugins' migration_targets(), each on its own connection and lock.",
        rich_help_panel=PANEL,
        show_default=False,
    ),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--group",
        help="Run over the targets of this group (repeatable; with --targets, narrows it).",
        rich_help_panel=PANEL,
        show_default=False,
    ),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Take the I-th of N stable slices of the targets (by a hash of each name): "
        "one per machine of a CI matrix or Kubernetes Indexed Job.",
        rich_help_panel=PANEL,
        show_default=False,
    ),
]
JobsOption = Annotated[
    int,
    typer.Option(
        "--jobs", "-j", min=1, help="Targets run at once (worker processes).", rich_help_panel=PANEL
    ),
]
CanaryOption = Annotated[
    int,
    typer.Option(
        "--canary",
        min=0,
        metavar="N",
        help="Run N targets first; stop before the rest if any of them failed.",
        rich_help_panel=PANEL,
    ),
]
FailFastOption = Annotated[
    bool,
    typer.Option(
        "--fail-fast/--keep-going",
        help="After a failure, start no further target (those running finish), or go on "
        "with every target.",
        rich_help_panel=PANEL,
    ),
]
OnlyFailedOption = Annotated[
    bool,
    typer.Option(
        "--only-failed",
        help="Run only the targets that failed or were not reached in the last run of this "
        "command (its results file).",
        rich_help_panel=PANEL,
    ),
]
ResultsOption = Annotated[
    Path | None,
    typer.Option(
        "--results",
        help="The results file the run writes and --only-failed reads (default: "
        ".migrations-cache/targets-COMMAND.json).",
        rich_help_panel=PANEL,
        show_default=False,
    ),
]
FanOutJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="With --targets: print the results as one JSON document on stdout.",
        rich_help_panel=PANEL,
    ),
]


def _fan_out_options(
    targets: TargetsOption = None,
    group: GroupOption = None,
    shard: ShardOption = None,
    jobs: JobsOption = DEFAULT_JOBS,
    canary: CanaryOption = 0,
    fail_fast: FailFastOption = False,
    only_failed: OnlyFailedOption = False,
    results: ResultsOption = None,
) -> None:
    """The options `@fans_out()` adds to a command (declared here, read from here)."""


_OPTIONS = inspect.signature(_fan_out_options, eval_str=True).parameters
_JSON_PARAMETER = "json_output"  # the name JsonOption has in every command


@dataclass(frozen=True)
class FanOut:
    """What the fan-out options asked for."""

    targets: str | None
    group: list[str] | None
    shard: str | None
    jobs: int
    canary: int
    fail_fast: bool
    only_failed: bool
    results: Path | None

    @property
    def requested(self) -> bool:
        return self.targets is not None or bool(self.group)

    def misused(self) -> str | None:
        """An option that only means something over targets, given without them."""
        given = [
            name
            for name, value in asdict(self).items()
            if name not in ("targets", "group") and value != _OPTIONS[name].default
        ]
        return f"--{given[0].replace('_', '-')}" if given else None


def fans_out(url_option: str = DATABASE_URL_OPTION) -> Callable[[F], F]:
    """Make a command run over targets when given --targets or --group (adding those and
    the other fan-out options to it); without them it runs as before, on one database.

    `url_option` is how a target's URL reaches the command: `--database-url` (the database
    migrated), or one of the command's own options (verify's `--scratch-url`). A command
    without `--json` gets one for the fan-out's document.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        own_json = _JSON_PARAMETER in signature.parameters
        context_name = next(
            name
            for name, parameter in signature.parameters.items()
            if parameter.annotation is typer.Context
        )
        added = dict(_OPTIONS)
        if not own_json:
            added[_JSON_PARAMETER] = inspect.Parameter(
                _JSON_PARAMETER,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=False,
                annotation=FanOutJsonOption,
            )

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            fan = FanOut(**{name: kwargs.pop(name) for name in _OPTIONS})
            json_output = kwargs.get(_JSON_PARAMETER) if own_json else kwargs.pop(_JSON_PARAMETER)
            if not fan.requested:
                misused = fan.misused() or (None if own_json or not json_output else "--json")
                if misused:
                    raise typer.BadParameter(
                        "goes with --targets or --group", param_hint=f"'{misused}'"
                    )
                return command(*args, **kwargs)
            context = signature.bind_partial(*args, **kwargs).arguments[context_name]
            skip = set(_OPTIONS) | (set() if own_json else {_JSON_PARAMETER})
            words = _command_words(context, skip, url_option)
            code = run_fan_out(context, fan, words, url_option, bool(json_output))
            raise typer.Exit(code)

        parameters = [*signature.parameters.values(), *added.values()]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            **typing.get_type_hints(command, include_extras=True),
            **{name: parameter.annotation for name, parameter in added.items()},
        }
        return typing.cast("F", wrapper)

    return decorate


def _command_words(context: typer.Context, skip: set[str], url_option: str) -> list[str]:
    """The command's own options and arguments as Click parsed them, written out again for
    each target's run (values left at their default are left out)."""
    options: list[str] = []
    arguments: list[str] = []
    for param in context.command.params:
        if param.name is None or param.name in skip or url_option in param.opts:
            continue
        value = context.params.get(param.name)
        if value is None or value == param.default or value in ((), []):
            continue
        values = list(value) if param.multiple or isinstance(value, (tuple, list)) else [value]
        if param.param_type_name == "argument":
            arguments.extend(str(item) for item in values)
        elif getattr(param, "is_flag", False):
            options.extend(param.opts[:1] if value else param.secondary_opts[:1])
        else:
            for item in values:
                options.extend([param.opts[0], str(item)])
    # After `--` an argument such as downgrade's -2 is not read as an option.
    return options + (["--", *arguments] if arguments else [])


def run_fan_out(
    context: typer.Context, fan: FanOut, words: list[str], url_option: str, json_output: bool
) -> int:
    """Run the command over the selected targets; returns the exit code (0: all ok)."""
    from migrations_cli.core.url_secrets import url_passwords
    from migrations_cli.fanout.targets import Shard, load_targets, select_targets
    from migrations_cli.graph.cache_files import CACHE_DIR, make_cache_dir

    migrations = get_context(context)
    settings = migrations.settings
    if any(word.startswith(DATABASE_URL_OPTION) for word in migrations.global_words):
        raise SettingsError(
            f"{DATABASE_URL_OPTION} names one database and --targets many: give one of them"
        )
    command = context.info_name or "command"
    shard = Shard.parse(fan.shard) if fan.shard else None
    every = load_targets(settings, migrations.plugin_manager.hook)
    targets = select_targets(every, fan.targets, fan.group or (), shard)
    results_path = fan.results
    if results_path is None:
        with contextlib.suppress(OSError):  # (then the first write of the results says why)
            make_cache_dir(settings.project_dir / CACHE_DIR)
        results_path = settings.project_dir / CACHE_DIR / f"targets-{command}.json"
    if fan.only_failed:
        unfinished = read_unfinished(results_path, command)
        targets = [target for target in targets if target.name in unfinished]
        if not targets:
            output.info(f"Nothing to rerun: no target failed or was left in {results_path}.")
            return 0
    if not targets:
        output.info("No target selected (an empty shard?): nothing to do.")
        return 0
    tasks = [
        _task(target, migrations.global_words, command, words, url_option) for target in targets
    ]
    secrets = frozenset(password for target in every for password in url_passwords(target.url))
    verbose = any(word in ("-v", "--verbose") for word in migrations.global_words)
    with output.redacted_output(secrets):
        runner = Runner(command, targets, fan, results_path, verbose)
        outcomes = runner.run(tasks)
        if json_output:
            output.json_result(
                {
                    "command": command,
                    "ok": all(outcome.result == "ok" for outcome in outcomes),
                    "targets": [_public(outcome) for outcome in outcomes],
                }
            )
        else:
            for line in outcome_table(outcomes):
                output.result(line)
        output.info(runner.summary(outcomes))
    return 0 if all(outcome.result == "ok" for outcome in outcomes) else 1


def _task(
    target: Target, global_words: Sequence[str], command: str, words: list[str], url_option: str
) -> Task:
    if url_option == DATABASE_URL_OPTION:
        argv = [*global_words, DATABASE_URL_OPTION, target.url, command, *words]
    else:
        argv = [*global_words, command, url_option, target.url, *words]
    environment = {**os.environ, "MIGRATIONS_TARGET": target.name}
    environment.pop("MIGRATIONS_TARGET_SCHEMA", None)
    if target.schema:
        environment["MIGRATIONS_TARGET_SCHEMA"] = target.schema
    return Task(target.name, tuple(argv), environment, os.getcwd())


def _public(outcome: Outcome) -> dict[str, Any]:
    fields = asdict(outcome)
    del fields["output"]
    return fields


class Runner:
    """Runs the tasks in stages (canary, then the rest) on a pool of worker processes,
    showing progress and writing the results file after each target."""

    def __init__(
        self,
        command: str,
        targets: Sequence[Target],
        fan: FanOut,
        results_path: Path,
        verbose: bool,
    ) -> None:
        self.command = command
        self.fan = fan
        self.results_path = results_path
        self.verbose = verbose
        self.outcomes = {
            target.name: Outcome(target.name, group=target.group, schema=target.schema)
            for target in targets
        }
        self.progress = Progress(command, len(targets), live=is_terminal())
        self.started = time.perf_counter()
        self.stopped_because: str | None = None

    def run(self, tasks: Sequence[Task]) -> list[Outcome]:
        from concurrent.futures import ProcessPoolExecutor

        processes = process_context()
        events: Queue[tuple[str, str]] = processes.Queue()
        stages = (
            [tasks[: self.fan.canary], tasks[self.fan.canary :]] if self.fan.canary else [tasks]
        )
        self._save(first=True)
        try:
            with ProcessPoolExecutor(
                max_workers=min(self.fan.jobs, len(tasks)),
                mp_context=processes,
                initializer=start_worker,
                initargs=(events,),
            ) as pool:
                for number, stage in enumerate(stages):
                    failed = self._run_stage(pool, stage, events)
                    if self.stopped_because:
                        break
                    if failed and self.fan.canary and number == 0:
                        self.stopped_because = (
                            f"a canary target failed: the other {len(tasks) - len(stage)} "
                            "were not started"
                        )
                        break
        finally:
            self.progress.close()
            self._save()
            events.close()
        return list(self.outcomes.values())

    def _run_stage(self, pool: Any, stage: Sequence[Task], events: Queue[tuple[str, str]]) -> bool:
        """Run one stage's tasks, at most --jobs at once; whether any failed."""
        from concurrent.futures import FIRST_COMPLETED, wait

        waiting = list(reversed(stage))
        running: dict[Future[Outcome], Task] = {}
        failed = False
        while waiting or running:
            while waiting and not self.stopped_because and len(running) < self.fan.jobs:
                task = waiting.pop()
                running[pool.submit(run_target, task)] = task
                self.progress.started(task.name)
            if not running:
                break
            done, _ = wait(running, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
            self._read_events(events)
            for future in done:
                task = running.pop(future)
                outcome = self._outcome(future, task)
                self.outcomes[task.name] = outcome
                self.progress.finished(outcome, self.verbose)
                self._save()
                if outcome.result == "failed":
                    failed = True
                    if self.fan.fail_fast and not self.stopped_because:
                        self.stopped_because = (
                            f"{outcome.name} failed and --fail-fast: no further target started"
                        )
            self.progress.refresh()
        return failed

    def _outcome(self, future: Future[Outcome], task: Task) -> Outcome:
        known = self.outcomes[task.name]
        try:
            outcome = future.result()
        except Exception as error:  # the worker process died (killed, out of memory)
            outcome = Outcome(task.name, "failed", error=f"the worker process failed: {error}")
        outcome.group, outcome.schema = known.group, known.schema
        return outcome

    def _read_events(self, events: Queue[tuple[str, str]]) -> None:
        import queue

        while True:
            try:
                name, revision = events.get_nowait()
            except queue.Empty:
                return
            self.progress.revision(name, revision)

    def _save(self, *, first: bool = False) -> None:
        """The results file, whole after each target (written beside, then moved in place):
        a run killed half way still says which targets finished. Written once before any
        target starts, so that a file that cannot be written stops the run there."""
        document = {
            "command": self.command,
            "targets": [_public(outcome) for outcome in self.outcomes.values()],
        }
        path = self.results_path
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
            os.replace(partial, path)
        except OSError as error:
            problem = f"cannot write the results file {path} ({error.strerror or error})"
            if first:
                raise MigrationsError(f"{problem}: choose another with --results") from None
            output.warn(problem)

    def summary(self, outcomes: Sequence[Outcome]) -> str:
        counts = {result: 0 for result in ("ok", "failed", "not reached")}
        for outcome in outcomes:
            counts[outcome.result] += 1
        failed = [outcome.name for outcome in outcomes if outcome.result == "failed"]
        line = (
            f"{self.command} over {len(outcomes)} target(s) in "
            f"{time.perf_counter() - self.started:.1f}s: {counts['ok']} ok, "
            f"{counts['failed']} failed, {counts['not reached']} not reached"
        )
        if failed:
            shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
            line += f" (failed: {shown})"
        if self.stopped_because:
            line += f"; stopped: {self.stopped_because}"
        if counts["ok"] != len(outcomes):
            line += f". Rerun the rest with `migrate {self.command} ... --only-failed`."
        return line


def read_unfinished(path: Path, command: str) -> set[str]:
    """The targets that failed or were not reached in the run that wrote `path`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = document["targets"]
        names = {row["name"] for row in rows if row["result"] != "ok"}
    except FileNotFoundError:
        raise SettingsError(
            f"--only-failed: no results file {path} (run `migrate {command} --targets ...` first)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SettingsError(
            f"--only-failed: cannot read the results file {path} ({error})"
        ) from None
    if document.get("command") != command:
        raise SettingsError(
            f"--only-failed: {path} holds the results of `{document.get('command')}`, "
            f"not of `{command}`"
        )
    return names
