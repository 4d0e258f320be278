"""Many databases, one command: targets, the fan-out over them, staged rollouts, shards."""

from __future__ import annotations

import io
import json
import os
import random
import re
import shlex
import subprocess
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    MIGRATE_SCRIPT,
    REPO_ROOT,
    SETTING_NAMES,
    _fresh_server_database,
    readme_section,
    table_names,
)

from migrations_cli.fanout.fan_out_display import Progress
from migrations_cli.fanout.fan_out_worker import Outcome
from migrations_cli.fanout.targets import Shard, Target, select_targets

# How many targets of each kind the fan-out runs over (the numbers).
TARGET_COUNTS = {"sqlite": 50, "postgresql": 10, "schemas": 10, "mysql": 5}
JOBS = "4"
FIRST, SECOND = "aaaa00000001", "aaaa00000002"


def write_history(project) -> None:
    """Two revisions: users, then teams (a target that already has teams fails the second)."""
    for revision, down, table in ((FIRST, None, "users"), (SECOND, FIRST, "teams")):
        project.write_revision(
            revision,
            down,
            upgrade=f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))',
            downgrade=f'op.drop_table("{table}")',
            message=table,
        )


@dataclass(frozen=True)
class Database:
    name: str
    url: str
    schema: str | None = None

    def execute(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(text(sql))
        finally:
            engine.dispose()

    def versions(self) -> set[str]:
        """The revisions in this target's version table (its schema's, for a schema)."""
        from sqlalchemy import create_engine, inspect, text

        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version", schema=self.schema):
                    return set()
                table = f"{self.schema}.alembic_version" if self.schema else "alembic_version"
                rows = connection.execute(text(f"SELECT version_num FROM {table}"))
                return {version for (version,) in rows}
        finally:
            engine.dispose()

    def create_teams(self) -> None:
        """What breaks this target's second revision: a teams table made by hand."""
        if self.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        self.execute(f"CREATE TABLE {self._qualified('teams')} (id INTEGER)")

    def drop_teams(self) -> None:
        self.execute(f"DROP TABLE {self._qualified('teams')}")

    def _qualified(self, table: str) -> str:
        return f"{self.schema}.{table}" if self.schema else table


@pytest.fixture(params=list(TARGET_COUNTS))
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    """Empty databases of one kind: SQLite files, PostgreSQL databases, schemas of one
    PostgreSQL database, MariaDB databases."""
    kind, count = request.param, TARGET_COUNTS[request.param]
    names = [f"t{number:02d}" for number in range(count)]
    if kind == "sqlite":
        yield [Database(name, f"sqlite:///{tmp_path / name}.sqlite") for name in names]
        return
    fresh = contextmanager(_fresh_server_database)
    with ExitStack() as stack:
        if kind == "schemas":
            url = stack.enter_context(fresh("postgresql"))
            yield [Database(name, url, schema=f"tenant_{name}") for name in names]
        else:
            yield [Database(name, stack.enter_context(fresh(kind))) for name in names]


def write_targets(project, databases: list[Database], file: str = "targets.toml") -> None:
    lines = []
    for database in databases:
        lines += [f"[targets.{database.name}]", f'url = "{database.url}"']
        lines += [f'schema = "{database.schema}"'] if database.schema else []
    project.write(file, "\n".join(lines) + "\n")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_TARGETS=file)


def rows(stdout: str) -> dict[str, str]:
    """The final table: each target's row, by name."""
    return {line.split()[0]: line for line in stdout.splitlines()[1:] if line.strip()}


