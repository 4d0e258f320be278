"""The revision graph: reading the history, the revision cache and graph snapshot
that answer repeated questions quickly, and where a database stands against it."""
