"""The example plugins in examples/, installed as a user installs them, and the fixtures of
migrations_cli.testing used as a plugin author uses them.

The examples are installed into a folder of their own (never into this virtualenv, where
every other test would find them): the console script finds them through PYTHONPATH, the
in-process runs through sys.path, both by their entry points as in real use.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
from conftest import MODELS_V2, REPO_ROOT, Project, run_process

pytest_plugins = ["pytester"]

MODELS_WITH_TEAMS = """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

metadata = MetaData()
Table("teams", metadata, Column("id", Integer, primary_key=True), Column("title", String(80)))
Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
    Column("team_id", ForeignKey("teams.id")),
)
"""

# Children before parents: the plugin orders the inserts by foreign key, not by the file.
SEED = {
    "users": [{"id": 1, "name": "ada", "team_id": 1}, {"id": 2, "name": "grace", "team_id": 1}],
    "teams": [{"id": 1, "title": "core"}],
}

RECORDING_WEBHOOK = """
import json
from pathlib import Path


def post(payload):
    with Path(__file__).with_name("posted.jsonl").open("a") as log:
        log.write(json.dumps(payload) + "\\n")


def down(payload):
    raise ConnectionError("chat is down")
"""

# "<UTC time> applied|reverted <revision> <message>"
NOTIFY_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (?P<verb>applied|reverted) (?P<rev>[0-9a-f]{12}) "
    r"(?P<doc>.*)$"
)


@pytest.fixture(scope="module")
def examples_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/migrations-seed and examples/migrations-notify installed into a folder.

    pip builds from copies: setuptools leaves build/ and *.egg-info in the tree it builds.
    """
    root = tmp_path_factory.mktemp("examples")
    sources = [
        shutil.copytree(REPO_ROOT / "examples" / name, root / name)
        for name in ("migrations-seed", "migrations-notify")
    ]
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q"]
    installed = run_process([*pip, "--target", str(site), *map(str, sources)], cwd=root)
    assert installed.exit_code == 0, installed.output
    return site


