"""`migrate status` (being written)."""
