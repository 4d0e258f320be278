"""`python migrate.py <command>` from the repository root: the same as `migrate <command>`."""

from migrations_cli.core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
