"""Holes the suite could not see: each test here fails on a bug once planted in the code."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import REPO_ROOT, versions_in
from test_checksums import CHECKSUM_TABLE, EMAIL, EMAIL_FILE, at_head

from migrations_cli.core.settings import load_settings
from migrations_cli.graph import cache_files


def test_an_empty_database_url_in_the_environment_leaves_the_env_files(project):
    project.write_env(DATABASE_URL="sqlite:///from-env-file.sqlite")

    settings = load_settings(start=project.root, environ={"DATABASE_URL": ""})

    assert settings.database_url is not None
    assert settings.database_url.endswith("from-env-file.sqlite")


def test_a_deleted_head_file_without_a_checksum_row_is_reported(project, migrate, database_url):
    """The head's file is gone and so is its row: only the version table still names it."""
    from sqlalchemy import create_engine, text

    at_head(project, migrate, database_url)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(f"DELETE FROM {CHECKSUM_TABLE} WHERE revision = :revision"),
                {"revision": EMAIL},
            )
    finally:
        engine.dispose()
    (project.root / EMAIL_FILE).unlink()
    assert versions_in(database_url) == {EMAIL}

    checked = migrate("checksums", "--json")

    assert checked.exit_code == 1, checked.output
    document = json.loads(checked.stdout)
    assert {"revision": EMAIL, "state": "missing-file", "path": None} in document["revisions"]
    assert document["ok"] is False


def test_a_dangling_gitignore_link_in_the_cache_folder_is_never_written_through(
    project, migrate, tmp_path
):
    outside = tmp_path / "elsewhere" / "file"
    outside.parent.mkdir()
    folder = project.root / cache_files.CACHE_DIR
    folder.mkdir()
    (folder / ".gitignore").symlink_to(outside)
    project.write_env(DATABASE_URL="sqlite:///db.sqlite")

    result = migrate("status")

    assert result.exit_code == 0, result.output
    assert not outside.exists()
    assert (folder / ".gitignore").is_symlink()


def test_make_migration_passes_m_without_running_what_it_holds(tmp_path):
    """GNU make expands a command-line variable as it exports it to a recipe: a message
    holding `$(shell ...)` must reach `migrate create` as typed, and run nothing."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    shutil.copy(REPO_ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / ".env").touch()
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / ".venv" / ".installed").touch()  # (newer than pyproject.toml: no install)
    fake = bin_dir / "migrate"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"\n')
    fake.chmod(0o755)
    message = "a $(shell touch pwned) `touch pwned2` $$HOME 'quoted' end"

    made = subprocess.run(
        ["make", "-s", "migration", f"m={message}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert made.returncode == 0, made.stderr
    assert made.stdout == f"create|{message}|"
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "pwned2").exists()
