"""Alembic environment: the logic lives in migrations_cli.environment, where it is tested."""

from migrations_cli.environment import run_migrations

run_migrations()
