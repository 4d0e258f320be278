"""`migrate history` (being written)."""
