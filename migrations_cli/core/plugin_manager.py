"""Build the plugin manager: built-ins, then installed entry points, then MIGRATIONS_PLUGINS,
then the modules of MIGRATIONS_PLUGINS_DIR.

Each plugin loads inside its own ``try``: a plugin that fails to import or register becomes a
recorded failure (shown as a warning) and the rest of the CLI keeps working. A disabled
plugin (MIGRATIONS_DISABLE_PLUGINS, ``-p no:NAME``) is never imported. There is no
module-level manager; every run and every test builds its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import Distribution, EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from migrations_cli import hookspecs
from migrations_cli.core.errors import PluginError
from migrations_cli.core.settings import DISABLE_FLAG, DISABLE_FLAG_PREFIX, ENTRY_POINT_GROUP

if TYPE_CHECKING:
    import typer
    from typer.models import CommandInfo, TyperInfo

    from migrations_cli.core.settings import Settings

# What can disable a plugin, as `migrate plugins` and the warnings name it (and DISABLE_FLAG).
DISABLE_SETTING = "MIGRATIONS_DISABLE_PLUGINS"
AUTOLOAD_SETTING = "MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD"
# Modules of MIGRATIONS_PLUGINS_DIR are imported under this prefix, in our own namespace, so
# a file named like an installed module (json.py, alembic.py) can never replace it.
PLUGINS_DIR_MODULE_PREFIX = "migrations_cli.plugins_dir"
DEFAULT_PLUGINS: tuple[str, ...] = tuple(
    f"migrations_cli.plugins.{name}"
    for name in (
        "upgrade",
        "downgrade",
        "create",
        "merge",
        "heads",
        "status",
        "current",
        "history",
        "show",
        "branches",
        "edit",
        "stamp",
        "check",
        "doctor",
        "plugins",
        "init",
        "verify",
        "lint",
        "checksums",
        "squash",
        "baseline",
        "drift",
        "diff",
    )
)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped, and why."""

    name: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} was not loaded: {self.error}"


@dataclass(frozen=True)
class PluginSource:
    """Where a plugin came from, for `migrate plugins` to show which code is running."""

    kind: Literal["built-in", "entry point", "MIGRATIONS_PLUGINS", "MIGRATIONS_PLUGINS_DIR"]
    # The module for built-ins and MIGRATIONS_PLUGINS; "name = value" for an entry point;
    # the file for MIGRATIONS_PLUGINS_DIR.
    detail: str
    # The installed distribution that declared an entry point. Its name and version are read
    # (a file each) only when `migrate plugins` asks, not at every start-up.
    distribution: Distribution | None = None

    @classmethod
    def of_entry_point(cls, entry_point: EntryPoint) -> PluginSource:
        return cls(
            "entry point",
            f"{entry_point.name} = {entry_point.value}",
            getattr(entry_point, "dist", None),
        )


@dataclass(frozen=True)
class DisabledPlugin:
    """A plugin found but not imported, and what disabled it (shown by `migrate plugins`)."""

    name: str
    source: PluginSource
    # "-p no:NAME", "MIGRATIONS_DISABLE_PLUGINS" or "MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD".
    disabled_by: str


