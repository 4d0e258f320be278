"""`python -m migrations_cli` is the same as the `migrate` console script."""

from migrations_cli.core.cli import main

# Guarded: the fan-out's worker processes (multiprocessing's spawn) import the parent's
# main module, and must not run a second command line.
if __name__ == "__main__":
    raise SystemExit(main())
