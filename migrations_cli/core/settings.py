"""Settings from command-line flags, over the process environment, over `.env`, over defaults."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar
from urllib.parse import quote, unquote

from migrations_cli.core.durations import parse_duration
from migrations_cli.core.errors import SettingsError, first_line
from migrations_cli.core.output import mask_outside
from migrations_cli.core.url_secrets import ambiguous_credentials, mask_url, url_passwords

if TYPE_CHECKING:
    from configparser import ConfigParser

ENV_FILE_NAME = ".env"
DEFAULT_MIGRATIONS_DIR = "alembic"
# MIGRATIONS_ENV values that make destructive commands ask first.
PRODUCTION_NAMES = frozenset({"production", "prod"})
ALEMBIC_INI = "alembic.ini"
# The alembic.ini section Alembic reads unless -n/--name names another.
DEFAULT_INI_SECTION = "alembic"
PYPROJECT = "pyproject.toml"
# Where plugins come from and how one is turned off on the command line (-p no:NAME): read
# here, before any plugin loads, and by migrations_cli.core.plugin_manager.
ENTRY_POINT_GROUP = "migrations_cli"
DISABLE_FLAG = "-p"
DISABLE_FLAG_PREFIX = "no:"

# MIGRATIONS_LOCK and MIGRATIONS_LOCK_TIMEOUT, as migrations_cli.running.locking takes them
# (kept here, so that reading the settings does not import the lock's threads and hashes).
LockKind = Literal["advisory", "table", "none"]
LOCK_KINDS: tuple[LockKind, ...] = ("advisory", "table", "none")
DEFAULT_TIMEOUT_SECONDS = 300.0

# The longest pause between two attempts of a revision that timed out waiting for a lock.
DEFAULT_DDL_RETRY_MAX_WAIT = 30.0

_D = TypeVar("_D", float, None)
_METADATA_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MODULE_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
# sqlite:///relative/path.db (three slashes, then no fourth): a path relative to the process.
_RELATIVE_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(?!/)(?!:memory:)(?!file:)([^?]+)(.*)$")


class Settings(NamedTuple):
    """Everything a command needs to know about the project, read once per run; a copy
    with other values is `settings._replace(database_url=...)`. (A NamedTuple: a quick
    answer does not import dataclasses.)"""

    database_url: str | None
    migrations_dir: Path
    metadata: str | None
    plugins: tuple[str, ...]
    env_file: Path | None
    project_dir: Path
    lock: LockKind = "advisory"
    lock_timeout: float = DEFAULT_TIMEOUT_SECONDS
    environment: str | None = None
    # MIGRATIONS_PLUGINS_DIR, made absolute; it exists (checked when read).
    plugins_dir: Path | None = None
    # MIGRATIONS_DISABLE_PLUGINS: names of plugins not to import.
    disabled_plugins: tuple[str, ...] = ()
    # False when MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD is set: no entry-point plugins.
    plugin_autoload: bool = True
    # -n/--name: the alembic.ini section configuring this run (a multi-database setup).
    ini_section: str = DEFAULT_INI_SECTION
    # -x KEY=VALUE, in order: what env.py reads with context.get_x_argument().
    x_arguments: tuple[str, ...] = ()
    # MIGRATIONS_TARGETS, made absolute: the TOML file naming the databases `--targets` runs
    # over (migrations_cli.fanout.targets).
    targets_file: Path | None = None
    # Which target this run migrates, set by the fan-out for each target's run (or by hand):
    # its name reaches env.py, and a schema puts the version table and search_path there.
    target_name: str | None = None
    target_schema: str | None = None
    # Limits on each revision's statements (MIGRATIONS_DDL_LOCK_TIMEOUT, ..._STATEMENT_TIMEOUT),
    # in seconds; None: the database's own. A revision may set its own (ddl_timeouts.py).
    ddl_lock_timeout: float | None = None
    statement_timeout: float | None = None
    # How often a revision that timed out waiting for a lock is tried again, pausing at most
    # ddl_retry_max_wait seconds between attempts.
    ddl_retries: int = 0
    ddl_retry_max_wait: float = DEFAULT_DDL_RETRY_MAX_WAIT

    @property
    def is_production(self) -> bool:
        return (self.environment or "").lower() in PRODUCTION_NAMES

    def require_database_url(self) -> str:
        """The URL, or an error that says where it was looked for."""
        if self.database_url:
            if ambiguous_credentials(self.database_url):
                raise SettingsError(
                    "DATABASE_URL: percent-encode '@' in the user name or password as %40"
                )
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
    ini_section: str | None = None,
    x_arguments: tuple[str, ...] = (),
) -> Settings:
    """Read settings; `overrides` are command-line values and win over everything else.

    Without `env_file`, the nearest `.env` from `start` (the working directory) upward is
    used, if any, and the process environment wins over it. A file named with `env_file`
    (--env-file) was chosen on the command line, so it wins over the environment. Relative
    paths resolve against the folder holding the `.env` file. Empty values count as unset.
    `ini_section` and `x_arguments` are Alembic's -n and -x, from the command line.
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

    section = ini_section or DEFAULT_INI_SECTION

    def value(key: str) -> str | None:
        for source in sources:
            found = source.get(key)
            if found:
                return found.strip()
        return None

    return Settings(
        database_url=_absolute_sqlite_path(value("DATABASE_URL"), project_dir),
        migrations_dir=_migrations_dir(value("MIGRATIONS_DIR"), project_dir, section),
        metadata=_checked_metadata_path(value("MIGRATIONS_METADATA")),
        plugins=_checked_plugin_list(value("MIGRATIONS_PLUGINS")),
        env_file=path,
        project_dir=project_dir,
        lock=_checked_lock_kind(value("MIGRATIONS_LOCK")),
        lock_timeout=_duration("MIGRATIONS_LOCK_TIMEOUT", value, DEFAULT_TIMEOUT_SECONDS),
        environment=value("MIGRATIONS_ENV"),
        plugins_dir=_checked_plugins_dir(value("MIGRATIONS_PLUGINS_DIR"), project_dir),
        disabled_plugins=_name_list(value("MIGRATIONS_DISABLE_PLUGINS")),
        plugin_autoload=not _checked_switch(
            "MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD", value("MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD")
        ),
        ini_section=section,
        x_arguments=x_arguments,
        targets_file=_targets_file(value("MIGRATIONS_TARGETS"), project_dir),
        target_name=value("MIGRATIONS_TARGET"),
        target_schema=_checked_schema(value("MIGRATIONS_TARGET_SCHEMA")),
        ddl_lock_timeout=_duration("MIGRATIONS_DDL_LOCK_TIMEOUT", value, None),
        statement_timeout=_duration("MIGRATIONS_STATEMENT_TIMEOUT", value, None),
        ddl_retries=_checked_count("MIGRATIONS_DDL_RETRIES", value("MIGRATIONS_DDL_RETRIES")),
        ddl_retry_max_wait=_duration(
            "MIGRATIONS_DDL_RETRY_MAX_WAIT", value, DEFAULT_DDL_RETRY_MAX_WAIT
        ),
    )