class MigrationsPluginManager(pluggy.PluginManager):
    """pluggy's manager with our hook specifications, and a record of where each plugin came
    from, which commands it added, the plugins that failed and those that were disabled."""

    def __init__(self, disable: Mapping[str, str] | None = None) -> None:
        """`disable` maps each name to disable to what asked for it (DISABLE_FLAG or
        DISABLE_SETTING)."""
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.sources: dict[str, PluginSource] = {}
        self.commands: dict[str, list[str]] = {}
        self.disable: dict[str, str] = dict(disable or {})
        self.disabled: list[DisabledPlugin] = []
        self._known_names: set[str] = set()

    def load(
        self,
        name: str,
        loader: Callable[[], Any],
        source: PluginSource | None = None,
        *,
        aliases: Iterable[str] = (),
        disabled_by: str | None = None,
    ) -> None:
        """Import a plugin with `loader` and register it as `name`, recording any failure.

        A plugin disabled by `name` or one of its `aliases` (or by `disabled_by`, a reason
        given by the caller) is recorded as disabled and `loader` is never called: a plugin
        that breaks on import must be possible to switch off.
        """
        names = (name, *aliases)
        self._known_names.update(names)
        reason = self._disabled_by(names) or disabled_by
        if reason is not None:
            if source is not None and name not in {entry.name for entry in self.disabled}:
                self.disabled.append(DisabledPlugin(name, source, reason))
            return
        if self.has_plugin(name):
            self._refuse_taken_name(name, source)
            return
        try:
            plugin = loader()
            if not self.is_registered(plugin):
                self.register(plugin, name=name)
                self._refuse_unknown_hooks(plugin)
                if source is not None:
                    self.sources[name] = source
        except Exception as error:
            self.failures.append(PluginFailure(name, f"{type(error).__name__}: {_one_line(error)}"))

    def _disabled_by(self, names: Iterable[str]) -> str | None:
        for name in names:
            origin = self.disable.get(name)
            if origin == DISABLE_FLAG:
                return f"{DISABLE_FLAG} {DISABLE_FLAG_PREFIX}{name}"
            if origin is not None:
                return origin
        return None

    def _refuse_taken_name(self, name: str, source: PluginSource | None) -> None:
        """Two plugins answering to one name (a file in MIGRATIONS_PLUGINS_DIR named as an
        entry point): the first keeps it. The same plugin listed twice is loaded once."""
        taken_by = self.sources.get(name)
        if taken_by == source:
            return
        by = f" by the {taken_by.kind} plugin {taken_by.detail}" if taken_by else ""
        self.failures.append(PluginFailure(name, f"the name {name!r} is already taken{by}"))

    def _refuse_unknown_hooks(self, plugin: object) -> None:
        """A misspelt hook would never run (a guard that never guards): refuse the plugin.

        This is pluggy's `check_pending` rule, applied to one plugin so that the others still
        load: an implementation without a specification is an error unless it is marked
        ``@hookimpl(optionalhook=True)`` (a hook that a later migrations-cli may define).
        """
        unknown = sorted(
            caller.name
            for caller in self.get_hookcallers(plugin) or ()
            if not caller.has_spec()
            and any(
                impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()
            )
        )
        if unknown:
            self.unregister(plugin)
            raise PluginError(f"unknown hook {', '.join(unknown)} (misspelt?)")

    @property
    def disabled_by_flag(self) -> set[str]:
        """The names given with ``-p no:NAME``."""
        return {name for name, origin in self.disable.items() if origin == DISABLE_FLAG}

    @property
    def unknown_disabled(self) -> list[str]:
        """A message for each name asked to be disabled that no plugin answers to: a typo
        would otherwise leave the plugin running without a word."""
        return [
            f"{DISABLE_FLAG} {DISABLE_FLAG_PREFIX}{name}: no plugin is named {name!r}"
            if origin == DISABLE_FLAG
            else f"{origin}: no plugin is named {name!r}"
            for name, origin in self.disable.items()
            if name not in self._known_names
        ]

    @property
    def warnings(self) -> list[str]:
        """Everything to warn about at start-up, one line each."""
        hint = " (`migrate plugins` lists the plugins)"
        return [message + hint for message in self.unknown_disabled] + [
            str(failure) for failure in self.failures
        ]


def build_plugin_manager(
    settings: Settings, disable: Iterable[str] = ()
) -> MigrationsPluginManager:
    """The plugins of this run; `disable` holds the names given with ``-p no:NAME``.

    A built-in answers to its module and to its command's name (``downgrade``), an entry
    point to its entry-point name, a module to its module name, and a file of
    MIGRATIONS_PLUGINS_DIR to its name without ``.py``.
    """
    manager = MigrationsPluginManager(
        {
            **dict.fromkeys(settings.disabled_plugins, DISABLE_SETTING),
            **dict.fromkeys(disable, DISABLE_FLAG),
        }
    )
    for module in DEFAULT_PLUGINS:
        short_name = module.rpartition(".")[2]
        source = PluginSource("built-in", module)
        manager.load(module, _importer(module), source, aliases=(short_name,))
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        manager.load(
            entry_point.name,
            entry_point.load,
            PluginSource.of_entry_point(entry_point),
            disabled_by=None if settings.plugin_autoload else AUTOLOAD_SETTING,
        )
    for module in settings.plugins:
        manager.load(module, _importer(module), PluginSource("MIGRATIONS_PLUGINS", module))
    if settings.plugins_dir is not None:
        _load_plugins_dir(manager, settings.plugins_dir)
    manager.check_pending()  # every plugin was checked as it loaded: this only confirms it
    return manager


def plugin_files(folder: Path) -> list[Path]:
    """The plugin modules of a MIGRATIONS_PLUGINS_DIR folder, in name order: every ``*.py``
    not starting with ``_`` (helpers the plugins import) or ``.`` (editors' files)."""
    return sorted(
        path
        for path in folder.glob("*.py")
        if path.is_file() and not path.name.startswith(("_", "."))
    )


