"""Pytest fixtures for testing a migrations-cli plugin: a throwaway project, and `migrate`
run in the test's own process.

migrations-cli registers this module as a pytest plugin (the ``pytest11`` entry point
``migrations_cli``), so a plugin's test suite has the fixtures as soon as migrations-cli is
installed; ``-p no:migrations_cli`` turns them off. A plugin installed in the same
environment (``pip install -e .``) is found through its entry point as in real use::

    def test_seed_refuses_a_database_behind_head(migrations_project, run_migrate):
        run_migrate("create", "users")
        migrations_project.write("seed.json", '{"users": [{"id": 1, "name": "ada"}]}')

        result = run_migrate("seed")

        assert result.exit_code == 1
        assert "run `migrate upgrade` first" in result.stderr

Nothing here runs unless a test asks for a fixture: loading the plugin costs a pytest run
no import of Alembic or SQLAlchemy.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

__all__ = ["MigrateResult", "MigrationsProject", "RunMigrate"]

# Settings a developer's shell may export: the fixtures' project must not see them.
SETTING_NAMES = (
    "DATABASE_URL",
    "MIGRATIONS_DIR",
    "MIGRATIONS_METADATA",
    "MIGRATIONS_PLUGINS",
    "MIGRATIONS_PLUGINS_DIR",
    "MIGRATIONS_DISABLE_PLUGINS",
    "MIGRATIONS_DISABLE_PLUGIN_AUTOLOAD",
    "MIGRATIONS_LOCK",
    "MIGRATIONS_LOCK_TIMEOUT",
    "MIGRATIONS_DDL_LOCK_TIMEOUT",
    "MIGRATIONS_STATEMENT_TIMEOUT",
    "MIGRATIONS_DDL_RETRIES",
    "MIGRATIONS_DDL_RETRY_MAX_WAIT",
    "MIGRATIONS_ENV",
    "MIGRATIONS_LINT_DISABLE",
    "MIGRATIONS_VERIFY_URL",
    "MIGRATIONS_TARGETS",
    "MIGRATIONS_TARGET",
    "MIGRATIONS_TARGET_SCHEMA",
)

MODELS = '''\
"""The project's models: one table, enough for `migrate create` to have something to write."""