def start_upgrade(project, *arguments: str) -> subprocess.Popen[str]:
    """`migrate upgrade ARGUMENTS` in a process of its own, from the project."""
    return subprocess.Popen(
        [str(MIGRATE_SCRIPT), "upgrade", *arguments],
        cwd=project.root,
        env={k: v for k, v in os.environ.items() if k not in SETTING_NAMES},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_fan_out_over_many_databases_runs_once_each_stages_and_reruns_what_failed(
    project, migrate, databases, tmp_path
):
    write_history(project)
    write_targets(project, databases)

    # Two runs of the same fan-out at once: each database's own lock is the coordination.
    runs = [
        start_upgrade(
            project,
            FIRST,
            "--targets",
            "all",
            "--jobs",
            "3",
            "--json",
            "--results",
            str(tmp_path / f"run{number}.json"),
        )
        for number in range(2)
    ]
    outputs = [(*run.communicate(timeout=300), run.returncode) for run in runs]

    assert [code for _, _, code in outputs] == [0, 0], outputs
    applied: dict[str, list[str]] = {}
    for stdout, _, _ in outputs:
        for target in json.loads(stdout)["targets"]:
            applied.setdefault(target["name"], []).extend(target["revisions"])
    assert applied == {database.name: [FIRST] for database in databases}  # once, by one run
    assert all(database.versions() == {FIRST} for database in databases)

    # A canary stage of two, one of them failing: the rest are not started.
    broken = databases[1]
    broken.create_teams()
    canary = migrate("upgrade", "--targets", "all", "--canary", "2", "--jobs", JOBS, "--json")

    assert canary.exit_code == 1, canary.output
    results = {target["name"]: target for target in json.loads(canary.stdout)["targets"]}
    assert results[databases[0].name]["result"] == "ok"
    assert results[broken.name]["result"] == "failed"
    assert "teams" in results[broken.name]["error"]  # the database's own words
    assert {results[d.name]["result"] for d in databases[2:]} == {"not reached"}
    assert all(database.versions() == {FIRST} for database in databases[1:])
    assert databases[0].versions() == {SECOND}

    # The rest, as a rerun of what failed or was not reached: the broken one fails again,
    # every other finishes; the table says which.
    rest = migrate("upgrade", "--targets", "all", "--only-failed", "--jobs", JOBS)

    assert rest.exit_code == 1, rest.output
    table = rows(rest.stdout)
    assert set(table) == {database.name for database in databases[1:]}
    assert "failed:" in table[broken.name]
    assert all(table[d.name].endswith(" ok") for d in databases[2:])
    assert broken.versions() == {FIRST}
    assert all(database.versions() == {SECOND} for database in databases if database != broken)
    assert f"(failed: {broken.name})" in rest.stderr

    broken.drop_teams()
    finished = migrate("upgrade", "--targets", "all", "--only-failed")

    assert finished.exit_code == 0, finished.output
    assert set(rows(finished.stdout)) == {broken.name}
    assert broken.versions() == {SECOND}
    again = migrate("upgrade", "--targets", "all", "--only-failed")
    assert again.exit_code == 0 and "Nothing to rerun" in again.stderr


def test_a_schema_target_keeps_its_version_table_in_its_schema(project, migrate, postgresql_url):
    write_history(project)
    tenant = Database("acme", postgresql_url, schema="tenant_acme")
    write_targets(project, [tenant])

    result = migrate("upgrade", "--targets", "acme")

    assert result.exit_code == 0, result.output
    assert tenant.versions() == {SECOND}
    assert Database("public", postgresql_url).versions() == set()  # nothing in public
    from sqlalchemy import create_engine, inspect

    engine = create_engine(postgresql_url)
    try:
        assert {"users", "teams"} <= set(inspect(engine).get_table_names(schema="tenant_acme"))
        assert "users" not in inspect(engine).get_table_names(schema="public")
    finally:
        engine.dispose()
    # Read-only commands look in the schema too.
    current = migrate("current", "--targets", "acme", "--json")
    assert json.loads(current.stdout)["targets"][0]["current"] == [SECOND]


def test_urls_take_variables_from_the_environment_and_a_missing_one_is_named(
    project, migrate, monkeypatch
):
    write_history(project)
    project.write(
        "targets.toml",
        """
        [targets.eu]
        url = "sqlite:///${DATA_DIR}/eu.sqlite"
        group = "europe"
        [targets.us]
        url = "sqlite:///${DATA_DIR}/us.sqlite"
        """,
    )
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_TARGETS="targets.toml")
    (project.root / "data").mkdir()

    missing = migrate("upgrade", "--targets", "all")
    monkeypatch.setenv("DATA_DIR", str(project.root / "data"))
    grouped = migrate("upgrade", "--group", "europe")

    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"error: {project.root / 'targets.toml'}: [targets.eu]: url names ${{DATA_DIR}}, "
        "which is not set"
    )
    assert grouped.exit_code == 0, grouped.output
    assert set(rows(grouped.stdout)) == {"eu"}
    assert (project.root / "data" / "eu.sqlite").exists()
    assert not (project.root / "data" / "us.sqlite").exists()