def _load_plugins_dir(manager: MigrationsPluginManager, folder: Path) -> None:
    """Load each module of the folder as a plugin named after its file.

    The folder goes *last* on sys.path, so the modules import their helpers (``import
    _shared``) as scripts beside them would, yet no file there can shadow the standard
    library, an installed package or the project's own modules: those come first.
    """
    files = plugin_files(folder)
    if files and str(folder) not in sys.path:
        sys.path.append(str(folder))
    for path in files:
        source = PluginSource("MIGRATIONS_PLUGINS_DIR", str(path))
        manager.load(path.stem, _file_importer(path), source)


def register_all_commands(manager: MigrationsPluginManager, app: typer.Typer) -> None:
    """Call each plugin's ``register_commands`` on its own, so one failure stays contained.

    A plugin whose hook raises has its half-registered commands removed and is unregistered;
    two plugins registering the same command name is an error naming both. The names each
    plugin registered are kept in ``manager.commands``.
    """
    owners: dict[str, str] = {}
    for impl in manager.hook.register_commands.get_hookimpls():
        commands_before = len(app.registered_commands)
        groups_before = len(app.registered_groups)
        try:
            if impl.hookwrapper or impl.wrapper:
                raise TypeError("register_commands cannot be a hook wrapper")
            impl.function(**{arg: app for arg in impl.argnames})
        except Exception as error:
            del app.registered_commands[commands_before:]
            del app.registered_groups[groups_before:]
            manager.unregister(impl.plugin)
            manager.failures.append(
                PluginFailure(impl.plugin_name, f"register_commands raised {error!r}")
            )
            continue
        names = [_command_name(info) for info in app.registered_commands[commands_before:]] + [
            _group_name(info) for info in app.registered_groups[groups_before:]
        ]
        for name in filter(None, names):
            if name in owners:
                raise PluginError(
                    f"command {name!r} is registered by two plugins: "
                    f"{owners[name]!r} and {impl.plugin_name!r}; remove one of them"
                )
            owners[name] = impl.plugin_name
        manager.commands[impl.plugin_name] = [name for name in names if name]


def keep_only_command(app: typer.Typer, name: str) -> None:
    """Leave the command `name` the app's only one, when a plugin registered it: Typer
    builds every command's parameters, from its signature and type hints, before it runs
    one. A name no plugin registered keeps them all, for Click's "No such command" and its
    suggestions; sub-apps without a name of their own are kept, since their commands are
    merged in by Typer."""
    commands = [info for info in app.registered_commands if _command_name(info) == name]
    named_group = any(_group_name(info) == name for info in app.registered_groups)
    if not commands and not named_group:
        return
    app.registered_commands[:] = commands
    app.registered_groups[:] = [
        info for info in app.registered_groups if _group_name(info) in (name, None)
    ]


def _command_name(info: CommandInfo) -> str | None:
    """A command's name: given to command(), or else its function's, as Typer derives it."""
    from typer.main import get_command_name

    if info.callback is None:
        return None
    return info.name or get_command_name(info.callback.__name__)


def _group_name(info: TyperInfo) -> str | None:
    """A sub-app's command name: given to add_typer(), or else to the Typer() itself."""
    if isinstance(info.name, str):
        return info.name
    instance_name = info.typer_instance.info.name if info.typer_instance else None
    return instance_name if isinstance(instance_name, str) else None


def _importer(module: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module)


def _file_importer(path: Path) -> Callable[[], ModuleType]:
    """Import a file by its path, under a module name of our own namespace that no
    installed module can have. A module of that name from another file (another project
    run in the same process) is replaced, not reused."""

    def load() -> ModuleType:
        name = plugins_dir_module_name(path)
        loaded = sys.modules.get(name)
        if loaded is not None and getattr(loaded, "__file__", None) == str(path):
            return loaded  # imported already, as importlib.import_module would reuse it
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - *.py always has a loader
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import does: dataclasses and pickle look it up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    return load


def plugins_dir_module_name(path: Path) -> str:
    """``migrations_cli.plugins_dir.<file name>``, made a valid dotted name."""
    return f"{PLUGINS_DIR_MODULE_PREFIX}.{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}"


def _one_line(error: BaseException) -> str:
    """pluggy's validation errors span several lines; a warning is one line."""
    from migrations_cli.core.output import mask_outside

    return mask_outside("; ".join(line.strip() for line in str(error).splitlines() if line.strip()))
