"""`migrate init` (being written)."""