@pytest.fixture
def with_examples(examples_site: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The examples visible to in-process runs; the environment for console-script runs."""
    monkeypatch.syspath_prepend(str(examples_site))
    return {"PYTHONPATH": str(examples_site)}


def revisions_in_order(project: Project) -> list[str]:
    """The project's revision ids, oldest first, by their down_revision chain (the file
    names of revisions written in the same minute do not say which came first)."""
    by_parent = {}
    for path in project.revision_files():
        source = path.read_text()
        revision = re.search(r"^revision.*= ['\"](\w+)['\"]", source, re.M)
        parent = re.search(r"^down_revision.*= (.*)$", source, re.M)
        assert revision and parent, path.name
        by_parent[parent[1].strip("'\"")] = revision[1]
    ordered, parent = [], "None"
    while parent in by_parent:
        parent = by_parent[parent]
        ordered.append(parent)
    return ordered


def notify_lines(path: Path) -> list[tuple[str, str, str]]:
    lines = []
    for line in path.read_text().splitlines():
        match = NOTIFY_LINE.match(line)
        assert match, line
        lines.append((match["verb"], match["rev"], match["doc"]))
    return lines


def rows(database_url: str, table: str) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


# --- discovery -------------------------------------------------------------------------------


def test_plugins_lists_both_examples_with_their_source_and_version(
    project, migrate_console, with_examples
):
    result = migrate_console("plugins", "--json", env=with_examples)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["failures"] == []
    shown = ("source", "version", "commands", "hooks")
    found = {plugin["name"]: {key: plugin[key] for key in shown} for plugin in document["plugins"]}
    assert found["seed"] == {
        "source": "entry point seed = migrations_seed (migrations-seed)",
        "version": "0.1.0",
        "commands": ["seed"],
        "hooks": ["register_commands"],
    }
    assert found["notify"] == {
        "source": "entry point notify = migrations_notify (migrations-notify)",
        "version": "0.1.0",
        "commands": [],
        "hooks": ["after_migrate", "before_migrate", "include_object"],
    }


# --- migrations-seed -------------------------------------------------------------------------


def test_seed_refuses_a_database_behind_head_then_loads_after_upgrade(
    project, migrate, migrate_console, with_examples
):
    project.write("models.py", MODELS_WITH_TEAMS)
    project.write("seed.json", json.dumps(SEED))
    assert migrate("create", "teams and users").exit_code == 0
    [head] = revisions_in_order(project)

    refused = migrate_console("seed", env=with_examples)

    assert refused.exit_code == 1
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"error: the database is at base, not at head ({head}): run `migrate upgrade` "
        "first, then seed"
    ]

    assert migrate("upgrade").exit_code == 0
    seeded = migrate_console("seed", env=with_examples)

    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout == "Seeded 3 rows: teams (1), users (2).\n"
    url = f"sqlite:///{project.db_path}"
    assert rows(url, "teams") == [(1, "core")]
    assert rows(url, "users") == [(1, "ada", 1), (2, "grace", 1)]


def test_seed_loads_every_row_or_none(project, migrate, with_examples, database_url):
    project.write_env(DATABASE_URL=database_url, MIGRATIONS_METADATA="models:metadata")
    project.write("models.py", MODELS_WITH_TEAMS)
    project.write("fixtures/seed.json", json.dumps(SEED))
    migrate("create", "teams and users")
    assert migrate("upgrade").exit_code == 0

    first = migrate("seed", "fixtures/seed.json")
    # Team 2 is new and would go in first, but user 1 already exists: nothing may stay.
    project.write(
        "fixtures/more.json",
        json.dumps({"teams": [{"id": 2, "title": "ops"}], "users": [{"id": 1, "name": "x"}]}),
    )
    second = migrate("seed", "fixtures/more.json")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    [line] = second.stderr.strip().splitlines()
    assert line.startswith("error: seeding users failed, nothing was loaded: database error: ")
    assert sorted(rows(database_url, "teams")) == [(1, "core")]
    assert sorted(rows(database_url, "users")) == [(1, "ada", 1), (2, "grace", 1)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "seed file {path} does not exist"),
        ("{not json", "seed file {path} is not JSON (line 1: Expecting property name"),
        ('["users"]', "seed file {path} must be a JSON object of table names to lists of rows"),
        ('{"teams": []}', "the database has no table teams"),
        ('{"users": [{"id": 1, "email": "a@b"}]}', "table users has no column email"),
    ],
)
def test_seed_reports_a_bad_file_in_one_line(project, migrate, with_examples, content, message):
    migrate("create", "users")
    migrate("upgrade")
    if content is not None:
        project.write("seed.json", content)

    result = migrate("seed")

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: " + message.format(path=project.root / "seed.json"))
    assert project.tables() == {"users"}


# --- migrations-notify -----------------------------------------------------------------------


def test_notify_writes_a_line_per_applied_and_per_reverted_revision(
    project, migrate, migrate_console, with_examples
):
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_NOTIFY_FILE="logs/migrations.log",
    )
    (project.root / "logs").mkdir()
    migrate("create", "add users")
    migrate("create", "backfill names", "--empty")
    first, second = revisions_in_order(project)
    log = project.root / "logs" / "migrations.log"

    upgraded = migrate_console("upgrade", env=with_examples)
    assert upgraded.exit_code == 0, upgraded.output
    assert notify_lines(log) == [
        ("applied", first, "add users"),
        ("applied", second, "backfill names"),
    ]

    log.unlink()
    assert migrate("upgrade").exit_code == 0  # nothing to do: no line
    assert not log.exists()

    downgraded = migrate_console("downgrade", "base", env=with_examples)
    assert downgraded.exit_code == 0, downgraded.output
    assert notify_lines(log) == [
        ("reverted", second, "backfill names"),
        ("reverted", first, "add users"),
    ]


def test_notify_hands_the_webhook_a_payload_per_run(project, migrate, with_examples):
    project.write("team_chat.py", RECORDING_WEBHOOK)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_NOTIFY_WEBHOOK="team_chat:post",
    )
    migrate("create", "add users")
    [revision] = revisions_in_order(project)

    assert migrate("upgrade").exit_code == 0
    assert migrate("downgrade").exit_code == 0

    posted = [json.loads(line) for line in (project.root / "posted.jsonl").read_text().splitlines()]
    database = f"sqlite:///{project.db_path}"
    assert posted == [
        {
            "event": "migrations applied",
            "direction": "upgrade",
            "revisions": [{"id": revision, "message": "add users"}],
            "current": [revision],
            "database": database,
        },
        {
            "event": "migrations reverted",
            "direction": "downgrade",
            "revisions": [{"id": revision, "message": "add users"}],
            "current": [],
            "database": database,
        },
    ]


def test_skip_prefix_keeps_legacy_tables_out_of_create_and_check(project, migrate, with_examples):
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_NOTIFY_SKIP_PREFIX="legacy_",
    )
    with closing(sqlite3.connect(project.db_path)) as connection:
        connection.execute("CREATE TABLE legacy_orders (id INTEGER PRIMARY KEY, total INTEGER)")

    created = migrate("create", "add users")
    upgraded = migrate("upgrade")
    checked = migrate("check")

    assert created.exit_code == 0, created.output
    [written] = project.revision_files()
    source = written.read_text()
    assert "create_table('users'" in source
    assert "legacy_orders" not in source  # without the filter: drop_table('legacy_orders')
    assert upgraded.exit_code == 0, upgraded.output
    assert project.tables() == {"users", "legacy_orders"}
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("No differences")

    project.write_env(DATABASE_URL="sqlite:///db.sqlite", MIGRATIONS_METADATA="models:metadata")
    unfiltered = migrate("check")
    assert unfiltered.exit_code == 1
    assert "legacy_orders" in unfiltered.stdout


def at_first_of_two_revisions(project: Project, migrate, **settings: str) -> str:
    """users applied, teams pending; `settings` added to .env afterwards. The first id."""
    migrate("create", "add users")
    assert migrate("upgrade").exit_code == 0
    project.write("models.py", MODELS_V2)
    migrate("create", "add teams")
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_NOTIFY_FILE="migrations.log",
        **settings,
    )
    first, _ = revisions_in_order(project)
    return first


def test_a_freeze_refuses_before_anything_changes(project, migrate, with_examples):
    first = at_first_of_two_revisions(
        project, migrate, MIGRATIONS_NOTIFY_FREEZE="release 2.3 going out"
    )

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: migrations are frozen (MIGRATIONS_NOTIFY_FREEZE): release 2.3 going out; "
        "no upgrade ran"
    ]
    assert project.versions_in_db() == {first}
    assert project.tables() == {"users"}
    assert not (project.root / "migrations.log").exists()


def test_a_misspelt_webhook_fails_in_before_migrate_before_anything_changes(
    project, migrate, with_examples
):
    project.write("team_chat.py", RECORDING_WEBHOOK)
    first = at_first_of_two_revisions(project, migrate, MIGRATIONS_NOTIFY_WEBHOOK="team_chat:psot")

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: plugin 'notify' failed in before_migrate: AttributeError: module 'team_chat' "
        "has no attribute 'psot'"
    ]
    assert project.versions_in_db() == {first}
    assert project.tables() == {"users"}
    assert not (project.root / "migrations.log").exists()


def test_a_failing_webhook_is_reported_after_the_upgrade_completed(project, migrate, with_examples):
    project.write("team_chat.py", RECORDING_WEBHOOK)
    first = at_first_of_two_revisions(project, migrate, MIGRATIONS_NOTIFY_WEBHOOK="team_chat:down")
    _, second = revisions_in_order(project)

    result = migrate("upgrade")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: plugin 'notify' failed in after_migrate: ConnectionError: chat is down "
        f"(the upgrade itself completed: the database is at {second})"
    )
    assert project.versions_in_db() == {second}
    assert project.tables() == {"users", "teams"}
    # The file is written before the webhook is called: the record is there.
    assert notify_lines(project.root / "migrations.log") == [("applied", second, "add teams")]
    assert first != second


# --- migrations_cli.testing ------------------------------------------------------------------


def test_run_migrate_loads_plugin_objects_and_sets_the_environment(migrations_project, run_migrate):
    """The fixtures used directly; the plugin is an object, as a test may define one."""
    from migrations_cli.hookspecs import hookimpl

    class Recorder:
        def __init__(self) -> None:
            self.runs: list[tuple[str, tuple[str, ...]]] = []

        @hookimpl
        def after_migrate(self, direction: str, revisions: tuple[str, ...]) -> None:
            self.runs.append((direction, revisions))

    recorder = Recorder()
    created = run_migrate("create", "add users")
    [path] = migrations_project.revision_files()
    revision = path.name.split("-")[1].split("_")[0]

    upgraded = run_migrate("upgrade", plugins=[recorder])
    elsewhere = run_migrate("current", env={"DATABASE_URL": "sqlite:///other.sqlite"})

    assert created.exit_code == 0, created.output
    assert created.stdout == f"alembic/versions/{path.name}\n"
    assert upgraded.exit_code == 0, upgraded.output
    assert recorder.runs == [("upgrade", (revision,))]
    assert migrations_project.tables() == {"users"}
    assert migrations_project.versions_in_db() == {revision}
    assert elsewhere.exit_code == 0, elsewhere.output
    assert (migrations_project.root / "other.sqlite").exists()
    assert "MIGRATIONS_PLUGINS" not in migrations_project.env()


PLUGIN_AUTHORS_TESTS = """
import json


def test_seed(migrations_project, run_migrate):
    run_migrate("create", "users")
    run_migrate("upgrade")
    migrations_project.write("seed.json", json.dumps({"users": [{"id": 1, "name": "ada"}]}))

    result = run_migrate("seed")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Seeded 1 row: users (1).\\n"
"""


def the_guides_tests() -> str:
    """The tests docs/plugins.md shows a plugin author, as printed."""
    guide = (REPO_ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    return "\n\n".join(block for block in blocks if "def test_" in block)


def test_a_plugin_authors_suite_gets_the_fixtures_from_the_pytest_plugin(
    pytester, examples_site, monkeypatch
):
    """A plugin's own test suite, in a folder of its own with no conftest: the fixtures come
    from the pytest11 entry point, the plugins from theirs (installed on PYTHONPATH). The
    guide's examples are part of it."""
    monkeypatch.setenv("PYTHONPATH", str(examples_site))
    pytester.makepyfile(test_plugin=PLUGIN_AUTHORS_TESTS, test_guide=the_guides_tests())

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3)
