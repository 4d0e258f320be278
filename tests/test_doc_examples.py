"""Every terminal example in README.md and docs/*.md runs, and prints what the page says.

An example is a ```console block: `$ ` lines are commands (a trailing backslash joins the
next line), the lines under a command are what it prints, stdout and stderr as a terminal
interleaves them. A block's commands run in one bash session (an `export` lasts), in a
fresh copy of the example application (alembic/, app/, pyproject.toml, .env from
.env.example), with the installed `migrate` on PATH; `<!-- example-setup: COMMAND -->`
lines right above the block run first, unseen. `<!-- example-dir: NAME -->` among them runs
the block (and its setup) in an empty folder NAME beside that copy instead, a project not yet
set up (for `migrate init`, `alembic init`). Setup lines find the repository's example plugins
(examples/migrations-seed, examples/migrations-notify) in the folder `$EXAMPLE_PLUGINS`. A
block that needs a setting of its own (a database server, a project of another shape) says
which test runs it instead, `<!-- example-run-by: tests/test_x.py -->`, and that test must
read the page.

Printed output is compared without its whitespace (a page wraps long lines and compacts
JSON, a terminal aligns columns), `...` standing for any text, and a duration such as
`0.02s` for any duration. A command shown without output must succeed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from migrations_cli.testing import SETTING_NAMES

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SETUP = re.compile(r"<!-- example-(setup|dir): (.*?) -->")
RUN_BY = re.compile(r"<!-- example-run-by: (tests/\w+\.py) -->")
DURATION = re.compile(r"^\d+\.\d+s$")


@dataclass(frozen=True)
class Step:
    command: str
    expected: str  # "" when the page shows no output


@dataclass(frozen=True)
class Example:
    document: str
    line: int
    setup: tuple[str, ...]
    steps: tuple[Step, ...]
    run_by: str | None  # a test of its own runs it (a server, a project of its own)
    folder: str = ""  # an empty folder to run in, instead of the example application

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}"


def examples(path: Path) -> list[Example]:
    """The console blocks of one page, with the setup lines above each."""
    lines = path.read_text().splitlines()
    found = []
    for number, line in enumerate(lines):
        if line.strip() != "```console":
            continue
        setup: list[str] = []
        folder = ""
        above = number - 1
        run_by = RUN_BY.fullmatch(lines[above].strip()) if above >= 0 else None
        while above >= 0 and (match := SETUP.fullmatch(lines[above].strip())):
            if match[1] == "dir":
                folder = match[2]
            else:
                setup.insert(0, match[2])
            above -= 1
        body = []
        for text in lines[number + 1 :]:
            if text.strip() == "```":
                break
            body.append(text)
        shown = str(path.relative_to(REPO_ROOT))
        found.append(
            Example(
                shown, number + 1, tuple(setup), tuple(_steps(body)), run_by and run_by[1], folder
            )
        )
    return found


def _steps(body: list[str]) -> list[Step]:
    steps: list[Step] = []
    command: list[str] | None = None
    output: list[str] = []
    for text in body:
        if text.startswith("$ ") and not (command and command[-1].endswith("\\")):
            if command is not None:
                steps.append(Step("\n".join(command), "\n".join(output)))
            command, output = [text[2:]], []
        elif command is not None and command[-1].endswith("\\") and not output:
            command.append(text)
        else:
            output.append(text)
    if command is not None:
        steps.append(Step("\n".join(command), "\n".join(output)))
    return steps


ALL_EXAMPLES = [example for page in DOCUMENTS for example in examples(page)]


def _pattern(expected: str) -> re.Pattern[str]:
    """The expected text as a regular expression over text without whitespace: `...` is
    any text, a duration any duration."""
    words = [DURATION.sub("\0", word) for word in expected.split()]
    pieces = [
        r"\d+\.\d+s".join(re.escape(text) for text in piece.split("\0"))
        for piece in "".join(words).split("...")
    ]
    return re.compile(".*?".join(pieces), re.S)


def example_project(root: Path) -> Path:
    """A copy of the repository's example application, its database not yet created."""
    project = root / "project"
    project.mkdir()
    for folder in ("alembic", "app"):
        shutil.copytree(
            REPO_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "migrate.py"):
        shutil.copy(REPO_ROOT / name, project / name)
    shutil.copy(REPO_ROOT / ".env.example", project / ".env")
    return project


def _environment() -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTING_NAMES and not key.startswith("MIGRATIONS_")
    }
    bin_dir = str(Path(sys.executable).parent)
    environment.update(
        PATH=f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}",
        PYTHONUNBUFFERED="1",  # stdout and stderr interleaved as on a terminal
        NO_COLOR="1",
        EXAMPLE_PLUGINS=str(REPO_ROOT / "examples"),
    )
    return environment


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


def test_the_pages_have_examples() -> None:
    assert len(ALL_EXAMPLES) >= 10
    assert {example.document for example in ALL_EXAMPLES} >= {"README.md"}


def test_no_terminal_example_escapes_the_runner() -> None:
    """A `$ migrate` line outside a console block would never be run: none is left."""
    stray = []
    for page in DOCUMENTS:
        inside = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if line.strip().startswith("```"):
                inside = line.strip() == "```console" if not inside else False
            elif not inside and line.lstrip().startswith("$ "):
                stray.append(f"{page.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert stray == []


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda example: example.name)
def test_example(example: Example, tmp_path: Path) -> None:
    if example.run_by:  # that test reads this page's block and runs it in its own setting
        source = (REPO_ROOT / example.run_by).read_text()
        reads_readme = example.document == "README.md" and "readme_section(" in source
        assert reads_readme or Path(example.document).name in source, example.run_by
        return
    if example.folder:
        project = tmp_path / example.folder
        project.mkdir()
    else:
        project = example_project(tmp_path)
    for command in example.setup:
        prepared = run(command, project)
        assert prepared.returncode == 0, f"setup `{command}` failed:\n{prepared.stdout}"
    for step, (printed, exit_code) in zip(
        example.steps, run_session(example.steps, project), strict=True
    ):
        if step.expected.strip():
            assert _pattern(step.expected).fullmatch("".join(printed.split())), (
                f"$ {step.command}\n--- the page shows:\n{step.expected}\n"
                f"--- it printed (exit {exit_code}):\n{printed}"
            )
        else:
            assert exit_code == 0, f"$ {step.command}\n{printed}"


def run_session(steps: tuple[Step, ...], project: Path) -> list[tuple[str, int]]:
    """The steps in one shell, as a reader types them (an `export` lasts), each step's
    output and exit code told apart by a marker the script prints after it."""
    script = "".join(f"{step.command}\nprintf '\\0%d\\0' $?\n" for step in steps)
    printed = run(script, project).stdout
    parts = re.split(r"\x00(\d+)\x00", printed)
    results = [(parts[index], int(parts[index + 1])) for index in range(0, len(parts) - 1, 2)]
    assert len(results) == len(steps), f"the session stopped early:\n{printed}"
    return results