def test_a_plugin_lists_targets_beside_the_file(project, migrate):
    write_history(project)
    project.write(
        "tenants.py",
        """
        from migrations_cli.hookspecs import hookimpl
        from migrations_cli.fanout.targets import Target


        @hookimpl
        def migration_targets(settings):
            folder = settings.project_dir
            return [Target(name, f"sqlite:///{folder}/{name}.sqlite", group="tenants")
                    for name in ("acme", "globex")]
        """,
    )
    project.write("targets.toml", '[targets.main]\nurl = "sqlite:///main.sqlite"\n')
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_TARGETS="targets.toml",
        MIGRATIONS_PLUGINS="tenants",
    )

    tenants = migrate("upgrade", "--group", "tenants")
    everything = migrate("status", "--targets", "all")

    assert tenants.exit_code == 0, tenants.output
    assert set(rows(tenants.stdout)) == {"acme", "globex"}
    assert set(rows(everything.stdout)) == {"main", "acme", "globex"}
    assert everything.exit_code == 0  # status reads; main is simply at base
    assert rows(everything.stdout)["main"].split()[2] == "base"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("upgrade", "--targets", "nowhere"), "error: no target named 'nowhere'"),
        (("upgrade", "--group", "mars"), "error: no target is in group 'mars'"),
        (("upgrade", "--targets", "all", "--shard", "3/2"), "must be I/N with 1 <= I <= N"),
        (("upgrade", "--jobs", "2"), "'--jobs': goes with --targets or --group"),
        (("upgrade", "--json"), "'--json': goes with --targets or --group"),
        (
            ("upgrade", "--targets", "all", "--results", "targets.toml/results.json"),
            "error: cannot write the results file targets.toml/results.json (File exists)",
        ),
        (
            ("--database-url", "sqlite:///x.db", "upgrade", "--targets", "all"),
            "error: --database-url names one database and --targets many",
        ),
    ],
)
def test_bad_fan_out_options_are_one_line_errors(project, migrate, arguments, message):
    write_history(project)
    write_targets(project, [Database("a", "sqlite:///a.sqlite")])

    result = migrate(*arguments)

    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_without_targets_a_fan_out_option_says_where_targets_come_from(project, migrate):
    write_history(project)

    result = migrate("upgrade", "--targets", "all")

    assert result.exit_code == 1
    assert "no targets: set MIGRATIONS_TARGETS" in result.stderr


def test_downgrade_and_verify_fan_out_too(project, migrate, tmp_path):
    write_history(project)
    databases = [Database(name, f"sqlite:///{name}.sqlite") for name in ("a", "b")]
    write_targets(project, databases)
    migrate("upgrade", "--targets", "all")

    # -1 after `--`: an argument, not an option, in each target's run.
    down = migrate("downgrade", "-1", "--targets", "all")
    # verify's targets are scratch databases (each an empty one).
    write_targets(project, [Database("scratch", f"sqlite:///{tmp_path / 'scratch.sqlite'}")])
    verified = migrate("verify", "--targets", "all", "--json")

    assert down.exit_code == 0, down.output
    assert {row.split()[2] for row in rows(down.stdout).values()} == {FIRST}
    assert verified.exit_code == 0, verified.output
    [target] = json.loads(verified.stdout)["targets"]
    assert target["document"]["ok"] is True


