"""`migrate show` (being written)."""
