"""`migrate stamp` (being written)."""
