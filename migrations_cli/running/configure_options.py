"""What `migrate` adds to the arguments of env.py's `context.configure()`, whatever env.py it is.

A project's own env.py (as `alembic init` writes it) calls `context.configure()` with the
arguments it chooses, and `migrate` does not edit it. While a `migrate` command runs
Alembic, `adjusted_configure` makes that call merge migrate's own arguments (a per-revision
callback, the tool's tables left out of autogenerate, the models of MIGRATIONS_METADATA, the
plugins' `configure_options`) into env.py's. env.py runs unchanged, and everything it sets
up (comparators, include_*, autogenerate_plugins) still applies.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript
    from alembic.runtime.migration import MigrationContext

    from migrations_cli.core.settings import Settings
    from migrations_cli.running.ddl_timeouts import StepsFunction

Options = dict[str, Any]
# Callables that filter: an object is kept only when every one keeps it.
_FILTERS = frozenset({"include_object", "include_name"})
# Callables of which each runs, env.py's first.
_IN_TURN = frozenset({"process_revision_directives"})
# Collections whose items add up.
_ADDED_UP = frozenset({"on_version_apply", "autogenerate_plugins"})


@dataclass
class Configured:
    """What env.py's configure() was called with, once merged: read after the command."""

    calls: int = 0
    options: Options = field(default_factory=dict)

    @property
    def target_metadata(self) -> Any:
        return self.options.get("target_metadata")


class StopAtConfigure(Exception):
    """Raised by env.py's `context.configure()` under `adjusted_configure(stop=True)`, once
    its arguments are known: nothing runs after it."""


@contextmanager
def adjusted_configure(
    ours: Mapping[str, Any],
    *,
    stop: bool = False,
    steps: Callable[[StepsFunction], StepsFunction] | None = None,
) -> Iterator[Configured]:
    """While the block runs Alembic commands, env.py's `context.configure(**theirs)` is
    `context.configure(**merged(theirs, ours))`. Yields what it was called with; `stop`:
    the call raises StopAtConfigure instead (to learn env.py's arguments). `steps` wraps
    the list of revisions the command hands to env.py (the `fn` among the context's
    options), once per call: a second call wraps what the command handed, not the wrapper.

    `context` in env.py is a proxy of the EnvironmentContext the command made, so the
    method is replaced on the class for the block (and put back after it): a `migrate`
    command runs Alembic in its own process, one command at a time."""
    from alembic.runtime.environment import EnvironmentContext

    original = EnvironmentContext.configure
    parameters = inspect.signature(original)
    configured = Configured()

    def configure(self: EnvironmentContext, *args: Any, **kwargs: Any) -> None:
        bound = parameters.bind(self, *args, **kwargs).arguments
        bound.pop("self")
        theirs = {**bound, **bound.pop("kw", {})}
        configured.calls += 1
        configured.options = merged(theirs, ours)
        if stop:
            raise StopAtConfigure
        handed = self.context_opts.get("fn")
        if steps is not None and handed is not None:
            self.context_opts["fn"] = steps(getattr(handed, "steps_function", handed))
        original(self, **configured.options)

    EnvironmentContext.configure = configure  # type: ignore[method-assign]
    try:
        yield configured
    finally:
        EnvironmentContext.configure = original  # type: ignore[method-assign]


def merged(theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> Options:
    """env.py's configure() arguments with `ours` added: filters must all keep an object,
    revision-directive callables run in turn (env.py's first), callbacks and plugin lists
    add up; any other argument of ours replaces env.py's."""
    result = dict(theirs)
    for key, value in ours.items():
        existing = result.get(key)
        if value is None:
            continue
        if existing is None:
            result[key] = value
        elif key in _FILTERS:
            result[key] = _every(existing, value)
        elif key in _IN_TURN:
            result[key] = _in_turn(existing, value)
        elif key in _ADDED_UP:
            result[key] = [*_as_list(existing), *_as_list(value)]
        else:
            result[key] = value
    return result


def _every(*filters: Callable[..., bool]) -> Callable[..., bool]:
    def keep(*args: Any, **kwargs: Any) -> bool:
        return all(each(*args, **kwargs) for each in filters)

    return keep


def _in_turn(*callables: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any, **kwargs: Any) -> None:
        for each in callables:
            each(*args, **kwargs)

    return run


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def plugin_options(hook: pluggy.HookRelay, config: Config, settings: Settings) -> Options:
    """The `context.configure()` arguments the plugins' `configure_options` return, merged
    in registration order (a later plugin's filters and callables join, as with env.py's)."""
    from migrations_cli.core.hook_calls import call_hook

    options: Options = {}
    for returned in reversed(call_hook(hook.configure_options, config=config, settings=settings)):
        if returned:
            options = merged(options, returned)
    return options


def revision_directives(hook: pluggy.HookRelay, autogenerate: bool) -> Callable[..., None]:
    """The process_revision_directives callable Alembic takes: the plugins' hook, then (for
    an autogenerate) no file when nothing changed."""
    from migrations_cli.core.hook_calls import call_hook

    def process_revision_directives(
        context: MigrationContext, revision: tuple[str, ...], directives: list[MigrationScript]
    ) -> None:
        call_hook(
            hook.process_revision_directives,
            context=context,
            revision=revision,
            directives=directives,
        )
        if autogenerate and all(
            ops.is_empty() for script in directives for ops in script.upgrade_ops_list
        ):
            directives[:] = []  # nothing changed: write no file

    return process_revision_directives
