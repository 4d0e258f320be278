"""`migrate current` (being written)."""
