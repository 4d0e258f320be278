"""migrations-cli: run Alembic migrations from one configuration, with commands as plugins."""

__version__ = "0.1.0"
