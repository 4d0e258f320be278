"""`migrate plugins` (being written)."""
