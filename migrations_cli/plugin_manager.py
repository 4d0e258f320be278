"""Build the plugin manager: built-ins, then installed entry points, then MIGRATIONS_PLUGINS.

Each plugin loads inside its own ``try``: a plugin that fails to import or register becomes a
recorded failure (shown as a warning) and the rest of the CLI keeps working. There is no
module-level manager; every run and every test builds its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import Distribution, EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from migrations_cli import hookspecs
from migrations_cli.errors import PluginError, first_line, traceback_frames

if TYPE_CHECKING:
    import typer
    from typer.models import TyperInfo

    from migrations_cli.settings import Settings

ENTRY_POINT_GROUP = "migrations_cli"
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
        "stamp",
        "check",
        "doctor",
        "plugins",
        "init",
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

    kind: Literal["built-in", "entry point", "MIGRATIONS_PLUGINS"]
    # The module for built-ins and MIGRATIONS_PLUGINS; "name = value" for an entry point.
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


class MigrationsPluginManager(pluggy.PluginManager):
    """pluggy's manager with our hook specifications, and a record of where each plugin came
    from, which commands it added, and the plugins that failed."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.sources: dict[str, PluginSource] = {}
        self.commands: dict[str, list[str]] = {}

    def load(
        self, name: str, loader: Callable[[], Any], source: PluginSource | None = None
    ) -> None:
        """Import a plugin with `loader` and register it as `name`, recording any failure."""
        try:
            plugin = loader()
            if not self.is_registered(plugin):
                self.register(plugin, name=name)
                self._refuse_unknown_hooks(plugin)
                if source is not None:
                    self.sources[name] = source
        except Exception as error:
            self.failures.append(PluginFailure(name, f"{type(error).__name__}: {error}"))

    def _refuse_unknown_hooks(self, plugin: object) -> None:
        """A misspelt hook would never run (a guard that never guards): refuse the plugin."""
        unknown = sorted(
            caller.name for caller in self.get_hookcallers(plugin) or () if caller.spec is None
        )
        if unknown:
            self.unregister(plugin)
            raise PluginError(f"unknown hook {', '.join(unknown)} (misspelt?)")


def build_plugin_manager(settings: Settings) -> MigrationsPluginManager:
    manager = MigrationsPluginManager()
    for module in DEFAULT_PLUGINS:
        manager.load(module, _importer(module), PluginSource("built-in", module))
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        manager.load(entry_point.name, entry_point.load, PluginSource.of_entry_point(entry_point))
    for module in settings.plugins:
        manager.load(module, _importer(module), PluginSource("MIGRATIONS_PLUGINS", module))
    return manager


def register_all_commands(manager: MigrationsPluginManager, app: typer.Typer) -> None:
    """Call each plugin's ``register_commands`` on its own, so one failure stays contained.

    A plugin whose hook raises has its half-registered commands removed and is unregistered;
    two plugins registering the same command name is an error naming both. The names each
    plugin registered are kept in ``manager.commands``.
    """
    from typer.main import get_command_name

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
        names = [
            info.name or get_command_name(info.callback.__name__)
            for info in app.registered_commands[commands_before:]
            if info.callback is not None
        ] + [_group_name(info) for info in app.registered_groups[groups_before:]]
        for name in filter(None, names):
            if name in owners:
                raise PluginError(
                    f"command {name!r} is registered by two plugins: "
                    f"{owners[name]!r} and {impl.plugin_name!r}; remove one of them"
                )
            owners[name] = impl.plugin_name
        manager.commands[impl.plugin_name] = [name for name in names if name]


def _group_name(info: TyperInfo) -> str | None:
    """A sub-app's command name: given to add_typer(), or else to the Typer() itself."""
    if isinstance(info.name, str):
        return info.name
    instance_name = info.typer_instance.info.name if info.typer_instance else None
    return instance_name if isinstance(instance_name, str) else None


def _importer(module: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module)


def call_hook(caller: pluggy.HookCaller, **kwargs: Any) -> Any:
    """Call a hook; an exception from a plugin becomes a PluginError that names the plugin."""
    import typer

    try:
        return caller(**kwargs)
    except (typer.Exit, typer.Abort):
        raise  # a plugin's deliberate exit, with its own code
    except Exception as error:
        plugin = _raising_plugin(caller, error)
        raise PluginError(
            f"plugin {plugin!r} failed in {caller.name}: "
            f"{type(error).__name__}: {first_line(str(error))}"
        ) from error


def _raising_plugin(caller: pluggy.HookCaller, error: BaseException) -> str:
    """The plugin whose hook function appears in the traceback of `error`."""
    owners = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
    for frame in traceback_frames(error):
        if frame.f_code in owners:
            return owners[frame.f_code]
    return "unknown"
