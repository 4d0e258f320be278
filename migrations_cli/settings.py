"""Settings from command-line flags, over the process environment, over `.env`, over defaults."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from migrations_cli.errors import SettingsError
from migrations_cli.url_secrets import check_credentials, mask_url, url_passwords

ENV_FILE_NAME = ".env"
DEFAULT_MIGRATIONS_DIR = "alembic"

_METADATA_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODULE_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
# sqlite:///relative/path.db (three slashes, then no fourth): a path relative to the process.
_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?!/)(?!:memory:)(?!file:)([^?]+)(.*)$")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about the project, read once per run."""

    database_url: str | None
    migrations_dir: Path
    metadata: str | None
    plugins: tuple[str, ...]
    env_file: Path | None
    project_dir: Path

    def require_database_url(self) -> str:
        """The URL, or an error that says where it was looked for."""
        if self.database_url:
            check_credentials(self.database_url)
            return self.database_url
        where = f"{self.env_file} or " if self.env_file else "a .env file or "
        raise SettingsError(f"DATABASE_URL is not set: add it to {where}the environment")

    def masked_url(self) -> str:
        """The database URL with its password replaced, safe to print."""
        return mask_url(self.database_url or "")

    def secrets(self) -> frozenset[str]:
        """Strings that must never be printed: the password as written and as decoded."""
        return frozenset(url_passwords(self.database_url or ""))


def load_settings(
    env_file: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> Settings:
    """Read settings; `overrides` are command-line values and win over everything else.

    Without `env_file`, the nearest `.env` from `start` (the working directory) upward is
    used, if any, and the process environment wins over it. A file named with `env_file`
    (--env-file) was chosen on the command line, so it wins over the environment. Relative
    paths resolve against the folder holding the `.env` file. Empty values count as unset.
    """
    environ = os.environ if environ is None else environ
    start = (start or Path.cwd()).resolve()
    path: Path | None
    if env_file is not None:
        path = Path(env_file).expanduser().resolve()
        if not path.is_file():
            raise SettingsError(f"--env-file {env_file}: no such file")
    else:
        path = find_env_file(start)
    file_values = read_env_file(path) if path else {}
    project_dir = path.parent if path else start

    sources = (
        (overrides or {}, file_values, environ)
        if env_file is not None
        else (overrides or {}, environ, file_values)
    )

    def value(key: str) -> str | None:
        for source in sources:
            found = source.get(key)
            if found:
                return found.strip()
        return None

    return Settings(
        database_url=_absolute_sqlite_path(value("DATABASE_URL"), project_dir),
        migrations_dir=project_dir / (value("MIGRATIONS_DIR") or DEFAULT_MIGRATIONS_DIR),
        metadata=_checked_metadata_path(value("MIGRATIONS_METADATA")),
        plugins=_checked_plugin_list(value("MIGRATIONS_PLUGINS")),
        env_file=path,
        project_dir=project_dir,
    )


def make_project_importable(settings: Settings) -> None:
    """Put the project folder first on sys.path: the models and local plugins import from it."""
    if str(settings.project_dir) not in sys.path:
        sys.path.insert(0, str(settings.project_dir))


def find_env_file(start: Path) -> Path | None:
    """The nearest `.env` in `start` or one of its parents."""
    for folder in (start, *start.parents):
        candidate = folder / ENV_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def read_env_file(path: Path) -> dict[str, str]:
    """The key/value pairs of a `.env` file; a line python-dotenv cannot parse is an error.

    python-dotenv only logs such lines and skips them, which would silently drop a setting.
    The message gives the line number but never the line: it may hold a password.
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as stream:
            for binding in parse_stream(stream):
                if binding.error:
                    raise SettingsError(f"{path}: line {binding.original.line} is not KEY=value")
    except UnicodeDecodeError as error:
        raise SettingsError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot read ({error.strerror})") from None
    return {key: val for key, val in dotenv_values(path).items() if val is not None}


def _absolute_sqlite_path(url: str | None, project_dir: Path) -> str | None:
    """Anchor a relative SQLite file at the project, so every working directory finds it."""
    if url is None:
        return None
    match = _RELATIVE_SQLITE.match(url)
    if not match:
        return url
    prefix, database, query = match.groups()
    # SQLAlchemy percent-decodes the path: encode the folder's %, ?, # and spaces.
    return f"{prefix}{quote((project_dir / unquote(database)).as_posix())}{query}"


def _checked_metadata_path(path: str | None) -> str | None:
    if path is not None and not _METADATA_PATH.match(path):
        raise SettingsError(
            f"MIGRATIONS_METADATA={path!r} must look like 'package.module:attribute', "
            "e.g. 'app.models:Base.metadata'"
        )
    return path


def _checked_plugin_list(names: str | None) -> tuple[str, ...]:
    plugins = tuple(name.strip() for name in (names or "").split(",") if name.strip())
    for name in plugins:
        if not _MODULE_PATH.match(name):
            raise SettingsError(
                f"MIGRATIONS_PLUGINS: {name!r} is not a module name (comma-separated modules)"
            )
    return plugins