def _migrations_dir(configured: str | None, project_dir: Path, section: str) -> Path:
    if configured:
        return project_dir / configured
    return discover_script_location(project_dir, section)[0]


def discover_script_location(
    project_dir: Path, section: str = DEFAULT_INI_SECTION
) -> tuple[Path, str]:
    """Where the migrations are when MIGRATIONS_DIR is not set, and which file said so.

    A project set up for plain Alembic keeps working unchanged: `script_location` is read
    as Alembic reads it, from alembic.ini's [alembic] section (or the `section` -n names)
    first, then from pyproject.toml's [tool.alembic], `%(here)s` being the file's folder.
    A relative location is taken from the project folder. Without either, the default
    folder `alembic`.
    """
    ini, pyproject = project_dir / ALEMBIC_INI, project_dir / PYPROJECT
    if section != DEFAULT_INI_SECTION and not _has_ini_section(ini, section):
        raise SettingsError(f"--name {section}: {ini} has no [{section}] section")
    for path, name, read in (
        (ini, ALEMBIC_INI, partial(_ini_script_location, section=section)),
        (pyproject, PYPROJECT, _toml_script_location),
    ):
        location = read(path) if path.is_file() else None
        if location:
            return project_dir / _resource_as_path(location), name
    return project_dir / DEFAULT_MIGRATIONS_DIR, "default"


def _ini_script_location(path: Path, section: str) -> str | None:
    from configparser import Error as ConfigParserError

    try:
        return _read_ini(path).get(section, "script_location", fallback=None)
    except ConfigParserError as error:
        message = first_line(str(error))
        raise SettingsError(f"{path}: cannot read script_location ({message})") from None


def _has_ini_section(path: Path, section: str) -> bool:
    return path.is_file() and _read_ini(path).has_section(section)


def _read_ini(path: Path) -> ConfigParser:
    """alembic.ini as Alembic reads it, `%(here)s` being its folder."""
    from configparser import ConfigParser
    from configparser import Error as ConfigParserError

    parser = ConfigParser(defaults={"here": path.parent.as_posix()})
    try:
        parser.read(path, encoding="utf-8")
    except (ConfigParserError, UnicodeDecodeError) as error:
        message = mask_outside(first_line(str(error)))  # (a line may hold the URL)
        raise SettingsError(f"{path}: cannot read script_location ({message})") from None
    return parser


