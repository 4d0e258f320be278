"""`migrate init`: give a project that has none the migration environment `migrate` needs
(env.py, script.py.mako, versions/ and the `.env.example` entries), and the configuration
plain `alembic` needs to run in the same project ([tool.alembic] in pyproject.toml, else an
alembic.ini), overwriting nothing."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import typer

from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.config import DEFAULT_FILE_TEMPLATE
from migrations_cli.core.context import get_context
from migrations_cli.core.errors import MigrationsError
from migrations_cli.core.settings import (
    ALEMBIC_INI,
    PYPROJECT,
    Settings,
    discover_script_location,
)
from migrations_cli.hookspecs import hookimpl

# The same two files as the repository's alembic/ (tests/test_init.py keeps them equal).
TEMPLATES = ("env.py", "script.py.mako")
ENV_EXAMPLE = ".env.example"
# A `KEY=value` line of a .env file (python-dotenv also accepts `export KEY=value`).
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=")

# What .env.example gets for each key it lacks: a comment saying what it is, and the line.
ENV_EXAMPLE_ENTRIES = {
    "DATABASE_URL": """\
# SQLAlchemy URL of the database to migrate (required), e.g.
#   postgresql+psycopg://user:password@127.0.0.1:5432/app
#   mysql+pymysql://user:password@127.0.0.1:3306/app
#   sqlite:///app.db   (a relative SQLite path is relative to this file)
# Percent-encode special characters in the password (@ is %40, % is %25).
DATABASE_URL=
""",
    "MIGRATIONS_DIR": """\
# Folder holding env.py, script.py.mako and versions/, relative to this file.
MIGRATIONS_DIR={value}
""",
    "MIGRATIONS_METADATA": """\
# Import path of the models' MetaData, compared by `migrate create`,
# e.g. app.models:Base.metadata. Without it, `create` writes empty revisions.
MIGRATIONS_METADATA=
""",
}

# The configuration `migrate init` writes for plain alembic: where the migrations are, the
# project on sys.path (env.py imports the models), and migrate's file names (a project
# adopted from plain Alembic keeps its own, or Alembic's default).
PYPROJECT_SECTION = """
[tool.alembic]
script_location = "{location}"
file_template = "{file_template}"
prepend_sys_path = ["%(here)s"]
"""
ALEMBIC_INI_TEXT = """\
# Plain `alembic` reads this; `migrate` reads it too (and its settings from .env).
[alembic]
script_location = {location}
file_template = {file_template}
prepend_sys_path = %(here)s
path_separator = os
"""

Status = Literal["created", "exists", "updated"]


@dataclass
class Written:
    """One file or folder init looked at, and what it did there."""

    path: Path
    status: Status
    added: list[str] = field(default_factory=list)

    def line(self) -> str:
        shown = _shown(self.path) + ("/" if self.path.is_dir() else "")
        if self.status == "exists":
            return f"exists   {shown} (left alone)"
        if self.status == "updated":
            return f"updated  {shown} (added {', '.join(self.added)})"
        return f"created  {shown}"

    def document(self) -> dict[str, object]:
        found: dict[str, object] = {"path": _shown(self.path), "status": self.status}
        if self.added:
            found["added"] = self.added
        return found


def init(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Folder for env.py, script.py.mako and versions/. Default: MIGRATIONS_DIR, "
            "else script_location from alembic.ini or pyproject.toml, else alembic.",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Scaffold the migration environment into this project; existing files are left alone."""
    settings = get_context(ctx).settings
    target = directory.absolute() if directory is not None else settings.migrations_dir
    refuse_a_folder_migrate_would_not_use(settings, target)
    check_folders(target)
    configured = write_alembic_config(settings, target)
    discovered, _ = discover_script_location(settings.project_dir)
    written = [
        *scaffold(target),
        configured,
        update_env_example(
            settings.project_dir / ENV_EXAMPLE,
            migrations_dir=None if _same(target, discovered) else _setting_value(settings, target),
        ),
    ]
    if json_output:
        output.json_result(
            {"migrations_dir": _shown(target), "files": [item.document() for item in written]}
        )
    else:
        for item in written:
            output.result(item.line())
    output.info(next_steps(settings, target, discovered))


def refuse_a_folder_migrate_would_not_use(settings: Settings, target: Path) -> None:
    """A project whose alembic.ini (or [tool.alembic]) names its migrations folder: a
    scaffold elsewhere would be ignored, so nothing is written and the user is told why."""
    if _same(target, settings.migrations_dir):
        return
    discovered, source = discover_script_location(settings.project_dir)
    if source == "default" or not _same(settings.migrations_dir, discovered):
        return  # MIGRATIONS_DIR decides, and .env can name the new folder
    raise MigrationsError(
        f"{source} sets script_location to {_shown(discovered)}, the folder `migrate` uses "
        f"(as plain alembic does), so a scaffold in {_shown(target)} would not be used: "
        f"nothing was written. Run `migrate init` without a folder to complete "
        f"{_shown(discovered)}, or set MIGRATIONS_DIR={_setting_value(settings, target)} "
        "in .env first"
    )


def check_folders(target: Path) -> None:
    """Refuse before writing anything, rather than stop half way."""
    for folder in (target, target / "versions"):
        if folder.exists() and not folder.is_dir():
            raise MigrationsError(
                f"{_shown(folder)} exists and is not a folder: nothing was written"
            )


