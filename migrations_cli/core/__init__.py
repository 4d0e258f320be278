"""The core every command shares: settings, the Alembic Config factory, the plugin
manager, the Typer app and the `migrate` entry point, output and errors."""