def test_drift_over_targets_names_the_one_changed_by_hand(project, migrate):
    write_history(project)
    databases = [Database(name, f"sqlite:///{name}.sqlite") for name in ("a", "b", "c")]
    write_targets(project, databases)
    assert migrate("upgrade", "--targets", "all").exit_code == 0
    databases[1].execute("CREATE INDEX ix_hand_made ON teams (id)")

    result = migrate("drift", "--targets", "all", "--jobs", "2")

    assert result.exit_code == 1, result.output
    table = rows(result.stdout)
    assert table["a"].endswith(" ok") and table["c"].endswith(" ok"), result.stdout
    assert "failed: exit 1: index only in the database: ix_hand_made" in table["b"]


def test_shards_cover_every_target_exactly_once_and_stay_put_as_targets_come():
    targets = [Target(f"tenant-{number}", "sqlite://") for number in range(1000)]
    for count in (1, 2, 3, 8):
        shards = [
            {target.name for target in select_targets(targets, "all", (), Shard(index, count))}
            for index in range(1, count + 1)
        ]
        assert sum(len(shard) for shard in shards) == len(targets)
        assert set().union(*shards) == {target.name for target in targets}
    shuffled = random.Random(1).sample(targets, len(targets))
    grown = [*shuffled, *(Target(f"new-{number}", "sqlite://") for number in range(100))]
    before = {t.name for t in select_targets(targets, "all", (), Shard(2, 8))}
    after = {t.name for t in select_targets(grown, "all", (), Shard(2, 8))}
    assert before == {name for name in after if name.startswith("tenant-")}