def _toml_script_location(path: Path) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Alembic depends on tomli there
        import tomli as tomllib

    try:
        with path.open("rb") as stream:
            section = tomllib.load(stream).get("tool", {}).get("alembic", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: not valid TOML ({first_line(str(error))})") from None
    location = section.get("script_location") if isinstance(section, dict) else None
    if location is None:
        return None
    try:
        return str(location % {"here": path.parent.as_posix()})
    except (KeyError, ValueError, TypeError):
        raise SettingsError(
            f"{path}: [tool.alembic] script_location {location!r} is not a path "
            "(only %(here)s may be interpolated; write % as %%)"
        ) from None


def _resource_as_path(location: str) -> str:
    """Alembic also takes `package:folder`: the package is the project's own, so its folder
    is found below the project folder without importing anything at start-up."""
    package, colon, folder = location.partition(":")
    if colon and not Path(location).is_absolute() and _MODULE_PATH.match(package):
        return "/".join((*package.split("."), *folder.split(":")))
    return location


def make_project_importable(settings: Settings) -> None:
    """Put the project folder first on sys.path: the models and local plugins import from it."""
    if str(settings.project_dir) not in sys.path:
        sys.path.insert(0, str(settings.project_dir))


# The keys env_file_in_environment put into os.environ (not the environment's own).
_KEYS_FROM_ENV_FILE: set[str] = set()


@contextmanager
def env_file_in_environment(settings: Settings) -> Iterator[None]:
    """The `.env` keys the environment lacks, put into os.environ for the block, as
    python-dotenv's `load_dotenv()` (which an env.py usually calls) does: the application's
    models import with their settings (SECRET_KEY, ...), and a variable already set wins.
    They are taken out again after the block (main() may run in-process)."""
    added = {
        key: value
        for key, value in (read_env_file(settings.env_file) if settings.env_file else {}).items()
        if key not in os.environ
    }
    os.environ.update(added)
    _KEYS_FROM_ENV_FILE.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        _KEYS_FROM_ENV_FILE.difference_update(added)


def in_environment(key: str) -> bool:
    """Whether the process environment itself sets `key` (not `.env` through
    env_file_in_environment)."""
    return bool(os.environ.get(key, "").strip()) and key not in _KEYS_FROM_ENV_FILE


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
    plain = _plain_env_file(path)
    if plain is not None:
        return plain
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


# A line python-dotenv reads as KEY=value with nothing to interpret: no quotes, spaces,
# `export`, escapes or ${VARIABLE}; its value is the text after `=` as it stands.
_PLAIN_ENV_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([^\s'\"$\\][^\s$\\]*)?")


def _plain_env_file(path: Path) -> dict[str, str] | None:
    """The values of a `.env` made only of plain KEY=value lines, blank lines and comments,
    as python-dotenv's dotenv_values() reads them (tests/test_settings.py compares the two);
    None for any other file (python-dotenv reads it). Most runs are then spared importing
    python-dotenv and its logging: some 12 ms, a fifth of a quick answer."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if "\r" in text or text.startswith("\ufeff"):
        return None
    values: dict[str, str] = {}
    for line in text.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        plain = _PLAIN_ENV_LINE.fullmatch(line)
        if plain is None:
            return None
        values[plain[1]] = plain[2] or ""
    return values


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


def _targets_file(configured: str | None, project_dir: Path) -> Path | None:
    """The targets file, relative to the .env folder; read (and so checked) only by a
    command given --targets or --group."""
    return (project_dir / Path(configured).expanduser()).resolve() if configured else None


def _checked_schema(schema: str | None) -> str | None:
    """A schema name goes into SQL (SET search_path): a plain identifier only."""
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise SettingsError(
            f"MIGRATIONS_TARGET_SCHEMA={schema!r} must be a plain identifier "
            "(letters, digits, _; not starting with a digit)"
        )
    return schema


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


def _checked_plugins_dir(configured: str | None, project_dir: Path) -> Path | None:
    """The folder of plugin modules; a missing one is an error, not a silent no-op, since
    its plugins may be guards (a hook that refuses to migrate)."""
    if configured is None:
        return None
    folder = (project_dir / Path(configured).expanduser()).resolve()
    if not folder.is_dir():
        raise SettingsError(f"MIGRATIONS_PLUGINS_DIR={configured!r}: no such folder {folder}")
    return folder


def _name_list(names: str | None) -> tuple[str, ...]:
    """Comma-separated names, spaces and empty items ignored, each name once."""
    return tuple(dict.fromkeys(name.strip() for name in (names or "").split(",") if name.strip()))


_SWITCH_VALUES = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


def _checked_switch(key: str, switch: str | None) -> bool:
    if switch is None:
        return False
    if switch.lower() not in _SWITCH_VALUES:
        raise SettingsError(f"{key}={switch!r} must be 1 or 0 (true/false, yes/no, on/off)")
    return _SWITCH_VALUES[switch.lower()]


def _checked_lock_kind(kind: str | None) -> LockKind:
    if kind is None:
        return "advisory"
    for known in LOCK_KINDS:
        if kind.lower() == known:
            return known
    raise SettingsError(f"MIGRATIONS_LOCK={kind!r} must be one of {', '.join(LOCK_KINDS)}")


def _duration(key: str, value: Callable[[str], str | None], default: _D) -> float | _D:
    configured = value(key)
    return default if configured is None else parse_duration(key, configured)


def _checked_count(key: str, count: str | None) -> int:
    if count is None:
        return 0
    if not count.isdigit():
        raise SettingsError(f"{key}={count!r} must be a whole number, 0 or more")
    return int(count)
