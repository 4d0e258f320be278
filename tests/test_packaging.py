"""The wheel users install: the built-in plugins live under migrations_cli, not at top level."""

from __future__ import annotations

import sys
import zipfile

from conftest import REPO_ROOT, run_process


def test_wheel_installs_plugins_under_the_project_namespace(tmp_path):
    built = run_process(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert built.exit_code == 0, built.output
    [wheel] = tmp_path.glob("migrations_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("migrations_cli-")}
    assert top_level == {"migrations_cli"}
    for command in ("create", "upgrade", "downgrade", "merge", "heads"):
        assert f"migrations_cli/plugins/{command}.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "migrate = migrations_cli.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