def write_alembic_config(settings: Settings, target: Path) -> Written:
    """[tool.alembic] appended to pyproject.toml, or an alembic.ini when the project has no
    pyproject.toml, naming `target`; left alone when the project configures Alembic already
    (then its script_location decides, see refuse_a_folder_migrate_would_not_use)."""
    ini, pyproject = settings.project_dir / ALEMBIC_INI, settings.project_dir / PYPROJECT
    if ini.is_file():
        return Written(ini, "exists")
    location = _setting_value(settings, target)
    if not Path(location).is_absolute():
        location = f"%(here)s/{location}"
    values = {"location": location, "file_template": DEFAULT_FILE_TEMPLATE}
    if not pyproject.is_file():
        _write(ini, ALEMBIC_INI_TEXT.format(**values))
        return Written(ini, "created")
    existing = _read(pyproject)
    if _has_tool_alembic(pyproject):
        return Written(pyproject, "exists")
    separator = "" if existing.endswith("\n") or not existing else "\n"
    _write(pyproject, existing + separator + PYPROJECT_SECTION.format(**values))
    return Written(pyproject, "updated", ["[tool.alembic]"])


def _has_tool_alembic(pyproject: Path) -> bool:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Alembic depends on tomli there
        import tomli as tomllib
    try:
        with pyproject.open("rb") as stream:
            return "alembic" in tomllib.load(stream).get("tool", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise MigrationsError(f"{_shown(pyproject)} is not valid TOML: {error}") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise MigrationsError(f"cannot write {_shown(path)}: {error.strerror}") from None


def scaffold(target: Path) -> list[Written]:
    """env.py, script.py.mako and versions/ in `target`, each only where none exists."""
    written = [_write_template(target, name) for name in TEMPLATES]
    versions = target / "versions"
    written.append(Written(versions, "exists" if versions.is_dir() else "created"))
    _make_folder(versions)
    return written


def template_text(name: str) -> str:
    """A scaffold file as packaged with migrations_cli."""
    return (resources.files("migrations_cli") / "scaffold" / name).read_text(encoding="utf-8")


def _write_template(target: Path, name: str) -> Written:
    path = target / name
    if path.exists():
        return Written(path, "exists")
    _make_folder(target)
    try:
        with path.open("x", encoding="utf-8") as stream:  # "x": never over a file
            stream.write(template_text(name))
    except OSError as error:
        raise MigrationsError(f"cannot write {_shown(path)}: {error.strerror}") from None
    return Written(path, "created")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MigrationsError(f"cannot create {_shown(folder)}: {error.strerror}") from None


def update_env_example(path: Path, migrations_dir: str | None) -> Written:
    """Append the keys `.env.example` lacks, each with its comment; lines already there,
    their values and comments, stay exactly as they are."""
    wanted = {"DATABASE_URL": "", "MIGRATIONS_METADATA": ""}
    if migrations_dir is not None:
        wanted["MIGRATIONS_DIR"] = migrations_dir
    existing = _read(path) if path.exists() else None
    present = {
        match[1] for line in (existing or "").splitlines() if (match := _ASSIGNMENT.match(line))
    }
    missing = [key for key in ENV_EXAMPLE_ENTRIES if key in wanted and key not in present]
    if not missing:
        return Written(path, "exists")
    entries = "\n".join(ENV_EXAMPLE_ENTRIES[key].format(value=wanted[key]) for key in missing)
    if existing is None:
        text = "# Settings for `migrate`; copy to .env and fill in.\n\n" + entries
    else:
        separator = "" if not existing else "\n" if existing.endswith("\n") else "\n\n"
        text = existing + separator + entries
    _write(path, text)
    return Written(path, "created" if existing is None else "updated", missing)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise MigrationsError(f"cannot read {_shown(path)}: {reason}") from None


def next_steps(settings: Settings, target: Path, discovered: Path) -> str:
    """What is left to do by hand, naming only the settings not set yet (MIGRATIONS_DIR
    only when neither it nor the Alembic configuration names `target`)."""
    unset = [
        key
        for key, needed in (
            ("DATABASE_URL", not settings.database_url),
            (
                "MIGRATIONS_DIR",
                not _same(target, settings.migrations_dir) and not _same(target, discovered),
            ),
            ("MIGRATIONS_METADATA", not settings.metadata),
        )
        if needed
    ]
    steps = []
    if unset:
        values = ", ".join(
            f"MIGRATIONS_DIR={_setting_value(settings, target)}" if key == "MIGRATIONS_DIR" else key
            for key in unset
        )
        if settings.env_file is None:
            env_file = _shown(settings.project_dir / ".env")
            steps.append(f"copy {ENV_EXAMPLE} to {env_file} and set {values} there")
        else:
            steps.append(f"set {values} in {_shown(settings.env_file)}")
    steps += ['migrate create "Initial schema"', "migrate upgrade"]
    numbered = (f"  {number}. {step}" for number, step in enumerate(steps, 1))
    return "Next steps:\n" + "\n".join(numbered)


def _setting_value(settings: Settings, folder: Path) -> str:
    """MIGRATIONS_DIR for `folder`: relative to the project folder when inside it."""
    try:
        return folder.resolve().relative_to(settings.project_dir.resolve()).as_posix()
    except ValueError:
        return folder.resolve().as_posix()


def _same(one: Path, other: Path) -> bool:
    return one.resolve() == other.resolve()


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it, else absolute."""
    relative = os.path.relpath(path.absolute())
    return path.absolute().as_posix() if relative.startswith("..") else Path(relative).as_posix()


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Project")(init)
