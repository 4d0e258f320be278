"""migrations-notify: an example plugin that uses the lifecycle and autogenerate hooks.

It shows:

- ``after_migrate``: one line per applied or reverted revision appended to the file named by
  ``MIGRATIONS_NOTIFY_FILE``, and/or a dictionary handed to the callable named by
  ``MIGRATIONS_NOTIFY_WEBHOOK`` (``module:function``; the module may sit beside .env), which
  would post it to a chat or a deploy tracker;
- ``before_migrate`` as a guard: with ``MIGRATIONS_NOTIFY_FREEZE=<reason>`` set, no upgrade
  or downgrade runs (exit 1, the database untouched); it also resolves the webhook first,
  so a misspelt one fails before the migration rather than after it;
- ``include_object``: tables whose names start with a prefix in
  ``MIGRATIONS_NOTIFY_SKIP_PREFIX`` (comma separated, e.g. ``legacy_``) are left out of
  `migrate create`'s autogenerate and of `migrate check`, so tables nobody models are
  neither dropped by a generated revision nor reported as differences.

The settings are read as migrate reads its own: the process environment first, then the
project's .env.

Installed, the package declares itself in its pyproject.toml::

    [project.entry-points.migrations_cli]
    notify = "migrations_notify"
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from migrations_cli import hookimpl
from migrations_cli.core import output
from migrations_cli.core.config import SETTINGS_KEY
from migrations_cli.core.settings import find_env_file, read_env_file

if TYPE_CHECKING:
    from alembic.config import Config

    from migrations_cli.core.settings import Settings
    from migrations_cli.hookspecs import Direction

__version__ = "0.1.0"

FILE_SETTING = "MIGRATIONS_NOTIFY_FILE"
WEBHOOK_SETTING = "MIGRATIONS_NOTIFY_WEBHOOK"
FREEZE_SETTING = "MIGRATIONS_NOTIFY_FREEZE"
SKIP_PREFIX_SETTING = "MIGRATIONS_NOTIFY_SKIP_PREFIX"

Payload = dict[str, Any]


@hookimpl
def before_migrate(config: Config, direction: Direction, target: str) -> None:
    """Refuse while migrations are frozen; make sure the webhook exists before anything runs."""
    settings = _settings(config)
    reason = setting(FREEZE_SETTING, settings)
    if reason:
        output.error(f"migrations are frozen ({FREEZE_SETTING}): {reason}; no {direction} ran")
        raise typer.Exit(1)  # a deliberate refusal: our own message and exit code
    webhook(settings)  # raises if misspelt: reported as this plugin failing in before_migrate


@hookimpl
def after_migrate(
    config: Config, direction: Direction, current: tuple[str, ...], revisions: tuple[str, ...]
) -> None:
    """Tell the file and the webhook which revisions ran; nothing when none did."""
    if not revisions:
        return
    settings = _settings(config)
    verb = "applied" if direction == "upgrade" else "reverted"
    docs = _revision_docs(config, revisions)
    log_file = setting(FILE_SETTING, settings)
    if log_file:
        folder = settings.project_dir if settings else Path.cwd()
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with (folder / log_file).open("a", encoding="utf-8") as log:
            for revision in revisions:
                log.write(f"{when} {verb} {revision} {docs[revision]}".rstrip() + "\n")
    send = webhook(settings)
    if send is not None:
        send(
            {
                "event": f"migrations {verb}",
                "direction": direction,
                "revisions": [{"id": rev, "message": docs[rev]} for rev in revisions],
                "current": list(current),
                "database": _masked_url(config),
            }
        )


@hookimpl
def include_object(name: str | None, type_: str) -> bool | None:
    """False for the tables autogenerate must not touch; None leaves the rest to others."""
    prefixes = [p.strip() for p in (setting(SKIP_PREFIX_SETTING) or "").split(",") if p.strip()]
    if type_ == "table" and name and name.startswith(tuple(prefixes)):
        return False
    return None


def setting(name: str, settings: Settings | None = None) -> str | None:
    """The environment's value, else the .env's: the one migrate read when `settings` is
    known, else (plain alembic, `migrate check`) the nearest from the working folder."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    env_file = settings.env_file if settings is not None else find_env_file(Path.cwd())
    if env_file is None or not env_file.is_file():
        return None
    return _env_values(env_file, env_file.stat().st_mtime_ns).get(name, "").strip() or None


@lru_cache(maxsize=8)
def _env_values(path: Path, mtime_ns: int) -> dict[str, str]:
    """include_object runs once per table, column and index: read the .env once per edit."""
    return read_env_file(path)


def webhook(settings: Settings | None) -> Callable[[Payload], object] | None:
    """The callable MIGRATIONS_NOTIFY_WEBHOOK names (module:function), or None if unset."""
    path = setting(WEBHOOK_SETTING, settings)
    if not path:
        return None
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ValueError(f"{WEBHOOK_SETTING}={path!r} must look like 'module:function'")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{WEBHOOK_SETTING}={path!r} is not callable")
    return target  # type: ignore[no-any-return]


def _settings(config: Config) -> Settings | None:
    """The settings migrate built the Config from (absent when a tool built the Config)."""
    settings: Settings | None = config.attributes.get(SETTINGS_KEY)
    return settings


def _revision_docs(config: Config, revisions: tuple[str, ...]) -> dict[str, str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    docs = {}
    for revision in revisions:
        found = script.get_revision(revision)
        docs[revision] = (found.doc if found is not None else "") or ""
    return docs


def _masked_url(config: Config) -> str | None:
    from sqlalchemy.engine import make_url

    url = config.get_main_option("sqlalchemy.url")
    return make_url(url).render_as_string(hide_password=True) if url else None
