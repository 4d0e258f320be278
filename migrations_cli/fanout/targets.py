"""The databases `--targets` runs over: the TOML file named by MIGRATIONS_TARGETS, and the
targets plugins list (the `migration_targets` hook), selected by name, group and shard.

The file, one table per target::

    [targets.tenant_a]
    url = "postgresql+psycopg://app:${TENANT_A_PASSWORD}@db1/tenant_a"
    group = "eu"

    [targets.tenant_b]
    url = "postgresql+psycopg://app:${SHARED_PASSWORD}@db2/shared"
    schema = "tenant_b"

`${VAR}` is taken from the environment (then from .env), so no password sits in the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import SettingsError, first_line

if TYPE_CHECKING:
    import pluggy

    from migrations_cli.core.settings import Settings

TARGETS_SETTING = "MIGRATIONS_TARGETS"
ALL = "all"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEYS = frozenset({"url", "schema", "group"})


@dataclass(frozen=True)
class Target:
    """One database (or one schema of a shared PostgreSQL database) to migrate."""

    name: str
    url: str
    schema: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Shard:
    """`--shard I/N`: the I-th of N slices (I from 1)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, slash, count = text.partition("/")
        if slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
            return cls(int(index), int(count))
        raise SettingsError(f"--shard {text!r} must be I/N with 1 <= I <= N, e.g. 2/8")

    def holds(self, name: str) -> bool:
        """Whether the target `name` is in this slice. Decided by a hash of the name alone,
        so a target stays in its shard however the list is ordered or grows, and every
        machine of a CI matrix agrees without talking to the others."""
        digest = hashlib.sha256(name.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def load_targets(settings: Settings, hook: pluggy.HookRelay) -> list[Target]:
    """Every target: the file's, then the plugins', in that order; a name used twice is an
    error (a tenant listed by a plugin and by the file would be migrated twice)."""
    from migrations_cli.core.hook_calls import call_hook

    targets = read_targets_file(settings) if settings.targets_file else []
    for listed in call_hook(hook.migration_targets, settings=settings):
        targets.extend(_from_plugin(item) for item in listed or ())
    seen: set[str] = set()
    for target in targets:
        if target.name in seen:
            raise SettingsError(f"target {target.name!r} is listed twice")
        seen.add(target.name)
    if not targets:
        raise SettingsError(
            f"no targets: set {TARGETS_SETTING} to a targets file (e.g. targets.toml), or "
            "load a plugin implementing migration_targets()"
        )
    return targets


def read_targets_file(settings: Settings) -> list[Target]:
    path = settings.targets_file
    assert path is not None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Alembic depends on tomli there
        import tomli as tomllib

    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except OSError as error:
        raise SettingsError(f"{TARGETS_SETTING}: cannot read {path} ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: not valid TOML ({first_line(str(error))})") from None
    tables = document.get("targets", {})
    if not isinstance(tables, dict):
        raise SettingsError(f"{path}: `targets` must be tables, [targets.NAME]")
    variables = _variables(settings)
    return [
        _target(name, table, f"{path}: [targets.{name}]", settings, variables)
        for name, table in tables.items()
    ]


def _variables(settings: Settings) -> Mapping[str, str]:
    """What ${VAR} may name: the environment, over the .env file's values."""
    from migrations_cli.core.settings import read_env_file

    file_values = read_env_file(settings.env_file) if settings.env_file else {}
    return {**file_values, **os.environ}


def _target(
    name: str, table: Any, where: str, settings: Settings, variables: Mapping[str, str]
) -> Target:
    from migrations_cli.core.settings import _absolute_sqlite_path

    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table with a url")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown key {unknown[0]!r} (url, schema, group)")
    url = table.get("url")
    if not isinstance(url, str) or not url:
        raise SettingsError(f"{where} needs a url")
    for key in ("schema", "group"):
        if key in table and not isinstance(table[key], str):
            raise SettingsError(f"{where}: {key} must be a string")

    def expand(match: re.Match[str]) -> str:
        if match[1] not in variables:
            raise SettingsError(f"{where}: url names ${{{match[1]}}}, which is not set")
        return variables[match[1]]

    expanded = _absolute_sqlite_path(_VARIABLE.sub(expand, url), settings.project_dir)
    return _checked(Target(name, expanded or url, table.get("schema"), table.get("group")), where)


def _from_plugin(item: Target | Mapping[str, Any]) -> Target:
    """A plugin's target: a Target, or a mapping with its fields."""
    if isinstance(item, Target):
        return _checked(item, "migration_targets()")
    try:
        target = Target(**item)
    except TypeError as error:
        raise SettingsError(f"migration_targets() returned a bad target: {error}") from None
    return _checked(target, "migration_targets()")


def _checked(target: Target, where: str) -> Target:
    from migrations_cli.core.settings import _checked_schema

    if not _NAME.match(target.name):
        raise SettingsError(
            f"{where}: target name {target.name!r} must be letters, digits, _ . or -"
        )
    try:
        _checked_schema(target.schema)
    except SettingsError:
        raise SettingsError(
            f"{where}: schema {target.schema!r} must be a plain identifier"
        ) from None
    return target


def select_targets(
    targets: Sequence[Target],
    names: str | None,
    groups: Iterable[str] = (),
    shard: Shard | None = None,
) -> list[Target]:
    """The targets asked for, in the order they are listed: `names` (comma-separated, or
    `all`), narrowed to `groups` and then to `shard`."""
    chosen = list(targets)
    if names and names.strip() != ALL:
        wanted = [name.strip() for name in names.split(",") if name.strip()]
        known = {target.name for target in targets}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise SettingsError(f"no target named {', '.join(map(repr, missing))}")
        chosen = [target for target in targets if target.name in wanted]
    groups = set(groups)
    if groups:
        known_groups = {target.group for target in targets}
        unknown = sorted(groups - known_groups)
        if unknown:
            raise SettingsError(f"no target is in group {unknown[0]!r}")
        chosen = [target for target in chosen if target.group in groups]
    if shard is not None:
        chosen = [target for target in chosen if shard.holds(target.name)]
    return chosen