from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))
'''

_plugin_names = itertools.count(1)


@dataclass(frozen=True)
class MigrateResult:
    """What one run of `migrate` did: its exit code and what it printed where."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, for an assertion message."""
        return self.stdout + self.stderr


@dataclass(frozen=True)
class MigrationsProject:
    """A project in a temporary folder, as `migrate init` would leave it: ``.env`` (a SQLite
    database ``db.sqlite`` and ``MIGRATIONS_METADATA=models:metadata``), ``alembic/`` with
    migrations-cli's env.py and template, and ``models.py`` with a ``users`` table."""

    root: Path

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def db_path(self) -> Path:
        return self.root / "db.sqlite"

    @property
    def versions(self) -> Path:
        return self.root / "alembic" / "versions"

    def write(self, relative: str, source: str) -> Path:
        """Write a file under the project (a plugin module, models, data), dedented."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        """The settings in ``.env``, read as migrate reads them."""
        from migrations_cli.core.settings import read_env_file

        return read_env_file(self.env_file) if self.env_file.is_file() else {}

    def write_env(self, **values: str) -> None:
        """Set settings in ``.env``, keeping the others (an empty value counts as unset)."""
        merged = {**self.env(), **values}
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in merged.items()), "utf-8")

    def revision_files(self) -> list[Path]:
        return sorted(self.versions.glob("*.py"))

    def write_revision(
        self,
        revision: str,
        down_revision: str | Sequence[str] | None = None,
        *,
        upgrade: str = "pass",
        downgrade: str = "pass",
        message: str = "step",
        branch_labels: Sequence[str] | None = None,
        depends_on: str | Sequence[str] | None = None,
        created: str | None = None,
        preamble: str = "",
        file_name: str | None = None,
    ) -> Path:
        """A revision file with a known id, laid out as `alembic revision` writes one.

        `upgrade` and `downgrade` are the functions' bodies (dedented, then indented);
        `preamble` is module-level code before them; `created` adds the docstring's
        Revision ID / Revises / Create Date lines. The file is named
        ``<revision>_<message>.py`` unless `file_name` is given.
        """
        header = (
            f"\n\nRevision ID: {revision}\nRevises: {down_revision}\nCreate Date: {created}\n\n"
            if created
            else ""
        )
        labels = tuple(branch_labels) if branch_labels else None
        source = (
            f'"""{message}{header}"""\n'
            "import sqlalchemy as sa\n"
            "from alembic import op\n\n"
            f"revision = {revision!r}\n"
            f"down_revision = {_literal(down_revision)}\n"
            f"branch_labels = {labels!r}\n"
            f"depends_on = {_literal(depends_on)}\n\n"
            f"{textwrap.dedent(preamble).strip()}\n\n\n"
            f"def upgrade():\n{_body(upgrade)}\n\n\n"
            f"def downgrade():\n{_body(downgrade)}\n"
        )
        name = file_name or f"{revision}_{message.replace(' ', '_')}.py"
        path = self.versions / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        return path

    def tables(self) -> set[str]:
        """The application's tables in the SQLite database: not the version table, nor
        migrations-cli's own (lock, checksums)."""
        from migrations_cli.core.tool_tables import TOOL_TABLES

        tables = set(self._query("SELECT name FROM sqlite_master WHERE type = 'table'"))
        return tables - {"alembic_version", *TOOL_TABLES}

    def versions_in_db(self) -> set[str]:
        """The revisions the SQLite database is at (empty at base)."""
        if "alembic_version" not in self._query("SELECT name FROM sqlite_master"):
            return set()
        return set(self._query("SELECT version_num FROM alembic_version"))

    def _query(self, sql: str) -> list[str]:
        if not self.db_path.exists():
            return []
        with closing(sqlite3.connect(self.db_path)) as connection:
            return [str(value) for (value, *_) in connection.execute(sql)]


def _body(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")


def _literal(value: str | Sequence[str] | None) -> str:
    """A revision or revisions as Alembic's files write them: a string, a tuple, None."""
    return repr(value if value is None or isinstance(value, str) else tuple(value))


RunMigrate = Callable[..., MigrateResult]


@pytest.fixture
def migrations_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MigrationsProject]:
    """A fresh project, made the working folder, with the developer's settings unset.

    Afterwards, the folder is taken off ``sys.path`` and the modules imported from it
    (models, plugins) are forgotten, so the next test imports its own.
    """
    root = tmp_path / "project"
    (root / "alembic" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        template = resources.files("migrations_cli") / "scaffold" / name
        (root / "alembic" / name).write_text(template.read_text(encoding="utf-8"), "utf-8")
    project = MigrationsProject(root)
    project.write("models.py", MODELS)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata")
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    saved_path = list(sys.path)
    yield project
    sys.path[:] = saved_path
    forget_modules_under(root)


@pytest.fixture
def run_migrate(
    migrations_project: MigrationsProject, capsys: pytest.CaptureFixture[str]
) -> RunMigrate:
    """``run_migrate(*args, plugins=(), env={})``: run `migrate ARGS...` in this process,
    from the project, as the console script would, and return a `MigrateResult`.

    ``plugins`` are loaded as if named in MIGRATIONS_PLUGINS, after those in ``.env``: module
    names, modules, or any object with ``@hookimpl`` functions. ``env`` sets environment
    variables for this run only. Modules imported from the project are forgotten after each
    run, so a test that edits one sees the edit on the next run, as a new process would.
    """
    from migrations_cli.core.cli import main

    def run(
        *args: str, plugins: Sequence[str | object] = (), env: Mapping[str, str] | None = None
    ) -> MigrateResult:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            if plugins:
                named = [_importable_name(plugin, patch) for plugin in plugins]
                configured = _configured_plugins(migrations_project)
                patch.setenv("MIGRATIONS_PLUGINS", ",".join([*configured, *named]))
            capsys.readouterr()
            try:
                exit_code = main(list(args))
            finally:
                forget_modules_under(migrations_project.root)
            captured = capsys.readouterr()
        return MigrateResult(exit_code, captured.out, captured.err)

    return run


def _importable_name(plugin: str | object, patch: pytest.MonkeyPatch) -> str:
    """A name MIGRATIONS_PLUGINS can hold for `plugin`: a string is one already; a module
    or object is put in sys.modules under one for the run (pluggy registers any object)."""
    if isinstance(plugin, str):
        return plugin
    if isinstance(plugin, ModuleType) and sys.modules.get(plugin.__name__) is plugin:
        return plugin.__name__
    name = f"migrations_test_plugin_{next(_plugin_names)}"
    patch.setitem(sys.modules, name, plugin)
    return name


def _configured_plugins(project: MigrationsProject) -> list[str]:
    """MIGRATIONS_PLUGINS as the run would see it without us: environment, else .env."""
    value = os.environ.get("MIGRATIONS_PLUGINS") or project.env().get("MIGRATIONS_PLUGINS", "")
    return [name.strip() for name in value.split(",") if name.strip()]


def forget_modules_under(root: Path) -> None:
    """Forget the modules imported from `root` (models, local plugins), so the next run
    imports them afresh, as a new process would. String prefixes, not Path.resolve() per
    module: this runs after every in-process command, over every module loaded."""
    prefixes = tuple({f"{root}{os.sep}", f"{root.resolve()}{os.sep}"})
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if isinstance(location, str) and location.startswith(prefixes):
            del sys.modules[name]
    # A relative sys.path entry (alembic.ini's usual `prepend_sys_path = .`) gets a finder
    # fixed to the working directory of its first use: the next run, from another folder,
    # would import that folder's modules.
    for entry in [entry for entry in sys.path_importer_cache if not os.path.isabs(entry)]:
        del sys.path_importer_cache[entry]