def test_the_live_display_shows_each_running_target_at_its_revision(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr("sys.stderr", screen)
    progress = Progress("upgrade", total=3, live=True)

    progress.started("acme")
    progress.started("globex")
    progress.revision("acme", "ae1027a6acf0")
    progress.refresh()
    progress.finished(Outcome("globex", "failed", error="boom"), verbose=False)
    progress.close()

    text = screen.getvalue()
    assert "upgrade: 0/3 done, 2 running, 0 failed" in text
    assert "acme  at ae1027a6acf0 (1 applied)" in text
    assert "globex: failed: boom" in text
    assert "upgrade: 1/3 done, 1 running, 1 failed" in text
    assert text.endswith("\x1b[J")  # the block is taken off the screen at the end


# --- docs/many-databases.md: its examples, run -------------------------------------------

GUIDE = REPO_ROOT / "docs" / "many-databases.md"


def guide_block(language: str, containing: str) -> str:
    """The guide's code block in `language` that contains `containing`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)
    [block] = [block for block in blocks if containing in block]
    return block


def test_the_guides_targets_file_and_rollout_work(project, migrate, postgresql_url, monkeypatch):
    write_history(project)
    shared = postgresql_url.replace("postgres@", "postgres:${APP_DB_PASSWORD}@", 1)
    targets = guide_block("toml", "[targets.acme]")
    project.write(
        "targets.toml",
        targets.replace("postgresql+psycopg://app:${APP_DB_PASSWORD}@db.internal/saas", shared),
    )
    (project.root / "tenants").mkdir()
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_TARGETS="targets.toml")
    monkeypatch.setenv("APP_DB_PASSWORD", "s3cret-pw")

    commands = re.findall(r"^\$ migrate (.*)$", guide_block("console", "--only-failed"), re.M)
    results = [migrate(*command.split()) for command in commands]

    assert [result.exit_code for result in results] == [0, 0], results
    assert set(rows(results[0].stdout)) == {"acme", "globex", "initech"}
    assert "Nothing to rerun" in results[1].stderr
    assert all("s3cret-pw" not in result.output for result in results)
    for schema in ("globex", "initech"):
        assert Database(schema, postgresql_url, schema=schema).versions() == {SECOND}
    assert Database("acme", f"sqlite:///{project.root}/tenants/acme.sqlite").versions() == {SECOND}


def test_the_guides_tenant_plugin_lists_the_registrys_tenants(
    project, migrate, postgresql_url, monkeypatch
):
    write_history(project)
    project.write("tenants.py", guide_block("python", "def migration_targets"))
    registry = project.root / "registry.sqlite"
    Database("registry", f"sqlite:///{registry}").execute(
        "CREATE TABLE tenants (slug TEXT, plan TEXT, active INTEGER)"
    )
    Database("registry", f"sqlite:///{registry}").execute(
        "INSERT INTO tenants VALUES ('acme', 'paying', 1), ('globex', 'trial', 1), "
        "('initech', 'paying', 0)"
    )
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_PLUGINS="tenants")
    monkeypatch.setenv("TENANT_REGISTRY_URL", f"sqlite:///{registry}")
    monkeypatch.setenv("TENANTS_DATABASE_URL", postgresql_url)

    result = migrate("upgrade", "--group", "paying")

    assert result.exit_code == 0, result.output
    assert set(rows(result.stdout)) == {"tenant_acme"}
    assert Database("acme", postgresql_url, schema="tenant_acme").versions() == {SECOND}
    assert Database("globex", postgresql_url, schema="tenant_globex").versions() == set()


def test_the_guides_ci_matrix_runs_every_target_once(project, migrate):
    write_history(project)
    databases = [Database(f"t{number:02d}", f"sqlite:///t{number}.sqlite") for number in range(12)]
    write_targets(project, databases)
    workflow = guide_block("yaml", "matrix:")
    shards = re.search(r"shard: \[(.*?)\]", workflow)[1].split(", ")
    command = re.search(r"- run: migrate (.*--shard.*)$", workflow, re.M)[1]

    migrated: list[str] = []
    for shard in shards:
        result = migrate(*shlex.split(command.replace("${{ matrix.shard }}", shard)))
        assert result.exit_code == 0, result.output
        migrated += list(rows(result.stdout))

    assert sorted(migrated) == sorted(database.name for database in databases)
    assert all(database.versions() == {SECOND} for database in databases)


def test_the_guides_env_py_snippet_reads_the_target(project, migrate):
    """The snippet, in a revision: each target's run sees its own name, as an -x argument
    and in config.attributes."""
    snippet = textwrap.indent(guide_block("python", "get_x_argument"), "    ")
    project.write(
        "alembic/versions/aaaa00000001_seen.py",
        'from alembic import op\n\nrevision = "aaaa00000001"\ndown_revision = None\n\n\n'
        f"def upgrade():\n{snippet}\n"
        '    assert context.config.attributes["migrations_cli.target"]["name"] == target\n'
        '    op.execute(f"CREATE TABLE seen_by_{target} (id INTEGER)")\n\n\n'
        "def downgrade():\n    pass\n",
    )
    write_targets(project, [Database(n, f"sqlite:///{n}.sqlite") for n in ("north", "south")])

    result = migrate("upgrade", "--targets", "all")

    assert result.exit_code == 0, result.output
    for name in ("north", "south"):
        assert f"seen_by_{name}" in table_names(f"sqlite:///{project.root / name}.sqlite")


def test_fail_fast_starts_no_target_after_a_failure(project, migrate, tmp_path):
    write_history(project)
    databases = [Database(f"t{n}", f"sqlite:///{tmp_path / f't{n}'}.sqlite") for n in range(4)]
    write_targets(project, databases)
    databases[0].create_teams()

    result = migrate("upgrade", "--targets", "all", "--jobs", "1", "--fail-fast", "--json")

    assert result.exit_code == 1
    outcomes = [target["result"] for target in json.loads(result.stdout)["targets"]]
    assert outcomes == ["failed", "not reached", "not reached", "not reached"]
    assert "stopped: t0 failed and --fail-fast" in result.stderr


def test_the_readme_sections_commands_run(project, migrate, tmp_path):
    section = readme_section("## Many databases")
    commands = re.findall(r"^\$ migrate (.*)$", section, re.M)
    write_history(project)
    lines = []
    for number in range(6):
        lines += [f"[targets.t{number}]", f'url = "sqlite:///t{number}.sqlite"']
        lines += ['group = "paying"'] if number % 2 else []
    project.write("targets.toml", "\n".join(lines) + "\n")
    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_TARGETS="targets.toml")

    results = [migrate(*shlex.split(command)) for command in commands]

    assert [result.exit_code for result in results] == [0] * len(commands), results
    assert len(rows(results[0].stdout)) == 6
    assert "Nothing to rerun" in results[1].stderr
    assert set(rows(results[2].stdout)) <= {"t1", "t3", "t5"}
