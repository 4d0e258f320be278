"""What a fan-out over targets shows (`migrations_cli.fanout.fan_out`): the live progress on a
terminal, a plain line per finished target elsewhere, and the final table."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrations_cli.core import output

if TYPE_CHECKING:
    from migrations_cli.fanout.fan_out_worker import Outcome

RUNNING_LINES = 10  # running targets shown at most in the live display


def outcome_table(outcomes: Iterable[Outcome]) -> list[str]:
    """One row per target: from -> to, revisions applied, time, result. A command that
    only reads a target has no FROM (`-`) and no count; TO is where the target stands."""
    return output.table(
        ("TARGET", "FROM", "TO", "REVISIONS", "TIME", "RESULT"),
        (
            (
                outcome.name,
                _revisions(outcome.previous),
                _revisions(outcome.current),
                str(len(outcome.revisions)) if outcome.previous is not None else "",
                f"{outcome.seconds:.2f}s" if outcome.result != "not reached" else "",
                outcome.result if outcome.result != "failed" else f"failed: {outcome.error}",
            )
            for outcome in outcomes
        ),
    )


def _revisions(revisions: list[str] | None) -> str:
    if revisions is None:
        return "-"
    return ",".join(revision[:12] for revision in revisions) if revisions else "base"


def _movement(outcome: Outcome) -> str:
    """Where the target went (a command that moves it) or stands (one that reads it)."""
    if outcome.previous is None:
        return f"at {_revisions(outcome.current)}"
    count = len(outcome.revisions)
    moved = f"{_revisions(outcome.previous)} -> {_revisions(outcome.current)}"
    return f"{moved} ({count} revision{'s' if count != 1 else ''})"


def is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@dataclass
class _Running:
    started: float
    revision: str | None = None
    applied: int = 0


class Progress:
    """Targets done / running / failed as the run goes: on a terminal a block redrawn in
    place (each running target with the revision it is at), elsewhere one plain line per
    finished target."""

    def __init__(self, command: str, total: int, live: bool) -> None:
        self.command = command
        self.total = total
        self.live = live
        self.running: dict[str, _Running] = {}
        self.done = 0
        self.failed = 0
        self._drawn = 0

    def started(self, name: str) -> None:
        self.running[name] = _Running(time.perf_counter())

    def revision(self, name: str, revision: str) -> None:
        if name in self.running:
            self.running[name].revision = revision
            self.running[name].applied += 1

    def finished(self, outcome: Outcome, verbose: bool) -> None:
        self.running.pop(outcome.name, None)
        self.done += 1
        self.failed += outcome.result == "failed"
        self._clear()
        if outcome.result == "ok":
            mark = output.styled("ok", "green", err=True)
            line = f"{outcome.name}: {mark}, {_movement(outcome)} in {outcome.seconds:.2f}s"
        else:
            line = f"{outcome.name}: {output.styled('failed', 'red', err=True)}: {outcome.error}"
        output.info(line)
        if verbose and outcome.output.strip():
            for text in outcome.output.rstrip().splitlines():
                output.info(f"  [{outcome.name}] {text}")
        self.refresh()

    def refresh(self) -> None:
        if not self.live:
            return
        self._clear()
        now = time.perf_counter()
        lines = [
            f"{self.command}: {self.done}/{self.total} done, {len(self.running)} running, "
            f"{self.failed} failed"
        ]
        for name, running in list(self.running.items())[:RUNNING_LINES]:
            at = (
                f"at {running.revision[:12]} ({running.applied} applied)"
                if running.revision
                else "starting"
            )
            lines.append(f"  {name}  {at}  {now - running.started:.1f}s")
        if len(self.running) > RUNNING_LINES:
            lines.append(f"  ... and {len(self.running) - RUNNING_LINES} more")
        sys.stderr.write("".join(f"{line}\x1b[K\n" for line in lines))
        sys.stderr.flush()
        self._drawn = len(lines)

    def _clear(self) -> None:
        """Take the live block off the screen (the cursor goes back to its first line)."""
        if self.live and self._drawn:
            sys.stderr.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def close(self) -> None:
        self._clear()
        sys.stderr.flush()
