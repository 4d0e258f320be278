"""What a command receives: the settings, the plugins, and Alembic objects built on demand."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import typer

from migrations_cli.core.errors import SettingsError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from migrations_cli.core.plugin_manager import MigrationsPluginManager
    from migrations_cli.core.settings import Settings
    from migrations_cli.graph.graph_snapshot import GraphSnapshot
    from migrations_cli.graph.revision_cache import CachedLoading


@dataclass
class MigrationsContext:
    settings: Settings
    plugin_manager: MigrationsPluginManager
    # Set by a command that only reads the history (get_context(ctx, read_only=True)):
    # `script` then loads unchanged revision files from the revision cache.
    read_only: bool = False
    # How `script` loaded its revision files, when through the revision cache.
    revision_loading: CachedLoading | None = None
    # The global options of the command line, as given (before the command's name).
    global_words: tuple[str, ...] = ()

    @cached_property
    def alembic_config(self) -> Config:
        """Built once per run by the one factory, then adjusted by plugins."""
        from migrations_cli.core.config import build_alembic_config

        if not self.settings.migrations_dir.is_dir():
            where = self.settings.env_file or "the environment"
            raise SettingsError(
                f"migrations folder {self.settings.migrations_dir} does not exist "
                f"(MIGRATIONS_DIR, from {where})"
            )
        return build_alembic_config(self.settings, hook=self.plugin_manager.hook)

    @cached_property
    def database(self) -> Settings:
        """The settings naming the database the run's env.py migrates: DATABASE_URL, or an
        alembic.ini's or a plugin's `sqlalchemy.url`. Every command reads that database."""
        from migrations_cli.core.config import migrated_database

        return migrated_database(self.alembic_config, self.settings)

    @cached_property
    def script(self) -> ScriptDirectory:
        """Alembic's ScriptDirectory; for a read-only command its revision files come from
        the cache in .migrations-cache/ when unchanged (their modules then hold only the
        identity: nothing that runs a migration may use it)."""
        if self.read_only:
            from migrations_cli.graph.cache_files import CACHE_DIR
            from migrations_cli.graph.revision_cache import load_cached

            script, self.revision_loading = load_cached(
                self.alembic_config, self.settings.project_dir / CACHE_DIR
            )
            return script
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config)

    @cached_property
    def graph(self) -> GraphSnapshot:
        """The revision graph: the saved snapshot while it still matches the files, else
        taken from Alembic's map (and saved for the next command)."""
        from migrations_cli.graph.graph_snapshot import read_snapshot

        saved = read_snapshot(self.settings) if self.snapshots_allowed else None
        return saved or self.taken_graph

    @cached_property
    def taken_graph(self) -> GraphSnapshot:
        """The graph taken from Alembic's map in this run, saved when its inputs are
        pinned."""
        from migrations_cli.graph.graph_snapshot import pinned, take_snapshot

        snapshot = take_snapshot(self.script)
        if self.snapshots_allowed:
            snapshot = pinned(snapshot, self.script, self.revision_loading, self.settings)
        return self.remember(snapshot)

    def remember(self, snapshot: GraphSnapshot) -> GraphSnapshot:
        """Save `snapshot` for the next command (when its inputs are pinned)."""
        from migrations_cli.graph.graph_snapshot import save_snapshot

        if self.snapshots_allowed:
            save_snapshot(snapshot, self.settings)
        return snapshot

    @cached_property
    def snapshots_allowed(self) -> bool:
        """Only a run of the built-in plugins alone may save or use a graph snapshot."""
        from migrations_cli.graph.graph_snapshot import only_built_in_plugins

        return only_built_in_plugins(self.settings)


def get_context(ctx: typer.Context, *, read_only: bool = False) -> MigrationsContext:
    """The context main() handed to Click; a command calls this first. `read_only`: the
    command's own uses of `script` only read the history (revision ids, parents, messages;
    env.py and migrations run through `alembic.command`, which loads the files itself), so
    `script` may be built from the revision cache."""
    found = ctx.find_object(MigrationsContext)
    if found is None:
        raise RuntimeError("migrations_cli commands must run through migrations_cli.core.cli.main")
    if read_only and "script" not in found.__dict__:
        found.read_only = True
    return found
