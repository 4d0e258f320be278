"""Fixtures: every test builds its own project (.env, alembic/, models) in a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from migrations_cli.core.cli import main
from migrations_cli.core.tool_tables import TOOL_TABLES
from migrations_cli.testing import SETTING_NAMES, MigrationsProject, forget_modules_under

REPO_ROOT = Path(__file__).resolve().parents[1]
# The version table and migrations-cli's own (lock, checksums): not the application's.
NOT_THE_APPS_TABLES = {"alembic_version", *TOOL_TABLES}
MIGRATE_SCRIPT = Path(sys.executable).with_name("migrate")

# Server URLs (any database on the server; each test gets a fresh one beside it).
SERVER_URL_VARIABLES = {
    "postgresql": "MIGRATIONS_TEST_POSTGRES_URL",
    "mysql": "MIGRATIONS_TEST_MYSQL_URL",
}
REQUIRE_SERVERS_VARIABLE = "MIGRATIONS_TEST_REQUIRE_SERVERS"

# Tests rewrite revision files within the same second and size, which Python's bytecode
# check (mtime and size) cannot tell apart: no .pyc is written, here or in the processes
# the tests start, whatever the environment running the suite says.
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"


MODELS_V1 = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))
"""

MODELS_V2 = (
    MODELS_V1
    + """
Table("teams", metadata, Column("id", Integer, primary_key=True), Column("title", String(80)))
"""
)
# Revision bodies creating the tables of MODELS_V1 and the one MODELS_V2 adds.
CREATE_USERS = """
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
    )
"""
CREATE_TEAMS = """
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(80)),
    )
"""


def readme_section(heading: str) -> str:
    """The README's section under `heading` (a `## ` or `### ` line), up to the next heading
    of the same or a higher level."""
    readme = (REPO_ROOT / "README.md").read_text()
    level, _, _ = heading.partition(" ")
    start = readme.index(f"\n{heading}\n") + 1
    ends = [readme.find(f"\n{'#' * depth} ", start + 1) for depth in range(1, len(level) + 1)]
    ends = [end for end in ends if end != -1]
    return readme[start : min(ends) if ends else len(readme)]


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Project(MigrationsProject):
    """A throwaway project: .env, alembic/ (the repository's env.py and template), models.py.

    The plugin authors' project, but `write_env` writes the whole file: a test states every
    setting it runs with."""

    def write_env(self, **values: str) -> None:
        lines = [f"{key}={value}" for key, value in values.items()]
        self.env_file.write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _forget_project_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Undo what running migrations in this process did to the interpreter: the project
    folders added to sys.path and the modules imported from them (models, plugins), so no
    test passes on what an earlier test imported."""
    saved_path = list(sys.path)
    yield
    sys.path[:] = saved_path
    forget_modules_under(tmp_path_factory.getbasetemp())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    (root / "alembic" / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO_ROOT / "alembic" / name, root / "alembic" / name)
    created = Project(root)
    created.write("models.py", MODELS_V1)
    created.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata")
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(root)
    return created


@pytest.fixture
def migrate(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Result]]:
    """Run `migrate ARGS...` in this process, as the console script would, from the project.

    Modules imported from the project (models, local plugins) are forgotten after each run,
    so a test that edits them sees the edit on the next run, as a new process would.
    """

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            exit_code = main(list(args))
        finally:
            forget_modules_under(project.root)
        captured = capsys.readouterr()
        return Result(exit_code, captured.out, captured.err)

    yield run


@pytest.fixture
def migrate_console(project: Project) -> Callable[..., Result]:
    """Run the installed `migrate` console script in a subprocess, from the project."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        return run_process([str(MIGRATE_SCRIPT), *args], cwd=cwd or project.root, env=env)

    return run


def run_process(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """A subprocess with the developer's settings removed from its environment."""
    environment = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    environment.update(env or {})
    completed = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def table_names(database_url: str) -> set[str]:
    """Tables in any database, read through SQLAlchemy's inspector (without Alembic's)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(database_url)
    try:
        return set(inspect(engine).get_table_names()) - NOT_THE_APPS_TABLES
    finally:
        engine.dispose()


def versions_in(database_url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {version for (version,) in rows}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind: SQLite always; PostgreSQL and MariaDB when
    their MIGRATIONS_TEST_*_URL is set and the server answers (required in CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    yield from _fresh_server_database(request.param)


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """An empty PostgreSQL database, for behaviour only PostgreSQL has."""
    yield from _fresh_server_database("postgresql")


def _fresh_server_database(kind: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    variable = SERVER_URL_VARIABLES[kind]
    required = os.environ.get(REQUIRE_SERVERS_VARIABLE) == "1"
    server_url = os.environ.get(variable)
    if not server_url:
        if required:
            pytest.fail(f"{variable} is not set and {REQUIRE_SERVERS_VARIABLE}=1")
        pytest.skip(f"{variable} is not set: no {kind} server to test against")
    name = f"migrations_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as error:
        admin.dispose()
        if required:
            pytest.fail(f"{kind} server at {variable} is unreachable: {error}")
        pytest.skip(f"{kind} server at {variable} is unreachable: {error}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
