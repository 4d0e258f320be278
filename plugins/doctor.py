"""`migrate doctor` (being written)."""
