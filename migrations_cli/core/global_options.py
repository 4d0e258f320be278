"""The options `migrate` reads before Click parses anything: they decide which .env is
read, and so which plugins, and so which commands, exist. `core.cli` reads them to start;
`core.app` declares them to Click under the same names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from migrations_cli.core.settings import DISABLE_FLAG, DISABLE_FLAG_PREFIX

PROG_NAME = "migrate"
USAGE_ERROR = 2  # as Click exits on bad command-line usage
ENV_FILE_OPTION = "--env-file"
DATABASE_URL_OPTION = "--database-url"
VERBOSE_OPTIONS = ("--verbose", "-v")
PLUGIN_OPTION = DISABLE_FLAG  # -p no:NAME, as pytest's
# Alembic's own global options, with its names: -x KEY=VALUE for env.py (repeatable), and
# -n/--name, the alembic.ini section of one database in a multi-database setup.
X_OPTION = "-x"
NAME_OPTIONS = ("--name", "-n")
# Short options taking a value, which Click reads as "-p VALUE" or "-pVALUE".
_SHORT_VALUED = (PLUGIN_OPTION, X_OPTION, NAME_OPTIONS[1])


class GlobalOptions(NamedTuple):
    """The options main() must know before Click parses anything: they decide which .env is
    read and so which plugins, and so which commands, exist; -n decides which ini section
    configures the project, and -x is handed to env.py. (A NamedTuple: a quick answer does
    not import dataclasses.)"""

    env_file: str | None = None
    database_url: str | None = None
    verbose: bool = False
    # The values of -p, as given ("no:downgrade"); a missing value is Click's to report.
    plugin_options: tuple[str, ...] = ()
    # The values of -x, in order, as Alembic keeps them for context.get_x_argument().
    x_arguments: tuple[str, ...] = ()
    # -n/--name: the ini section (None: Alembic's "alembic").
    name: str | None = None
    # The first word after them: the command's name, unless Click finds it is not one.
    command: str | None = None
    # The words before the command, as given: what a fan-out over targets repeats in the
    # run of each target (migrations_cli.fanout.fan_out). The options above are what they mean.
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: Sequence[str]) -> GlobalOptions:
        """Read the options placed before the command name, as Click will."""
        values: dict[str, str | None] = {}
        verbose = False
        repeated: dict[str, list[str]] = {PLUGIN_OPTION: [], X_OPTION: []}
        position = 0
        while position < len(args) and args[position].startswith("-"):
            name, has_value, given = args[position].partition("=")
            short = args[position][:2]
            if short in _SHORT_VALUED and not args[position].startswith("--"):
                # A short option as Click reads it: "-p VALUE" or "-pVALUE" (not "-p=VALUE").
                attached = args[position][2:]
                if not attached:
                    position += 1
                if attached or position < len(args):  # else Click reports the missing value
                    value_given = attached or args[position]
                    if short in repeated:
                        repeated[short].append(value_given)
                    else:
                        values["name"] = value_given
            elif name in (ENV_FILE_OPTION, DATABASE_URL_OPTION, NAME_OPTIONS[0]):
                value: str | None = given
                if not has_value:  # the value is the next word; Click reports it missing
                    position += 1
                    value = args[position] if position < len(args) else None
                values[name.lstrip("-").replace("-", "_")] = value
            elif name in VERBOSE_OPTIONS:
                verbose = True
            position += 1
        return cls(
            **values,
            verbose=verbose,
            plugin_options=tuple(repeated[PLUGIN_OPTION]),
            x_arguments=tuple(repeated[X_OPTION]),
            command=args[position] if position < len(args) else None,
            words=tuple(args[:position]),
        )

    @property
    def disabled_plugins(self) -> tuple[str, ...]:
        """The NAMEs of the valid ``-p no:NAME`` options."""
        return tuple(
            value[len(DISABLE_FLAG_PREFIX) :].strip()
            for value in self.plugin_options
            if _is_disable_option(value)
        )

    def usage_error(self) -> str | None:
        """What is wrong with -p, checked before any plugin loads."""
        for value in self.plugin_options:
            if not _is_disable_option(value):
                return (
                    f"{PLUGIN_OPTION} takes {DISABLE_FLAG_PREFIX}NAME, to disable the plugin "
                    f"NAME (got {value!r})"
                )
        return None


def _is_disable_option(value: str) -> bool:
    return value.startswith(DISABLE_FLAG_PREFIX) and bool(value[len(DISABLE_FLAG_PREFIX) :].strip())
