"""The README's examples work as printed."""

from __future__ import annotations

import re

from conftest import REPO_ROOT


def readme_plugin_example() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("A complete plugin", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]


def test_the_readme_plugin_example_works(project, migrate):
    project.write("team_plugin.py", readme_plugin_example())
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="team_plugin",
    )

    hello = migrate("hello", "--name", "ops")
    migrate("create", "Add users table")
    upgraded = migrate("upgrade")

    assert hello.exit_code == 0 and hello.stdout == "hello, ops\n"
    assert upgraded.exit_code == 0
    assert "upgrade: 1 revision(s)" in upgraded.stderr
