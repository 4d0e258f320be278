"""The wheel users install: the built-in plugins live under migrations_cli, not at top level."""

from __future__ import annotations

import shutil
import sys
import zipfile

from conftest import REPO_ROOT, run_process

from migrations_cli.core.plugin_manager import DEFAULT_PLUGINS

# Build from a copy: setuptools keeps a build/ folder that would let a deleted file live on.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db", ".env"
)


def test_wheel_installs_plugins_under_the_project_namespace(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_SOURCE)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = run_process(
        [*pip_wheel, "--wheel-dir", str(tmp_path), str(source)],
        cwd=tmp_path,
        timeout=300,
    )
    assert built.exit_code == 0, built.output
    [wheel] = tmp_path.glob("migrations_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("migrations_cli-")}
    assert top_level == {"migrations_cli"}
    plugin_files = {name for name in names if name.startswith("migrations_cli/plugins/")}
    assert plugin_files == {"migrations_cli/plugins/__init__.py"} | {
        f"{module.replace('.', '/')}.py" for module in DEFAULT_PLUGINS
    }
    # What `migrate init` writes: the same files as the repository's alembic/.
    for template in ("env.py", "script.py.mako"):
        packaged = zipfile.ZipFile(wheel).read(f"migrations_cli/scaffold/{template}").decode()
        assert packaged == (REPO_ROOT / "alembic" / template).read_text()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "migrate = migrations_cli.core.cli:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )
