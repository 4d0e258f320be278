"""`migrate branches` (being written)."""
