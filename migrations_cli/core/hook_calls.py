"""Calling a hook: a plugin's exception becomes one line naming the plugin and the hook.

Apart from the plugin manager, so that what calls hooks (the Config factory, the run, the
lint) does not depend on how plugins are found and loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import PluginError, first_line, traceback_frames

if TYPE_CHECKING:
    import pluggy


def call_hook(caller: pluggy.HookCaller, **kwargs: Any) -> Any:
    """Call a hook; an exception from a plugin becomes a PluginError that names the plugin."""
    import typer

    try:
        return caller(**kwargs)
    except (typer.Exit, typer.Abort):
        raise  # a plugin's deliberate exit, with its own code
    except Exception as error:
        from migrations_cli.core.output import mask_outside

        plugin = _raising_plugin(caller, error)
        raise PluginError(
            f"plugin {plugin!r} failed in {caller.name}: "
            f"{type(error).__name__}: {mask_outside(first_line(str(error)))}"
        ) from error


def _raising_plugin(caller: pluggy.HookCaller, error: BaseException) -> str:
    """The plugin whose hook function appears in the traceback of `error`."""
    owners = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
    for frame in traceback_frames(error):
        if frame.f_code in owners:
            return owners[frame.f_code]
    return "unknown"
