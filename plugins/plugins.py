"""`migrate plugins`: which plugins are running, where each came from, what each adds, and
which failed to load or were disabled, so "why is my command missing?" has an answer in one
command."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import typer

from migrations_cli import __version__
from migrations_cli.core import output
from migrations_cli.core.arguments import JsonOption
from migrations_cli.core.context import get_context
from migrations_cli.hookspecs import hookimpl

if TYPE_CHECKING:
    from migrations_cli.core.plugin_manager import MigrationsPluginManager, PluginSource

HEADERS = ("name", "source", "version", "commands", "hooks")
NONE = "-"


@dataclass(frozen=True)
class PluginReport:
    name: str
    source: str
    version: str | None
    commands: list[str]
    hooks: list[str]

    def row(self) -> tuple[str, ...]:
        return (
            self.name,
            self.source,
            self.version or NONE,
            ", ".join(self.commands) or NONE,
            ", ".join(self.hooks) or NONE,
        )


def plugins(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List the loaded plugins (built-in and team), their commands and hooks, the failures
    and the disabled plugins.

    Plugins that failed to load are warnings, not errors: the exit code stays 0.
    """
    manager = get_context(ctx).plugin_manager
    reports = [_report(manager, name, plugin) for name, plugin in manager.list_name_plugin()]
    failures = [{"name": failure.name, "error": failure.error} for failure in manager.failures]
    disabled = [
        {"name": entry.name, "source": _describe_source(entry.source), "by": entry.disabled_by}
        for entry in manager.disabled
    ]
    if json_output:
        output.json_result(
            {
                "plugins": [asdict(report) for report in reports],
                "failures": failures,
                "disabled": disabled,
            }
        )
        return
    for line in output.table(HEADERS, (report.row() for report in reports)):
        output.result(line)
    if manager.failures:
        output.result("")
        output.result("failed to load (skipped; see the warnings):")
        for failure in manager.failures:
            # typer.echo, not output.result: an error message may quote the settings, and
            # must be masked as the same warning on stderr is.
            typer.echo(f"  {failure.name}: {failure.error}")
    if disabled:
        output.result("")
        output.result("disabled (not imported):")
        for entry in disabled:
            output.result(f"  {entry['name']}: {entry['source']}, disabled by {entry['by']}")


def _report(manager: MigrationsPluginManager, name: str, plugin: object) -> PluginReport:
    source = manager.sources.get(name)
    return PluginReport(
        name=name,
        source=_describe_source(source),
        version=_version(source, plugin),
        commands=manager.commands.get(name, []),
        hooks=sorted(caller.name for caller in manager.get_hookcallers(plugin) or ()),
    )


def _describe_source(source: PluginSource | None) -> str:
    if source is None:
        return "registered directly"  # by code calling manager.register(), not by loading
    if source.kind != "entry point":
        return source.kind
    distribution = source.distribution
    provider = f" ({distribution.metadata['Name']})" if distribution is not None else ""
    return f"entry point {source.detail}{provider}"


def _version(source: PluginSource | None, plugin: object) -> str | None:
    """The version of the code that runs: migrations-cli's for the built-ins, the declaring
    distribution's for an entry point, and for a module its ``__version__`` or else that of
    the installed distribution it belongs to (a module beside .env, or a file of
    MIGRATIONS_PLUGINS_DIR, has none)."""
    if source is None:
        return None
    if source.kind == "built-in":
        return __version__
    if source.distribution is not None:
        return source.distribution.version
    declared = getattr(plugin, "__version__", None)
    if isinstance(declared, str):
        return declared
    if source.kind == "MIGRATIONS_PLUGINS_DIR":
        return None  # a file of the project, not part of any distribution
    return _installed_version(source.detail)


def _installed_version(module: str) -> str | None:
    from importlib.metadata import packages_distributions, version

    names = packages_distributions().get(module.partition(".")[0], [])
    return version(names[0]) if names else None


@hookimpl
def register_commands(app: typer.Typer) -> None:
    app.command(rich_help_panel="Project")(plugins)
