"""Running migrations: one upgrade or downgrade, its lock, its checksums, and
the dry-run and offline-SQL forms of it."""
