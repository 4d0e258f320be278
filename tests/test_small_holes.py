"""Holes the suite could not see: each test here fails on a bug once planted in the code."""

from __future__ import annotations

import json

from conftest import versions_in
from test_checksums import CHECKSUM_TABLE, EMAIL, EMAIL_FILE, at_head

from migrations_cli import cache_files
from migrations_cli.settings import load_settings


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
