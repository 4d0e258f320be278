"""Many databases in one command: the targets, the fan-out of a command over them
in worker processes, its live display and its report."""
