"""pytest-alembic's built-in tests, unchanged, against the repository's example application
(alembic/ and app/): Alembic's testing tool works with a migrate project. It hands env.py an
Engine in `config.attributes["connection"]`, which env.py uses (and leaves to its owner).

The tests are imported, as pytest-alembic's docs describe; pyproject.toml points the
plugin's own collector away (it fails under pytest 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from conftest import REPO_ROOT
from pytest_alembic.config import Config
from pytest_alembic.tests import (  # noqa: F401 (collected here)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from migrations_cli.testing import SETTING_NAMES


@pytest.fixture(autouse=True)
def _example_app_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The settings of .env.example, whether or not the developer has a .env of their own
    (a clean clone has none); the database is pytest-alembic's engine."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MIGRATIONS_METADATA", "app.models:Base.metadata")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'not_this_one.sqlite'}")
    monkeypatch.chdir(REPO_ROOT)


@pytest.fixture
def alembic_config() -> Config:
    """The project's configuration as plain alembic reads it: pyproject.toml's
    [tool.alembic]."""
    return Config(alembic_config=AlembicConfig(toml_file=str(REPO_ROOT / "pyproject.toml")))


@pytest.fixture
def alembic_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'pytest_alembic.sqlite'}")
    yield engine
    engine.dispose()
