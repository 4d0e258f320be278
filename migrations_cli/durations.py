"""Durations as people write them in settings and revision files: `500ms`, `5s`, `2m`, `300`.

One parser for every duration (MIGRATIONS_LOCK_TIMEOUT, MIGRATIONS_DDL_LOCK_TIMEOUT, ...), so
that each is spelled the same way; a plain number is seconds, as MIGRATIONS_LOCK_TIMEOUT has
always been.
"""

from __future__ import annotations

import math
import re

from migrations_cli.errors import SettingsError

_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SPELLING = "a duration such as 500ms, 5s, 2m or a number of seconds"


def parse_duration(key: str, text: str) -> float:
    """`text` in seconds; an error naming `key` (a setting, or a revision's attribute) for
    anything else, a duration of zero included: each duration here is a limit, and no limit
    is written by leaving the setting out."""
    match = _DURATION.match(text.strip().lower())
    seconds = float(match[1]) * _SECONDS_PER_UNIT[match[2]] if match else 0.0
    if not 0 < seconds < math.inf:
        raise SettingsError(f"{key}={text!r} must be {_SPELLING}, above 0")
    return seconds
