"""`python -m migrations_cli` is the same as the `migrate` console script."""

from migrations_cli.cli import main

raise SystemExit(main())
