"""`migrate check` (being written)."""
