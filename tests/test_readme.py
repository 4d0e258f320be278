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


def test_the_guides_comment_convention_recipe_works(project, migrate):
    guide = (REPO_ROOT / "docs" / "plugins.md").read_text()
    recipe = re.search(r"\(`team_comments.py`\):\n\n```python\n(.*?)```", guide, re.S)[1]
    project.write("team_comments.py", recipe)
    project.write_env(
        DATABASE_URL="sqlite:///db.sqlite",
        MIGRATIONS_METADATA="models:metadata",
        MIGRATIONS_PLUGINS="team_comments",
    )

    result = migrate("create", "Add users")

    assert result.exit_code == 0, result.output
    [written] = project.revision_files()
    assert "sa.Column('name', sa.String(length=50), nullable=True, comment='name')" in (
        written.read_text()
    )
